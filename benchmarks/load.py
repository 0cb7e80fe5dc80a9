"""Load on the HTTP API: N concurrent clients asking the seed questions of a `qa serve` on loopback.

    .venv/bin/python benchmarks/load.py [--clients 20] [--questions 500] [--deadline-s 900]

Starts its own `qa serve` (a temporary index with seeds/ ingested through the API, a random token) on a free
127.0.0.1 port, sends the questions of tests/data/seed_eval round-robin from the clients, and prints the count,
errors, p50/p95/max latency and throughput. Exits 1 if any request failed or the deadline passed.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--deadline-s", type=float, default=900, help="give up (and fail) after this long")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in (ROOT / "tests/data/seed_eval/questions.jsonl").open()]
    token = secrets.token_urlsafe(16)
    headers = {"Authorization": f"Bearer {token}"}
    with tempfile.TemporaryDirectory() as data_dir, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        url = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if key != "QA_CHROMA_URL"}  # its own embedded index
        env |= {"QA_DATA_DIR": data_dir, "QA_API_TOKEN": token, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "qa"), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(url, server)
            for path in sorted((ROOT / "seeds").glob("*.txt")):
                files = {"file": (path.name, path.read_bytes())}
                httpx.post(f"{url}/v1/articles", files=files, headers=headers, timeout=120).raise_for_status()
            return run(url, headers, questions, args)
        finally:
            server.terminate()
            server.wait(timeout=30)


def wait_ready(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit("qa serve did not become ready")


def run(url: str, headers: dict[str, str], questions: list[str], args: argparse.Namespace) -> int:
    work: queue.Queue[str] = queue.Queue()
    for i in range(args.questions):
        work.put(questions[i % len(questions)])
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + args.deadline_s

    def client() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            while time.monotonic() < stop_at:
                try:
                    question = work.get_nowait()
                except queue.Empty:
                    return
                started = time.perf_counter()
                try:
                    response = http.post("/v1/ask", json={"question": question})
                    failed = None if response.status_code == 200 else f"{response.status_code}: {response.text[:200]}"
                except httpx.HTTPError as error:
                    failed = f"{type(error).__name__}: {error}"
                with lock:
                    latencies.append((time.perf_counter() - started) * 1000)
                    if failed:
                        errors.append(failed)

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    unfinished = work.qsize()
    p50, p95 = np.percentile(latencies, [50, 95]) if latencies else (float("nan"), float("nan"))
    print(
        f"{len(latencies)} questions from {args.clients} clients in {elapsed:.1f} s "
        f"({len(latencies) / elapsed:.1f} questions/s); errors {len(errors)}; unfinished {unfinished}"
    )
    print(f"latency ms: p50 {p50:.0f}  p95 {p95:.0f}  max {max(latencies, default=0):.0f}")
    for error in errors[:5]:
        print(f"  error: {error}")
    return 1 if errors or unfinished else 0


if __name__ == "__main__":
    sys.exit(main())
