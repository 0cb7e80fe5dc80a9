"""Measure the ordering of a question's passages by the past period it is about (qa.fusion.prefer_period).

For each answerable question whose time words name a past period ("in 2021", "last year" in March), asked as of
its day, the retriever's fused pool is ranked by recency alone and then with the passages neither from the period
nor speaking of it kept at each OFF_PERIOD share of their score; recall@5, recall@1 and the share of questions
whose top 5 passages hold the gold answer (what the reader can find) of each are printed.

    QA_DATA_DIR=... QA_MAX_FILE_MB=200 .venv/bin/python benchmarks/period_order.py ../shared/benchmarks/realtimeqa-2022
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa.backends import load_embeddings
from qa.config import get_settings
from qa.evaluation import metrics, runner
from qa.evaluation.datasets import load_datasets
from qa.fusion import diversify, prefer_period, prefer_recent
from qa.retrieval import CANDIDATES

OFF_PERIOD_SHARES = (1.0, 0.75, 0.5, 0.25, 0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", type=Path, nargs="+", help="one folder, or several as one corpus (qa eval's)")
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_datasets(args.datasets, settings.data_dir / "eval")
    engine, _ = runner.open_engine(dataset, settings, load_embeddings(settings))
    retriever = engine.retriever
    pools = []
    for question in dataset.questions:
        query = question.query(time="as-of")
        filters, window = query.search()
        period = query.period(window)
        if not (question.answerable and period.past):
            continue
        ranked = prefer_recent(retriever.pool(query.question, CANDIDATES, filters), filters)
        pools.append((question, ranked, period))
    print(f"{dataset.name}: {len(pools)} answerable questions about a past period")
    for share in OFF_PERIOD_SHARES:
        ranks, held = [], []
        for question, chunks, period in pools:
            top = diversify(prefer_period(chunks, period, share))[:10]
            ranks.append(metrics.gold_rank([c.article.id for c in top], question.gold_article_ids))
            text = " ".join(c.text for c in top[:5])
            held.append(max(metrics.contains(text, gold) for gold in question.golds) if question.golds else 0.0)
        at = {k: sum(metrics.recall_at(rank, k) for rank in ranks) / max(len(ranks), 1) for k in (5, 1)}
        print(
            f"off-period share {share:4}  recall@5 {at[5]:.4f}  recall@1 {at[1]:.4f}  "
            f"answer in the top 5 passages {sum(held) / max(len(held), 1):.4f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
