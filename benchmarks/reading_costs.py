"""What each stage of the extractive reader costs: milliseconds per answer, p50 / p95, on this CPU.

    QA_DATA_DIR=... .venv/bin/python benchmarks/reading_costs.py DATASET [--questions 150]

Asks the first --questions questions of the dataset (date order, each as of its day, the index built or reused as
`qa eval` builds it) and times, inside the answer step, each stage the reader runs: skimming every sentence of the
top passages (terms, type, periods), the NER model on the sentences read closely (on a thread of its own, beside
the sentence vectors: the two overlap), the sentences' vectors, the candidates found and grouped, the candidate
phrases' vectors, and the two scorers. The rest of the answer step (choosing the sentences, the short answer,
citations) is what is left.
The held-out effect of each stage's features comes from `qa eval train --ablation` (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer import reading  # noqa: E402
from qa.answer.entities import load_recognizer  # noqa: E402
from qa.backends import load_embeddings  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.evaluation.datasets import load_dataset  # noqa: E402
from qa.evaluation.runner import open_engine  # noqa: E402

WARM_UP = 5
STAGES = ["skim", "ner", "sentence vectors", "candidates", "phrase vectors", "scorers", "answer step"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--questions", type=int, default=150)
    args = parser.parse_args()
    settings = get_settings()
    dataset = load_dataset(args.dataset)
    engine, _ = open_engine(dataset, settings, load_embeddings(settings))
    questions = sorted(dataset.questions, key=lambda question: (question.date or "", question.id))[: args.questions]
    spent: dict[str, float] = defaultdict(float)
    timed(reading, "_skim", "skim", spent)
    timed(reading, "candidates", "candidates", spent)
    timed(reading, "_groups", "groups", spent)  # the phrase vectors are made inside it: taken out below
    timed(load_recognizer(), "entities", "ner", spent)
    timed(engine.embeddings, "embed_documents", "sentence vectors", spent)
    grouping = reading._groups
    timed(engine.embeddings, "encode", "phrase vectors", spent, when=lambda: grouping.active)  # type: ignore[attr-defined]
    scorer = engine.answerer.scorer
    timed(scorer, "sentence_scores", "scorers", spent)
    timed(scorer, "candidate_scores", "scorers", spent)
    for warm in questions[:WARM_UP]:  # the models load: not timed
        engine.ask(warm.query(None, "extractive", "as-of"))
    per_answer: dict[str, list[float]] = defaultdict(list)
    for question in questions:
        spent.clear()
        answer = engine.ask(question.query(None, "extractive", "as-of"))
        stages = {
            "skim": spent["skim"],
            "ner": spent["ner"],
            "sentence vectors": spent["sentence vectors"],
            "candidates": spent["candidates"] + spent["groups"] - spent["phrase vectors"],
            "phrase vectors": spent["phrase vectors"],
            "scorers": spent["scorers"],
            "answer step": answer.timings_ms["answer"] / 1000,
        }
        for stage, seconds in stages.items():
            per_answer[stage].append(seconds * 1000)
    print(f"{len(questions)} questions of {dataset.name}, ms per answer (p50 / p95); NER beside the sentence vectors")
    for stage in STAGES:
        p50, p95 = np.percentile(per_answer[stage], [50, 95])
        print(f"  {stage:18} {p50:7.1f} / {p95:7.1f}")
    return 0


def timed(owner: Any, name: str, stage: str, spent: dict[str, float], when: Callable[[], bool] = lambda: True) -> None:
    """Replace owner.name by itself, adding the seconds of each call (made while `when()`) to spent[stage]; the
    replacement's `active` says whether a call is under way."""
    original: Callable[..., Any] = getattr(owner, name)

    def clocked(*args: Any, **kwargs: Any) -> Any:
        counted = when()
        started = time.perf_counter()
        clocked.active = True  # type: ignore[attr-defined]
        try:
            return original(*args, **kwargs)
        finally:
            clocked.active = False  # type: ignore[attr-defined]
            if counted:
                spent[stage] += time.perf_counter() - started

    clocked.active = False  # type: ignore[attr-defined]
    setattr(owner, name, clocked)


if __name__ == "__main__":
    sys.exit(main())
