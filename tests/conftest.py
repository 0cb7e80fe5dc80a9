"""Fixtures: the real embedding model, and a store per test in both Chroma modes (embedded and server)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import chromadb
import httpx
import pytest
import uvicorn
from chromadb.config import Settings as ChromaSettings
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from qa.backends import load_embeddings
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.offline_model import free_port

from .chat_server import ScriptedChatServer
from .news_site import NewsSite

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
DATA = Path(__file__).resolve().parent / "data"
# The keys of an Answer's JSON: `qa ask --json` and POST /v1/ask, a contract for scripts.
ANSWER_KEYS = {
    "question",
    "answer",
    "short_answer",
    "refused",
    "citations",
    "engine",
    "standalone_question",
    "notices",
    "timings_ms",
    "as_of",
    "time_window",
    "confidence",
    "confident",
    "timeline",
}


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """A live uvicorn serving `app` on a free loopback port, in a thread; yields its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    thread.join(timeout=10)


def wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    """Wait until `check()` holds; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"not within {seconds:g} s"
        time.sleep(0.2)


def scrape(url: str, headers: dict[str, str]) -> dict[tuple[str, tuple], float]:
    """A server's /metrics parsed by prometheus_client's own parser: (sample name, sorted labels) -> value."""
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(metrics: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    """One sample of a scrape (0 when absent: a counter never moved)."""
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="session")
def embeddings() -> MiniLMEmbeddings:
    return load_embeddings(Settings())


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port, for the whole test session."""
    port = free_port()
    chroma = shutil.which("chroma", path=str(Path(sys.executable).parent)) or "chroma"
    path = tmp_path_factory.mktemp("chroma-server")
    log = (path / "server.log").open("w")
    server = subprocess.Popen(
        [chroma, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    client_settings = ChromaSettings(anonymized_telemetry=False)
    deadline = time.monotonic() + 60
    while True:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port, settings=client_settings).heartbeat()
            break
        except Exception:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}") from None
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=20)


@pytest.fixture(scope="session")
def chat_server() -> ScriptedChatServer:
    """The OpenAI-protocol server with scripted replies, on a free loopback port, for the whole session."""
    server = ScriptedChatServer(port=free_port())
    server.start()
    return server


@pytest.fixture
def site() -> Iterator[NewsSite]:
    """A news site (pages, feeds, robots.txt, errors) on a free loopback port, set up by the test."""
    served_site = NewsSite().start()
    yield served_site
    served_site.stop()


@pytest.fixture(params=["embedded", "server"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh, empty index: a temporary directory, or a unique collection on the server."""
    collection = f"t{uuid.uuid4().hex[:12]}"
    if request.param == "server":
        url = request.getfixturevalue("chroma_server")
        return Settings(data_dir=tmp_path / "data", chroma_url=url, collection=collection)
    return Settings(data_dir=tmp_path / "data", chroma_url=None, collection=collection)


@pytest.fixture
def engine(settings: Settings, embeddings: MiniLMEmbeddings) -> Engine:
    return Engine(settings, embeddings)


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    report = engine.ingest([SEEDS])
    assert report.failed == []
    return engine


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    """The seed articles in a folder the test may change."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS, folder)
    return folder
