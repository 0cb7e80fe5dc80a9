"""Several processes writing one index: embedded, they take turns (or say clearly who holds it); on a Chroma
server, overlapping ingests end with every article stored once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from qa.articles import read_articles
from qa.chunking import chunk_article
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.errors import StoreBusyError
from qa.maintenance import check_store
from qa.models import Article

from .conftest import DATA, SEEDS

QA = str(Path(sys.executable).with_name("qa"))
SUBSET = DATA / "realtimeqa_eval20" / "articles.jsonl"


def split_subset(folder: Path, ranges: list[range]) -> list[Path]:
    """Files holding the given record ranges of the benchmark subset (ranges may overlap)."""
    lines = SUBSET.read_text().splitlines()
    paths = []
    for number, records in enumerate(ranges):
        path = folder / f"part{number}.jsonl"
        path.write_text("\n".join(lines[i] for i in records) + "\n")
        paths.append(path)
    return paths


def clean_chunk_count(settings: Settings, path: Path = SUBSET) -> int:
    """The chunks a clean ingest of `path` stores."""
    articles = [item for item in read_articles(path, settings) if isinstance(item, Article)]
    return sum(len(chunk_article(a, chunk_words=120, overlap_words=30)) for a in articles)


def ingest_concurrently(paths: list[Path], env: dict[str, str]) -> list[subprocess.CompletedProcess[str]]:
    processes = [
        subprocess.Popen([QA, "ingest", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for path in paths
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def test_a_writer_waits_for_another_process_then_says_who_holds_the_index(tmp_path: Path, embeddings: MiniLMEmbeddings):
    settings = Settings(data_dir=tmp_path / "data", lock_timeout=0.5)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from qa.config import Settings\n"
            "from qa.backends import load_embeddings\n"
            "from qa.store import ArticleStore\n"
            "store = ArticleStore(Settings(), load_embeddings(Settings()))\n"
            "with store.writing():\n"
            "    print('holding', flush=True)\n"
            "    sys.stdin.readline()\n",
        ],
        env={**os.environ, "QA_DATA_DIR": str(settings.data_dir)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "holding\n"
    with pytest.raises(StoreBusyError) as busy:  # readers wait for a writer too, then give up the same way
        Engine(settings, embeddings).ingest([SEEDS])
    assert str(busy.value).startswith(f"another process is writing to {settings.data_dir} (pid {holder.pid}: ")
    assert str(busy.value).endswith("waited 0.5 s. Try again when it has finished, or raise QA_LOCK_TIMEOUT")
    cli = subprocess.run(
        [QA, "ingest", str(SEEDS)],
        env={**os.environ, "QA_DATA_DIR": str(settings.data_dir), "QA_LOCK_TIMEOUT": "0.5"},
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 1 and cli.stderr.startswith("Error: another process is writing to")
    assert cli.stderr.count("\n") == 1

    holder.stdin.write("\n")
    holder.stdin.close()
    assert holder.wait(timeout=30) == 0
    engine = Engine(settings, embeddings)
    assert engine.stats().articles == 0  # nothing was half-written meanwhile
    assert engine.ingest([SEEDS]).count("added") == 2


def test_two_processes_ingesting_one_directory_at_once_leave_it_whole(tmp_path: Path, embeddings: MiniLMEmbeddings):
    # Without the lock this corrupted the index (docs/reliability.md); with it the writers take turns.
    paths = split_subset(tmp_path, [range(0, 22), range(14, 36)])
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    for result in ingest_concurrently(paths, env):
        assert result.returncode == 0, result.stderr
    engine = Engine(Settings(data_dir=tmp_path / "data"), embeddings)
    assert check_store(engine.store).ok
    stats = engine.stats()
    assert (stats.articles, stats.chunks) == (36, clean_chunk_count(engine.settings))
    # The vector index holds every chunk: each finds itself first.
    for chunk in list(engine.store.iter_chunks())[::10]:
        assert engine.retriever.dense_search(f"{chunk.article.title}\n{chunk.text}", 1)[0].id == chunk.id


def test_overlapping_ingests_on_a_chroma_server_store_each_article_once(
    tmp_path: Path, chroma_server: str, embeddings: MiniLMEmbeddings
):
    collection = f"c{uuid.uuid4().hex[:12]}"
    paths = split_subset(tmp_path, [range(0, 12), range(6, 18), range(0, 18)])
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "data"),
        "QA_CHROMA_URL": chroma_server,
        "QA_COLLECTION": collection,
        "HF_HUB_OFFLINE": "1",
    }
    results = ingest_concurrently(paths, env)
    assert [result.returncode for result in results] == [0, 0, 0], [result.stderr for result in results]
    engine = Engine(Settings(data_dir=tmp_path / "data", chroma_url=chroma_server, collection=collection), embeddings)
    assert check_store(engine.store).ok
    stats = engine.stats()
    assert (stats.articles, stats.chunks) == (18, clean_chunk_count(engine.settings, paths[2]))
    assert len({a.id for a in engine.articles()}) == 18
    assert (
        json.loads(subprocess.run([QA, "stats", "--json"], env=env, capture_output=True, text=True).stdout)["chunks"]
        == stats.chunks
    )
