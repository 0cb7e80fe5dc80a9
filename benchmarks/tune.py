"""Measure the chunk size on the RealTime QA slice, and how the answer scorer's refusal threshold behaves.

Prints retrieval recall@k per chunk size, whether the answer's first sentence holds the gold answer, and at the
scorer's refusal threshold how many questions are answered in their own week against how many are refused when
asked in a week whose articles do not hold the answer.

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

from qa.answer import ExtractiveAnswerer
from qa.articles import article_from_record
from qa.backends import load_embeddings
from qa.config import Settings
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
            settings = Settings(data_dir=Path(tmp), chunk_words=words, chunk_overlap_words=words // 4)
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
                ranked = [chunk.article.id for chunk in docs]
                for k in recall:
                    recall[k].append(any(a in q["gold_article_ids"] for a in ranked[:k]))
            print(
                "  recall "
                + "  ".join(f"@{k}={statistics.mean(v):.3f}" for k, v in recall.items())
                + f"  (n={len(recall[1])})"
            )
            own, other, hit = [], [], []
            # The scorer loaded once; refusal threshold 0, so that every question shows its first sentence.
            unrefusing = ExtractiveAnswerer(engine.embeddings, engine.settings.answer_model, 0.0)
            for q in questions:
                week = _week_of(q, weeks)
                since, until = _window(q)
                confidence, first = _best(engine, unrefusing, q["question"], since, until)
                own.append(confidence)
                hit.append(q["answer"].lower() in first.lower())
                wrong = next(w for w in weeks if w != week)
                # Only the other week's articles: the question's own news is out of reach.
                other.append(
                    _best(engine, unrefusing, q["question"], wrong - timedelta(days=3), wrong + timedelta(days=3))[0]
                )
            threshold = engine.answerer.refusal_threshold
            print(f"  first answer sentence contains the gold answer: {statistics.mean(hit):.3f}")
            answered = statistics.mean(s >= threshold for s in own)
            refused = statistics.mean(s < threshold for s in other)
            print(
                f"  refusal threshold {threshold:.3f}: answers own week {answered:.2f}, "
                f"refuses other week {refused:.2f}"
            )


def _best(engine: Engine, unrefusing: ExtractiveAnswerer, question: str, since: date, until: date) -> tuple[float, str]:
    """The answer's confidence and its first sentence, refusal threshold aside."""
    docs = engine.retriever.retrieve(question, engine.settings.k, Filters(since=since, until=until))
    selection = unrefusing.select(question, docs)
    return selection.confidence, selection.evidence[0].text if selection.evidence else ""


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
