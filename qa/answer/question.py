"""What a question asks for: the kind its wh-phrase names, its head noun ("which pharmacy chain"), the kinds of
phrase that answer it, and the words it already says. One enum, Kind, names both what a question asks for and what
a candidate phrase is."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, Field

from qa.text import STOPWORDS, stem_word, word_tokens


class Kind(StrEnum):
    """What a candidate is, or what a question asks for."""

    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    GROUP = "group"  # nationalities, religions, political groups
    FACILITY = "facility"
    PRODUCT = "product"
    EVENT = "event"
    WORK = "work"  # titles of films, books, songs, shows
    LAW = "law"  # laws, agreements, treaties
    LANGUAGE = "language"
    DATE = "date"
    NUMBER = "number"
    MONEY = "money"
    PERCENT = "percent"
    QUANTITY = "quantity"
    ORDINAL = "ordinal"
    NAME = "name"  # a capitalised phrase the NER model gave no label
    THING = "thing"  # a common noun phrase: "hearing aids", "mustard"
    OTHER = "other"
    # Only a question asks for these (its wh-phrase: "which month"); a candidate is a DATE.
    MONTH = "month"
    YEAR = "year"


# What a wh-phrase asks for, in the order of the scorer's asks_* features; and what a candidate can be (is_*).
WH_KINDS = (Kind.MONTH, Kind.YEAR, Kind.NUMBER, Kind.PERSON, Kind.DATE, Kind.PLACE, Kind.OTHER)
CANDIDATE_KINDS = tuple(kind for kind in Kind if kind not in (Kind.MONTH, Kind.YEAR))

# First match wins: "in which month" is a month before it is a date.
_WH_PHRASES = [
    (re.compile(r"\b(which|what) month\b", re.I), Kind.MONTH),
    (re.compile(r"\b(which|what) year\b", re.I), Kind.YEAR),
    (
        re.compile(
            r"\b(how (many|much|long|old|far|big|large|high|fast)|"
            r"what (?:(?:is|was|are|were) )?(?:the )?(number|percentage|share|amount|magnitude|age|price|temperature)|"
            r"(which|what) (amount|number|percentage|price))\b",
            re.I,
        ),
        Kind.NUMBER,
    ),
    (
        re.compile(
            r"\b(who|whom|whose|which (person|man|woman|player|leader|president|official|company|team))\b", re.I
        ),
        Kind.PERSON,
    ),
    (re.compile(r"\b(when|what (date|day|time)|which day)\b", re.I), Kind.DATE),
    (re.compile(r"\b(where|which (country|city|state|nation|region|place|continent))\b", re.I), Kind.PLACE),
]
# The candidates that answer each wh-kind (OTHER: any).
_ANSWERED_BY = {
    Kind.MONTH: {Kind.DATE},
    Kind.YEAR: {Kind.DATE},
    Kind.DATE: {Kind.DATE},
    Kind.NUMBER: {Kind.NUMBER, Kind.MONEY, Kind.PERCENT, Kind.QUANTITY, Kind.ORDINAL},
    Kind.PERSON: {Kind.PERSON},
    Kind.PLACE: {Kind.PLACE},
}
# What the head noun of "which <noun>" asks for. Nouns not listed ask for no kind in particular: the scorer then
# relies on how well the candidate's meaning fits the noun.
_HEAD_NOUNS: dict[Kind, str] = {
    Kind.PLACE: "country nation city state region continent capital island province territory town village county "
    "place location destination area republic kingdom borough constituency planet ocean sea river lake mountain "
    "volcano neighborhood neighbourhood district setting",
    Kind.ORGANISATION: "company firm brand organization organisation agency network team club party retailer airline "
    "bank university college school automaker carmaker startup chain league union group business corporation "
    "manufacturer publisher newspaper channel outlet broadcaster website platform app studio label court ministry "
    "department institution charity giant maker band restaurant supermarket store shop tabloid magazine "
    "franchise insurer lender carrier government",
    Kind.PERSON: "person man woman player leader president official actor actress singer rapper star athlete ceo "
    "minister senator judge coach quarterback author artist musician journalist billionaire politician lawmaker "
    "governor mayor candidate celebrity founder executive chef comedian director host monarch king queen prince "
    "princess pope footballer golfer tennis driver boxer member figure mp royal republican democrat superstar legend "
    "heavyweight justice presenter wrestler philanthropist popstar representative frontbencher owner partner killer "
    "protagonist character celeb celebs people siblings investor filmmaker icon tourist secretary speaker "
    "entrepreneur activist scientist astronaut hero villain",
    Kind.LAW: "agreement deal accord treaty act law bill policy rule pact legislation regulation amendment ban "
    "ruling order",
    Kind.WORK: "film movie book song album show series novel documentary play musical podcast painting sitcom "
    "cartoon opera ballad episode memoir poem sculpture artwork single",
    Kind.EVENT: "event tournament championship festival award prize race cup storm hurricane war election summit "
    "conference holiday game match celebration ceremony parade",
    Kind.PRODUCT: "product device phone car vehicle vaccine drug medication weapon aircraft plane ship rocket "
    "spacecraft satellite model",
    Kind.FACILITY: "airbase base airport stadium arena bridge building hospital prison museum landmark park venue "
    "gallery station dam site monument zoo",
    Kind.GROUP: "nationality religion",
    Kind.LANGUAGE: "language",
    Kind.DATE: "month year day date decade",
    Kind.MONEY: "amount price cost fine salary currency",
    Kind.PERCENT: "percentage percent rate",
    # Common things: answered by a noun phrase ("sesame seeds", "hearing aids") as well as a name.
    Kind.THING: "animal item virus sport food disease species ingredient insect creature beverage drink breed crop "
    "substance genre flavor flavour dish fruit vegetable mineral material technology color colour plant bird fish "
    "dog pet treat snack seed fungus bacteria illness condition symptom chemical element gas fuel dinosaur rodent "
    "mammal reptile tree flower juice meat cheese product",
}
HEAD_KINDS = {noun: kind for kind, nouns in _HEAD_NOUNS.items() for noun in nouns.split()}
# Kinds a thing is named with its head noun ("the Doha agreement"), unlike a person or place.
NAMED_WITH_HEAD = frozenset({Kind.LAW, Kind.EVENT, Kind.PRODUCT, Kind.THING, Kind.OTHER})
# "which <noun>", "which of the following <noun>", "what type of <noun>", "what is the name of the <noun>".
_HEAD = re.compile(
    r"\b(?:which|what)\s+(?:(?:is|was|are|were)\s+(?:the\s+)?names?\s+of\s+(?:the\s+|a\s+|an\s+|this\s+|its\s+)?|"
    r"(?:of\s+(?:these|the|those)\s+(?:following\s+)?)|(?:type|kind|sort|types|kinds)\s+of\s+(?:the\s+)?)?"
    r"((?:[\w’'.-]+\s+){0,2}[\w’'.-]+)",
    re.I,
)
_QUESTION_WORD = re.compile(r"\b(?:which|what|who|whom|whose|where|when|how)\b", re.I)
VERBS = frozenset("won became back made said will would did does do has have had is was are were been can".split())


class Asked(BaseModel):
    """What a question asks for."""

    wh_kind: Kind = Field(description="What its wh-phrase asks for: one of WH_KINDS (a month, year, number, ...).")
    head: str | None = Field(description='The noun after "which"/"what" ("pharmacy chain"), or "person"/"place".')
    kinds: frozenset[Kind] = Field(description="The kinds of candidate that answer it; empty when any may.")
    stems: frozenset[str] = Field(description="Stems of the question's content words.")
    stems_before: frozenset[str] = Field(
        description='Of them, those before its question word (all of them when it has none: "… was started by:").'
    )

    @property
    def things(self) -> bool:
        """Whether a common noun phrase may answer: it asks for no person, place, organisation, number or date,
        and its head noun (if any) is none of theirs."""
        return self.wh_kind is Kind.OTHER and self.kinds <= NAMED_WITH_HEAD


def asked(question: str) -> Asked:
    """What the question asks for, from its wording."""
    kind = wh_kind(question)
    head = head_noun(question)
    kinds = set(_ANSWERED_BY.get(kind, set()))
    if head and head not in ("person", "place") and (named := head_kind(head)) is not None:
        kinds = {named}
    stems = frozenset(stem_word(token) for token in word_tokens(question) if token not in STOPWORDS)
    asking = _QUESTION_WORD.search(question)
    before = question[: asking.start()] if asking else question
    stems_before = frozenset(stem_word(token) for token in word_tokens(before) if token not in STOPWORDS)
    return Asked(wh_kind=kind, head=head, kinds=frozenset(kinds), stems=stems, stems_before=stems_before)


def wh_kind(question: str) -> Kind:
    """What the question's wh-phrase asks for: one of WH_KINDS."""
    for pattern, kind in _WH_PHRASES:
        if pattern.search(question):
            return kind
    return Kind.OTHER


def head_noun(question: str) -> str | None:
    """What the question asks for, in its own words: "person", "place", or the noun after which/what."""
    if re.search(r"\bwho(m|se)?\b", question, re.I):
        return "person"
    if re.search(r"\bwhere\b", question, re.I):
        return "place"
    match = _HEAD.search(question)
    if not match:
        return None
    words: list[str] = []
    for word in match.group(1).split():
        lower = word.lower()
        # "What happened", "what prompted": a verb, not a noun ("seed" and "breed" are nouns).
        verb = (lower.endswith("ed") or lower.endswith("ing")) and (
            words or (len(lower) > 4 and lower not in HEAD_KINDS)
        )
        if lower in VERBS or lower in STOPWORDS or verb or (not words and lower.endswith("ly")):
            break
        words.append(word)
        if len(words) == 3:
            break
    return " ".join(words) or None


def head_kind(head: str) -> Kind | None:
    """The kind a head noun asks for ("pharmacy chains" → organisation), from its last listed word."""
    for word in reversed(head.lower().split()):
        forms = [word]
        if word.endswith("ies"):
            forms.append(word[:-3] + "y")
        elif word.endswith(("ches", "shes", "xes", "sses")):
            forms.append(word[:-2])
        elif word.endswith("s"):
            forms.append(word[:-1])
        for form in forms:
            if form in HEAD_KINDS:
                return HEAD_KINDS[form]
    return None


def said_in(token: str, question_stems: frozenset[str]) -> bool:
    """Whether the question says this word, allowing for inflection ("Oscars", "Russian" for "Oscar", "Russia")."""
    stem = stem_word(token)
    return stem in question_stems or any(
        len(stem) >= 4 and len(q) >= 4 and (stem.startswith(q) or q.startswith(stem)) for q in question_stems
    )
