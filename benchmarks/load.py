"""Load on `qa serve` while it ingests: concurrent clients asking, first idle, then while its background poller
takes a feed of news pages from a local site.

    .venv/bin/python benchmarks/load.py [--clients 8] [--seconds 60] [--pages 100] [--dataset DIR]

Starts its own `qa serve` (a temporary embedded index with seeds/ ingested through the API, a random token) on a
free 127.0.0.1 port, and a local news site serving the first --pages articles of --dataset as pages behind one RSS
feed. Half the clients POST /v1/ask, half stream /v1/chat/completions through the official `openai` client, the
seed questions round-robin. Phase 1 is --seconds of that on an idle server; phase 2 follows the feed (the
server's poller fetches it at once) and runs --seconds more while it ingests. Prints, per phase, requests/s,
latency p50/p95/p99 and errors, and the CPU; then whether every page was stored once. Exits 1 on any error, a page
lost or fetched twice, or the poll not done within --deadline-s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from html import escape
from pathlib import Path

import httpx
import numpy as np
import openai

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.news_site import RSS, NewsSite, Resource  # noqa: E402 (the local news site of the tests)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients, half of them streaming")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase")
    parser.add_argument("--pages", type=int, default=100, help="pages behind the feed polled in phase 2")
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared/benchmarks/realtimeqa-2023q1")
    parser.add_argument("--deadline-s", type=float, default=900, help="the poll must be done this long after it began")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "tests/data/seed_eval/questions.jsonl").open()]
    site = news_site(args.dataset, args.pages)
    token = secrets.token_urlsafe(16)
    headers = {"Authorization": f"Bearer {token}"}
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; {args.clients} clients, {args.seconds:g} s a phase")
    with tempfile.TemporaryDirectory() as data_dir:
        url, server = start_server(data_dir, token, args.pages)
        try:
            for path in sorted((ROOT / "seeds").glob("*.txt")):
                files = {"file": (path.name, path.read_bytes())}
                httpx.post(f"{url}/v1/articles", files=files, headers=headers, timeout=120).raise_for_status()
            seeded = httpx.get(f"{url}/v1/stats", headers=headers).json()["articles"]
            warm = argparse.Namespace(**{**vars(args), "seconds": 0})  # each client's first question: models load
            run_phase(url, token, questions, warm)
            idle = run_phase(url, token, questions, args)
            report("idle", idle, args.seconds)
            followed = time.monotonic()
            httpx.post(f"{url}/v1/feeds", json={"url": site.url + "/feed.xml"}, headers=headers).raise_for_status()
            polling = run_phase(url, token, questions, args)
            report("ingesting", polling, args.seconds)
            return verdict(url, headers, site, seeded, idle, polling, followed, args)
        finally:
            server.terminate()
            server.wait(timeout=30)
            site.stop()


def news_site(dataset: Path, count: int) -> NewsSite:
    """The first `count` articles of the dataset as pages, and an RSS feed listing them all."""
    site = NewsSite().start()
    items = []
    with (dataset / "articles.jsonl").open() as lines:
        for n, line in zip(range(count), lines, strict=False):
            record = json.loads(line)
            body = "\n\n".join(escape(part) for part in record["text"].split("\n\n") if part.strip())
            link = site.page(f"/news/{n}.html", escape(record["title"]), body, date=record.get("published"))
            items.append(f"<item><title>{escape(record['title'])}</title><link>{link}</link><guid>{link}</guid></item>")
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{"".join(items)}</channel></rss>'
    site.resources["/feed.xml"] = Resource(body=feed.encode(), content_type=RSS)
    return site


def start_server(data_dir: str, token: str, pages: int) -> tuple[str, subprocess.Popen]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {key: value for key, value in os.environ.items() if key != "QA_CHROMA_URL"}  # its own embedded index
    env |= {
        "QA_DATA_DIR": data_dir,
        "QA_API_TOKEN": token,
        "QA_FEED_EVERY": "1h",  # the one poll phase 2 starts by following the feed
        "QA_FEED_MAX_ENTRIES": str(pages),
        "QA_FETCH_PRIVATE": "true",
        "QA_FETCH_HOST_DELAY": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "qa"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return url, server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    server.kill()
    raise SystemExit("qa serve did not become ready")


def run_phase(url: str, token: str, questions: list[str], args: argparse.Namespace) -> dict[str, list]:
    """`args.clients` clients for `args.seconds`: even ones POST /v1/ask, odd ones stream chat completions."""
    results: dict[str, list] = {"ms": [], "errors": []}
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds

    def client(number: int) -> None:
        streaming = number % 2 == 1
        chat = openai.OpenAI(base_url=f"{url}/v1", api_key=token, timeout=120, max_retries=0)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            asked = number
            while asked == number or time.monotonic() < stop_at:
                question = questions[asked % len(questions)]
                asked += args.clients
                started = time.perf_counter()
                failed = None
                try:
                    if streaming:
                        stream = chat.chat.completions.create(
                            model="qa-extractive", messages=[{"role": "user", "content": question}], stream=True
                        )
                        if not "".join(c.choices[0].delta.content or "" for c in stream if c.choices):
                            failed = "an empty stream"
                    else:
                        response = http.post("/v1/ask", json={"question": question})
                        if response.status_code != 200:
                            failed = f"{response.status_code}: {response.text[:200]}"
                except (httpx.HTTPError, openai.OpenAIError) as error:
                    failed = f"{type(error).__name__}: {error}"
                with lock:
                    results["ms"].append((time.perf_counter() - started) * 1000)
                    if failed:
                        results["errors"].append(failed)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def report(name: str, phase: dict[str, list], seconds: float) -> None:
    p50, p95, p99 = np.percentile(phase["ms"], [50, 95, 99]) if phase["ms"] else (float("nan"),) * 3
    print(
        f"{name:10} {len(phase['ms'])} requests, {len(phase['ms']) / seconds:.1f}/s; "
        f"latency ms p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}; errors {len(phase['errors'])}"
    )
    for error in phase["errors"][:5]:
        print(f"  error: {error}")


def verdict(
    url: str,
    headers: dict[str, str],
    site: NewsSite,
    seeded: int,
    idle: dict[str, list],
    polling: dict[str, list],
    followed: float,
    args: argparse.Namespace,
) -> int:
    """Wait for the poll to end; print what it stored and the p95 ratio; 0 when nothing failed or was lost."""
    deadline = time.monotonic() + args.deadline_s
    while time.monotonic() < deadline:
        [feed] = httpx.get(f"{url}/v1/feeds", headers=headers, timeout=30).json()
        if feed["last_success"]:
            break
        time.sleep(1)
    took = time.monotonic() - followed
    stored = httpx.get(f"{url}/v1/stats", headers=headers, timeout=30).json()["articles"] - seeded
    pages = [path for path in site.resources if path.startswith("/news/")]
    fetched_twice = sum(site.hits[path] > 1 for path in pages)
    lost = len(pages) - stored
    ratio = np.percentile(polling["ms"], 95) / np.percentile(idle["ms"], 95)
    print(
        f"poll: {stored} of {len(pages)} pages stored in {took:.0f} s (lost {lost}, fetched twice {fetched_twice}); "
        f"p95 while ingesting / idle: {ratio:.2f}x"
    )
    print(f"errors {len(idle['errors']) + len(polling['errors'])}; lost {lost}")
    return 1 if idle["errors"] or polling["errors"] or lost or fetched_twice or not feed["last_success"] else 0


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
