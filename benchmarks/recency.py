"""Measure how a recency decay moves retrieval when questions are asked as of their day (qa eval --time as-of).

For each answerable question of a benchmark (its index built by `qa eval` in QA_DATA_DIR), the retriever's fused
pool is re-ranked by each decay: the shipped one (qa/fusion.py), none, and half-lives in days; recall@5 of each is
printed. Choose the decay on a year that no reported figure comes from.

    QA_DATA_DIR=... QA_MAX_FILE_MB=200 .venv/bin/python benchmarks/recency.py ../shared/benchmarks/realtimeqa-2022
    (several folders: one corpus, a multi-year stream replayed, as `qa eval DIR DIR` builds it)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date
from pathlib import Path

from qa.config import get_settings
from qa.embeddings import load_embeddings
from qa.evaluation import metrics, runner
from qa.evaluation.datasets import load_datasets
from qa.fusion import diversify, fuse_rankings, prefer_recent
from qa.models import Chunk
from qa.retrieval import CANDIDATES
from qa.store import with_scores
from qa.timewords import article_date

Decay = Callable[[list[Chunk], date | None], list[Chunk]]


def decay_by(half_life_days: float | None, given_date: bool = False, yearly: bool = False) -> Decay:
    """Scores halved every `half_life_days` an article predates the end of the window, by its own date (its URL's,
    else given) or by the date it was given (a feed's, the benchmark's week); and with `yearly`, less 20 % a year
    its own date predates it past a month (the rule before the half-life)."""

    def decayed(ranking: list[Chunk], until: date | None) -> list[Chunk]:
        if until is None:
            return ranking
        weighted = []
        for chunk in ranking:
            factor = 1.0
            own = article_date(chunk.url, chunk.published)
            if half_life_days:
                day = chunk.published if given_date else own
                factor *= 0.5 ** (max(0, (until - day).days) / half_life_days) if day else 1.0
            if yearly and own:
                factor *= 0.8 ** (max(0, (until - own).days - 30) / 365)
            weighted.append(chunk.model_copy(update={"score": (chunk.score or 0.0) * factor}))
        return sorted(weighted, key=lambda chunk: chunk.score or 0.0, reverse=True)

    return decayed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", type=Path, nargs="+", help="one folder, or several as one corpus (qa eval's)")
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_datasets(args.datasets, settings.data_dir / "eval")
    engine, _ = runner.open_engine(dataset, settings, load_embeddings(settings))
    retriever = engine.retriever
    decays: dict[str, Decay] = {"shipped (qa/fusion.py)": prefer_recent, "none": decay_by(None)}
    decays["0.2 a year by own date"] = decay_by(None, yearly=True)
    decays |= {f"half-life {days} days": decay_by(days) for days in (3, 7, 14, 30, 90, 365)}
    decays |= {f"half-life {days} days, given date": decay_by(days, given_date=True) for days in (3, 7, 30, 365)}
    decays |= {
        f"given date {days} days + 0.2 a year": decay_by(days, given_date=True, yearly=True) for days in (3, 7, 30)
    }
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
