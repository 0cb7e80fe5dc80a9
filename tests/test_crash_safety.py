"""kill -9 `qa ingest` at 20 random moments: each time the index is whole or `qa check --repair` makes it whole,
and a rerun of the ingest ends with exactly the chunks of a clean ingest."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from qa.articles import read_articles
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.maintenance import repair_store
from qa.models import Article
from qa.store import ArticleStore

from .conftest import DATA

QA = str(Path(sys.executable).with_name("qa"))
KILLS = 20
ARTICLES = 8
# Writing 8 articles takes ~0.1-0.2 s here (a kill 0.05 s after the first write cut an article; at 0.2 s all were
# written and the process was exiting): half the kills land at random within this window of the first write.
WRITE_WINDOW_S = 0.25


def qa_env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "QA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}


def run_qa(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([QA, *args], env=qa_env(data_dir), capture_output=True, text=True, timeout=300)


def write_versions(folder: Path) -> tuple[Path, Path]:
    """A benchmark subset, and the same articles edited so every one of them is rewritten with other chunks."""
    records = [json.loads(line) for line in (DATA / "realtimeqa_eval20" / "articles.jsonl").open()][:ARTICLES]
    first, second = folder / "first.jsonl", folder / "second.jsonl"
    first.write_text("".join(json.dumps(record) + "\n" for record in records))
    correction = "\n\nA correction was appended to this story. " * 25
    edited = [{**record, "text": record["text"] + correction} for record in records]
    second.write_text("".join(json.dumps(record) + "\n" for record in edited))
    return first, second


def generation(data_dir: Path) -> str:
    try:
        return (data_dir / "write.generation").read_text()
    except FileNotFoundError:
        return ""


def start_ingest(path: Path, data_dir: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [QA, "ingest", str(path)], env=qa_env(data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_for_first_write(process: subprocess.Popen[bytes], data_dir: Path, before: str) -> None:
    while generation(data_dir) == before and process.poll() is None:
        time.sleep(0.001)


def test_kill_9_during_ingest_never_leaves_damage_that_repair_cannot_fix(tmp_path: Path, embeddings: MiniLMEmbeddings):
    first, second = write_versions(tmp_path)
    # A clean run gives the chunk count to end with, and how long a run takes.
    started = time.monotonic()
    assert run_qa("ingest", str(first), data_dir=tmp_path / "clean").returncode == 0
    span = time.monotonic() - started
    clean_chunks = json.loads(run_qa("stats", "--json", data_dir=tmp_path / "clean").stdout)["chunks"]

    # Half the kills land anywhere in a run (start-up, embedding, writing); the other half once it has begun to
    # write, where a kill can cut an article in two. Every run rewrites every article (the versions alternate).
    settings = Settings(data_dir=tmp_path / "data")
    versions = [[a for a in read_articles(path, settings) if isinstance(a, Article)] for path in (first, second)]
    rng = random.Random(20261123)
    outcomes: Counter[str] = Counter()
    for kill in range(KILLS):
        before = generation(settings.data_dir)
        process = start_ingest((first, second)[kill % 2], settings.data_dir)
        if kill % 2:
            time.sleep(rng.uniform(0, span))
        else:
            wait_for_first_write(process, settings.data_dir, before)
            time.sleep(rng.uniform(0, WRITE_WINDOW_S))
        finished = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait()

        # What `qa check --repair` runs, in this process: it reopens the index the killed process wrote.
        store = ArticleStore(settings, embeddings)
        written = sum(store.stored_hashes([a.id]).get(a.id) == a.content_hash for a in versions[kill % 2])
        found, after = repair_store(store, settings)
        assert after.ok, (kill, after.problems)
        kinds = ", ".join(sorted({problem.kind.value for problem in found.problems}))
        if finished:
            outcomes["run had finished"] += 1
        elif kinds:
            outcomes[f"cut inside an article ({kinds}), repaired"] += 1
        else:
            moment = "before any" if written == 0 else "after all" if written == ARTICLES else "between"
            outcomes[f"{moment} article writes, whole"] += 1

    rerun = run_qa("ingest", str(first), data_dir=settings.data_dir)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads(run_qa("stats", "--json", data_dir=settings.data_dir).stdout)["chunks"] == clean_chunks
    assert run_qa("check", data_dir=settings.data_dir).returncode == 0
    # The figures the docs/reliability.md quotes (pytest -s shows them).
    print(f"\n{KILLS} kills of qa ingest ({clean_chunks} chunks; clean run {span:.1f} s): {dict(outcomes)}")
