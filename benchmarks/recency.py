"""Measure how the time rules move retrieval when questions are asked as of their day (qa eval --time as-of).

For each answerable question of a benchmark (its index built by `qa eval` in QA_DATA_DIR), the retriever's fused
pool is re-ranked by each recency rule, under each rule for how long a time-word window runs on past the words
(qa.timewords.search_window); recall@5 and recall@1 of each pair are printed, beside the benchmark's own window
(`--time window`) for reference. Choose on a year that no reported figure comes from.

    QA_DATA_DIR=... QA_MAX_FILE_MB=200 .venv/bin/python benchmarks/recency.py ../shared/benchmarks/realtimeqa-2022
    (several folders: one corpus, a multi-year stream replayed, as `qa eval DIR DIR` builds it)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from unittest import mock

from qa import query as query_module
from qa import timewords
from qa.backends import load_embeddings
from qa.config import get_settings
from qa.evaluation import metrics, runner
from qa.evaluation.datasets import EvalQuestion, TimeMode, load_datasets
from qa.fusion import diversify, prefer_recent
from qa.models import Chunk, TimeWindow
from qa.query import Filters
from qa.retrieval import CANDIDATES, HybridRetriever

Decay = Callable[[list[Chunk], Filters], list[Chunk]]
WindowRule = Callable[[str, date], TimeWindow | None]


def decay_by(half_life_days: int | None, in_windows: bool = False) -> Decay:
    """qa/fusion.py's recency with another half-life (None: the yearly decay alone), applied without a lower
    bound only, or also `in_windows` (the filters' start left out of the rule, not of the search)."""
    half_life = timedelta(days=half_life_days) if half_life_days else None

    def decayed(ranking: list[Chunk], filters: Filters) -> list[Chunk]:
        ruled = Filters(until=filters.until) if in_windows else filters
        return prefer_recent(ranking, ruled, half_life)

    return decayed


def runs_on(days: int | None) -> WindowRule:
    """Time-word windows that run `days` past the words' last day (None: as long again as the time they name, a
    month at least), never past as_of."""

    def window(question: str, as_of: date) -> TimeWindow | None:
        words = timewords.question_window(question, as_of)
        if words is None:
            return None
        named = (words.until - words.since).days + 1 if words.since else 0
        after = timedelta(days=max(30, named) if days is None else days)
        return words.model_copy(update={"until": min(words.until + after, as_of)})

    return window


def pools(
    questions: list[EvalQuestion], retriever: HybridRetriever, time: TimeMode
) -> list[tuple[EvalQuestion, list[Chunk], Filters]]:
    """Each answerable question's fused candidates (the retriever's pool, before recency), with its filters."""
    found = []
    for question in questions:
        query = question.query(time=time)
        filters, _ = query.search()
        found.append((question, retriever.pool(query.question, CANDIDATES, filters), filters))
    return found


def recall(pool: list[tuple[EvalQuestion, list[Chunk], Filters]], decay: Decay) -> str:
    ranks = [
        metrics.gold_rank([c.article.id for c in diversify(decay(chunks, filters))[:10]], q.gold_article_ids)
        for q, chunks, filters in pool
    ]
    at = {k: sum(metrics.recall_at(rank, k) for rank in ranks) / len(ranks) for k in (5, 1)}
    return f"recall@5 {at[5]:.4f}  recall@1 {at[1]:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", type=Path, nargs="+", help="one folder, or several as one corpus (qa eval's)")
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_datasets(args.datasets, settings.data_dir / "eval")
    engine, _ = runner.open_engine(dataset, settings, load_embeddings(settings))
    answerable = [question for question in dataset.questions if question.answerable]
    decays: dict[str, Decay] = {"shipped (qa/fusion.py)": prefer_recent, "yearly only": decay_by(None)}
    decays |= {f"half-life {days} d": decay_by(days) for days in (2, 3, 5, 7, 14, 30)}
    decays |= {f"half-life {days} d, in windows too": decay_by(days, in_windows=True) for days in (3, 7)}
    window_rules: dict[str, WindowRule] = {"shipped (qa/timewords.py)": timewords.search_window}
    window_rules |= {f"{days} days on": runs_on(days) for days in (0, 30, 60)}
    window_rules["as long again"] = runs_on(None)
    print(f"{dataset.name}: {len(answerable)} answerable questions")
    for label, chunks in (("benchmark's window", pools(answerable, engine.retriever, "window")),):
        for decay_label, decay in decays.items():
            print(f"{label:28} {decay_label:34} {recall(chunks, decay)}", flush=True)
    for window_label, rule in window_rules.items():
        with mock.patch.object(query_module, "search_window", rule):
            chunks = pools(answerable, engine.retriever, "as-of")
        for decay_label, decay in decays.items():
            print(f"as of, {window_label:20} {decay_label:34} {recall(chunks, decay)}", flush=True)


if __name__ == "__main__":
    main()
