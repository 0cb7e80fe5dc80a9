"""The default answer engine, no LLM: pick the sentences of the retrieved passages that best answer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import BaseModel, Field

from qa.answer.answer_types import TYPE_PATTERNS, AnswerType, answer_type
from qa.answer.citations import Evidence
from qa.answer.short_answer import ShortAnswer, short_answer
from qa.models import Chunk
from qa.text import content_terms, split_sentences

# Weights of the sentence score, set by hand (not yet tuned); the refusal threshold on this score was
# calibrated on RealTime QA (docs/evaluation.md).
DENSE_WEIGHT = 0.55
LEXICAL_WEIGHT = 0.35
TYPE_WEIGHT = 0.10
# A further sentence joins the answer only if it scores this close to the best one.
FOLLOW_UP_RATIO = 0.9
MAX_SENTENCES = 3
# Only the best-ranked passages are read: later ones rarely hold the answer and cost embedding time.
MAX_PASSAGES = 5
# Of their ~27 sentences, only this many are embedded: those that rank best on shared terms and answer type.
# On RealTime QA, 8 kept the answers' quality (docs/performance.md) at a third of the embedding time.
MAX_EMBEDDED = 8


class Selection(BaseModel):
    """What the answerer chose: sentences to cite, best first, and a phrase of the first that answers briefly."""

    evidence: list[Evidence] = Field(description="Sentences to cite, best first; empty means refuse.")
    short_answer: ShortAnswer | None = Field(description="A few words of evidence[0] that answer, if any.")


class ExtractiveAnswerer:
    """Scores the sentences of the top passages by meaning, shared terms and the expected answer type.

    Shared terms and answer type are cheap: every sentence gets them, and the MAX_EMBEDDED best by them are
    embedded for their meaning; only those can be chosen.
    """

    def __init__(self, embeddings: Embeddings, refusal_threshold: float) -> None:
        self.embeddings = embeddings
        self.refusal_threshold = refusal_threshold

    def select(self, question: str, passages: Sequence[Chunk]) -> Selection:
        """The one to three best sentences, and the phrase that answers in a few words, if one stands out.

        The short answer's sentence comes first, so citation [1] always holds it. Nothing is selected when the
        best sentence scores below the refusal threshold.
        """
        scored, known = self._score_sentences(question, passages)
        if not scored or scored[0].score < self.refusal_threshold:
            return Selection(evidence=[], short_answer=None)
        chosen = [scored[0]]
        for candidate in scored[1:]:
            if len(chosen) == MAX_SENTENCES or candidate.score < FOLLOW_UP_RATIO * scored[0].score:
                break
            if not any(_overlaps(candidate, other) for other in chosen):
                chosen.append(candidate)
        # The sentences are embedded already: only the phrases and statements are new to the model.
        short = short_answer(question, scored, KnownVectors(self.embeddings, known))
        if short is not None:
            chosen = [short.evidence] + [other for other in chosen if not _overlaps(other, short.evidence)]
        return Selection(evidence=chosen[:MAX_SENTENCES], short_answer=short)

    def score_sentences(self, question: str, passages: Sequence[Chunk]) -> list[Evidence]:
        """The embedded sentences of the top passages with their scores, best first."""
        return self._score_sentences(question, passages)[0]

    def _score_sentences(
        self, question: str, passages: Sequence[Chunk]
    ) -> tuple[list[Evidence], dict[str, list[float]]]:
        """The scored sentences, best first, and each sentence's embedding by its text."""
        sentences: list[Evidence] = []
        seen: set[tuple[str, int]] = set()
        for chunk in passages[:MAX_PASSAGES]:
            for start, end in split_sentences(chunk.text):
                key = (chunk.article_id, chunk.start + start)
                if key in seen:  # overlapping chunks repeat sentences
                    continue
                seen.add(key)
                text = chunk.text[start:end]
                if len(text.split()) >= 4:
                    sentences.append(
                        Evidence(chunk=chunk, start=chunk.start + start, end=chunk.start + end, text=text, score=0.0)
                    )
        if not sentences:
            return [], {}
        terms = content_terms(question)
        sentence_terms = [content_terms(s.text) for s in sentences]
        idf = _idf(terms, sentence_terms)
        kind = answer_type(question)
        question_lower = question.lower()
        partial = [
            LEXICAL_WEIGHT * sum(idf[t] for t in terms & found) / (sum(idf.values()) or 1.0)
            + TYPE_WEIGHT * float(_has_new_answer(sentence.text, kind, question_lower))
            for sentence, found in zip(sentences, sentence_terms, strict=True)
        ]
        # Embedding is most of an answer's time: only the sentences that rank best on the cheap part of the score
        # are embedded and can be chosen (stable sort: ties keep passage order).
        embedded = sorted(range(len(sentences)), key=lambda i: -partial[i])[:MAX_EMBEDDED]
        vectors = np.array(self.embeddings.embed_documents([sentences[i].text for i in embedded]))
        dense = vectors @ np.array(self.embeddings.embed_query(question))
        scored = [
            sentences[i].model_copy(update={"score": DENSE_WEIGHT * float(similarity) + partial[i]})
            for i, similarity in zip(embedded, dense, strict=True)
        ]
        known = {sentences[i].text: list(vector) for i, vector in zip(embedded, vectors, strict=True)}
        return sorted(scored, key=lambda s: s.score, reverse=True), known


class KnownVectors(Embeddings):
    """Embeddings that reuse vectors already computed for some texts and embed only the others, in one batch."""

    def __init__(self, embeddings: Embeddings, known: dict[str, list[float]]) -> None:
        self.embeddings = embeddings
        self.known = known

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Vectors for texts, embedding only those not known."""
        missing = list(dict.fromkeys(text for text in texts if text not in self.known))
        new = dict(zip(missing, self.embeddings.embed_documents(missing), strict=True)) if missing else {}
        return [self.known[text] if text in self.known else new[text] for text in texts]

    def embed_query(self, text: str) -> list[float]:
        """The query's vector."""
        return self.embeddings.embed_query(text)


def _idf(terms: set[str], documents: list[set[str]]) -> dict[str, float]:
    n = len(documents)
    return {t: math.log(1 + (n + 1) / (1 + sum(t in d for d in documents))) for t in terms}


def _has_new_answer(sentence: str, kind: AnswerType, question_lower: str) -> bool:
    """Whether the sentence holds something of the expected type that the question does not already say."""
    return any(m.group(0).lower() not in question_lower for m in TYPE_PATTERNS[kind].finditer(sentence))


def _overlaps(a: Evidence, b: Evidence) -> bool:
    same_span = a.chunk.article_id == b.chunk.article_id and a.start < b.end and b.start < a.end
    return same_span or a.text == b.text  # the same wire story often appears in several articles
