"""Measure the weekly digest: "What happened this week?" asked as a timeline as of each quiz day of a RealTime QA year.

For every quiz week, the share of that week's quiz questions whose gold answer is in one of the timeline's 10
entries (digest recall@10), against the same share for the first sentences of the 10 best-ranked passages of the
same question searched the same way (the baseline); and the timeline answer's milliseconds (p50, p95). Nothing in
qa/answer/timeline.py is fit on these years: every figure is held out.

    QA_DATA_DIR=/work/evalidx QA_MAX_FILE_MB=200 .venv/bin/python benchmarks/digest.py \
        ../shared/benchmarks/realtimeqa-2022
"""

from __future__ import annotations

import argparse
import statistics
from collections import defaultdict
from pathlib import Path

from qa.backends import load_embeddings
from qa.config import get_settings
from qa.evaluation import metrics, runner
from qa.evaluation.datasets import EvalQuestion, load_datasets
from qa.query import Query
from qa.text import split_sentences

DIGEST = "What happened this week?"
ENTRIES = 10


def held(texts: list[str], question: EvalQuestion) -> bool:
    """Whether one of the texts holds one of the question's gold answers."""
    return any(metrics.contains(text, gold) >= 1.0 for text in texts for gold in question.golds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("datasets", type=Path, nargs="+", help="one folder, or several as one corpus (qa eval's)")
    parser.add_argument("--weeks", type=int, default=None, help="only the first N quiz weeks")
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_datasets(args.datasets, settings.data_dir / "eval")
    engine, _ = runner.open_engine(dataset, settings, load_embeddings(settings))
    weeks: dict[object, list[EvalQuestion]] = defaultdict(list)
    for question in dataset.questions:
        if question.asked_on and question.golds:
            weeks[question.asked_on].append(question)
    days = sorted(weeks)[: args.weeks]
    found = baseline = asked = 0
    millis, shown = [], []
    for day in days:
        query = Query(question=DIGEST, as_of=day, mode="timeline", entries=ENTRIES)
        answer = engine.ask(query)
        millis.append(answer.timings_ms["total"])
        entries = [entry.text for entry in answer.timeline.entries] if answer.timeline else []
        shown.append(len(entries))
        filters, window = query.search()
        passages = engine.retriever.retrieve(DIGEST, ENTRIES, filters, query.period(window))
        firsts = [p.text[s:e] for p in passages for s, e in split_sentences(p.text)[:1]]
        for question in weeks[day]:
            asked += 1
            found += held(entries, question)
            baseline += held(firsts, question)
    share, base = found / max(asked, 1), baseline / max(asked, 1)
    print(
        f"{dataset.name}: {len(days)} weeks, {asked} questions; digest recall@{ENTRIES} {share:.3f} "
        f"({found}), baseline (first sentences of the top {ENTRIES} passages) {base:.3f} ({baseline}), "
        f"ratio {share / base if base else float('inf'):.2f}; entries per week {statistics.mean(shown):.1f}; "
        f"timeline ms p50 {statistics.median(millis):.0f} p95 {statistics.quantiles(millis, n=20)[-1]:.0f}"
    )


if __name__ == "__main__":
    main()
