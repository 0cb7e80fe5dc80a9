"""Check a generated answer's claims against the passages they cite, and find the exact quote behind each."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, Field

from qa.models import Chunk
from qa.text import STOPWORDS, content_terms, split_sentences

# Support = EMBEDDING_WEIGHT * cosine(claim, quote) + (1 - EMBEDDING_WEIGHT) * share of the claim's terms in the
# quote. The weight and SUPPORT_THRESHOLD were measured on RealTime QA (docs/llm.md).
EMBEDDING_WEIGHT = 0.5
SUPPORT_THRESHOLD = 0.4
PAIR_MARGIN = 0.05
# A claim this short ("Brazil [1]") answers the question rather than stating a fact on its own: it is scored as
# the question followed by the claim, and every capitalised word in it, the first one too, must be in a passage.
SHORT_CLAIM_WORDS = 5
# "[1]", "[1, 2]" and "[1][2]" all cite; a marker written after the full stop belongs to the sentence before it.
MARKERS = re.compile(r"\s*\[(\d+(?:\s*,\s*\d+)*)\]")
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_CAPITALISED = re.compile(r"(?<![\w.])[A-Z][\w’']*(?:\.[A-Z])*")
# Answers to true-or-false questions, which no passage needs to spell out.
_VERDICTS = frozenset({"true", "false"})
_NUMBER_WORDS = {
    word: str(value)
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen twenty".split()
    )
}


class Claim(BaseModel):
    """One sentence of a generated answer and the passage numbers it cites."""

    text: str = Field(description="The sentence without its [n] markers.")
    markers: list[int] = Field(description="Passage numbers the sentence cites, in order, without repeats.")


class Support(BaseModel):
    """How well one passage supports one claim, and the span of it that does."""

    chunk: Chunk = Field(description="The cited passage.")
    start: int = Field(description="Offset of the supporting quote in the article text.")
    end: int = Field(description="Offset just past the supporting quote.")
    score: float = Field(description="Support score of the quote for the claim, 0 to 1.")
    missing: list[str] = Field(description="Numbers and names of the claim that the passage does not contain.")

    def holds(self, threshold: float) -> bool:
        """Whether the passage supports the claim: a close enough quote, and every number and name in it."""
        return self.score >= threshold and not self.missing


def split_claims(answer: str) -> list[Claim]:
    """The answer's sentences, each with the passage numbers it cites."""
    normalised = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", answer.strip())
    claims = []
    for start, end in split_sentences(normalised):
        sentence = normalised[start:end]
        markers: list[int] = []
        for group in MARKERS.findall(sentence):
            markers.extend(int(n) for n in group.split(",") if int(n) not in markers)
        text = re.sub(r"\s+([.!?,;:])", r"\1", MARKERS.sub("", sentence)).strip()
        text = re.sub(r"([.!?])\.$", r"\1", text)  # "the U.S. [1]." leaves "the U.S.."
        if text:
            claims.append(Claim(text=text, markers=markers))
    return claims


def missing_facts(claim: str, passage: str) -> list[str]:
    """Numbers and capitalised names in the claim that the passage does not contain.

    A sentence's first word is capitalised by grammar, so it is not taken for a name, unless the claim is a short
    answer; "U.S." matches "US".
    """
    short = len(claim.split()) <= SHORT_CLAIM_WORDS
    passage_numbers = {n.replace(",", "") for n in _NUMBER.findall(passage)}
    passage_numbers |= {digits for word, digits in _NUMBER_WORDS.items() if re.search(rf"\b{word}\b", passage, re.I)}
    missing = [n for n in _NUMBER.findall(claim) if n.replace(",", "").rstrip(".") not in passage_numbers]
    for word in re.findall(r"[a-z]+", claim.lower()):
        if word in _NUMBER_WORDS and _NUMBER_WORDS[word] not in passage_numbers:
            missing.append(word)
    undotted = passage.replace(".", "")
    for match in _CAPITALISED.finditer(claim):
        name = re.sub(r"[’']s$", "", match.group(0))
        if (match.start() == 0 and not short) or name.lower() in STOPWORDS | _NUMBER_WORDS.keys() | _VERDICTS:
            continue
        if not re.search(rf"(?<!\w){re.escape(name.replace('.', ''))}(?!\w)", undotted, re.I):
            missing.append(name)
    return missing


class GroundingChecker:
    """Scores claims against passages by meaning (the embedding model) and by shared terms."""

    def __init__(self, embeddings: Embeddings, threshold: float = SUPPORT_THRESHOLD) -> None:
        self.embeddings = embeddings
        self.threshold = threshold

    def supports(self, pairs: Sequence[tuple[str, Chunk]], question: str = "") -> list[Support]:
        """For each (claim, passage), the passage's best supporting span: a sentence, or two of one paragraph.

        Only sentences are embedded; two sentences are scored by the normalised sum of their vectors, and they
        replace the better one only if they score PAIR_MARGIN higher, so that a quote stays as short as it can.
        """
        sentences = {chunk.id: split_sentences(chunk.text) for _, chunk in pairs}
        chunks = {chunk.id: chunk for _, chunk in pairs}
        statements = [_statement(claim, question) for claim, _ in pairs]
        texts = list(statements)
        texts += [chunk.text[a:b] for key, spans in sentences.items() for a, b in spans for chunk in [chunks[key]]]
        texts = list(dict.fromkeys(texts))
        vectors = dict(zip(texts, np.array(self.embeddings.embed_documents(texts)), strict=True)) if texts else {}
        results = []
        for (claim, chunk), statement in zip(pairs, statements, strict=True):
            terms = content_terms(statement)

            def score(text: str, vector: np.ndarray, terms: set[str] = terms, statement: str = statement) -> float:
                overlap = len(terms & content_terms(text)) / len(terms) if terms else 0.0
                return EMBEDDING_WEIGHT * float(vectors[statement] @ vector) + (1 - EMBEDDING_WEIGHT) * overlap

            best = (0.0, chunk.start, chunk.start)
            spans = sentences[chunk.id]
            for i, (start, end) in enumerate(spans):
                text = chunk.text[start:end]
                single = score(text, vectors[text])
                if single > best[0]:
                    best = (single, start, end)
                if i + 1 < len(spans) and "\n" not in chunk.text[end : spans[i + 1][0]]:
                    following = chunk.text[spans[i + 1][0] : spans[i + 1][1]]
                    summed = vectors[text] + vectors[following]
                    pair = score(chunk.text[start : spans[i + 1][1]], summed / np.linalg.norm(summed))
                    if pair > max(best[0], single) + PAIR_MARGIN:
                        best = (pair, start, spans[i + 1][1])
            results.append(
                Support(
                    chunk=chunk,
                    start=chunk.start + best[1],
                    end=chunk.start + best[2],
                    score=round(best[0], 4),
                    missing=missing_facts(claim, chunk.text),
                )
            )
        return results


def _statement(claim: str, question: str) -> str:
    """What is checked against the passages: the claim, or for a short answer the question it answers."""
    return f"{question} {claim}" if question and len(claim.split()) <= SHORT_CLAIM_WORDS else claim
