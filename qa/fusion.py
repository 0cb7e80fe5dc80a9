"""Fusing and re-ranking rankings: reciprocal rank fusion, a preference for recent articles and for those of the
period a question is about, one chunk per story first."""

from __future__ import annotations

from datetime import timedelta

from qa.dates import article_date, overlaps, run_periods
from qa.models import AskedPeriod, Chunk, Period
from qa.query import Filters
from qa.text import split_sentences

# The usual RRF constant (Cormack et al., 2009): damps the weight of the very first ranks.
RRF_K = 60
# Recency, two rules (measured with benchmarks/recency.py, questions asked as of their quiz day; docs/evaluation.md):
# - Without a lower date bound (no time words, no since), a score halves for every RECENCY_HALF_LIFE an article
#   came in (its given date: published, the feed's day, the benchmark's week) before the newest candidate did.
#   Chosen on realtimeqa-2022: recall@5 0.899 -> 0.919 (half-lives of 2-7 days tie at 5, 7 is best at 1); not
#   chosen on: 2023q1 0.888 -> 0.898. By the URL's date it hurt (0.866 on 2022, with 30-day windows): a story
#   filed under this week may carry an older day in its URL and still be this week's news. Within a window the
#   question or the user set, relevance alone orders its days: there the half-life measured 0.004 higher on 2022,
#   but it would rank December over March for "in 2021".
# - In every case an article loses RECENCY_DECAY of its score per year its own date (its URL's, else the given
#   one: qa.dates.article_date) lies more than RECENCY_GRACE before the window's end: RealTime QA files 2015
#   stories under 2023 weeks, and their URLs date them (recall@1 0.636 -> 0.684 in window mode when it came in;
#   0.1-0.3 a year all within 0.01).
# A question about a past period ("in 2021", "from 2004 to 2005", "last year" in March) is searched from the
# period's start to the as-of day (news of a time keeps coming), where relevance alone ranks news of now with news
# of then: a passage neither from the period nor speaking of it keeps OFF_PERIOD of its score (benchmarks/
# period_order.py, docs/evaluation.md).
OFF_PERIOD = 0.5
RECENCY_HALF_LIFE = timedelta(days=7)
RECENCY_DECAY = 0.2
RECENCY_GRACE = timedelta(days=30)


def fuse_rankings(rankings: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of (id, score) rankings: each id scores the sum of 1 / (60 + rank) over the rankings
    it appears in; best first."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (id_, _) in enumerate(ranking, start=1):
            fused[id_] = fused.get(id_, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)


def prefer_recent(
    ranking: list[Chunk], filters: Filters, half_life: timedelta | None = RECENCY_HALF_LIFE
) -> list[Chunk]:
    """Re-rank the candidates for the recent: halved per `half_life` each came in before the newest when the
    filters set no lower bound, and less RECENCY_DECAY per year its own date predates the end date.

    Ages count from the newest candidate, so the freshest keeps its score whatever day it is asked on; an undated
    article cannot be placed in time and keeps its score too (it is never pushed out of reach). Without an end date
    there is no "now" to be recent to, and the ranking is returned as it is.
    """
    until = filters.until
    if until is None:
        return ranking
    given = [chunk.article.published for chunk in ranking if chunk.article.published]
    newest = min(max(given), until) if half_life and given and filters.since is None else None
    weighted = []
    for chunk in ranking:
        factor = 1.0
        if half_life and newest and chunk.article.published:
            factor *= 0.5 ** (max(0, (newest - chunk.article.published).days) / half_life.days)
        own_date = article_date(chunk.article.url, chunk.article.published)
        if own_date:
            factor *= (1 - RECENCY_DECAY) ** (max(0, (until - own_date - RECENCY_GRACE).days) / 365)
        weighted.append(chunk.model_copy(update={"score": (chunk.score or 0.0) * factor}))
    return sorted(weighted, key=lambda chunk: chunk.score or 0.0, reverse=True)


def prefer_period(ranking: list[Chunk], asked: AskedPeriod, off_period: float = OFF_PERIOD) -> list[Chunk]:
    """Re-rank the candidates of a question about a past period: a passage whose article is from the period, or
    one of whose dates (its own written in full, or relative ones against the article's day) falls in it, keeps
    its score; the others keep `off_period` of it. A question about now or a recent period is returned as it is."""
    if not asked.past:
        return ranking
    weighted = []
    for chunk in ranking:
        own_date = article_date(chunk.article.url, chunk.article.published)
        day = Period(since=own_date, until=own_date, unit="day", text="") if own_date else None
        of_period = (day is not None and overlaps(day, asked.period)) or any(
            overlaps(period, asked.period)
            for periods in run_periods([chunk.text[start:end] for start, end in split_sentences(chunk.text)], own_date)
            for period in periods
        )
        weighted.append(chunk if of_period else chunk.model_copy(update={"score": (chunk.score or 0.0) * off_period}))
    return sorted(weighted, key=lambda chunk: chunk.score or 0.0, reverse=True)


def diversify(ranking: list[Chunk], per_article: int = 1) -> list[Chunk]:
    """At most `per_article` chunks of each story first, in rank order, then the other chunks in rank order.

    Several chunks of one article, or ten reprints of one wire story, otherwise fill the top k. On RealTime QA
    (docs/evaluation.md) one chunk per article moved recall@5 from 0.830 to 0.874 and recall@10 from 0.874 to
    0.956, at a cost of 0.02 in answers that contain the gold answer; two per article lands in between. A story
    (qa.stories) is one article here, and its place goes to its lead (_story_lead).
    """
    stories: dict[str, list[Chunk]] = {}
    for chunk in ranking:
        stories.setdefault(chunk.story or chunk.article.id, []).append(chunk)
    lead = {key: _story_lead(key, chunks) for key, chunks in stories.items()}
    taken: dict[str, int] = {}
    first: list[Chunk] = []
    rest: list[Chunk] = []
    for chunk in ranking:
        key = chunk.story or chunk.article.id
        if key not in taken:  # the story's best place goes to its lead
            taken[key] = 1
            first.append(lead[key])
            if chunk is not lead[key]:
                rest.append(chunk)
        elif chunk is lead[key]:
            continue
        elif chunk.article.id == lead[key].article.id and taken[key] < per_article:
            taken[key] += 1
            first.append(chunk)
        else:
            rest.append(chunk)
    return first + rest


def _story_lead(story: str, chunks: list[Chunk]) -> Chunk:
    """The chunk that holds a story's place, from its candidates in rank order: the original outlet's (the story's
    first article's) when it is among them, else the best ranked; replaced by a newer version from that same
    outlet only, the corrected or updated text. Another outlet's copy never takes the original's place: it may
    have altered what it copied."""
    original = next((chunk for chunk in chunks if chunk.article.id == story), None)
    anchor = next((chunk for chunk in chunks if original and _same_outlet(chunk, original)), chunks[0])
    lead = anchor
    for chunk in chunks:
        newer = chunk.article.published and lead.article.published and chunk.article.published > lead.article.published
        if newer and _same_outlet(chunk, anchor):
            lead = chunk
    return lead


def _same_outlet(first: Chunk, second: Chunk) -> bool:
    """One article, one URL, or one named publisher."""
    if first.article.id == second.article.id or (first.article.url and first.article.url == second.article.url):
        return True
    return bool(
        first.article.source and second.article.source and first.article.source.lower() == second.article.source.lower()
    )
