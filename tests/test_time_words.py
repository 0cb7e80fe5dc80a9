"""Time words in questions resolved to the windows they ask for, against a fixed as-of date."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.timewords import question_window

CASES = [json.loads(line) for line in (Path(__file__).parent / "data" / "time_words.jsonl").open()]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['as_of']} {c['question']}" for c in CASES])
def test_time_words_resolve_to_the_expected_window(case: dict):
    window = question_window(case["question"], date.fromisoformat(case["as_of"]))
    expected = case["window"]
    if expected is None:
        assert window is None
        return
    assert window is not None
    found = {"since": window.since and window.since.isoformat(), "until": window.until.isoformat(),
             "from_text": window.from_text}  # fmt: skip
    assert found == expected


def test_the_set_covers_what_the_issue_asks_for():
    assert len(CASES) >= 80
    assert sum(c["window"] is None for c in CASES) >= 8  # questions that must get no window


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
