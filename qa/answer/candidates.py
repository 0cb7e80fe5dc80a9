"""Typed answer candidates: the phrases of the best sentences that could answer, each with what kind of thing it is.

A candidate comes from the NER model (a person, organisation, place, date, number, …), from the patterns of
qa/answer/patterns.py (capitalised names, numbers, months, years, quoted titles), for a "which <noun>"
question from a name standing before that noun ("the Doha agreement" for "which agreement"), and, for a question
that asks for no person, place, organisation, number or date, from the common noun phrases the tagger finds
("hearing aids" for "which item", "mustard" for "which condiment"). Phrases the question already says are never
candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, Field

from qa.answer.citations import Evidence
from qa.answer.entities import NOUN_PHRASE, Entity
from qa.answer.patterns import (
    DATE_PATTERN,
    MONTH_PATTERN,
    MONTHS,
    NAME_PATTERN,
    NUMBER_PATTERN,
    WEEKDAYS,
    YEAR_PATTERN,
)
from qa.answer.question import NAMED_WITH_HEAD, VERBS, Asked, Kind, head_kind, said_in
from qa.controls import CONTROL_SEQUENCE
from qa.text import STOPWORDS, word_tokens

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

PATTERNS = {
    Kind.MONTH: [MONTH_PATTERN],
    Kind.YEAR: [YEAR_PATTERN],
    Kind.NUMBER: [NUMBER_PATTERN],
    Kind.DATE: [DATE_PATTERN, NUMBER_PATTERN],
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
# An article's own citation markers ("[1]") and escape sequences ("\x1b]8;;…") are no phrase of its text.
_NOT_WORDS = re.compile(rf"\[\d+\]|{CONTROL_SEQUENCE.pattern}")


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


def candidates(question: Asked, sentences: Sequence[Evidence], entities: Sequence[list[Entity]]) -> list[Candidate]:
    """Every candidate mention in the sentences (with their entities, in order), none the question already says."""
    found: list[Candidate] = []
    # The thing named before the head noun: "the Doha agreement", "sesame seeds" for "which seed" (not "Best Actor"
    # for "which actor": a person or place is not named by its kind).
    head_noun_kind = (head_kind(question.head) or Kind.OTHER) if question.head else Kind.OTHER
    named_by_head = None
    if question.head and question.head not in ("person", "place") and head_noun_kind in NAMED_WITH_HEAD:
        noun = re.escape(question.head.split()[-1])
        named_by_head = re.compile(rf"((?:[A-Z][\w’'.&-]*\s+){{1,4}}|\b[a-z][\w-]+\s+)((?i:{noun})s?)\b")
    things = question.things
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
            if question.wh_kind in (Kind.MONTH, Kind.YEAR) and kind in _NUMERIC:
                if not PATTERNS[question.wh_kind][0].search(entity.text):
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
        for pattern in PATTERNS.get(question.wh_kind, [NAME_PATTERN]):
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


def _restates(phrase: str, question: Asked) -> bool:
    """Whether a noun phrase names what the question asks for rather than answering it: it ends in a word the
    question says ("famous condiment" for "which condiment", "largest base" for "which airbase"), or holds only
    stopwords and verbs."""
    tokens = word_tokens(phrase)
    if all(t in STOPWORDS or t in VERBS for t in tokens):
        return True
    head = question.head.split()[-1].lower() if question.head else ""
    return said_in(tokens[-1], question.stems) or (len(tokens[-1]) >= 4 and head.endswith(tokens[-1]))


_NUMERIC = {Kind.DATE, Kind.NUMBER, Kind.MONEY, Kind.PERCENT, Kind.QUANTITY, Kind.ORDINAL}


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
