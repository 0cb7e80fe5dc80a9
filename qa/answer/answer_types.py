"""What a question asks for (a number, a month, a person, ...) and the patterns that find such things in text."""

from __future__ import annotations

import re
from enum import StrEnum

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


class AnswerType(StrEnum):
    """What kind of thing the question asks for."""

    MONTH = "month"
    YEAR = "year"
    NUMBER = "number"
    PERSON = "person"
    DATE = "date"
    PLACE = "place"
    OTHER = "other"


# First match wins: "in which month" is a month before it is a date.
QUESTION_TYPES = [
    (re.compile(r"\b(which|what) month\b", re.I), AnswerType.MONTH),
    (re.compile(r"\b(which|what) year\b", re.I), AnswerType.YEAR),
    (
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|high|fast)|"
            r"what (?:(?:is|was|are|were) )?(?:the )?(number|percentage|share|amount|magnitude|age|price|temperature)|"
            r"(which|what) (amount|number|percentage|price))\b",
            re.I,
        ),
        AnswerType.NUMBER,
    ),
    (
        re.compile(
            r"\b(who|whom|whose|which (person|man|woman|player|leader|president|official|company|team))\b", re.I
        ),
        AnswerType.PERSON,
    ),
    (re.compile(r"\b(when|what (date|day|time)|which day)\b", re.I), AnswerType.DATE),
    (re.compile(r"\b(where|which (country|city|state|nation|region|place|continent))\b", re.I), AnswerType.PLACE),
]

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
_JOINER = r"\s+(?:of|the|and|de|for|on|la|von|van|du|del|da|&)\s+"
NAME_PATTERN = re.compile(rf"[“\"][^”\"]{{2,60}}[”\"]|[A-Z][\w’'.&-]*(?:(?:\s+|{_JOINER}){_CAPITALISED})*")
# Does a sentence hold something of the asked-for type? (Used to score sentences, so looser than the above.)
TYPE_PATTERNS = {
    AnswerType.MONTH: MONTH_PATTERN,
    AnswerType.YEAR: YEAR_PATTERN,
    AnswerType.NUMBER: re.compile(rf"\d|\b({NUMBER_WORDS})\b", re.I),
    AnswerType.PERSON: re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z'’.-]+)+"),
    AnswerType.DATE: DATE_PATTERN,
    AnswerType.PLACE: re.compile(r"\b(?:in|at|from|to|near) (?:the )?[A-Z][a-z]+"),
    AnswerType.OTHER: re.compile(r"."),
}


def answer_type(question: str) -> AnswerType:
    """Classify the question by its wh-phrase."""
    for pattern, kind in QUESTION_TYPES:
        if pattern.search(question):
            return kind
    return AnswerType.OTHER
