"""List answers: which questions ask for several things ("which countries", "which two schools", "who were the
three …", "name the …s"), and the list of candidates that answers one, joined as its sentence joins them
("Canada and Mexico")."""

from __future__ import annotations

import re
from collections.abc import Sequence

from qa.answer.candidates import Candidate
from qa.answer.question import HEAD_KINDS, head_kind, head_noun

# "which two countries", "what three things", "who were the two …", "name both …", "name the …s".
_SEVERAL = re.compile(
    r"\b(?:which|what|who|name)\s+(?:(?:are|were)\s+)?(?:the\s+|all\s+)?(?:two|three|four|five|six|both)\b|"
    r"\bname\s+(?:the|all)\s+\w+s\b",
    re.I,
)
# How a sentence joins the items of a list: "A, B and C", "A & B", "A or B".
_JOINED = re.compile(r"\s*,\s*(?:and\s+|or\s+|&\s+)?|\s+(?:and|or|&)\s+")


def asks_for_several(question: str) -> bool:
    """Whether the question asks for several things: a number or "both" before what it asks for, or a head noun
    in the plural of one that asks for a kind ("which countries", "which NFL teams")."""
    if _SEVERAL.search(question):
        return True
    head = head_noun(question)
    if not head or head in ("person", "place"):
        return False
    last = head.split()[-1].lower()
    # A plural is a listed noun only once head_kind takes its ending off ("countries" → "country").
    return last.endswith("s") and not last.endswith("ss") and last not in HEAD_KINDS and head_kind(last) is not None


def listed(chosen: Candidate, others: Sequence[Candidate], sentence: str) -> str | None:
    """The span of the sentence that lists the chosen candidate with others of its kind ("Canada and Mexico" for
    "Canada"), joined only by commas and conjunctions; None when the sentence lists nothing with it."""
    spans = sorted(
        {span for m in others if m.kind is chosen.kind and (span := _span(m.text, sentence)) is not None}
        | {span for span in [_span(chosen.text, sentence)] if span is not None}
    )
    at = _span(chosen.text, sentence)
    if at is None:
        return None
    # The run of spans around the chosen one with only a joining word between neighbours.
    index = spans.index(at)
    first = last = index
    while first > 0 and _JOINED.fullmatch(sentence[spans[first - 1][1] : spans[first][0]]):
        first -= 1
    while last < len(spans) - 1 and _JOINED.fullmatch(sentence[spans[last][1] : spans[last + 1][0]]):
        last += 1
    if first == last:
        return None
    return sentence[spans[first][0] : spans[last][1]]


def _span(phrase: str, sentence: str) -> tuple[int, int] | None:
    at = sentence.find(phrase)
    return (at, at + len(phrase)) if at >= 0 else None
