"""Typed answer candidates: the phrases of the best sentences that could answer, each with what kind of thing it is,
and what kind of thing a question asks for ("which country" → a place, "which agreement" → a law or pact).

A candidate comes from the NER model (a person, organisation, place, date, number, …), from the patterns of
qa/answer/answer_types.py (capitalised names, numbers, months, years, quoted titles), for a "which <noun>"
question from a name standing before that noun ("the Doha agreement" for "which agreement"), and, for a question
that asks for no person, place, organisation, number or date, from the common noun phrases the tagger finds
("hearing aids" for "which item", "mustard" for "which condiment"). Phrases the question already says are never
candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum

from pydantic import BaseModel, Field

from qa.answer.answer_types import (
    DATE_PATTERN,
    MONTH_PATTERN,
    MONTHS,
    NAME_PATTERN,
    NUMBER_PATTERN,
    WEEKDAYS,
    YEAR_PATTERN,
    AnswerType,
    answer_type,
)
from qa.answer.citations import Evidence
from qa.answer.entities import NOUN_PHRASE, Entity
from qa.controls import CONTROL_SEQUENCE
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


ENTITY_KINDS = {
    "PERSON": Kind.PERSON,
    "ORG": Kind.ORGANISATION,
    "GPE": Kind.PLACE,
    "LOC": Kind.PLACE,
    "NORP": Kind.GROUP,
    "FAC": Kind.FACILITY,
    "PRODUCT": Kind.PRODUCT,
    "EVENT": Kind.EVENT,
    "WORK_OF_ART": Kind.WORK,
    "LAW": Kind.LAW,
    "LANGUAGE": Kind.LANGUAGE,
    "DATE": Kind.DATE,
    "TIME": Kind.DATE,
    "CARDINAL": Kind.NUMBER,
    "MONEY": Kind.MONEY,
    "PERCENT": Kind.PERCENT,
    "QUANTITY": Kind.QUANTITY,
    "ORDINAL": Kind.ORDINAL,
}

# What the head noun of "which <noun>" asks for. Nouns not listed ask for no kind in particular: the scorer then
# relies on how well the candidate's meaning fits the noun.
_HEAD_NOUNS: dict[Kind, str] = {
    Kind.PLACE: "country nation city state region continent capital island province territory town village county "
    "place location destination area republic kingdom",
    Kind.ORGANISATION: "company firm brand organization organisation agency network team club party retailer airline "
    "bank university college school automaker carmaker startup chain league union group business corporation "
    "manufacturer publisher newspaper channel outlet broadcaster website platform app studio label court ministry "
    "department institution charity giant maker",
    Kind.PERSON: "person man woman player leader president official actor actress singer rapper star athlete ceo "
    "minister senator judge coach quarterback author artist musician journalist billionaire politician lawmaker "
    "governor mayor candidate celebrity founder executive chef comedian director host monarch king queen prince "
    "princess pope footballer golfer tennis driver boxer",
    Kind.LAW: "agreement deal accord treaty act law bill policy rule pact legislation regulation amendment ban "
    "ruling order",
    Kind.WORK: "film movie book song album show series novel documentary play musical podcast painting",
    Kind.EVENT: "event tournament championship festival award prize race cup storm hurricane war election summit "
    "conference",
    Kind.PRODUCT: "product device phone car vehicle vaccine drug medication weapon aircraft plane ship rocket "
    "spacecraft satellite",
    Kind.FACILITY: "airbase base airport stadium arena bridge building hospital prison museum landmark",
    Kind.GROUP: "nationality religion",
    Kind.LANGUAGE: "language",
    Kind.DATE: "month year day date decade",
    Kind.MONEY: "amount price cost fine salary",
    Kind.PERCENT: "percentage percent rate",
}
HEAD_KINDS = {noun: kind for kind, nouns in _HEAD_NOUNS.items() for noun in nouns.split()}
# Heads of a phrase that names a law or pact: "the Doha agreement", "the Inflation Reduction Act".
LAW_HEADS = frozenset("agreement deal accord treaty act law bill pact".split())

ANSWER_TYPE_KINDS = {
    AnswerType.MONTH: {Kind.DATE},
    AnswerType.YEAR: {Kind.DATE},
    AnswerType.DATE: {Kind.DATE},
    AnswerType.NUMBER: {Kind.NUMBER, Kind.MONEY, Kind.PERCENT, Kind.QUANTITY, Kind.ORDINAL},
    AnswerType.PERSON: {Kind.PERSON},
    AnswerType.PLACE: {Kind.PLACE},
}
PATTERNS = {
    AnswerType.MONTH: [MONTH_PATTERN],
    AnswerType.YEAR: [YEAR_PATTERN],
    AnswerType.NUMBER: [NUMBER_PATTERN],
    AnswerType.DATE: [DATE_PATTERN, NUMBER_PATTERN],
}
# Words that open or close a capitalised run without being part of the name ("The", "Former", "Sen.").
_NOT_NAME = frozenset(
    "the a an this that these those he she it they his her its their in on at but and as after when while for "
    "if mr ms mrs dr sen rep gov last former new some many by with from to so there then now meanwhile also "
    "why how what who where president democrat republican under during before since about over against between "
    "into through across despite amid according like unlike including among of de la du von van del da & yesterday "
    "today tonight".split()
)
# Offices around a name in running text ("Foreign Minister Sergei Lavrov", "NATO Secretary General").
_TITLES = frozenset(
    "secretary general minister foreign defense defence finance interior prime deputy chancellor chief executive "
    "spokesperson spokesman spokeswoman ambassador envoy head director commander leader official chairman chairwoman "
    "senator representative governor mayor judge justice attorney ceo cfo founder coach manager captain king queen "
    "prince princess lord sir pope cardinal bishop rev lt col gen adm sgt".split()
)
_CALENDAR = frozenset(f"{MONTHS}|{WEEKDAYS}".split("|")) | {"jan", "feb", "aug", "sept", "oct", "nov", "dec"}
_HEAD = re.compile(r"\b(?:which|what)\s+(?:of\s+(?:these|the|those)\s+)?((?:[\w’'.-]+\s+){0,2}[\w’'.-]+)", re.I)
_QUESTION_WORD = re.compile(r"\b(?:which|what|who|whom|whose|where|when|how)\b", re.I)
_VERBS = frozenset("won became back made said will would did does do has have had is was are were been can".split())
# An article's own citation markers ("[1]") and escape sequences ("\x1b]8;;…") are no phrase of its text.
_NOT_WORDS = re.compile(rf"\[\d+\]|{CONTROL_SEQUENCE.pattern}")


class Asked(BaseModel):
    """What a question asks for."""

    answer_type: AnswerType = Field(description="The coarse type: a month, year, number, person, date, place, other.")
    head: str | None = Field(description='The noun after "which"/"what" ("pharmacy chain"), or "person"/"place".')
    kinds: frozenset[Kind] = Field(description="The kinds of candidate that answer it; empty when any may.")
    stems: frozenset[str] = Field(description="Stems of the question's content words.")
    stems_before: frozenset[str] = Field(
        description='Of them, those before its question word (all of them when it has none: "… was started by:").'
    )


class Candidate(BaseModel):
    """One mention of a phrase that could answer, in one sentence."""

    text: str = Field(description="The phrase, exactly as it stands in the sentence.")
    key: str = Field(description="The phrase's words, lowercased: mentions with one key are one candidate.")
    kind: Kind = Field(description="What the phrase is.")
    source: str = Field(
        description='Where it came from: "entity", "pattern", "head" (a name before the head noun) or "phrase" (a '
        "common noun phrase)."
    )
    sentence: int = Field(description="Index of its sentence among those read.")
    opens_sentence: bool = Field(description="A lone capitalised word that opens the sentence (often no name).")


def asked(question: str) -> Asked:
    """What the question asks for, from its wording."""
    kind = answer_type(question)
    head = head_noun(question)
    kinds = set(ANSWER_TYPE_KINDS.get(kind, set()))
    if head and head not in ("person", "place") and (named := head_kind(head)) is not None:
        kinds = {named}
    stems = frozenset(stem_word(token) for token in word_tokens(question) if token not in STOPWORDS)
    asking = _QUESTION_WORD.search(question)
    before = question[: asking.start()] if asking else question
    stems_before = frozenset(stem_word(token) for token in word_tokens(before) if token not in STOPWORDS)
    return Asked(answer_type=kind, head=head, kinds=frozenset(kinds), stems=stems, stems_before=stems_before)


def candidates(question: Asked, sentences: Sequence[Evidence], entities: Sequence[list[Entity]]) -> list[Candidate]:
    """Every candidate mention in the sentences (with their entities, in order), none the question already says."""
    found: list[Candidate] = []
    # The thing named before the head noun: "the Doha agreement", "sesame seeds" for "which seed" (not "Best Actor"
    # for "which actor": a person or place is not named by its kind).
    head_noun_kind = (head_kind(question.head) or Kind.OTHER) if question.head else Kind.OTHER
    named_by_head = None
    if question.head and question.head not in ("person", "place") and head_noun_kind in _NAMED_WITH_HEAD:
        noun = re.escape(question.head.split()[-1])
        named_by_head = re.compile(rf"((?:[A-Z][\w’'.&-]*\s+){{1,4}}|\b[a-z][\w-]+\s+)((?i:{noun})s?)\b")
    things = asks_for_things(question)
    for index, (sentence, sentence_entities) in enumerate(zip(sentences, entities, strict=True)):
        text = sentence.text
        seen: set[str] = set()

        def add(
            phrase: str, kind: Kind, source: str, index: int = index, text: str = text, seen: set[str] = seen
        ) -> None:
            phrase = phrase.strip().rstrip(".,;:")
            tokens = word_tokens(phrase)
            content = [token for token in tokens if token not in STOPWORDS]
            key = " ".join(tokens)
            if not tokens or key in seen or phrase not in text:
                return
            if all(said_in(token, question.stems) for token in content or tokens):
                return
            seen.add(key)
            opens = len(tokens) == 1 and text.lstrip("“\"‘'").startswith(phrase) and kind is Kind.NAME
            found.append(
                Candidate(text=phrase, key=key, kind=kind, source=source, sentence=index, opens_sentence=opens)
            )

        words = _NOT_WORDS.sub(lambda match: " " * len(match.group(0)), text)
        for entity in sentence_entities:
            if words[entity.start : entity.end] != entity.text:
                continue  # a marker or escape sequence sits inside it
            if entity.label == NOUN_PHRASE:
                if things and not _restates(entity.text, question):
                    add(entity.text, Kind.THING, "phrase")
                continue
            kind = ENTITY_KINDS.get(entity.label, Kind.OTHER)
            if question.answer_type in (AnswerType.MONTH, AnswerType.YEAR) and kind in _NUMERIC:
                if not PATTERNS[question.answer_type][0].search(entity.text):
                    continue  # "which month" is answered by a month, not by "2024" or "last week"
            phrase = entity.text if kind in _NUMERIC else trim_name(entity.text, question.stems, entity=True)
            if kind is Kind.MONEY and entity.start and text[entity.start - 1] in "$£€":  # spaCy leaves the sign out
                phrase = text[entity.start - 1 : entity.end]
            add(phrase, kind, "entity")
        if named_by_head is not None:
            for match in named_by_head.finditer(words):
                name = trim_name(match.group(1), question.stems)
                if name and (name[0].isupper() or name.lower() not in STOPWORDS):
                    add(f"{name} {match.group(2)}", head_noun_kind, "head")
        for pattern in PATTERNS.get(question.answer_type, [NAME_PATTERN]):
            for match in pattern.finditer(words):
                if text[match.start() : match.end()] != match.group(0):
                    continue
                if pattern is NAME_PATTERN:
                    for piece in re.split(r"(?<=\w)[’']s\s+", match.group(0)):  # "Musk's Twitter"
                        name = trim_name(piece, question.stems, titles=True)
                        tokens = word_tokens(name)
                        if tokens and not all(t in _CALENDAR or t in STOPWORDS or t.isdigit() for t in tokens):
                            add(name, _kind_of(name, sentence_entities), "pattern")
                else:
                    kind = Kind.DATE if pattern is not NUMBER_PATTERN else Kind.NUMBER
                    add(match.group(0), kind, "pattern")
    return found


_NAMED_WITH_HEAD = {Kind.LAW, Kind.EVENT, Kind.PRODUCT, Kind.OTHER}


def _restates(phrase: str, question: Asked) -> bool:
    """Whether a noun phrase names what the question asks for rather than answering it: it ends in a word the
    question says ("famous condiment" for "which condiment", "largest base" for "which airbase"), or holds only
    stopwords and verbs."""
    tokens = word_tokens(phrase)
    if all(t in STOPWORDS or t in _VERBS for t in tokens):
        return True
    head = question.head.split()[-1].lower() if question.head else ""
    return said_in(tokens[-1], question.stems) or (len(tokens[-1]) >= 4 and head.endswith(tokens[-1]))


def asks_for_things(question: Asked) -> bool:
    """Whether a common noun phrase may answer: the question asks for no person, place, organisation, number or
    date, and its head noun (if any) is none of theirs."""
    return question.answer_type is AnswerType.OTHER and question.kinds <= _NAMED_WITH_HEAD


_NUMERIC = {Kind.DATE, Kind.NUMBER, Kind.MONEY, Kind.PERCENT, Kind.QUANTITY, Kind.ORDINAL}


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


def _kind_of(phrase: str, entities: Sequence[Entity]) -> Kind:
    """The NER kind of an entity the phrase holds or stands in, else NAME."""
    for entity in entities:
        if entity.label != NOUN_PHRASE and (entity.text in phrase or phrase in entity.text):
            return ENTITY_KINDS.get(entity.label, Kind.NAME)
    return Kind.NAME


def trim_name(phrase: str, question_stems: frozenset[str], *, titles: bool = False, entity: bool = False) -> str:
    """The name without the words around it that are no part of it or that the question says, and with `titles`
    without the office before or after it ("German Defense Minister Annegret Kramp-Karrenbauer" -> "Annegret
    Kramp-Karrenbauer"). An `entity` of the NER model keeps its bounds: "New York", "General Motors"."""

    def outside(word: str) -> bool:
        bare = word.lower().strip('\u201c".,')
        if entity:  # the NER model drew its bounds: only an article or what the question says goes
            return bare in ("the", "a", "an") or all(said_in(token, question_stems) for token in word_tokens(bare))
        if bare in _NOT_NAME or bare in _CALENDAR or (titles and bare in _TITLES):
            return True
        return all(said_in(token, question_stems) for token in word_tokens(bare))

    words = re.sub(r"(?<=\w)[’']s$", "", phrase.strip()).split()  # "Afghanistan’s" -> "Afghanistan"
    while words and outside(words[0]):
        words.pop(0)
    while words and outside(words[-1]):
        words.pop()
    return " ".join(words).rstrip(".,;:")


def said_in(token: str, question_stems: frozenset[str]) -> bool:
    """Whether the question says this word, allowing for inflection ("Oscars", "Russian" for "Oscar", "Russia")."""
    stem = stem_word(token)
    return stem in question_stems or any(
        len(stem) >= 4 and len(q) >= 4 and (stem.startswith(q) or q.startswith(stem)) for q in question_stems
    )


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
        if lower in _VERBS or lower in STOPWORDS or (words and lower.endswith("ed")):
            break
        words.append(word)
        if len(words) == 3:
            break
    return " ".join(words) or None
