"""Core engine figures on this machine: ingest throughput, warm query latency and peak memory.

Ingests the first N articles of a benchmark corpus into a temporary index, embeds the same chunks with plain
sentence-transformers for comparison, then asks the benchmark's questions (retrieve + extractive answer).

    .venv/bin/python benchmarks/core.py ../shared/benchmarks/realtimeqa-2023q1 --articles 300
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from qa.articles import article_from_record
from qa.chunking import chunk_article
from qa.config import Settings
from qa.engine import Engine
from qa.ingest import embedding_text, ingest_articles


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--articles", type=int, default=300)
    parser.add_argument("--questions", type=int, default=100)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        started = time.perf_counter()
        engine = Engine(settings)
        load_s = time.perf_counter() - started
        with (args.dataset / "articles.jsonl").open() as lines:
            records = [json.loads(next(lines)) for _ in range(args.articles)]
        articles = [article_from_record(r, path=None, index=i, settings=settings) for i, r in enumerate(records)]

        report = ingest_articles(articles, engine.store, settings)
        words = sum(len(a.text.split()) for a in articles)
        print(f"model load: {load_s:.1f} s")
        print(
            f"ingest: {len(articles)} articles, {report.chunks} chunks, {words:,} words in {report.seconds:.1f} s "
            f"= {report.chunks / report.seconds:.1f} chunks/s, {len(articles) / report.seconds:.2f} articles/s"
        )

        chunks = [
            c
            for a in articles
            for c in chunk_article(a, chunk_words=settings.chunk_words, overlap_words=settings.chunk_overlap_words)
        ]
        texts = [embedding_text(c) for c in chunks]
        model = engine.embeddings._model  # the same weights, called the plain sentence-transformers way
        started = time.perf_counter()
        model.encode(texts, batch_size=32)
        plain = len(texts) / (time.perf_counter() - started)
        print(
            f"plain sentence-transformers encode of the same chunks: {plain:.1f} chunks/s "
            f"(ingest end to end is {report.chunks / report.seconds / plain:.2f}x)"
        )

        questions = [json.loads(line) for line in (args.dataset / "questions.jsonl").open()][: args.questions]
        engine.ask(questions[0]["question"])  # warm: first query builds the lexical index
        timings = {"retrieve": [], "answer": [], "total": []}
        refused = 0
        for question in questions:
            answer = engine.ask(question["question"])
            refused += answer.refused
            for stage, values in timings.items():
                values.append(answer.timings_ms[stage])
        print(f"query ({len(questions)} questions over {report.chunks} chunks, warm, {refused} refused):")
        for stage, values in timings.items():
            cuts = statistics.quantiles(values, n=100)
            print(f"  {stage:9} p50 {cuts[49]:6.1f} ms   p95 {cuts[94]:6.1f} ms")
    print(f"peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
