"""The API as deployed (docs/deploy.md): `qa serve` processes on loopback, the official openai client, two replicas
on one Chroma server polling one feed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from typer.testing import CliRunner

from qa import cli

from .conftest import SEEDS, free_port, scrape, value, wait_for
from .news_site import RSS, NewsSite, Resource, rss

TOKEN = "live-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NATO = "How many Russians did NATO expel?"


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    qa = str(Path(sys.executable).parent / "qa")
    process = subprocess.Popen(
        [qa, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


def wait_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"qa serve did not become ready: {log.read_text()[-2000:]}")
        time.sleep(0.3)


@pytest.fixture(scope="module")
def replicas(chroma_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Two `qa serve` processes sharing one Chroma server and collection, the seeds ingested through the first."""
    folder = tmp_path_factory.mktemp("replicas")
    env = {
        **os.environ,
        "QA_CHROMA_URL": chroma_server,
        "QA_COLLECTION": f"live{uuid.uuid4().hex[:10]}",
        "QA_API_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # As docs/deploy.md has it, feeds polled by the replicas (every 2 s here), from a news site on loopback.
        "QA_FEED_EVERY": "2s",
        "QA_FETCH_PRIVATE": "true",
        "QA_FETCH_HOST_DELAY": "0",
    }
    started = []
    for name in ("a", "b"):
        log = folder / f"{name}.log"
        started.append((*start_server({**env, "QA_DATA_DIR": str(folder / name)}, log), log))
    try:
        for process, url, log in started:
            wait_ready(process, url, log)
        urls = [url for _, url, _ in started]
        for path in sorted(SEEDS.glob("*.txt")):
            response = httpx.post(
                f"{urls[0]}/v1/articles", files={"file": (path.name, path.read_bytes())}, headers=AUTH, timeout=120
            )
            assert response.status_code == 200, response.text
        yield urls
    finally:
        for process, _, _ in started:
            process.terminate()
            process.wait(timeout=30)


def test_the_official_openai_client_works_unchanged(replicas: list[str]) -> None:
    client = openai.OpenAI(base_url=f"{replicas[0]}/v1", api_key=TOKEN)
    models = [model.id for model in client.models.list()]
    assert models[0] == "qa-extractive" and "qa-llm" not in models  # no endpoint is configured here
    completion = client.chat.completions.create(model="qa-extractive", messages=[{"role": "user", "content": NATO}])
    content = completion.choices[0].message.content or ""
    assert content.startswith("eight [1].") and "Sources:" in content
    assert completion.model_extra and completion.model_extra["citations"][0]["quote"] in content

    stream = client.chat.completions.create(
        model="qa-extractive", messages=[{"role": "user", "content": NATO}], stream=True
    )
    chunks = list(stream)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert streamed == content
    assert chunks[-1].choices[0].finish_reason == "stop"

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{replicas[0]}/v1", api_key="wrong").models.list()


def test_an_article_ingested_through_one_replica_is_answerable_through_the_other(replicas: list[str]) -> None:
    first, second = replicas
    assert httpx.post(f"{second}/v1/ask", json={"question": NATO}, headers=AUTH, timeout=60).json()["citations"]
    record = {"id": "lighthouse", "title": "Lighthouse sold", "text": "The old Faro lighthouse was sold for 42 euros."}
    added = httpx.post(f"{first}/v1/articles", json={"articles": [record]}, headers=AUTH, timeout=60).json()
    assert added["items"][0]["status"] == "added"
    question = {"question": "For how much was the Faro lighthouse sold?"}
    answer = httpx.post(f"{second}/v1/ask", json=question, headers=AUTH, timeout=60).json()
    assert answer["citations"][0]["article_id"] == "lighthouse" and "42 euros" in answer["answer"]

    assert httpx.delete(f"{second}/v1/articles/lighthouse", headers=AUTH, timeout=60).status_code == 200
    after = httpx.post(f"{first}/v1/ask", json=question, headers=AUTH, timeout=60).json()
    assert all(citation["article_id"] != "lighthouse" for citation in after["citations"])


def test_the_same_uploads_through_both_replicas_at_once_are_stored_once(replicas: list[str]) -> None:
    before = httpx.get(f"{replicas[0]}/v1/stats", headers=AUTH).json()
    uploads = [(path.name, path.read_bytes()) for path in sorted(SEEDS.glob("*.txt"))]
    uploads.append(("ferry.txt", b"Night ferry approved\n\nThe council approved a night ferry to Greywater Island."))

    def upload(url: str, name: str, data: bytes) -> httpx.Response:
        return httpx.post(f"{url}/v1/articles", files={"file": (name, data)}, headers=AUTH, timeout=120)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda job: upload(*job), [(url, *file) for url in replicas for file in uploads]))
    assert [response.status_code for response in responses] == [200] * 6
    statuses = sorted(response.json()["items"][0]["status"] for response in responses)
    assert statuses.count("added") + statuses.count("updated") <= 2 and statuses.count("skipped") >= 4
    after = httpx.get(f"{replicas[1]}/v1/stats", headers=AUTH).json()
    assert after["articles"] == before["articles"] + 1
    listed = httpx.get(f"{replicas[0]}/v1/articles", headers=AUTH).json()["articles"]
    ferry = [article for article in listed if article["title"] == "Night ferry approved"]
    assert len(ferry) == 1
    assert httpx.delete(f"{replicas[0]}/v1/articles/{ferry[0]['id']}", headers=AUTH).status_code == 200


WIRE = {
    "tram": "The Ostrava tram depot ordered fourteen new trams from a maker in Gdansk.",
    "sunfish": "The Lisbon aquarium welcomed a rare sunfish named Mola on Friday.",
    "bridge": "The Kelvin harbour bridge reopened after a repair that cost 12 million euros.",
    "library": "The Tartu library lent its two millionth book, a novel by Ene Mihkelson.",
    "ferry": "The night ferry to Greywater Island carried 4,100 passengers in its first week.",
}


def test_two_replicas_poll_one_feed_and_each_entry_is_fetched_once(replicas: list[str], site: NewsSite) -> None:
    links = [
        site.page(f"/wire/{slug}.html", f"{slug.title()} news", f"{fact}\n\nOfficials confirmed it on Monday.")
        for slug, fact in WIRE.items()
    ]
    site.resources["/wire.xml"] = Resource(body=rss(links[:4]), content_type=RSS)
    before = [scrape(url, AUTH) for url in replicas]
    added = httpx.post(f"{replicas[0]}/v1/feeds", json={"url": site.url + "/wire.xml"}, headers=AUTH)
    assert added.status_code == 201

    def cites(url: str, question: str, link: str) -> bool:
        answer = httpx.post(f"{url}/v1/ask", json={"question": question}, headers=AUTH, timeout=60).json()
        return any(citation["url"] == link for citation in answer["citations"])

    library = "Which library lent its two millionth book, a novel by Ene Mihkelson?"
    wait_for(lambda: all(cites(url, library, links[3]) for url in replicas))
    # Published after the first poll: the next scheduled poll of either replica brings it to both.
    site.resources["/wire.xml"] = Resource(body=rss(links), content_type=RSS)
    ferry = "How many passengers did the night ferry to Greywater Island carry in its first week?"
    wait_for(lambda: all(cites(url, ferry, links[4]) for url in replicas))
    assert [site.hits[link.removeprefix(site.url)] for link in links] == [1] * 5
    [feed] = [feed for feed in httpx.get(f"{replicas[1]}/v1/feeds", headers=AUTH).json() if "wire" in feed["url"]]
    assert feed["articles"] == 5 and feed["next_poll"] and feed["last_success"]

    after = [scrape(url, AUTH) for url in replicas]

    def moved(i: int, name: str, **labels: str) -> float:
        return value(after[i], name, **labels) - value(before[i], name, **labels)

    # Each replica counts what it did: together the five pages added once, by polls that found them.
    assert (
        moved(0, "qa_ingested_articles_total", status="added") + moved(1, "qa_ingested_articles_total", status="added")
        == 5
    )
    assert moved(0, "qa_feed_polls_total", outcome="ok") + moved(1, "qa_feed_polls_total", outcome="ok") >= 2
    for i in (0, 1):
        assert moved(i, "qa_answers_total", answerer="extractive", refused="false") >= 2
        assert moved(i, "qa_http_requests_total", method="POST", route="/v1/ask", status="200") >= 2
        assert value(after[i], "qa_store_articles") == value(after[1 - i], "qa_store_articles")
    httpx.delete(f"{replicas[0]}/v1/feeds/{feed['id']}", headers=AUTH)


def test_serve_refuses_a_public_address_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_API_TOKEN", raising=False)
    result = CliRunner().invoke(cli.app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "refusing to listen on 0.0.0.0 without a token" in result.output


def test_the_load_script_reports_zero_errors_and_every_page_stored_once() -> None:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "load.py"
    result = subprocess.run(
        [sys.executable, str(script), "--clients", "4", "--seconds", "5", "--pages", "8", "--deadline-s", "240"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "poll: 8 of 8 pages stored" in result.stdout and "(lost 0, fetched twice 0)" in result.stdout
    assert "errors 0; lost 0" in result.stdout and result.stdout.startswith("CPU: ")


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str]]:
    """`qa serve` with QA_MAX_UPLOAD_MB=0.05 and QA_MAX_REQUEST_KB=64, over an empty embedded index."""
    folder = tmp_path_factory.mktemp("limits")
    env = {**os.environ, "QA_DATA_DIR": str(folder / "data"), "QA_API_TOKEN": TOKEN, "HF_HUB_OFFLINE": "1"}
    env.pop("QA_CHROMA_URL", None)
    env.update({"QA_MAX_UPLOAD_MB": "0.05", "QA_MAX_REQUEST_KB": "64", "TRANSFORMERS_OFFLINE": "1"})
    process, url = start_server(env, folder / "serve.log")
    try:
        wait_ready(process, url, folder / "serve.log")
        yield process, url
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def in_pieces(body: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    """The body as a generator: httpx sends it with Transfer-Encoding: chunked and no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def test_body_limits_hold_however_the_body_is_framed(small_limits: tuple[subprocess.Popen, str]) -> None:
    process, url = small_limits
    records = [{"title": f"Ferry {i}", "text": f"Ferry {i} sails at dawn. " + "Waves. " * 1400} for i in range(20)]
    body = json.dumps({"articles": records}).encode()  # ~200 KB: over the 0.05 MB upload limit
    assert len(body) > 150_000
    headers = {**AUTH, "Content-Type": "application/json"}
    declared = httpx.post(f"{url}/v1/articles", content=body, headers=headers, timeout=60)
    chunked = httpx.post(f"{url}/v1/articles", content=in_pieces(body), headers=headers, timeout=60)
    for response in (declared, chunked):
        assert response.status_code == 413, response.text
        assert response.json()["error"]["type"] == "request_too_large"
    assert httpx.get(f"{url}/v1/stats", headers=AUTH).json()["articles"] == 0

    # A question body of 200 MB, chunked: cut off at 64 KB, never read whole.
    before = peak_rss_mb(process.pid)
    question = b'{"question": "' + b"a" * (200 * 1024 * 1024) + b'"}'
    try:
        response = httpx.post(f"{url}/v1/ask", content=in_pieces(question, 1024 * 1024), headers=headers, timeout=60)
        assert response.status_code == 413, response.text
    except httpx.TransportError:
        pass  # the server answered 413 and closed the connection while the client was still sending
    del question
    assert peak_rss_mb(process.pid) - before < 100
    assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
