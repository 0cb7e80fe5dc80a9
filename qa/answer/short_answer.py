"""The answer in a few words: the name, number or date that the question asks for, taken from the best sentences.

No reader model ships offline, so this is a redundancy-based extractor in the manner of AskMSR: take the phrases
of the asked-for type from the best sentences, drop those the question already says, and rank the rest by how
strongly and how often the sentences holding them answer, how near they stand to the question's words, how well
they fit the question's head noun ("which *pharmacy chain*"), and how well the question, with the phrase in
place of its wh-phrase, matches the sentence. Weights measured on RealTime QA (docs/evaluation.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
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
from qa.controls import CONTROL_SEQUENCE
from qa.text import STOPWORDS, stem_word, word_tokens

SENTENCES = 5
"""Phrases come from the best five sentences."""
MAX_CANDIDATES = 5
"""Only the best-supported phrases are embedded for the fits: on RealTime QA, 5 or 8 gave the same answers."""
PROXIMITY_WEIGHT = 0.5
HEAD_WEIGHT = 4.0
STATEMENT_WEIGHT = 3.0
SENTENCE_START_WEIGHT = 0.5
"""A lone capitalised word that opens a sentence is as often an ordinary word ("Viewing") as a name."""
LONE_WORD_PERSON_WEIGHT = 0.5
"""For "who", a lone capitalised word is as often a nationality ("Russian") as a name."""

CANDIDATE_PATTERNS = {
    AnswerType.MONTH: [MONTH_PATTERN],
    AnswerType.YEAR: [YEAR_PATTERN],
    AnswerType.NUMBER: [NUMBER_PATTERN],
    AnswerType.DATE: [DATE_PATTERN, NUMBER_PATTERN],
}
# Words that open or close a capitalised run without being part of the name ("The", "Former", "Sen.").
_NOT_NAME = frozenset(
    "the a an this that these those he she it they his her its their in on at but and as after when while for "
    "if mr ms mrs dr sen rep gov last former new some many by with from to so there then now meanwhile also "
    "why how what who where president democrat republican".split()
)
_CALENDAR = frozenset(f"{MONTHS}|{WEEKDAYS}".split("|")) | {"jan", "feb", "aug", "sept", "oct", "nov", "dec"}
_HEAD = re.compile(r"\b(?:which|what)\s+(?:of\s+(?:these|the|those)\s+)?((?:[\w’'.-]+\s+){0,2}[\w’'.-]+)", re.I)
_VERBS = frozenset("won became back made said will would did does do has have had is was are were been can".split())
_WH_PHRASE = re.compile(
    r"\b(?:which|what)\s+(?:of\s+(?:these|the|those)\s+)?(?:[\w’'.-]+\s+){0,2}?[\w’'.-]+"
    r"(?=\s+(?:is|was|has|have|had|will|did|does|do|are|were|won|would|can|could|became|announced)\b)"
    r"|\bwho(?:m|se)?\b|\bwhich\s+[\w’'.-]+|\bwhat\b|\bwhere\b|\bwhen\b|\bhow (?:many|much)\b",
    re.I,
)
# An article's own citation markers ("[1]") and escape sequences ("\x1b]8;;…") are no phrase of its text.
_NOT_WORDS = re.compile(rf"\[\d+\]|{CONTROL_SEQUENCE.pattern}")


class ShortAnswer(BaseModel):
    """A phrase of one evidence sentence that answers the question in a few words."""

    text: str = Field(description="The phrase, exactly as it stands in the sentence.")
    evidence: Evidence = Field(description="The sentence it was taken from.")
    score: float = Field(description="Its ranking score among the candidate phrases (higher is better).")


def short_answer(question: str, sentences: Sequence[Evidence], embeddings: Embeddings) -> ShortAnswer | None:
    """The best phrase of the asked-for type in the best sentences (scored, best first); None if there is none."""
    kind = answer_type(question)
    question_stems = {stem_word(token) for token in word_tokens(question) if token not in STOPWORDS}
    support: dict[str, float] = {}
    first: dict[str, tuple[str, Evidence]] = {}
    for sentence in sentences[:SENTENCES]:
        for text, weight in _phrases(sentence.text, kind, question_stems):
            key = " ".join(word_tokens(text))
            nearness = _proximity(sentence.text, text, question_stems)
            support[key] = support.get(key, 0.0) + weight * max(sentence.score, 0.0) * (1 + PROXIMITY_WEIGHT * nearness)
            first.setdefault(key, (text, sentence))
    if not support:
        return None
    keys = list(support)
    # A name's shorter mentions ("Kramp-Karrenbauer") are evidence for the full name as well.
    support = {
        key: support[key] + sum(support[other] for other in keys if other != key and f" {other} " in f" {key} ")
        for key in keys
    }
    keys = sorted(keys, key=support.__getitem__, reverse=True)[:MAX_CANDIDATES]
    texts = [first[key][0] for key in keys]
    statements = [_WH_PHRASE.sub(text, question, count=1) for text in texts]
    head = _head_noun(question) if kind in (AnswerType.PERSON, AnswerType.PLACE, AnswerType.OTHER) else None
    sentence_texts = list(dict.fromkeys(first[key][1].text for key in keys))  # many phrases share a sentence
    vectors = np.array(embeddings.embed_documents(texts + statements + sentence_texts + ([head] if head else [])))
    n = len(keys)
    sentence_vectors = vectors[2 * n : 2 * n + len(sentence_texts)]
    of_phrase = [sentence_texts.index(first[key][1].text) for key in keys]
    fit = np.einsum("ij,ij->i", vectors[n : 2 * n], sentence_vectors[of_phrase])
    scores = np.array([support[key] for key in keys]) * (1 + STATEMENT_WEIGHT * fit)
    if head:
        scores *= 1 + HEAD_WEIGHT * (vectors[:n] @ vectors[-1])
    if head == "person":
        scores *= [1.0 if len(key.split()) > 1 else LONE_WORD_PERSON_WEIGHT for key in keys]
    best = int(np.argmax(scores))
    text, sentence = first[keys[best]]
    return ShortAnswer(text=text, evidence=sentence, score=round(float(scores[best]), 4))


def _phrases(sentence: str, kind: AnswerType, question_stems: set[str]) -> list[tuple[str, float]]:
    """(phrase, weight) for each phrase of the asked-for type in the sentence that the question does not say."""
    found = []
    # Matched with markers and escape sequences blanked out (offsets kept): "\x1b[31mfive" still holds "five".
    words = _NOT_WORDS.sub(lambda found: " " * len(found.group(0)), sentence)
    for pattern in CANDIDATE_PATTERNS.get(kind, [NAME_PATTERN]):
        for match in pattern.finditer(words):
            if sentence[match.start() : match.end()] != match.group(0):
                continue  # a marker or escape sequence sits inside it
            is_name = pattern is NAME_PATTERN
            pieces = re.split(r"(?<=\w)[’']s\s+", match.group(0)) if is_name else [match.group(0)]  # "Musk's Twitter"
            for piece in pieces:
                text = _trim_name(piece, question_stems) if is_name else piece.strip().rstrip(".,;:")
                tokens = word_tokens(text)
                content = [token for token in tokens if token not in STOPWORDS]
                if not tokens or text not in sentence or all(_said_in(t, question_stems) for t in content or tokens):
                    continue
                if is_name and all(t in _CALENDAR or t in STOPWORDS or t.isdigit() for t in tokens):
                    continue
                opens_sentence = is_name and len(tokens) == 1 and sentence.lstrip("“\"‘'").startswith(text)
                found.append((text, SENTENCE_START_WEIGHT if opens_sentence else 1.0))
    return found


def _trim_name(phrase: str, question_stems: set[str]) -> str:
    """The name without the words around it that are no part of it or that the question says
    ("German Defense Minister Annegret Kramp-Karrenbauer" -> "Annegret Kramp-Karrenbauer")."""

    def outside(word: str) -> bool:
        bare = word.lower().strip('\u201c".,')
        return bare in _NOT_NAME or all(_said_in(token, question_stems) for token in word_tokens(bare))

    words = re.sub(r"(?<=\w)[’']s$", "", phrase.strip()).split()  # "Afghanistan’s" -> "Afghanistan"
    while words and outside(words[0]):
        words.pop(0)
    while words and outside(words[-1]):
        words.pop()
    return " ".join(words).rstrip(".,;:")


def _said_in(token: str, question_stems: set[str]) -> bool:
    """Whether the question says this word, allowing for inflection ("Oscars", "Russian" for "Oscar", "Russia")."""
    stem = stem_word(token)
    return stem in question_stems or any(
        len(stem) >= 4 and len(q) >= 4 and (stem.startswith(q) or q.startswith(stem)) for q in question_stems
    )


def _proximity(sentence: str, phrase: str, question_stems: set[str]) -> float:
    """Sum over the question's words in the sentence of 1 / (1 + their distance in words to the phrase)."""
    words = [(m.start(), m.group(0).lower()) for m in re.finditer(r"\w+", sentence)]
    at = sentence.find(phrase)
    first = sum(1 for start, _ in words if start < at)
    last = first + max(len(re.findall(r"\w+", phrase)), 1) - 1
    return sum(
        1.0 / (1 + min(abs(i - first), abs(i - last)))
        for i, (_, word) in enumerate(words)
        if not first <= i <= last and word not in STOPWORDS and stem_word(word) in question_stems
    )


def _head_noun(question: str) -> str | None:
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
        if len(words) == 2:
            break
    return " ".join(words) or None
