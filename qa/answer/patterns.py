"""The patterns that find things of a kind in text: numbers, months, years, dates, names and quoted titles."""

from __future__ import annotations

import re

from qa.answer.question import Kind

NUMBER_WORDS = (
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    "seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|hundreds|"
    "thousand|thousands|million|millions|billion|billions|trillion|dozen|dozens|half|percent"
)
MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
UNITS = (
    r"(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|people|feet|foot|miles|degrees|points|games|"
    r"seasons|times|percent|%)"
)


NUMBER_PATTERN = re.compile(
    rf"(?:[$£€]\s?)?\d[\d,.]*(?:\s?(?:%|m|bn|tn|k|million|billion|trillion|thousand)\b)?(?:[\s-]+{UNITS}\b)?"
    rf"|\b(?:{NUMBER_WORDS})\b(?:[\s-]+(?:{NUMBER_WORDS})\b)*(?:[\s-]+{UNITS}\b)?",
    re.I,
)
MONTH_PATTERN = re.compile(rf"\b(?:{MONTHS})\b(?:\s+\d{{1,2}}\b)?", re.I)
YEAR_PATTERN = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")
DATE_PATTERN = re.compile(
    rf"\b(?:(?:{MONTHS})(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?|1[5-9]\d\d|20\d\d|{WEEKDAYS}|yesterday|today|"
    r"last (?:week|month|year))\b",
    re.I,
)
# A name: capitalised words, joined by the small words names contain; or a quoted title.
_CAPITALISED = r"[A-Z0-9][\w’'.&-]*"
JOINER = r"\s+(?:of|the|and|de|for|on|la|von|van|du|del|da|&)\s+"
NAME_PATTERN = re.compile(rf"[“\"][^”\"]{{2,60}}[”\"]|[A-Z][\w’'.&-]*(?:(?:\s+|{JOINER}){_CAPITALISED})*")
# Does a sentence hold something of the kind a wh-phrase asks for? (Used to score sentences, so looser than the above.)
TYPE_PATTERNS = {
    Kind.MONTH: MONTH_PATTERN,
    Kind.YEAR: YEAR_PATTERN,
    Kind.NUMBER: re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I),
    Kind.PERSON: re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z'’.-]+)+"),
    Kind.DATE: DATE_PATTERN,
    Kind.PLACE: re.compile(r"\b(?:in|at|from|to|near) (?:the )?[A-Z][a-z]+"),
    Kind.OTHER: re.compile(r"."),
}
