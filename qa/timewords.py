"""Time words resolved against a reference date: the period a question's words name ("last week", "in
March 2024", "since Monday") and the absolute dates of an article's relative ones ("on Tuesday", "earlier this
month", "September 19"; qa/dates.py writes them out for a quote).

Our own small grammar, not dateparser's `search_dates` (installed, measured on questions): it returns one day per
expression, not a window ("last week" → the 24th, "March 2024" → the 1st), reads "10 days" of "over the past 10
days" as a date, takes "May" for a date wherever it stands, and cost 1-7 ms a question on a shared core, above the
5 ms budget. Here a question resolves in 0.4 ms (p50, make bench), and each rule is one line below.

The rules, against the reference date R (a question's as-of date, an article's own date):
- today, tonight → R; yesterday → R − 1 day; N days ago → that day; weeks, months and years ago likewise.
- this week / the past week → the 7 days before R and R; last week → the calendar week (Monday-Sunday) before R's.
- this month, quarter, year → from its first day to R; last month, quarter, year → the calendar one before ("last
  quarter" in December: July to September); next week, month, quarter, year → the calendar one after ("next
  Tuesday": the first after R); N quarters ago → that calendar quarter.
- a quarter ("Q1 2024", "the third quarter of 2023"; without a year, the latest begun by R) → its three months.
- the past/last N days, weeks, months, years ("a few" is 3, "a couple of" 2) → from R minus that much to R.
- a date ("3 March", "March 3rd, 2024", "2024-03-03", "3/15/2024" US, "15/3/2024" or "15.3.2024" day first; an
  order that both readings allow is read month first), a month ("in January", "March 2024"), a year ("in 2021"),
  a weekday ("on Tuesday", "last Friday": the latest before R, R itself unless "last"). Without a year, a
  question's date is the latest on or before R; an article's too, unless the next falls within 60 days after it
  (news looks back, and announces what is coming).
- since X → from X to R; after X → from the day after X; before X → up to the day before; until, by X → up to X.
- between X and Y, from X to/until/through Y → from X's first day to Y's last (Y's year for X when X has none).
- latest, current, currently, now, recent, recently, newest, most recent → no lower bound, up to R.
Month and weekday names misspelt by a letter or two ("Febuary", "Wensday") are read as the name; a month name alone
("May") counts only after a word that makes it a date ("in", "since", "early" …): "Who may lead" has none.
"""

from __future__ import annotations

import calendar
import difflib
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from qa.models import AskedPeriod, Period, PeriodUnit, TimeWindow

# Which year a date written without one is in: a question's is in the past; an article's may be ahead (AHEAD).
Prefer = Literal["past", "nearest"]
# News of a time keeps coming long after it (the January 6, 2021, hearings in 2022; "last year" asked in February),
# so time words set where the search starts and it runs to the as-of day; words that only set an end ("before
# 2020") hold, searched REPORTING_DAYS on. Measured with the recency of qa/fusion.py (benchmarks/recency.py,
# recall@5 as of each quiz day, chosen on realtimeqa-2022): windows ending on the words' last day missed the gold
# article of 20 of 123 questions with time words on 2023q1; on 2022, ending 30 days past the words 0.899, as long
# again as the time named 0.907, to the as-of day 0.919 (the benchmark's own window: 0.911).
REPORTING_DAYS = 30
# An article's date without a year is the latest on or before the article's day, unless the next is this near
# after it: news looks back more than forward ("on Jan. 5" in October is the past January, "November 8" the coming).
AHEAD = timedelta(days=60)

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
MONTH_ABBREVIATIONS = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name} | {"sept": 9}
WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}
NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a few": 3, "few": 3, "a couple of": 2, "couple of": 2,
    "several": 7,
}  # fmt: skip
# Words a misspelling is read as: long enough that a letter or two off is still unmistakable.
_SPELLED = [*MONTHS, *WEEKDAYS, "yesterday", "tonight"]
_CLOSE_ENOUGH = 0.85  # "Augustine" is 0.8 from "August"

# Full names, or abbreviations with or without their dot ("May." ends a sentence; "Jan." is the month).
_MONTH = (
    r"(?:(?:january|february|march|april|may|june|july|august|september|october|november|december)(?![a-z])|"
    r"(?:jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)(?:\.|(?![a-z])))"
)
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_YEAR = r"(?:1\d\d\d|2\d\d\d)"
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
# Longest first, so that "a few" is not read as "a".
_NUMBER_WORDS = sorted((word.replace(" ", r"\s+") for word in NUMBER_WORDS), key=len, reverse=True)
_NUMBER = "(?:" + "|".join([r"\d{1,3}", *_NUMBER_WORDS]) + ")"
_UNIT = r"(?:day|week|month|quarter|year)s?"
_QUARTER_WORDS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4, "last": 4}
_TO = r"\s*(?:-|–|to|and|through)\s*"

# A point in time: one alternative per way of writing it, each with its own groups.
_POINT = re.compile(
    rf"""(?ix)
    (?P<iso>\b(?P<iso_y>{_YEAR})-(?P<iso_m>[01]?\d)-(?P<iso_d>[0-3]?\d)\b)
  | (?P<num>\b(?P<num_a>[0-3]?\d)(?P<num_sep>[/.])(?P<num_b>[0-3]?\d)(?P=num_sep)(?P<num_y>{_YEAR}|\d\d)\b)
  | (?P<dd>\b(?P<dd_a>{_DAY}){_TO}(?P<dd_b>{_DAY})\s+(?P<dd_m>{_MONTH})(?:,?\s+(?P<dd_y>{_YEAR}))?\b)
  | (?P<mdd>\b(?P<mdd_m>{_MONTH})\s+(?P<mdd_a>{_DAY}){_TO}(?P<mdd_b>{_DAY})(?!\d|:)(?:,?\s+(?P<mdd_y>{_YEAR}))?\b)
  | (?P<dmy>\b(?P<dmy_d>{_DAY})(?:\s+of)?\s+(?P<dmy_m>{_MONTH})(?:,?\s+(?P<dmy_y>{_YEAR}))?\b)
  | (?P<mdy>\b(?P<mdy_m>{_MONTH})\s+(?P<mdy_d>{_DAY})(?!\d|:)(?:,?\s+(?P<mdy_y>{_YEAR}))?\b)
  | (?P<yy>\b(?P<yy_a>{_YEAR})\s*[-–/]\s*(?P<yy_b>{_YEAR}|\d\d)\b(?![-–/.]\d))
  | (?P<dec>(?:\b(?P<dec_part>early|mid|late)[\s-]+)?(?:\b(?P<dec_y>1[5-9]\d0|20\d0)|['’](?P<dec_s>\d0))s\b)
  | (?P<q>\b(?:q(?P<q_n>[1-4])|(?P<q_w>first|1st|second|2nd|third|3rd|fourth|4th)\s+quarter)
        (?:,?\s+(?:of\s+)?(?P<q_y>{_YEAR}))?\b)
  | (?P<my>\b(?P<my_m>{_MONTH}),?\s+(?P<my_y>{_YEAR})\b)
  | (?P<m>\b(?P<m_m>{_MONTH})(?=\W|$))
  | (?P<y>\b(?P<y_y>{_YEAR})\b)
  | (?P<wd>\b(?P<wd_w>{_WEEKDAY})\b)
    """
)
# Words before a point that say how it bounds the window, and whether a lone month or year is a date at all.
_LEAD = re.compile(
    r"(?i)\b(?P<lead>since|after|before|until|till|up to|by|as of|from|between|in|on|during|of|throughout|early|late|"
    r"mid|last|next|this|the end of|the start of|the beginning of|the middle of)(?:\s+|(?<=mid)-)(?:the\s+)?"
    r"(?:month\s+of\s+|year\s+)?$"
)
_SINCE = re.compile(r"(?i)\bsince\s+$")
# "early 2019", "the end of March", "the late 1990s": which third of a year, a month or a decade the words mean; a
# decade's thirds are its years 0-3, 3-6 and 7-9, as people use them.
_PART = {"early": 0, "the start of": 0, "the beginning of": 0, "mid": 1, "the middle of": 1, "late": 2, "the end of": 2}
_DECADE_PARTS = ((0, 3), (3, 6), (7, 9))
# What makes a lone number of four digits a count rather than a year: a unit or a plural after it ("2010 units").
_A_COUNT = re.compile(r"(?i)\s*(?:%|percent\b|[,.]\d|(?!(?:this|was|is|has|his|its|as|thus|whereas)\b)[a-z]+s\b)")
_RANGE_JOIN = re.compile(r"(?i)\s*(?:and|to|until|till|through|thru|-|–)\s*")
_RELATIVE = re.compile(
    rf"""(?ix)
    (?P<today>\b(?:today|tonight|this\s+(?:morning|afternoon|evening))\b)
  | (?P<yesterday>\byesterday\b)
  | (?P<ago>\b(?P<ago_n>{_NUMBER})\s+(?P<ago_u>{_UNIT})\s+ago\b)
  | (?P<past>\b(?:(?:in|over|during|within|for)\s+)?the\s+(?:past|last|previous)\s+(?:(?P<past_n>{_NUMBER})\s+)?
        (?P<past_u>{_UNIT})\b)
  | (?P<this>\b(?:earlier\s+|so\s+far\s+)?this\s+(?P<this_u>week|month|quarter|year)\b)
  | (?P<last>\b(?:last|previous)\s+(?P<last_u>week|month|quarter|year)\b)
  | (?P<next>\bnext\s+(?P<next_u>week|month|quarter|year)\b)
  | (?P<recent>\b(?:latest|current|currently|now|recent|recently|newest|most\s+recent|these\s+days|nowadays)\b)
    """
)


_PRIORITY = {"relative": 0, "weekday": 1, "date": 2}


@dataclass(frozen=True)
class TimeSpan:
    """A time expression in a text, resolved: its offsets and words, the first and last day it means (None where
    it leaves that side open) and how fine it is ("range": from one day to another)."""

    start: int
    end: int
    text: str
    since: date | None
    until: date | None
    unit: PeriodUnit
    kind: Literal["relative", "weekday", "date"] = "date"  # "this week", "on Tuesday", "in March 2024"
    in_full: bool = False  # a date written with its year: nothing to resolve
    latest: bool = False  # asks for the newest ("the latest", "currently"): no bound but the reference date


@dataclass(frozen=True)
class _Point:
    """A date, month or year as written, resolved."""

    start: int
    end: int
    first: date
    last: date
    unit: Literal["day", "month", "quarter", "year", "range"]
    year_written: bool
    needs_lead: bool  # a lone month or year: a date only after a word that makes it one
    weekday: bool = False


def respelled(text: str) -> str:
    """The text with month and weekday names misspelt by a letter or two written right ("Febuary" → "February")."""
    return re.sub(r"[A-Za-z]{5,}", _respell, text)


def _respell(match: re.Match[str]) -> str:
    word = match.group(0)
    lower = word.lower()
    if lower in _SPELLED or lower[0] not in "adfjmnostwy":
        return word
    close = difflib.get_close_matches(lower, _SPELLED, n=1, cutoff=_CLOSE_ENOUGH)
    if not close:
        return word
    return close[0].capitalize() if word[0].isupper() else close[0]


def question_window(question: str, as_of: date) -> TimeWindow | None:
    """The dates the question's time words mean, never past `as_of`; None when it has none, or only words about
    days after it ("will open in 2030": news of it is published before). Words relative to now ("this week")
    win over a weekday, a weekday over a date ("the January 6, 2021, attack"), and all of them over "latest"."""
    spans = [span for span in find_times(respelled(question), as_of) if not span.since or span.since <= as_of]
    if not spans:
        return None
    span = min(spans, key=lambda span: (span.latest, _PRIORITY[span.kind], span.start))
    until = min(span.until, as_of) if span.until else as_of
    period = Period(since=span.since, until=span.until, unit=span.unit, text=span.text)
    return TimeWindow(since=span.since, until=until, from_text=span.text, latest=span.latest, period=period)


def search_window(question: str, as_of: date) -> TimeWindow | None:
    """The publication dates searched for the question's time words: from their first day to `as_of` (news of a
    day or a year is published on it and long after); words that set only an end ("before 2020") search up to
    REPORTING_DAYS past it."""
    words = question_window(question, as_of)
    if words is None:
        return None
    until = as_of if words.since else min(words.until + timedelta(days=REPORTING_DAYS), as_of)
    return words.model_copy(update={"until": until})


def asked_period(window: TimeWindow | None, as_of: date) -> AskedPeriod:
    """The period of a question whose words searched `window` (None: no time words, a question about now)."""
    if window is None:
        return AskedPeriod(period=Period(since=as_of, until=as_of, unit="day", text=""), named=False, past=False)
    until = window.period.until
    past = until is not None and until < as_of - timedelta(days=REPORTING_DAYS)
    return AskedPeriod(period=window.period, named=True, past=past)


def find_times(text: str, reference: date, prefer: Prefer = "past", lone_years: bool = False) -> list[TimeSpan]:
    """Every time expression of the text resolved against the reference date, in reading order, none
    overlapping. `prefer` says which year a date written without one is in: the latest on or before the
    reference ("past": a question), or that unless the next is within AHEAD ("nearest": an article's date).
    `lone_years`: a year or decade with no word before it that makes it a date counts too ("the 2019 season",
    "the '90s were": a sentence's), unless a count follows it ("2010 units")."""
    found = [span for match in _RELATIVE.finditer(text) if (span := _relative(match, reference))]
    found = [replace(_since(text, span, reference), kind="relative") for span in found]
    taken = [(span.start, span.end) for span in found]
    points = [
        point
        for point in _points(text, reference, prefer)
        if all(point.end <= start or point.start >= end for start, end in taken)
    ]
    index = 0
    while index < len(points):
        point = points[index]
        lead_match = _LEAD.search(text, 0, point.start)
        lead = lead_match.group("lead").lower() if lead_match else None
        start = lead_match.start() if lead_match else point.start
        following = points[index + 1] if index + 1 < len(points) else None
        join = _RANGE_JOIN.match(text, point.end) if following else None
        if following and join and join.end() == following.start and lead in (None, "between", "from"):
            found.append(_range(text, start, point, following))
            index += 2
            continue
        index += 1
        if point.needs_lead and lead is None:
            if not (lone_years and point.year_written and not _A_COUNT.match(text, point.end)):
                continue
        found.append(_bounded(text, start, point, lead, reference))
    return sorted(found, key=lambda span: span.start)


def _since(text: str, span: TimeSpan, reference: date) -> TimeSpan:
    """ "since yesterday", "since two weeks ago": from the day to the reference date."""
    lead = _SINCE.search(text, 0, span.start)
    if not lead or span.latest:
        return span
    return TimeSpan(lead.start(), span.end, text[lead.start() : span.end], span.since, reference, "range")


def _relative(match: re.Match[str], reference: date) -> TimeSpan | None:
    kind = match.lastgroup
    start, end, text = match.start(), match.end(), match.group(0)
    if kind == "today":
        return TimeSpan(start, end, text, reference, reference, "day")
    if kind == "yesterday":
        day = reference - timedelta(days=1)
        return TimeSpan(start, end, text, day, day, "day")
    if kind == "recent":
        return TimeSpan(start, end, text, None, reference, "range", latest=True)
    if kind == "ago":
        count, unit = _count(match.group("ago_n")), _unit(match.group("ago_u"))
        if unit in ("day", "week"):
            day = reference - timedelta(days=count * (7 if unit == "week" else 1))
            return TimeSpan(start, end, text, day, day, "day")
        if unit == "month":
            first = _add_months(reference.replace(day=1), -count)
            return TimeSpan(start, end, text, first, _month_end(first), "month")
        if unit == "quarter":
            first = _add_months(_quarter_start(reference), -3 * count)
            return TimeSpan(start, end, text, first, _quarter_end(first), "quarter")
        year = reference.year - count
        return TimeSpan(start, end, text, date(year, 1, 1), date(year, 12, 31), "year") if year >= 1 else None
    if kind == "past":
        count = _count(match.group("past_n")) if match.group("past_n") else 1
        return TimeSpan(start, end, text, _back(reference, count, _unit(match.group("past_u"))), reference, "range")
    if kind == "this":
        unit = match.group("this_u").lower()
        if unit == "week":
            return TimeSpan(start, end, text, reference - timedelta(days=7), reference, "week")
        if unit == "quarter":
            return TimeSpan(start, end, text, _quarter_start(reference), reference, "quarter")
        first = reference.replace(day=1) if unit == "month" else date(reference.year, 1, 1)
        return TimeSpan(start, end, text, first, reference, "month" if unit == "month" else "year")
    if kind == "next":
        unit = match.group("next_u").lower()
        if unit == "week":
            monday = reference - timedelta(days=reference.weekday()) + timedelta(days=7)
            return TimeSpan(start, end, text, monday, monday + timedelta(days=6), "week")
        if unit == "month":
            first = _add_months(reference.replace(day=1), 1)
            return TimeSpan(start, end, text, first, _month_end(first), "month")
        if unit == "quarter":
            first = _add_months(_quarter_start(reference), 3)
            return TimeSpan(start, end, text, first, _quarter_end(first), "quarter")
        return TimeSpan(start, end, text, date(reference.year + 1, 1, 1), date(reference.year + 1, 12, 31), "year")
    unit = match.group("last_u").lower()
    if unit == "week":
        monday = reference - timedelta(days=reference.weekday())
        return TimeSpan(start, end, text, monday - timedelta(days=7), monday - timedelta(days=1), "week")
    if unit == "month":
        first = _add_months(reference.replace(day=1), -1)
        return TimeSpan(start, end, text, first, _month_end(first), "month")
    if unit == "quarter":  # the calendar quarter before the reference's
        first = _add_months(_quarter_start(reference), -3)
        return TimeSpan(start, end, text, first, _quarter_end(first), "quarter")
    return TimeSpan(start, end, text, date(reference.year - 1, 1, 1), date(reference.year - 1, 12, 31), "year")


def _points(text: str, reference: date, prefer: Prefer) -> list[_Point]:
    points = []
    for match in _POINT.finditer(text):
        group = match.group
        kind = match.lastgroup
        try:
            if kind == "iso":
                day = date(int(group("iso_y")), int(group("iso_m")), int(group("iso_d")))
                point = _Point(match.start(), match.end(), day, day, "day", True, False)
            elif kind == "num":
                one, two, year = int(group("num_a")), int(group("num_b")), int(group("num_y"))
                year += 2000 if year < 100 else 0
                # Dots are written day first; slashes month first unless the first cannot be a month.
                day_first = two <= 12 if group("num_sep") == "." else one > 12
                day = date(year, two, one) if day_first else date(year, one, two)
                point = _Point(match.start(), match.end(), day, day, "day", True, False)
            elif kind in ("dd", "mdd"):
                month, written = _month(group(f"{kind}_m")), group(f"{kind}_y")
                one, two = (int(re.sub(r"\D", "", group(f"{kind}_{side}"))) for side in "ab")
                last = date(int(written), month, two) if written else _day_in(month, two, reference, prefer)
                point = _Point(match.start(), match.end(), last.replace(day=one), last, "range", bool(written), False)
            elif kind in ("dmy", "mdy"):
                month, day_of = _month(group(f"{kind}_m")), int(re.sub(r"\D", "", group(f"{kind}_d")))
                written = group(f"{kind}_y")
                day = date(int(written), month, day_of) if written else _day_in(month, day_of, reference, prefer)
                point = _Point(match.start(), match.end(), day, day, "day", bool(written), False)
            elif kind == "yy":  # a season or a span of years: "2004–05", "1998-2001"
                first_year, written_end = int(group("yy_a")), group("yy_b")
                last_year = int(written_end) if len(written_end) == 4 else first_year // 100 * 100 + int(written_end)
                if not 0 < last_year - first_year <= (100 if len(written_end) == 4 else 9):
                    continue
                first, last = date(first_year, 1, 1), date(last_year, 12, 31)
                point = _Point(match.start(), match.end(), first, last, "range", True, False)
            elif kind == "dec":  # "the 1990s", "the late 1990s", "the '80s"
                decade = int(group("dec_y")) if group("dec_y") else 1900 + int(group("dec_s"))
                part = (group("dec_part") or "").lower()
                years = _DECADE_PARTS[_PART[part]] if part else (0, 9)
                first, last = date(decade + years[0], 1, 1), date(decade + years[1], 12, 31)
                # Without "in", "during" … a decade describes ("a classic 1980s film"): a question's then asks of now.
                point = _Point(match.start(), match.end(), first, last, "range", True, True)
            elif kind == "q":
                number = int(group("q_n")) if group("q_n") else _QUARTER_WORDS[group("q_w").lower()]
                written = group("q_y")
                first = date(int(written) if written else reference.year, 3 * number - 2, 1)
                if not written and first > reference and prefer == "past":  # "the first quarter": the latest one
                    first = first.replace(year=first.year - 1)
                point = _Point(match.start(), match.end(), first, _quarter_end(first), "quarter", bool(written), False)
            elif kind == "my":
                first = date(int(group("my_y")), _month(group("my_m")), 1)
                point = _Point(match.start(), match.end(), first, _month_end(first), "month", True, False)
            elif kind == "m":
                month = _month(group("m_m"))
                first = _month_in(month, reference, prefer)
                point = _Point(match.start(), match.end(), first, _month_end(first), "month", False, True)
            elif kind == "y":
                year = int(group("y_y"))
                point = _Point(match.start(), match.end(), date(year, 1, 1), date(year, 12, 31), "year", True, True)
            else:
                weekday = WEEKDAYS[group("wd_w").lower()]
                day = reference - timedelta(days=(reference.weekday() - weekday) % 7)
                point = _Point(match.start(), match.end(), day, day, "day", False, False, weekday=True)
        except ValueError:  # no such day ("February 30", "2024-13-01"): never guessed
            continue
        points.append(point)
    return points


def _bounded(text: str, start: int, point: _Point, lead: str | None, reference: date) -> TimeSpan:
    first, last = point.first, point.last
    if lead == "next" and first <= reference:  # "next Tuesday", "next March": the first after the reference
        if point.weekday:
            first = last = first + timedelta(days=7)
        elif point.unit == "month":
            first = _add_months(first, 12)
            last = _month_end(first)
    if lead == "last" and first <= reference <= last:  # "last Friday" on a Friday, "last March" in March
        if point.weekday:
            first = last = first - timedelta(days=7)
        elif point.unit == "month":
            first = _add_months(first, -12)
            last = _month_end(first)
    words, in_full = text[start : point.end], point.year_written
    if lead == "since":
        return TimeSpan(start, point.end, words, first, reference, "range", in_full=in_full)
    if lead == "after":
        return TimeSpan(start, point.end, words, last + timedelta(days=1), reference, "range", in_full=in_full)
    if lead == "before":
        return TimeSpan(start, point.end, words, None, first - timedelta(days=1), "range", in_full=in_full)
    if lead in ("until", "till", "up to", "by"):
        return TimeSpan(start, point.end, words, None, last, "range", in_full=in_full)
    if lead in _PART and point.unit in ("month", "year") and not point.weekday:
        first, last = _part(first, last, point.unit, _PART[lead])
        return TimeSpan(start, point.end, words, first, last, "range", in_full=in_full)
    kind: Literal["weekday", "date"] = "weekday" if point.weekday else "date"
    return TimeSpan(start, point.end, words, first, last, point.unit, kind, in_full=in_full)


def _part(first: date, last: date, unit: str, third: int) -> tuple[date, date]:
    """The first, middle or last third of a year (four months each) or a month (days 1-10, 11-20, 21 on)."""
    if unit == "year":
        opening = first.replace(month=4 * third + 1)
        return opening, _month_end(opening.replace(month=4 * third + 4))
    return first.replace(day=10 * third + 1), (first.replace(day=10 * third + 10) if third < 2 else last)


def _range(text: str, start: int, first: _Point, second: _Point) -> TimeSpan:
    """From the first point's first day to the second's last: the second without a year is the first one on or
    after the first ("between November and March" → March of the next year); the first without one takes the
    second's ("from 3 March to 10 April 2024")."""
    opening = first.first
    if not first.year_written and second.year_written and not first.weekday:
        opening = _with_year(first, second.first.year)
        if opening > second.last:
            opening = _with_year(first, second.first.year - 1)
    closing = second.last
    while not second.year_written and closing < opening:
        closing = _next(second, closing)
    in_full = second.year_written and not first.weekday  # the first takes the second's year
    return TimeSpan(start, second.end, text[start : second.end], opening, closing, "range", in_full=in_full)


def _next(point: _Point, last: date) -> date:
    """The point's next occurrence's last day: a week on for a weekday, a year on for a date or month."""
    if point.weekday:
        return last + timedelta(days=7)
    if point.unit == "month":
        return _month_end(_add_months(last.replace(day=1), 12))
    return _with_year(point, last.year + 1)


def _with_year(point: _Point, year: int) -> date:
    """The point's first day in another year (28 February for a leap day)."""
    day = point.first.day if point.unit == "day" else 1
    return date(year, point.first.month, min(day, calendar.monthrange(year, point.first.month)[1]))


def _day_in(month: int, day: int, reference: date, prefer: Prefer) -> date:
    """The date of "day month" without a year, as `prefer` says."""
    years = range(reference.year + 1, reference.year - 9, -1)  # a leap day may be up to 8 years back
    found = []
    for year in years:
        try:
            found.append(date(year, month, day))
        except ValueError:
            continue
    if not found:
        raise ValueError(f"no {month}/{day} in any year")  # "31 June": never guessed
    if prefer == "nearest":
        ahead = [day_ for day_ in found if reference < day_ <= reference + AHEAD]
        if ahead:
            return ahead[-1]
    return next(day_ for day_ in found if day_ <= reference)


def _month_in(month: int, reference: date, prefer: Prefer) -> date:
    candidates = [date(reference.year + step, month, 1) for step in (1, 0, -1)]
    if prefer == "nearest":
        ahead = [first for first in candidates if reference < first <= reference + AHEAD]
        if ahead:
            return ahead[-1]
    return next(first for first in candidates if first <= reference)


def _month(word: str) -> int:
    word = word.lower().rstrip(".")
    return MONTHS.get(word) or MONTH_ABBREVIATIONS[word[:3] if word.startswith("sept") else word]


def _count(words: str) -> int:
    words = " ".join(words.lower().split())
    return int(words) if words.isdigit() else NUMBER_WORDS[words]


def _unit(word: str) -> str:
    return word.lower().rstrip("s")


def _back(reference: date, count: int, unit: str) -> date:
    """The reference date less count days, weeks, months or years (a month back from 31 March is 28 or 29 Feb)."""
    if unit in ("day", "week"):
        return reference - timedelta(days=count * (7 if unit == "week" else 1))
    months = count * {"year": 12, "quarter": 3}.get(unit, 1)
    first = _add_months(reference.replace(day=1), -months)
    return first.replace(day=min(reference.day, _month_end(first).day))


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _quarter_end(first: date) -> date:
    return _month_end(_add_months(first, 2))


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])
