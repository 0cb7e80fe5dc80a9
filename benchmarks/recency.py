"""Measure how a recency decay moves retrieval when questions are asked as of their day (qa eval --time as-of).

For each answerable question of a benchmark (its index built by `qa eval` in QA_DATA_DIR), the retriever's fused
pool is re-ranked by each decay: the shipped one (qa/fusion.py), none, and half-lives in days; recall@5 of each is
printed. Choose the decay on a year that no reported figure comes from.

    QA_DATA_DIR=... QA_MAX_FILE_MB=200 .venv/bin/python benchmarks/recency.py ../shared/benchmarks/realtimeqa-2022
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

from qa.config import get_settings
from qa.embeddings import load_embeddings
from qa.evaluation import metrics, runner
from qa.evaluation.datasets import load_dataset
from qa.fusion import diversify, fuse_rankings, prefer_recent
from qa.models import Chunk
from qa.retrieval import CANDIDATES
from qa.store import with_scores
from qa.timewords import article_date

Decay = Callable[[list[Chunk], date | None], list[Chunk]]


def half_life(days: float, given_date: bool = False) -> Decay:
    """Scores halved every `days` an article predates the end of the window; by its own date (its URL's, else
    given), or by the date it was given (a feed's, the benchmark's week)."""

    def decayed(ranking: list[Chunk], until: date | None) -> list[Chunk]:
        if until is None:
            return ranking
        weighted = []
        for chunk in ranking:
            own = chunk.published if given_date else article_date(chunk.url, chunk.published)
            age = max(0, (until - own).days) if own else 0
            weighted.append(chunk.model_copy(update={"score": (chunk.score or 0.0) * 0.5 ** (age / days)}))
        return sorted(weighted, key=lambda chunk: chunk.score or 0.0, reverse=True)

    return decayed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    engine, _ = runner.open_engine(dataset, get_settings(), load_embeddings(get_settings()))
    retriever = engine.retriever
    decays: dict[str, Decay] = {"shipped (0.2 a year)": prefer_recent, "none": lambda ranking, _: ranking}
    decays |= {f"half-life {days} days": half_life(days) for days in (3, 7, 14, 30, 90, 365)}
    decays |= {f"half-life {days} days, given date": half_life(days, given_date=True) for days in (3, 7, 30, 365)}
    pools = []
    for question in dataset.questions:
        if not question.answerable:
            continue
        query = question.query()
        filters, _ = query.search()
        dense = retriever.dense_ranked(query.question, CANDIDATES, filters)
        lexical = retriever.catalog.ranked(query.question, CANDIDATES, filters)
        pools.append((question, with_scores(engine.store, fuse_rankings([dense, lexical])), filters.until))
    print(f"{dataset.name}: {len(pools)} answerable questions, asked as of their day")
    for label, decay in decays.items():
        recall = [
            metrics.recall_at(
                metrics.gold_rank([c.article_id for c in diversify(decay(pool, until))[:10]], q.gold_article_ids), 5
            )
            for q, pool, until in pools
        ]
        print(f"{label:34} recall@5 {sum(recall) / len(recall):.4f}")


if __name__ == "__main__":
    main()
