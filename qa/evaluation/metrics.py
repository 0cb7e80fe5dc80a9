"""Metric functions: pure, on plain strings and ids, so each is checked on hand-made cases.

Answers are scored the SQuAD way: lowercase, punctuation and the articles a/an/the removed, whitespace collapsed
(`exact_match`, `token_f1`: the strict figures). `answer_match` and `answer_f1` also count a short answer that
gives a name with its other form in brackets ("FEMA (Federal Emergency Management Agency)") when either form
matches, and a list ("Canada and Mexico") when its items are the gold list's in any order, "&" and "and" alike.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation) | set("‘’“”–—…")
_LIST_JOIN = re.compile(r"\s*,\s*(?:and\s+|or\s+|&\s+)?|\s+(?:and|or|&)\s+", re.I)
_OTHER_FORM = re.compile(r"(.+?)\s+\(([^()]+)\)")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised prediction equals the normalised gold answer."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def answer_match(prediction: str, gold: str) -> float:
    """1.0 when either form of a name in the prediction matches the gold answer, or its list has the gold list's
    items (any order, joined by commas, "and", "&" or "or")."""
    items = list_items(gold)
    return max(
        max(exact_match(form, gold), float(bool(items) and list_items(form) == items))
        for form in answer_forms(prediction)
    )


def answer_f1(prediction: str, gold: str) -> float:
    """The best token F1 of either form of a name in the prediction; of two lists, without their joining words."""

    def joined(text: str) -> str:
        return " ".join(sorted(list_items(text))) if list_items(text) and list_items(gold) else text

    return max(token_f1(joined(form), joined(gold)) for form in answer_forms(prediction))


def answer_forms(prediction: str) -> list[str]:
    """The prediction, and when it gives a name's other form in brackets, each form alone."""
    match = _OTHER_FORM.fullmatch(prediction.strip())
    return [prediction, match.group(1), match.group(2)] if match else [prediction]


def list_items(text: str) -> frozenset[str]:
    """The normalised items of a list ("Canada and Mexico", "A, B & C"); empty for one item."""
    items = frozenset(normalize_answer(item) for item in _LIST_JOIN.split(text) if normalize_answer(item))
    return items if len(items) >= 2 else frozenset()


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall between the normalised texts (SQuAD's F1)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(expected)).values())
    if not predicted or not expected or common == 0:
        return float(predicted == expected)
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, gold: str) -> float:
    """1.0 when the normalised gold answer appears in the normalised prediction as whole words."""
    needle = normalize_answer(gold)
    return float(bool(needle) and f" {needle} " in f" {normalize_answer(prediction)} ")


def gold_rank(retrieved_article_ids: Sequence[str], gold_article_ids: Sequence[str]) -> int | None:
    """1-based rank of the first retrieved passage whose article is a gold article; None if there is none."""
    gold = set(gold_article_ids)
    return next((rank for rank, article in enumerate(retrieved_article_ids, start=1) if article in gold), None)


def recall_at(rank: int | None, k: int) -> float:
    """1.0 when a gold article is among the first k retrieved passages."""
    return float(rank is not None and rank <= k)


def reciprocal_rank(rank: int | None) -> float:
    """1 / rank of the first gold passage, 0 when none was retrieved (averaged, this is MRR)."""
    return 1.0 / rank if rank else 0.0


def support(choice: str, text: str) -> float:
    """How much of a choice a text states: 1.0 for the whole choice as words, else the share of its tokens."""
    wanted = normalize_answer(choice)
    if not wanted:
        return 0.0
    found = f" {normalize_answer(text)} "
    if f" {wanted} " in found:
        return 1.0
    tokens = wanted.split()
    return sum(f" {token} " in found for token in tokens) / len(tokens) * 0.9


def choose_choice(
    choices: Sequence[str],
    evidence: Sequence[tuple[str, float]],
    similarity: Callable[[Sequence[str]], Sequence[float]],
) -> int:
    """The choice best supported by weighted evidence texts; ties go to the choice most similar in meaning.

    Each choice scores max over (text, weight) of weight × support(choice, text). When that leaves a tie
    (often: nothing supports any choice), `similarity` (the choices' cosine similarity to the evidence) decides.
    """
    scores = [max((weight * support(choice, text) for text, weight in evidence), default=0.0) for choice in choices]
    best = max(scores)
    tied = [i for i, score in enumerate(scores) if score == best]
    if len(tied) == 1:
        return tied[0]
    meaning = similarity([choices[i] for i in tied])
    return tied[int(np.argmax(meaning))]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), None for no values."""
    return float(np.percentile(values, q)) if len(values) else None


def mean(values: Sequence[float]) -> float | None:
    """The average, None for no values (a metric with nothing to score is unknown, not zero)."""
    return float(np.mean(values)) if len(values) else None


def risk_coverage(confidence: ArrayLike, right: ArrayLike) -> list[tuple[float, float]]:
    """(coverage, accuracy) when only the most confident answers are given: for each cut, the share of questions
    answered and the share of those answers that are right, most confident first."""
    order = np.argsort(-np.asarray(confidence, dtype=float), kind="stable")
    hits = np.cumsum(np.asarray(right, dtype=float)[order])
    answered = np.arange(1, len(order) + 1)
    return [(float(n / len(order)), float(h / n)) for n, h in zip(answered, hits, strict=True)]


def expected_calibration_error(confidence: ArrayLike, right: ArrayLike, bins: int = 10) -> float:
    """Mean over equal-width confidence bins of |share right − mean confidence|, weighted by the bin's share."""
    sure, hit = np.asarray(confidence, dtype=float), np.asarray(right, dtype=float)
    return float(sum(held.mean() * abs(hit[held].mean() - sure[held].mean()) for _, held in _bins(sure, bins)))


def calibration_table(confidence: ArrayLike, right: ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty confidence bin: its range, how many answers, their mean confidence and share right."""
    sure, hit = np.asarray(confidence, dtype=float), np.asarray(right, dtype=float)
    return [
        {
            "from": b / bins,
            "to": (b + 1) / bins,
            "n": int(held.sum()),
            "confidence": round(float(sure[held].mean()), 3),
            "right": round(float(hit[held].mean()), 3),
        }
        for b, held in _bins(sure, bins)
    ]


def _bins(confidence: np.ndarray, bins: int) -> list[tuple[int, np.ndarray]]:
    """(bin, mask) for each of `bins` equal-width confidence bins that holds an answer; 1.0 is in the last."""
    edges = np.minimum((confidence * bins).astype(int), bins - 1)
    return [(b, edges == b) for b in range(bins) if (edges == b).any()]
