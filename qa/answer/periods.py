"""Which periods the sentences read speak of, and how each stands to the period a question is about: a sentence of
another period does not answer "Who owned the house from 1811 to 1827?", however well its words fit."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from qa.answer.citations import Evidence
from qa.dates import article_date, overlaps, run_periods
from qa.models import AskedPeriod, Period

# How a sentence's periods stand to the asked one, in the scorer's features (qa/answer/reading.py): whether it names
# any, whether one shares a day with it or lies within it, and by how many days (log) the nearest others end before
# or start after it; then whether the question's words named its period and whether that period is past.
PERIOD_FEATURES = [
    "has_period",
    "period_overlaps",
    "period_inside",
    "period_before",
    "period_after",
    "asked_named",
    "asked_past",
]


# A span overlapping the asked period is background when it is this many times as long, and over ten years. On
# timeqa-train 6 % of the answers from such a sentence were right, against 14 % from a sentence whose period fits;
# read as not speaking of the period: no-answer questions refused 0.095 -> 0.175, answerable 0.093 -> 0.134, EM
# equal (twice as long and five years: 0.190 and 0.154).
BACKGROUND_TIMES = 4
BACKGROUND_DAYS = 3652


def periods_of(sentences: Sequence[Evidence]) -> list[list[Period]]:
    """The periods each sentence speaks of, read in its passage's order (a run of sentences implies spans: "joined
    A in 2001 … moved to B in 2004"), against its article's own date."""
    by_passage: dict[str, list[int]] = {}
    for index, sentence in enumerate(sentences):
        by_passage.setdefault(sentence.chunk.id, []).append(index)
    found: list[list[Period]] = [[] for _ in sentences]
    for indexes in by_passage.values():
        indexes.sort(key=lambda i: sentences[i].start)
        article = sentences[indexes[0]].chunk.article
        own_date = article_date(article.url, article.published)
        for index, periods in zip(indexes, run_periods([sentences[i].text for i in indexes], own_date), strict=True):
            found[index] = periods
    return found


def speaks_of(periods: Sequence[Period], asked: Period) -> bool | None:
    """Whether a sentence speaks of the asked period (one of its periods overlaps it and is not a background span
    much longer than it); None when it names none."""
    if not periods:
        return None
    return any(overlaps(period, asked) and not _background(period, asked) for period in periods)


def _background(period: Period, asked: Period) -> bool:
    """A closed span many times longer than the asked period, such as a lifetime ("(2 March 1911 – 21 December
    1941)") or an institution's existence ("from 1796 until 1929"): it holds the period without saying what
    happened in it."""
    if not (period.since and period.until and asked.since and asked.until):
        return False
    length, asked_length = (period.until - period.since).days, (asked.until - asked.since).days + 1
    return length > max(BACKGROUND_TIMES * asked_length, BACKGROUND_DAYS)


def relation(periods: Sequence[Period], asked: AskedPeriod | None) -> list[float]:
    """A sentence's periods against the asked one, in PERIOD_FEATURES order. A question that names no period is
    compared with none: recency is the search's to weigh. (Compared with the as-of day, the scorer learned from the
    weekly quizzes that a sentence of months before is seldom the answer, and refused old news asked about now.)"""
    if asked is None or not asked.named:
        return [float(bool(periods)), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    wanted = asked.period
    overlapping = [p for p in periods if overlaps(p, wanted)]
    inside = any(
        p.since and p.until and (wanted.since or date.min) <= p.since and p.until <= (wanted.until or date.max)
        for p in overlapping
    )
    before = after = 0.0
    if periods and not overlapping:
        ends = [(wanted.since - p.until).days for p in periods if p.until and wanted.since and p.until < wanted.since]
        starts = [(p.since - wanted.until).days for p in periods if p.since and wanted.until and p.since > wanted.until]
        before = math.log1p(min(ends)) if ends else 0.0
        after = math.log1p(min(starts)) if starts else 0.0
    return [float(bool(periods)), float(bool(overlapping)), float(inside), before, after, asked.named, asked.past]


def nearest(periods: Sequence[Period], asked: Period) -> tuple[int | None, int | None]:
    """Of periods that miss the asked one, the index of the one ending nearest before it and of the one starting
    nearest after it."""
    before = [(p.until, i) for i, p in enumerate(periods) if p.until and asked.since and p.until < asked.since]
    after = [(p.since, i) for i, p in enumerate(periods) if p.since and asked.until and p.since > asked.until]
    return (max(before)[1] if before else None), (min(after)[1] if after else None)
