"""Time from pressing Enter in the chat to the first answer text, warm, in headless Chromium.

Starts `streamlit run ui/app.py` over the seed articles (in a temporary data directory) and asks the seed
questions in a real browser, after one warm-up question. Prints per-question and median figures.

    .venv/bin/python benchmarks/chat_latency.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each seed question is asked")
    args = parser.parse_args()
    gold = [json.loads(line) for line in (ROOT / "tests/data/seed_eval/questions.jsonl").read_text().splitlines()]
    questions = [item["question"] for item in gold if item["answer"]]
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as data, socket.socket() as probe:
        env = {**os.environ, "QA_DATA_DIR": data, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        subprocess.run([bin_dir / "qa", "ingest", ROOT / "seeds"], env=env, check=True, capture_output=True)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server = subprocess.Popen(
            [bin_dir / "streamlit", "run", "ui/app.py", "--server.port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            measure(f"http://127.0.0.1:{port}", questions, args.rounds)
        finally:
            server.terminate()
            server.wait()


# Installed before each Enter: the browser's own clock from the keydown to the first DOM change that shows
# the status line, and to the one that shows the answer's text (or a refusal), in the new assistant message.
OBSERVE = """() => {
  const before = document.querySelectorAll('[data-testid=stChatMessage]').length;
  window.__enter = null; window.__status = null; window.__text = null;
  document.addEventListener('keydown', () => { window.__enter = performance.now(); }, {once: true, capture: true});
  const outside = (e) => !e.closest('[data-testid=stExpander]');
  const observer = new MutationObserver(() => {
    const reply = document.querySelectorAll('[data-testid=stChatMessage]')[before + 1];
    if (!reply) return;
    const searching = reply.querySelector('[data-testid=stExpander]');
    if (window.__status === null && searching) window.__status = performance.now();
    const text = [...reply.querySelectorAll('[data-testid=stMarkdown], [data-testid=stAlert]')]
      .some((e) => outside(e) && (e.textContent.includes('[1]') || e.dataset.testid === 'stAlert'));
    if (text) { window.__text = performance.now(); observer.disconnect(); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def measure(url: str, questions: list[str], rounds: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page()
        for _ in range(120):
            try:
                page.goto(url)
                break
            except Exception:
                time.sleep(0.5)
        box = page.get_by_test_id("stChatInputTextArea")
        box.wait_for(timeout=90_000)
        status, text = [], []
        for i, question in enumerate(["warm-up: what happened?", *questions * rounds]):
            box.fill(question)
            page.evaluate(OBSERVE)
            box.press("Enter")
            # The thumbs come last: the run is over before the next question is typed.
            page.get_by_test_id("stChatMessage").nth(2 * i + 1).get_by_test_id("stFeedback").wait_for(timeout=60_000)
            enter, shown_status, shown_text = page.evaluate("[window.__enter, window.__status, window.__text]")
            if i:
                status.append(shown_status - enter)
                text.append(shown_text - enter)
        browser.close()
    print(f"{len(text)} questions over the seeds, warm; browser clock from Enter to ...")
    for name, values in (("status line", status), ("first answer text", text)):
        values = sorted(values)
        p90 = values[int(0.9 * (len(values) - 1))]
        print(f"  {name:18s} median {statistics.median(values):5.0f} ms   p90 {p90:5.0f} ms   max {values[-1]:5.0f} ms")


if __name__ == "__main__":
    main()
