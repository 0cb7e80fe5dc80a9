"""How often the answer's sentences hold the gold answer, by the rule that chooses them: replayed on training readings.

    QA_DATA_DIR=... .venv/bin/python benchmarks/sentence_choice.py DATASET DATASET [DATASET ...]

Reads each benchmark year as `qa eval train` does (its cached readings in QA_DATA_DIR/train/, or the index), fits
the scorer's models on the other years, and replays on the held-out year's readings each rule for the one to three
sentences an answer cites after the short answer's own (the best candidate's best sentence):

- sentence model: the sentences it scores within FOLLOW_UP_RATIO of its best (the rule before runners-up);
- then runners-up: as above, then the best sentences of the candidates ranked next (qa/answer/extractive.py);
- three always: the sentence model's best, up to three sentences whatever their scores.

Printed per held-out year: the share of questions whose sentences read hold the gold answer, and for each rule the
share whose chosen sentences do, that share of the read one, and the sentences shown per question. The replay
leaves out what the engine adds around the choice (a sentence an answer refers back to, the asked period's
sentences only), so the whole engine's figures come from `qa eval` (docs/evaluation.md).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.extractive import FOLLOW_UP_RATIO, MAX_SENTENCES  # noqa: E402
from qa.backends import load_embeddings  # noqa: E402
from qa.config import get_settings  # noqa: E402
from qa.evaluation import training  # noqa: E402
from qa.evaluation.datasets import load_dataset  # noqa: E402
from qa.evaluation.examples import Example, read_dataset  # noqa: E402

# A rule: (reading, candidate scores, sentence scores) → the indices of the sentences cited, the short answer's first.
Rule = Callable[[Example, np.ndarray, np.ndarray], list[int]]


def short_answers_sentence(example: Example, candidates: np.ndarray, sentences: np.ndarray) -> list[int]:
    """The best candidate's best sentence, or the best sentence when nothing was a candidate."""
    if not len(candidates):
        return [int(np.argmax(sentences))]
    return [max(example.candidate_sentences[int(np.argmax(candidates))], key=lambda i: sentences[i])]


def close_to_best(chosen: list[int], sentences: np.ndarray, ratio: float = FOLLOW_UP_RATIO) -> list[int]:
    """`chosen`, then the sentences scored within `ratio` of the best, best first, up to MAX_SENTENCES."""
    chosen = list(chosen)
    for i in np.argsort(-sentences, kind="stable"):
        if len(chosen) == MAX_SENTENCES or sentences[i] < ratio * sentences.max():
            break
        if int(i) not in chosen:
            chosen.append(int(i))
    return chosen


def sentence_model(example: Example, candidates: np.ndarray, sentences: np.ndarray) -> list[int]:
    return close_to_best(short_answers_sentence(example, candidates, sentences), sentences)


def then_runners_up(example: Example, candidates: np.ndarray, sentences: np.ndarray) -> list[int]:
    chosen = sentence_model(example, candidates, sentences)
    for c in np.argsort(-candidates, kind="stable")[:MAX_SENTENCES]:
        best = max(example.candidate_sentences[c], key=lambda i: sentences[i])
        if best not in chosen and len(chosen) < MAX_SENTENCES:
            chosen.append(best)
    return chosen


def three_always(example: Example, candidates: np.ndarray, sentences: np.ndarray) -> list[int]:
    return close_to_best(short_answers_sentence(example, candidates, sentences), sentences, ratio=0.0)


RULES: dict[str, Rule] = {
    "sentence model": sentence_model,
    "then runners-up": then_runners_up,
    "three always": three_always,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="+", type=Path, help="benchmark years (two at least: each is held out)")
    args = parser.parse_args()
    settings = get_settings()
    embeddings = load_embeddings(settings)
    years = {d.name: read_dataset(d, settings, embeddings) for d in map(load_dataset, args.datasets)}
    print(f"{'held-out year':15} {'rule':17} {'read':>6} {'chosen':>7} {'of read':>8} {'shown':>6}")
    for year, examples in years.items():
        models = training.fit([e for other, them in years.items() if other != year for e in them])
        held = [e for e in examples if len(e.sentence_right)]
        read = sum(e.sentence_right.any() for e in held) / len(examples)
        chosen = {name: [] for name in RULES}
        for e in held:
            sentences = models.sentences.predict(e.sentence_features)
            candidates = models.candidates.predict(e.candidate_features) if e.candidate_texts else np.zeros(0)
            for name, rule in RULES.items():
                chosen[name].append([int(e.sentence_right[i]) for i in rule(e, candidates, sentences)])
        for name, picks in chosen.items():
            held_gold = sum(any(p) for p in picks) / len(examples)
            shown = np.mean([len(p) for p in picks])
            print(f"{year:15} {name:17} {read:6.3f} {held_gold:7.3f} {held_gold / read:8.3f} {shown:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
