"""The default answer engine, no LLM: the learned scorer picks the answering phrase and sentences of the top passages.

The top passages are read (qa/answer/reading.py: sentences, typed candidates, their features); the candidate model
ranks the candidate phrases, the answer model judges the first, the sentence model scores each sentence. The answer
model's calibrated score of the first candidate is the answer's confidence; the best sentence's calibrated score is
its support, the probability that the articles say the answer at all, and a support under the refusal threshold is
a refusal.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from qa.answer.citations import Evidence
from qa.answer.entities import EntityRecognizer, load_recognizer
from qa.answer.reading import read
from qa.answer.scorer import AnswerScorer, load_scorer
from qa.embeddings import MiniLMEmbeddings
from qa.models import Chunk

# A further sentence joins the answer only if the sentence model scores it this close to the best one.
FOLLOW_UP_RATIO = 0.9
MAX_SENTENCES = 3


class ShortAnswer(BaseModel):
    """A phrase of one evidence sentence that answers the question in a few words."""

    text: str = Field(description="The phrase, exactly as it stands in the sentence.")
    evidence: Evidence = Field(description="The sentence it was taken from.")
    score: float = Field(description="The answer model's raw score of the phrase (higher: more likely right).")


class Selection(BaseModel):
    """What the answerer chose: sentences to cite, best first, a phrase of the first that answers briefly, and how
    sure it is."""

    evidence: list[Evidence] = Field(description="Sentences to cite, best first; empty means refuse.")
    short_answer: ShortAnswer | None = Field(description="A few words of evidence[0] that answer, if any.")
    confidence: float = Field(description="Probability that the answer is right (its short answer, if it has one).")
    confident: bool = Field(default=False, description="Whether the confidence reaches the scorer's shown threshold.")


class ExtractiveAnswerer:
    """Picks the answer from the top passages with the learned scorer; refuses below the confidence threshold."""

    def __init__(
        self, embeddings: MiniLMEmbeddings, model_folder: Path | None = None, refusal_threshold: float | None = None
    ) -> None:
        """`model_folder`: the answer scorer's (the shipped one if None); it and the NER model load on first use."""
        self.embeddings = embeddings
        self.model_folder = model_folder
        self._refusal_threshold = refusal_threshold

    @cached_property
    def scorer(self) -> AnswerScorer:
        """The answer scorer, loaded and verified on first use."""
        return load_scorer(self.model_folder)

    @property
    def recognizer(self) -> EntityRecognizer:
        """The NER model (one per process)."""
        return load_recognizer()

    @property
    def refusal_threshold(self) -> float:
        """Confidence below which the answer is a refusal: the setting, else the scorer's own."""
        return self.scorer.manifest.refusal_threshold if self._refusal_threshold is None else self._refusal_threshold

    def select(self, question: str, passages: Sequence[Chunk]) -> Selection:
        """The one to three best sentences, the phrase that answers in a few words, and the confidence.

        The short answer's sentence comes first, so citation [1] always holds it.
        """
        manifest = self.scorer.manifest  # loaded before anything else: a broken scorer is an error, never skipped
        reading = read(question, passages, self.embeddings, self.recognizer)
        if not reading.sentences:
            return Selection(evidence=[], short_answer=None, confidence=0.0)
        sentence_scores = self.scorer.sentence_scores(reading.sentence_features)
        sentences = [
            s.model_copy(update={"score": round(float(score), 4)})
            for s, score in zip(reading.sentences, sentence_scores, strict=True)
        ]
        ranked = sorted(sentences, key=lambda s: -s.score)
        short = None
        if reading.groups:
            features = reading.candidate_features
            best = int(np.argmax(self.scorer.candidate_scores(features)))
            score = float(self.scorer.answer_scores(features[best : best + 1])[0])
            mention = max(reading.groups[best].mentions, key=lambda m: sentences[m.sentence].score)
            short = ShortAnswer(text=mention.text, evidence=sentences[mention.sentence], score=round(score, 4))
        support = manifest.sentence_confidence(float(sentence_scores.max()))
        confidence = round(manifest.confidence(float(short.score)) if short else support, 4)
        if support < self.refusal_threshold:  # no sentence is likely to hold the answer: the articles don't say
            return Selection(evidence=[], short_answer=None, confidence=confidence)
        chosen = [short.evidence] if short else [ranked[0]]
        for candidate in ranked:
            if len(chosen) == MAX_SENTENCES or candidate.score < FOLLOW_UP_RATIO * ranked[0].score:
                break
            if not any(_overlaps(candidate, other) for other in chosen):
                chosen.append(candidate)
        confident = confidence >= manifest.shown_threshold
        return Selection(evidence=chosen, short_answer=short, confidence=confidence, confident=confident)


def _overlaps(a: Evidence, b: Evidence) -> bool:
    same_span = a.chunk.article.id == b.chunk.article.id and a.start < b.end and b.start < a.end
    return same_span or a.text == b.text  # the same wire story often appears in several articles
