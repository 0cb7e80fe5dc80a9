"""Which periods the sentences read speak of, and whether they are the period a question asks about: a sentence of
another period does not answer "Who owned the house from 1811 to 1827?", however well its words fit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from qa.answer.citations import Evidence
from qa.dates import article_date, run_periods
from qa.models import Period


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
    """Whether a sentence speaks of the asked period (one of its periods overlaps it); None when it names none."""
    if not periods:
        return None
    return any(overlaps(period, asked) for period in periods)


def overlaps(a: Period, b: Period) -> bool:
    """Whether two periods share a day (an open end reaches as far as it may)."""
    return (a.since or date.min) <= (b.until or date.max) and (b.since or date.min) <= (a.until or date.max)


def nearest(periods: Sequence[Period], asked: Period) -> tuple[int | None, int | None]:
    """Of periods that miss the asked one, the index of the one ending nearest before it and of the one starting
    nearest after it."""
    before = [(p.until, i) for i, p in enumerate(periods) if p.until and asked.since and p.until < asked.since]
    after = [(p.since, i) for i, p in enumerate(periods) if p.since and asked.until and p.since > asked.until]
    return (max(before)[1] if before else None), (min(after)[1] if after else None)
