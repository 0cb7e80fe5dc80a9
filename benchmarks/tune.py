"""Measure the choices the core engine makes on the RealTime QA slice: chunk size and the refusal threshold.

Prints retrieval recall@k per chunk size, then the best-sentence score of answerable questions (asked in their
own week) against the same questions asked in a week whose articles do not hold the answer.

    .venv/bin/python benchmarks/tune.py ../shared/benchmarks/realtimeqa-2023q1 --weeks 2023-01-06 2023-01-13
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from qa.articles import article_from_record
from qa.config import Settings
from qa.embeddings import load_embeddings
from qa.engine import Engine
from qa.ingest import ingest_articles
from qa.query import Filters


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--weeks", nargs="+", required=True)
    parser.add_argument("--chunk-words", nargs="+", type=int, default=[60, 120, 180])
    args = parser.parse_args()

    records = [json.loads(line) for line in (args.dataset / "articles.jsonl").open()]
    records = [r for r in records if r["week"] in args.weeks]
    questions = [json.loads(line) for line in (args.dataset / "questions.jsonl").open()]
    weeks = [date.fromisoformat(w) for w in args.weeks]
    questions = [q for q in questions if _week_of(q, weeks) is not None]
    with_gold = sum(bool(q["gold_article_ids"]) for q in questions)
    print(f"{len(records)} articles, {len(questions)} questions ({with_gold} with gold)")
    embeddings = load_embeddings(Settings())
    for words in args.chunk_words:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp), chunk_words=words, chunk_overlap_words=words // 4, refusal_threshold=0
            )
            engine = Engine(settings, embeddings)
            articles = [article_from_record(r, path=None, index=i, settings=settings) for i, r in enumerate(records)]
            report = ingest_articles(articles, engine.store, settings)
            print(f"\nchunk_words={words}: {report.chunks} chunks, {report.chunks / report.seconds:.1f} chunks/s")
            recall = {1: [], 5: [], 10: []}
            for q in questions:
                if not q["gold_article_ids"]:
                    continue
                since, until = _window(q)
                docs = engine.retriever.retrieve(q["question"], 10, Filters(since=since, until=until))
                ranked = [chunk.article_id for chunk in docs]
                for k in recall:
                    recall[k].append(any(a in q["gold_article_ids"] for a in ranked[:k]))
            print(
                "  recall "
                + "  ".join(f"@{k}={statistics.mean(v):.3f}" for k, v in recall.items())
                + f"  (n={len(recall[1])})"
            )
            own, other, hit = [], [], []
            for q in questions:
                week = _week_of(q, weeks)
                since, until = _window(q)
                answer_scores = _best(engine, q["question"], since, until)
                own.append(answer_scores[0])
                hit.append(q["answer"].lower() in answer_scores[1].lower())
                wrong = next(w for w in weeks if w != week)
                # Only the other week's articles: the question's own news is out of reach.
                other.append(_best(engine, q["question"], wrong - timedelta(days=3), wrong + timedelta(days=3))[0])
            print(f"  top sentence contains the gold answer: {statistics.mean(hit):.3f}")
            for threshold in [x / 100 for x in range(20, 66, 3)]:
                answered = statistics.mean(s >= threshold for s in own)
                refused_wrong = statistics.mean(s < threshold for s in other)
                kept_hits = statistics.mean(s >= threshold and h for s, h in zip(own, hit, strict=True))
                print(
                    f"  threshold {threshold:.2f}: answers own week {answered:.2f} "
                    f"(with gold {kept_hits:.2f}), refuses other week {refused_wrong:.2f}"
                )


def _best(engine: Engine, question: str, since: date, until: date) -> tuple[float, str]:
    docs = engine.retriever.retrieve(question, engine.settings.k, Filters(since=since, until=until))

    scored = engine.answerer.score_sentences(question, docs)
    return (scored[0].score, scored[0].text) if scored else (0.0, "")


def _window(question: dict) -> tuple[date, date]:
    asked = date.fromisoformat(question["date"])
    return asked - timedelta(days=10), asked + timedelta(days=1)


def _week_of(question: dict, weeks: list[date]) -> date | None:
    asked = date.fromisoformat(question["date"])
    return next((w for w in weeks if 0 <= (w - asked).days <= 3), None)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"\n{time.perf_counter() - started:.0f} s")
