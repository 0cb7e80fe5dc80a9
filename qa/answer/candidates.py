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
    JOINER,
    MONTH_PATTERN,
    MONTHS,
    NAME_PATTERN,
    NUMBER_PATTERN,
    WEEKDAYS,
    YEAR_PATTERN,
)
from qa.answer.question import NAMED_WITH_HEAD, VERBS, Asked, Kind, head_kind, said_in
from qa.controls import CONTROL_SEQUENCE
from qa.text import STOPWORDS, stem_word, word_tokens

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
# Words that join the words of a name and never end one: an entity's edges lose them ("Oakland Athletics of").
_EDGE_WORDS = frozenset("the a an of and on for & de".split())
# Quotation marks by their closing mark; a quoted name longer than this many words is a quote, not a name.
_QUOTES = {"“": "”", '"': '"', "‘": "’"}
_CLOSING_QUOTES = frozenset(_QUOTES.values())
MAX_QUOTED_WORDS = 8
_POSSESSIVE = re.compile(r"(?<=\w)[’']s$|(?<=s)[’']$")
_TRAILING = frozenset(".,;:!?–—-")
_ABBREVIATION = re.compile(r"(?:\b[A-Za-z]\.)+$|\b(?:Inc|Co|Corp|Ltd|Jr|Sr|St|Bros|Gov|Sen|Rep|Dr|Mr|Mrs|Ms)\.$")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+(?=\S)", re.I)
_AGE_WORDS = frozenset("years year old".split())
_HEDGE = re.compile(
    r"^(?:(?:more|less|fewer|greater|higher|lower) than|about|around|nearly|almost|roughly|approximately|some|over|"
    r"under|at least|at most|up to|an estimated|as (?:many|much|few|little) as|just|only|below|above|close to)\s+"
    r"(?=[$£€\d]|(?:one|two|three|four|five|six|seven|eight|nine|ten|a dozen|dozens|hundreds|thousands)\b)",
    re.I,
)
# A short form introduced right after the name: " (the Fed)", ", known as Covax".
_INTRODUCED = re.compile(
    r"\s*(?:\((?:the\s+)?([^()]{2,24})\)|,?\s+(?:also\s+|commonly\s+)?known as\s+(?:the\s+)?([\w.&-]+))"
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
            phrase = clean_edges(phrase, text)
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
            if kind in _NUMERIC:
                phrase = _bare_number(entity.text, question)
            else:
                phrase = trim_name(entity.text, question.stems, entity=True, head=question.head)
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
                    if _joins_names(match, sentence_entities):
                        continue  # "Elon Musk on Twitter", "Canada and Mexico": two names, each a candidate
                    for piece in re.split(r"(?<=\w)[’']s\s+", match.group(0)):  # "Musk's Twitter"
                        name = trim_name(piece, question.stems, titles=True, head=question.head)
                        tokens = word_tokens(name)
                        if tokens and not all(t in _CALENDAR or t in STOPWORDS or t.isdigit() for t in tokens):
                            add(name, _kind_of(name, sentence_entities), "pattern")
                else:
                    kind = Kind.DATE if pattern is not NUMBER_PATTERN else Kind.NUMBER
                    add(_bare_number(match.group(0), question), kind, "pattern")
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


def trim_name(
    phrase: str,
    question_stems: frozenset[str],
    *,
    titles: bool = False,
    entity: bool = False,
    head: str | None = None,
) -> str:
    """The name without the words around it that are no part of it or that the question says, and with `titles`
    without the office before or after it ("German Defense Minister Annegret Kramp-Karrenbauer" -> "Annegret
    Kramp-Karrenbauer"). An `entity` of the NER model keeps its bounds: "New York", "General Motors". A
    capitalised last word that is the question's `head` noun stays a part of the name it ends ("Southwest Airlines"
    for "which airline", "Yellowstone National Park" for "which national park")."""
    head_stems = frozenset(stem_word(token) for token in word_tokens(head or ""))

    def outside(word: str, last: bool = False) -> bool:
        bare = word.lower().strip('\u201c".,')
        if last and word[:1].isupper() and bare not in _NOT_NAME and said_in(bare, head_stems):
            return False
        if entity:  # the NER model drew its bounds: only an article, a joining word or what the question says goes
            if bare in _EDGE_WORDS:
                return True
            return all(said_in(token, question_stems) for token in word_tokens(bare))
        if bare in _NOT_NAME or bare in _CALENDAR or (titles and bare in _TITLES):
            return True
        return all(said_in(token, question_stems) for token in word_tokens(bare))

    words = re.sub(r"(?<=\w)[’']s$", "", phrase.strip()).split()  # "Afghanistan’s" -> "Afghanistan"
    while words and outside(words[0]):
        words.pop(0)
    while words and outside(words[-1], last=len(words) > 1):
        if len(words) > 1 and _names_said(words[-1], question_stems):
            return ""  # the question's own name ("Jens Stoltenberg" for "what did Stoltenberg say"): no fragment
        words.pop()
    return " ".join(words)


def _names_said(word: str, question_stems: frozenset[str]) -> bool:
    """Whether a capitalised word that ends a name is one the question says by name (not an office or a month)."""
    bare = word.lower().strip('\u201c".,')
    if not word[:1].isupper() or bare in _NOT_NAME or bare in _CALENDAR or bare in _TITLES:
        return False
    return all(said_in(token, question_stems) for token in word_tokens(bare))


def clean_edges(phrase: str, sentence: str) -> str:
    """The phrase without what its edges carry from the text around it: a quotation mark or bracket whose pair it
    lacks, a possessive, punctuation (not an abbreviation's dot: "U.S.", "Inc."), a leading article. A name cut
    inside its quotation marks is taken whole: `"America` becomes `"America Party"`."""
    phrase = phrase.strip()
    at = sentence.find(phrase)
    opening = phrase[:1] if phrase[:1] in _QUOTES else (sentence[at - 1 : at] if at > 0 else "")
    if opening in _QUOTES and _QUOTES[opening] not in phrase[1:]:
        start = at if phrase.startswith(opening) else at - 1
        close = sentence.find(_QUOTES[opening], at + len(phrase))
        if close > 0 and len(sentence[start:close].split()) <= MAX_QUOTED_WORDS:
            return sentence[start : close + 1]
    while True:
        before = phrase
        phrase = _POSSESSIVE.sub("", phrase.strip())
        if phrase[:1] in _QUOTES and _QUOTES[phrase[0]] not in phrase[1:]:
            phrase = phrase[1:]
        if phrase[-1:] in _CLOSING_QUOTES and not any(o in phrase[:-1] for o, c in _QUOTES.items() if c == phrase[-1]):
            phrase = phrase[:-1]
        if (phrase[:1] == "(" and ")" not in phrase) or (phrase[:1] == "[" and "]" not in phrase):
            phrase = phrase[1:]
        if (phrase[-1:] == ")" and "(" not in phrase) or (phrase[-1:] == "]" and "[" not in phrase):
            phrase = phrase[:-1]
        if phrase[-1:] in _TRAILING and not (phrase.endswith(".") and _ABBREVIATION.search(phrase)):
            phrase = phrase[:-1]
        phrase = _LEADING_ARTICLE.sub("", phrase)
        if phrase == before:
            return phrase


def _bare_number(phrase: str, question: Asked) -> str:
    """A number without the word that hedges it ("more than", "about": the sentence cited keeps it) and without the
    unit the question already says: "187" for "how many minutes" (not "187 minutes"), "100" for "how old" (not "100
    years old"), "$50 billion" (not "more than $50 billion")."""
    words = _HEDGE.sub("", phrase.strip()).split() or phrase.split()
    while len(words) > 1 and (
        said_in(words[-1].lower(), question.stems) or ("old" in question.stems and words[-1].lower() in _AGE_WORDS)
    ):
        words.pop()
    return " ".join(words)


def _joins_names(match: re.Match[str], entities: Sequence[Entity]) -> bool:
    """Whether a run of capitalised words joined by small words holds two names of the NER model and is none:
    "Elon Musk on Twitter", "Canada and Mexico" (but "Bank of America" is one)."""
    start, end = match.span()
    inside = [e for e in entities if e.label != NOUN_PHRASE and start <= e.start and e.end <= end]
    whole = any(e.label != NOUN_PHRASE and e.start <= start and end <= e.end for e in entities)
    return len(inside) >= 2 and not whole and bool(re.search(JOINER, match.group(0)))


def short_forms(found: Sequence[Candidate], sentences: Sequence[Evidence]) -> dict[str, str]:
    """The candidates that are another's short form, by key → the key of the name they stand for: an acronym of its
    initials ("FEMA" for "Federal Emergency Management Agency", "DOJ" for "Department of Justice"), or a form the
    sentence introduces after the name in parentheses or by "known as" ("the Federal Reserve (the Fed)")."""
    names = {m.key: m for m in found if m.kind not in _NUMERIC and len(m.key.split()) >= 2}
    singles = {m.key: m for m in found if m.kind not in _NUMERIC and len(m.key.split()) == 1}
    forms: dict[str, str] = {}
    for key, name in names.items():
        words = [w for w in re.findall(r"[\w’'-]+", name.text) if w.lower() not in ("the", "and", "&")]
        acronyms = {"".join(w[0] for w in words if w[0].isupper()).lower(), "".join(w[0] for w in words).lower()}
        text = sentences[name.sentence].text
        introduced = _INTRODUCED.match(text, text.find(name.text) + len(name.text))
        named = " ".join(word_tokens(introduced.group(1) or introduced.group(2))) if introduced else None
        for short in singles:
            if (len(short) >= 2 and short in acronyms) or short == named:
                forms.setdefault(short, key)
    return forms
