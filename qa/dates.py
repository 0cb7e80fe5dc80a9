"""An article's own date (its URL's, else the one it was given), the dates its quotes write and the periods its
sentences speak of, resolved against it, and days, windows and periods as a reader is shown them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

from qa.models import Period, QuoteDate
from qa.timewords import TimeSpan, find_times


def article_date(url: str | None, published: date | None) -> date | None:
    """An article's own date: the one in its URL when it has one (publishers write the day they published there,
    where a feed or a search may give the day it found the article), else the date it was given. The recency of a
    ranking and the dates in its quotes use it; date filters use the date given, as the reader sees it."""
    return date_in_url(url) or published


@lru_cache(maxsize=65536)
def date_in_url(url: str | None) -> date | None:
    """The publication date written in a URL (".../2023/01/04/..."), if any."""
    if not url:
        return None
    import htmldate  # deferred: the chat over the HTTP API imports this module and never reads a URL's date

    found = htmldate.find_date("<html></html>", url=url, extensive_search=False)
    return date.fromisoformat(found) if found else None


def quote_dates(quote: str, offset: int, own_date: date | None) -> list[QuoteDate]:
    """The quote's dates written relative to its article's day ("on Tuesday", "last year", "September 19"),
    resolved against it and written out; none without the article's date (never guessed), none for a date written
    in full. `offset` is the quote's in its article."""
    if own_date is None:
        return []
    return [
        QuoteDate(
            text=span.text,
            start=offset + span.start,
            end=offset + span.end,
            day=_written_out(span),
            since=span.since,
            until=span.until,
        )
        for span in find_times(quote, own_date, prefer="nearest")
        if not span.latest and not span.in_full and span.since and span.until
    ]


def sentence_periods(sentence: str, own_date: date | None) -> list[Period]:
    """The periods a sentence speaks of: its dates, months, years, ranges ("from 2004 to 2005", "2004–05", "the
    1990s"), open ends ("until 2010", "since 2015") and lone years ("the 2019 season"), relative ones ("on
    Tuesday", "last year") resolved against its article's own date. In an undated text (a profile, an encyclopedia
    page) only what is written in full counts, and "since 2015" stays open."""
    reference = own_date or _NO_DAY
    periods = []
    for span in find_times(sentence, reference, prefer="nearest", lone_years=True):
        if span.latest:  # "currently", "now": the article's own day
            if own_date:
                periods.append(Period(since=own_date, until=own_date, unit="day", text=span.text))
            continue
        if own_date is None and not span.in_full:
            continue
        until = None if span.until == reference and own_date is None else span.until
        periods.append(Period(since=span.since, until=until, unit=span.unit, text=span.text))
    return periods


def run_periods(sentences: Sequence[str], own_date: date | None) -> list[list[Period]]:
    """The periods of each sentence of a run (a passage, a page), where a sentence that says something began at a
    point ("joined A in 2001", "became mayor in 1998") speaks of the span up to the next point the run names after
    it ("… moved to B in 2004": A from 2001 to 2004), or up to the last one it names itself ("joined Everton in
    2008, where she ended her career in 2012")."""
    found = [sentence_periods(sentence, own_date) for sentence in sentences]
    points = [
        (index, period)
        for index, periods in enumerate(found)
        for period in periods
        if period.unit in ("day", "month", "year") and period.since
    ]
    for position, (index, period) in enumerate(points):
        if not _BEGINS.search(sentences[index]) or found[index][0] is not period:  # its first point only
            continue
        if len(found[index]) > 1:  # "joined Everton in 2008, where she ended her career in 2012": one span
            ends = [p.until for p in found[index][1:] if p.until and period.since and p.until > period.since]
            if ends:
                found[index] = [period.model_copy(update={"until": max(ends), "unit": "range"})]
            continue
        assert period.since
        later = next((p for i, p in points[position + 1 :] if i > index and p.since and p.since > period.since), None)
        if later is None:
            continue
        assert later.since
        until = later.until if later.unit == "year" else later.since - timedelta(days=1)
        found[index] = [period.model_copy(update={"until": until, "unit": "range"})]
    return found


# The reference of an undated text: far from any date written in it, so nothing relative to it is kept (none is
# written in full) and an open end ("since 2015") is told by ending on it.
_NO_DAY = date(9000, 1, 1)
# A sentence that says something began: its state lasts until the next change a run of sentences names.
_BEGINS = re.compile(
    r"(?i)\b(?:joined|joins|became|becomes|moved|moves|was\s+(?:appointed|elected|named|hired|signed|transferred)|"
    r"signed|took\s+over|succeeded|started|began|returned|transferred|settled|married|founded)\b"
)


def _written_out(span: TimeSpan) -> str:
    """ "Tuesday 19 Oct 2021" for a weekday, else as a period is written ("19 Sep 2021", "October 2021", "2020",
    "13 Oct to 20 Oct 2021")."""
    if span.kind == "weekday" and span.since:
        return f"{span.since:%A} {day_text(span.since)}"
    return period_text(Period(since=span.since, until=span.until, unit=span.unit, text=span.text))


def period_text(period: Period) -> str:
    """A period as its words name it: "3 Mar 2025", "March 2024", "Q3 2026", "2024", else its first and last day
    ("23 Nov to 29 Nov 2026", "the days up to 31 Dec 2019", "the days from 1 Jan 2020 on")."""
    since, until = period.since, period.until
    if since and until and (period.unit == "day" or since == until):
        return day_text(since)
    if since and period.unit == "month":
        return f"{since:%B %Y}"
    if since and period.unit == "quarter":
        return f"Q{(since.month - 1) // 3 + 1} {since.year}"
    if since and period.unit == "year":
        return str(since.year)
    if since and until and (since.month, since.day, until.month, until.day) == (1, 1, 12, 31):
        return str(since.year) if since.year == until.year else f"{since.year} to {until.year}"
    return window_text(since, until) if since and until else f"the days {window_text(since, until)}"


def day_text(day: date, with_year: bool = True) -> str:
    """ "1 Dec 2026", or "1 Dec" without the year."""
    return f"{day.day} {day:%b} {day.year}" if with_year else f"{day.day} {day:%b}"


def window_text(since: date | None, until: date | None) -> str:
    """ "24 Nov to 1 Dec 2026", "3 Mar 2024" for one day, "up to 1 Dec 2026", "1 Nov 2026 on"."""
    if since and until:
        if since == until:
            return day_text(since)
        return f"{day_text(since, with_year=since.year != until.year)} to {day_text(until)}"
    if until:
        return f"up to {day_text(until)}"
    return f"from {day_text(since)} on" if since else "any date"


def overlaps(a: Period, b: Period) -> bool:
    """Whether two periods share a day (an open end reaches as far as it may)."""
    return (a.since or date.min) <= (b.until or date.max) and (b.since or date.min) <= (a.until or date.max)
