"""`make bench`: ingest throughput, query latency at 20k and 200k chunks, memory and cold start, in one run.

    .venv/bin/python benchmarks/perf.py ../shared/benchmarks/realtimeqa-2023q1 [--chunks 20000] [--scale 10]

(--scale 50, `make bench SCALE=50`: the large index is 1M chunks, a year of news.)

1. Ingest: the benchmark's articles in file order until --chunks chunks, as `qa ingest` takes them
   (`Engine.ingest_records`: the int8 backend, pipelined writes, the lexical index brought up to date and saved),
   in a child process that reports its own peak RSS. Embedding alone is timed on a sample of the same chunks, for
   the int8 backend and for plain sentence-transformers (`SentenceTransformer.encode`, batch 32): the baseline
   every speed is divided by, since absolute times drift on shared machines.
2. The large index: a copy of the first one plus (--scale - 1) copies of its articles under new ids, each copy
   dated 13 weeks later (years of news), written with the stored vectors (nothing re-embedded), then the lexical
   index brought up to date as an ingest does.
3. Serving, per index, in a fresh child process: cold start (process start to the first answer), then warm
   latency over the benchmark's questions, retrieve only and retrieve + extractive answer, without and with
   the question's date window (its own rows: a filter changes the search path), a timeline of each question's
   story and of its week's news (qa/answer/timeline.py), plus the old path (Chroma's
   `where`) for reference; then the process's peak RSS. Then `qa serve` itself, started on each index: the seconds
   from its spawn to the first answer (asked at once, again while it is starting) and to /readyz (warmed up), and
   its memory. Last, the cold start of a process that finds no saved
   lexical index (an index written by an older version, or its file deleted) and builds it; the saved lexical
   index's size and load time, and `qa check`'s time and memory; the same further articles ingested into an
   empty index and into the large one.
4. Stories: the near-duplicate check (qa.stories, with its lookups in the ingested index) timed per article.
5. Feeds: POLL_ENTRIES of the benchmark's articles served as web pages behind one RSS feed by a local HTTP server
   (tests/news_site.py), polled into a fresh index: entries fetched, extracted and ingested per second.

Prints a table and writes JSON (--json, default bench.json), both headed by the machine: the CPU's model and the
flags the backends' speed depends on, cores, the embedding backend.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

PROCESS_START = time.perf_counter()  # cold start counts qa's imports too (they happen in the phases)

HERE = Path(__file__).resolve()
SAMPLE = 1500  # chunks embedded alone by both backends
MORE_CHUNKS = 3000  # chunks of further articles ingested into an empty index and into the large one
QUESTIONS = 150
STORY_SAMPLE = 300  # articles whose story is looked up
POLL_ENTRIES = 100
WEEKS_APART = timedelta(weeks=13)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--chunks", type=int, default=20_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--json", type=Path, default=Path("bench.json"))
    parser.add_argument(
        "--role",
        choices=["ingest", "grow", "serve", "start", "rebuild", "lexical", "check", "ingest_more", "stories", "poll"],
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    # With --role serve: only these query kinds (comma-separated), for the phases run one by one at 1M chunks.
    parser.add_argument("--kinds", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        roles = {
            "ingest": ingest,
            "grow": grow,
            "serve": serve,
            "start": start,
            "rebuild": rebuild,
            "lexical": lexical,
            "check": check,
            "ingest_more": ingest_more,
            "stories": stories,
            "poll": poll,
        }
        result = roles[args.role](args)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        report: dict[str, Any] = {"machine": machine(), "ingest": child("ingest", args, small)}
        report["embedding"] = embedding_alone(args)
        shutil.copytree(small, large)
        report["grow"] = child("grow", args, large)
        report["serve"] = {"small": child("serve", args, small), "large": child("serve", args, large)}
        report["start"] = {"small": child("start", args, small), "large": child("start", args, large)}
        report["lexical"] = {"small": child("lexical", args, small), "large": child("lexical", args, large)}
        report["check"] = {"small": child("check", args, small), "large": child("check", args, large)}
        # Without the lexical index that ingest saved (an older version's index): built at the first question.
        report["rebuild"] = {"small": child("rebuild", args, small), "large": child("rebuild", args, large)}
        # Ingest speed as the index grows: the same further articles into an empty index and into the large one.
        empty = Path(tmp) / "empty"
        report["ingest_more"] = {"empty": child("ingest_more", args, empty), "large": child("ingest_more", args, large)}
        report["stories"] = child("stories", args, small)
        report["poll"] = child("poll", args, Path(tmp) / "poll")
    args.json.write_text(json.dumps(report, indent=2))
    print_table(report)
    print(f"\n(written to {args.json})")


def machine() -> dict[str, Any]:
    """What every figure was measured on: the CPU (model, the flags that matter, cores), the libraries, and the
    embedding backend chosen for it with every backend's figures on the probe (qa doctor)."""
    from qa import backends
    from qa.config import Settings

    here = backends.this_machine()
    chosen = backends.chosen_backend(Settings())
    report = backends.cached_report(here)
    probe = report.model_dump(mode="json") if report else None
    return {**here.model_dump(), "embedding_backend": chosen, "probe": probe}


def child(role: str, args: argparse.Namespace, data: Path) -> dict[str, Any]:
    """Run one phase in a fresh process: its imports, memory and start-up are its own."""
    command = [sys.executable, str(HERE), str(args.dataset), "--role", role, "--data", str(data)]
    command += ["--chunks", str(args.chunks), "--scale", str(args.scale)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{role} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.perf_counter() - started, 1)
    return result


def settings_for(data: Path) -> Any:
    from qa.config import Settings

    return Settings(data_dir=data)


def benchmark_articles(args: argparse.Namespace) -> tuple[list[dict[str, Any]], list[Any]]:
    """The records of the first articles of the benchmark that make up --chunks chunks, and those chunks."""
    from qa.articles import article_from_record
    from qa.chunking import chunk_article

    settings = settings_for(Path("."))
    records, chunks = [], []
    with (args.dataset / "articles.jsonl").open() as lines:
        for index, line in enumerate(lines):
            records.append(json.loads(line))
            article = article_from_record(records[-1], path=None, index=index, settings=settings)
            chunks += chunk_article(
                article, chunk_words=settings.chunk_words, overlap_words=settings.chunk_overlap_words
            )
            if len(chunks) >= args.chunks:
                break
    return records, chunks


def peak_rss_mb() -> float:
    """This process's peak resident memory. Not getrusage: Linux carries its figure over from the forking parent."""
    status = Path("/proc/self/status").read_text()
    return round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest as `qa ingest` does, the lexical index brought up to date and saved included."""
    from qa.engine import Engine

    records, chunks = benchmark_articles(args)
    engine = Engine(settings_for(args.data))
    started = time.perf_counter()
    report = engine.ingest_records(records)
    seconds = time.perf_counter() - started
    tokens = token_count(engine, chunks)
    return {
        "articles": len(records),
        "chunks": report.chunks,
        "tokens": tokens,
        "seconds": round(seconds, 1),
        "chunks_per_s": round(report.chunks / seconds, 1),
        "articles_per_s": round(len(records) / seconds, 2),
        "tokens_per_s": round(tokens / seconds),
        "peak_rss_mb": peak_rss_mb(),
    }


def ingest_more(args: argparse.Namespace) -> dict[str, Any]:
    """Ingest the benchmark's articles after the first --chunks chunks' (none of them stored), MORE_CHUNKS chunks'
    worth, into the index at --data, as `qa ingest` does."""
    from qa.articles import article_from_record
    from qa.chunking import chunk_article
    from qa.engine import Engine

    stored, _ = benchmark_articles(args)
    settings = settings_for(args.data)
    records, chunks = [], 0
    with (args.dataset / "articles.jsonl").open() as lines:
        for index, line in enumerate(islice(lines, len(stored), None)):
            records.append(json.loads(line))
            article = article_from_record(records[-1], path=None, index=index, settings=settings)
            words, overlap = settings.chunk_words, settings.chunk_overlap_words
            chunks += len(chunk_article(article, chunk_words=words, overlap_words=overlap))
            if chunks >= MORE_CHUNKS:
                break
    engine = Engine(settings)
    before = engine.stats().chunks
    started = time.perf_counter()
    report = engine.ingest_records(records)
    seconds = time.perf_counter() - started
    return {"index_chunks": before, "chunks": report.chunks, "chunks_per_s": round(report.chunks / seconds, 1)}


def token_count(engine: Any, chunks: list[Any]) -> int:
    """Tokens the model reads for these chunks (after its 256-token cut)."""
    from qa.chunking import embedding_text

    return engine.embeddings.count_tokens([embedding_text(c) for c in chunks])


def embedding_alone(args: argparse.Namespace) -> dict[str, Any]:
    """Chunks/s and tokens/s of the chosen backend and of plain sentence-transformers on the same sample."""
    from qa.backends import load_embeddings
    from qa.chunking import embedding_text
    from qa.config import Settings
    from qa.embeddings import ReferenceMiniLM

    _, chunks = benchmark_articles(args)
    texts = [embedding_text(chunk) for chunk in chunks[:: max(1, len(chunks) // SAMPLE)][:SAMPLE]]
    fast, reference = load_embeddings(Settings()), ReferenceMiniLM()
    fast.encode(texts[:4]), reference.encode(texts[:4])  # both load lazily: not timed
    tokens = fast.count_tokens(texts)
    figures: dict[str, Any] = {}
    for name, encode in (
        ("chosen", lambda: fast.encode(texts)),
        # The baseline: the model called the plain sentence-transformers way.
        ("sentence_transformers", lambda: reference.model.encode(texts, batch_size=32)),
    ):
        started = time.perf_counter()
        encode()
        seconds = time.perf_counter() - started
        figures[name] = {"chunks_per_s": round(len(texts) / seconds, 1), "tokens_per_s": round(tokens / seconds)}
    figures["sample"] = {"chunks": len(texts), "tokens": tokens}
    return figures


def grow(args: argparse.Namespace) -> dict[str, Any]:
    """Add (scale - 1) copies of every stored article under new ids, dated 13 weeks apart, with their vectors;
    then bring the lexical index up to date and save it, as an ingest does."""
    from qa.engine import Engine
    from qa.store import ArticleVersion

    engine = Engine(settings_for(args.data))
    store = engine.store
    stored = store._chunks.get(include=["embeddings"])
    vectors = dict(zip(stored["ids"], np.asarray(stored["embeddings"], dtype=np.float32), strict=True))
    originals = [
        (article, sorted(store.chunks_of([article.id]), key=lambda c: c.ordinal)) for article in store.iter_articles()
    ]
    started = time.perf_counter()
    for copy in range(1, args.scale):
        versions = []
        for article, chunks in originals:
            published = article.published + WEEKS_APART * copy if article.published else None
            # Each copy is other news: its own story, not a reprint of the original.
            moved = article.model_copy(update={"id": f"{article.id}~{copy}", "published": published, "story": None})
            # A chunk names its article by its ArticleRef: a copy's chunks carry the copy's (id, date), or their ids
            # are the original's and the copies overwrite it (the large index stayed 20,013 chunks).
            update = {"article": moved.ref, "story": None}
            versions.append(
                ArticleVersion(
                    moved,
                    [c.model_copy(update=update) for c in chunks],
                    np.array([vectors[c.id] for c in chunks], dtype=np.float32).reshape(len(chunks), -1),
                )
            )
            if len(versions) == 200:
                store.write_articles(versions, set())
                versions = []
        if versions:
            store.write_articles(versions, set())
    written = time.perf_counter()
    engine.retriever.catalog.refresh()
    expected = len(vectors) * args.scale
    _, chunks = store.counts()
    if chunks != expected:
        raise RuntimeError(f"the large index holds {chunks:,} chunks, not {expected:,}")
    return {
        "chunks": chunks,
        "write_s": round(written - started, 1),
        "lexical_s": round(time.perf_counter() - written, 1),
    }


def started_engine(args: argparse.Namespace) -> tuple[Any, float]:
    """An engine in this fresh process, and the seconds from the process's start to its first answer."""
    from qa.engine import Engine
    from qa.evaluation.datasets import load_dataset
    from qa.query import Query

    engine = Engine(settings_for(args.data))
    engine.ask(Query(question=load_dataset(args.dataset).questions[0].question))
    return engine, time.perf_counter() - PROCESS_START


def lexical(args: argparse.Namespace) -> dict[str, Any]:
    """The saved lexical index: its size on disk and the time a fresh process takes to load and check it."""
    from qa.catalog import catalog_of, snapshot_path
    from qa.engine import Engine

    store = Engine(settings_for(args.data)).store
    path = snapshot_path(store)
    started = time.perf_counter()
    catalog_of(store).refresh()
    return {
        "size_mb": round(path.stat().st_size / 2**20, 1) if path.exists() else 0.0,
        "load_s": round(time.perf_counter() - started, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def check(args: argparse.Namespace) -> dict[str, Any]:
    """`qa check` over the whole index: every article's chunks compared with its text split again."""
    from qa.engine import Engine
    from qa.maintenance import check_store

    store = Engine(settings_for(args.data)).store
    started = time.perf_counter()
    report = check_store(store)
    return {
        "seconds": round(time.perf_counter() - started, 1),
        "problems": len(report.problems),
        "peak_rss_mb": peak_rss_mb(),
    }


def rebuild(args: argparse.Namespace) -> dict[str, Any]:
    """Cold start to the first answer of a process that finds no saved lexical index and builds it."""
    shutil.rmtree(args.data / "lexical", ignore_errors=True)  # small indexes (< 5,000 chunks) have none
    _, cold_start = started_engine(args)
    return {"cold_start_s": round(cold_start, 2), "peak_rss_mb": peak_rss_mb()}


def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Cold start, then warm latency of each query kind, then peak RSS, in this fresh process."""
    from qa.evaluation.datasets import load_dataset
    from qa.query import Filters, Query
    from qa.timewords import question_window

    engine, cold_start = started_engine(args)
    questions = load_dataset(args.dataset).questions[:QUESTIONS]

    def timed(call: Any) -> list[float]:
        times = []
        for question in questions:
            began = time.perf_counter()
            call(question)
            times.append((time.perf_counter() - began) * 1000)
        return times

    def window(question: Any) -> Filters:
        since, until = question.window()
        return Filters(since=since, until=until)

    kinds = {
        "retrieve": lambda q: engine.retriever.retrieve(q.question),
        "retrieve_filtered": lambda q: engine.retriever.retrieve(q.question, None, window(q)),
        "answer": lambda q: engine.ask(Query(question=q.question, time_words=False)),
        # As a user asks: as of the question's day, its time words setting the window (qa eval --time as-of).
        "answer_as_of": lambda q: engine.ask(q.query()),
        "answer_filtered": lambda q: engine.ask(q.query(time="window")),
        "dense_filtered": lambda q: engine.retriever.dense_search(q.question, 20, window(q)),
        # The path this replaced: Chroma's own `where` filter on the dense search.
        "dense_chroma_where": lambda q: engine.store._chunks.query(
            query_embeddings=[engine.embeddings.embed_query(q.question)],
            n_results=20,
            where=chroma_where(*q.window()),
            include=["distances"],
        ),
        # A timeline of the question's story as of its day, and the week's most covered stories (budget 400 ms p95).
        "timeline": lambda q: engine.ask(Query(question=q.question, as_of=q.asked_on or date.today(), mode="timeline")),
        "timeline_week": lambda q: engine.ask(
            Query(question="What happened this week?", as_of=q.asked_on or date.today())
        ),
        # Reading the question's time words alone (the budget is 5 ms at p95).
        "time_words": lambda q: question_window(q.question, q.asked_on or date.today()),
    }
    latency = {}
    chosen = args.kinds.split(",") if args.kinds else list(kinds)
    for name, call in ((name, kinds[name]) for name in chosen):
        times = timed(call)
        latency[name] = {f"p{q}": round(float(np.percentile(times, q)), 1) for q in (50, 95, 99)}
    peak = peak_rss_mb()  # before anything else is read: the answers' peak
    return {
        "chunks": engine.store.counts()[1],
        "cold_start_s": round(cold_start, 2),
        "latency_ms": latency,
        "peak_rss_mb": peak,
    }


def start(args: argparse.Namespace) -> dict[str, Any]:
    """`qa serve` started on the index, as a service is: from its spawn, the seconds to the first answer (a client
    asking at once and again while it gets 503 "starting") and to /readyz's 200 (warmed up); then its memory."""
    import httpx

    from qa.evaluation.datasets import load_dataset

    question = load_dataset(args.dataset).questions[0].question
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    environment = {**os.environ, "QA_DATA_DIR": str(args.data), "QA_FEED_EVERY": "0"}
    spawned = time.perf_counter()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("qa")), "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seconds: dict[str, float] = {}

    def until_ok(name: str, call: Any) -> None:
        while time.perf_counter() - spawned < 600:
            try:
                if call().status_code == 200:
                    seconds[name] = round(time.perf_counter() - spawned, 2)
                    return
            except httpx.TransportError:  # not listening yet
                pass
            time.sleep(0.05)

    try:
        waits = [
            threading.Thread(
                target=until_ok,
                args=("first_answer_s", lambda: httpx.post(f"{url}/v1/ask", json={"question": question}, timeout=600)),
            ),
            threading.Thread(target=until_ok, args=("ready_s", lambda: httpx.get(f"{url}/readyz", timeout=10))),
        ]
        for wait in waits:
            wait.start()
        for wait in waits:
            wait.join()
        status = Path(f"/proc/{server.pid}/status").read_text()
    finally:
        server.terminate()
        server.wait(30)
    rss, peak = (round(int(status.split(key)[1].split()[0]) / 1024) for key in ("VmRSS:", "VmHWM:"))
    return {**seconds, "rss_mb": rss, "peak_rss_mb": peak}


def chroma_where(since: date | None, until: date | None) -> dict[str, Any] | None:
    """The Chroma `where` clause for a date window, as the dense search used to filter."""
    from qa.chroma_codec import day_number

    clauses = [{"published_day": {"$gte": day_number(since)}}] if since else []
    clauses += [{"published_day": {"$lte": day_number(until)}}] if until else []
    return {"$and": clauses} if len(clauses) > 1 else (clauses[0] if clauses else None)


def stories(args: argparse.Namespace) -> dict[str, Any]:
    """The near-duplicate check of ingest, per article: band keys, the index's candidates, exact similarity."""
    from qa.engine import Engine
    from qa.stories import StoryFinder, band_keys, shingles

    store = Engine(settings_for(args.data)).store
    articles = list(store.iter_articles())[:STORY_SAMPLE]
    band_keys.cache_clear(), shingles.cache_clear()  # as an ingest meets them: new
    finder = StoryFinder(store.band_matches)
    started = time.perf_counter()
    grouped = [finder.assign(article) for article in articles]
    seconds = time.perf_counter() - started
    return {
        "articles": len(articles),
        "ms_per_article": round(seconds / len(articles) * 1000, 2),
        "in_other_stories": sum(a.story != a.id for a in grouped),
    }


def poll(args: argparse.Namespace) -> dict[str, Any]:
    """POLL_ENTRIES benchmark articles as pages behind one RSS feed on a local server, polled into a fresh index."""
    from html import escape

    from qa.config import FetchSettings, Settings
    from qa.engine import Engine

    sys.path.insert(0, str(HERE.parents[1]))
    from tests.news_site import NewsSite, Resource

    records, _ = benchmark_articles(args)
    site = NewsSite().start()
    items = []
    for n, record in enumerate(records[:POLL_ENTRIES]):
        body = "\n\n".join(escape(paragraph) for paragraph in record["text"].split("\n\n") if paragraph.strip())
        url = site.page(f"/news/{n}.html", escape(record["title"]), body, date=record.get("published"))
        items.append(f"<item><title>{escape(record['title'])}</title><link>{url}</link><guid>{url}</guid></item>")
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title>{"".join(items)}</channel></rss>'
    site.resources["/feed.xml"] = Resource(body=feed.encode(), content_type="application/rss+xml")
    settings = Settings(
        data_dir=args.data, feed_max_entries=POLL_ENTRIES, fetch=FetchSettings(private=True, host_delay=0)
    )
    engine = Engine(settings)
    engine.add_feed(site.url + "/feed.xml")
    started = time.perf_counter()
    [polled] = engine.poll_feeds()
    seconds = time.perf_counter() - started
    site.stop()
    return {
        "entries": len(polled.report.items),
        "added": polled.report.count("added"),
        "chunks": polled.report.chunks,
        "seconds": round(seconds, 1),
        "entries_per_s": round(len(polled.report.items) / seconds, 1),
    }


def print_table(report: dict[str, Any]) -> None:
    host = report["machine"]
    print(
        f"\nMachine: {host['cpu']}, {host['cores']} cores, flags {' '.join(host['flags']) or 'none of note'}; "
        f"ONNX Runtime {host['onnxruntime']}, PyTorch {host['torch']}; embedding backend {host['embedding_backend']}"
    )
    if host["probe"]:
        print("probe (qa doctor):")
        for p in host["probe"]["probes"]:
            figures = f"{p['chunks_per_s']} chunks/s, {p['short_text_ms']} ms a short text, min cos {p['min_cosine']}"
            print(f"  {p['backend']:22} {p['error'] or figures}")
    ingest, embedding = report["ingest"], report["embedding"]
    baseline = embedding["sentence_transformers"]
    print(f"\nIngest: {ingest['articles']} articles, {ingest['chunks']} chunks, {ingest['tokens']:,} tokens")
    print(f"{'':38} {'chunks/s':>9} {'tokens/s':>9} {'x plain ST':>10}")
    rows = [
        (f"ingest end to end ({host['embedding_backend']})", ingest),
        (f"embedding alone: {host['embedding_backend']}", embedding["chosen"]),
        ("embedding alone: plain sentence-transf.", baseline),
    ]
    for label, figures in rows:
        ratio = figures["chunks_per_s"] / baseline["chunks_per_s"]
        print(f"{label:38} {figures['chunks_per_s']:9.1f} {figures['tokens_per_s']:9,} {ratio:9.2f}x")
    print(f"ingest: {ingest['articles_per_s']} articles/s, peak RSS {ingest['peak_rss_mb']:.0f} MB")
    grown = report["grow"]
    print(
        f"large index: {grown['chunks']:,} chunks (copies written in {grown['write_s']} s, "
        f"lexical index brought up to date in {grown['lexical_s']} s)"
    )
    small, large = report["serve"]["small"], report["serve"]["large"]
    print(f"\n{'warm latency, ms (p50 / p95 / p99)':38} {small['chunks']:>17,} chunks {large['chunks']:>17,} chunks")
    for kind in small["latency_ms"]:
        cells = ["{p50:5.1f} / {p95:5.1f} / {p99:5.1f}".format(**side["latency_ms"][kind]) for side in (small, large)]
        print(f"{kind:38} {cells[0]:>24} {cells[1]:>24}")
    print(f"{'cold start to first answer, s':38} {small['cold_start_s']:>24} {large['cold_start_s']:>24}")
    rebuilt = report["rebuild"]
    print(
        f"{'  without saved lexical index, s':38} {rebuilt['small']['cold_start_s']:>24} "
        f"{rebuilt['large']['cold_start_s']:>24}"
    )
    print(f"{'serving peak RSS, MB':38} {small['peak_rss_mb']:>24.0f} {large['peak_rss_mb']:>24.0f}")
    started = report["start"]
    cells = [f"{side['first_answer_s']} / {side['ready_s']}" for side in (started["small"], started["large"])]
    print(f"{'qa serve: first answer / ready, s':38} {cells[0]:>24} {cells[1]:>24}")
    cells = [f"{side['rss_mb']} / {side['peak_rss_mb']}" for side in (started["small"], started["large"])]
    print(f"{'qa serve: RSS now / peak, MB':38} {cells[0]:>24} {cells[1]:>24}")
    saved = report["lexical"]
    cells = [f"{side['size_mb']:.0f} MB, {side['load_s']} s" for side in (saved["small"], saved["large"])]
    print(f"{'saved lexical index: size, load':38} {cells[0]:>24} {cells[1]:>24}")
    checked = report["check"]
    cells = [f"{side['seconds']} s, {side['peak_rss_mb']:.0f} MB" for side in (checked["small"], checked["large"])]
    print(f"{'qa check: time, peak RSS':38} {cells[0]:>24} {cells[1]:>24}")
    more = report["ingest_more"]
    print(
        f"ingest of {more['empty']['chunks']:,} more chunks: {more['empty']['chunks_per_s']} chunks/s into an empty "
        f"index, {more['large']['chunks_per_s']} into the {more['large']['index_chunks']:,}-chunk one"
    )
    found, polled = report["stories"], report["poll"]
    print(f"\nnear-duplicate check (stories): {found['ms_per_article']} ms an article ({found['articles']} articles)")
    print(
        f"feed poll from a local server: {polled['entries_per_s']} entries/s fetched, extracted and ingested "
        f"({polled['added']} of {polled['entries']} added, {polled['chunks']} chunks in {polled['seconds']} s)"
    )


if __name__ == "__main__":
    main()
