"""Time words in questions resolved to the windows they ask for, against a fixed as-of date."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.dates import article_date, quote_dates, run_periods, sentence_periods
from qa.models import Period
from qa.timewords import question_window, search_window

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "time_words.jsonl").open()]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['as_of']} {c['question']}" for c in CASES])
def test_time_words_name_the_expected_period_and_search_the_expected_dates(case: dict):
    as_of = date.fromisoformat(case["as_of"])
    window = question_window(case["question"], as_of)
    if case["period"] is None:
        assert window is None and search_window(case["question"], as_of) is None
        return
    assert window is not None
    period = window.period
    found = {"since": period.since and period.since.isoformat(), "until": period.until and period.until.isoformat(),
             "unit": period.unit, "text": period.text}  # fmt: skip
    searched = search_window(case["question"], as_of)
    assert searched is not None
    assert (found, {"since": searched.since and searched.since.isoformat(), "until": searched.until.isoformat()}) == (
        case["period"],
        case["searched"],
    )


def test_the_set_covers_what_the_issue_asks_for():
    assert len(CASES) >= 80
    assert sum(c["period"] is None for c in CASES) >= 8  # questions that must get no window
    units = {c["period"]["unit"] for c in CASES if c["period"]}
    assert units == {"day", "week", "month", "quarter", "year", "range"}
    # The period as the words name it, apart from the dates searched: they differ where news of it came later.
    assert sum(bool(c["period"]) and c["period"]["until"] != c["searched"]["until"] for c in CASES) >= 20


RELATIVE_WORDS = [
    "today", "yesterday", "this week", "last week", "this month", "last month", "this year", "last year",
    "in January", "in December", "on 29 February", "since Monday", "last Friday", "over the past 3 months",
    "between November and March", "from Monday to Wednesday", "two weeks ago", "the latest",
]  # fmt: skip


@given(as_of=st.dates(min_value=date(1901, 1, 1), max_value=date(2100, 12, 31)), words=st.sampled_from(RELATIVE_WORDS))
def test_a_window_never_ends_after_its_as_of_date_and_never_opens_after_it(as_of: date, words: str):
    """Words without a year are read as the latest such time on or before the as-of date, whatever the date: a
    year's first or last day, a leap day, a Monday."""
    window = question_window(f"What happened {words}?", as_of)
    assert window is not None and window.until <= as_of
    assert window.latest or (window.since is not None and window.since <= window.until)


def test_words_relative_to_now_win_and_words_about_the_future_set_no_window():
    as_of = date(2023, 3, 10)
    window = question_window("Which network aired depictions of the January 6, 2021, attack this week?", as_of)
    assert window is not None and window.from_text == "this week"
    assert question_window("Which theme park will open in 2024?", as_of) is None
    assert question_window("Who was the CEO in 2019 and who is it now?", as_of).from_text == "in 2019"


def test_the_search_runs_from_the_words_to_as_of_and_an_end_alone_holds_a_month_on():
    window = search_window("Who delivered the State of the Union address on Tuesday?", date(2023, 2, 10))
    assert window is not None and (window.since, window.until) == (date(2023, 2, 7), date(2023, 2, 10))
    window = search_window("What happened in 2019?", date(2026, 12, 1))
    assert window is not None and (window.since, window.until) == (date(2019, 1, 1), date(2026, 12, 1))
    window = search_window("Which films came out before 2020?", date(2026, 12, 1))
    assert window is not None and (window.since, window.until) == (None, date(2020, 1, 30))


QUOTES = [json.loads(line) for line in (Path(__file__).parent / "data" / "quote_dates.jsonl").open()]


@pytest.mark.parametrize("case", QUOTES, ids=[f"{c['published']} {c['sentence']}" for c in QUOTES])
def test_dates_in_quotes_are_written_out_against_their_articles_day(case: dict):
    published = date.fromisoformat(case["published"]) if case["published"] else None
    found = quote_dates(case["sentence"], 100, published)
    assert [{"text": d.text, "day": d.day} for d in found] == case["dates"]
    for resolved in found:  # offsets are the article's: the quote's own plus where the quote starts
        assert case["sentence"][resolved.start - 100 : resolved.end - 100] == resolved.text


def test_the_quote_set_covers_what_the_issue_asks_for():
    assert sum(bool(c["published"]) for c in QUOTES) >= 40
    assert any(not c["published"] for c in QUOTES)


def test_an_articles_own_date_is_its_urls_else_the_one_it_was_given():
    assert article_date("https://www.cnn.com/2015/06/02/us/story/index.html", date(2023, 1, 6)) == date(2015, 6, 2)
    assert article_date("https://example.com/news/story", date(2023, 1, 6)) == date(2023, 1, 6)
    assert article_date(None, None) is None


SENTENCES = [json.loads(line) for line in (Path(__file__).parent / "data" / "sentence_periods.jsonl").open()]


def _days(periods: list[Period]) -> list[list[str | None]]:
    return [[p.since and p.since.isoformat(), p.until and p.until.isoformat()] for p in periods]


@pytest.mark.parametrize("case", SENTENCES, ids=[c.get("sentence") or " / ".join(c["run"]) for c in SENTENCES])
def test_sentences_speak_of_the_expected_periods(case: dict) -> None:
    own_date = date.fromisoformat(case["own_date"]) if case["own_date"] else None
    if "sentence" in case:
        assert _days(sentence_periods(case["sentence"], own_date)) == case["periods"]
    else:
        assert [_days(periods) for periods in run_periods(case["run"], own_date)] == case["periods"]


def test_the_sentence_set_covers_every_form() -> None:
    sentences = [c["sentence"] for c in SENTENCES if "sentence" in c] + [s for c in SENTENCES for s in c.get("run", [])]
    assert len(sentences) >= 80
    text = " ".join(sentences)
    for form in ("from 2001 to 2004", "between 1998 and 2001", "2004–05", "until 2010", "since 2015", "1990s",
                 "2019 season", "As of 2020", "last year", "on Tuesday", "Q1 2024", "2010 units"):  # fmt: skip
        assert form in text, form
    assert sum(c["own_date"] is not None for c in SENTENCES) >= 15  # relative dates in dated articles
    assert sum("run" in c for c in SENTENCES) >= 5  # spans implied by a run of sentences
