"""The default answer engine, no LLM: the learned scorer picks the answering phrase and sentences of the top passages.

The top passages are read (qa/answer/reading.py: sentences, typed candidates, their features); the candidate model
ranks the candidate phrases, the answer model judges the first, the sentence model scores each sentence. The answer
model's calibrated score of the first candidate is the answer's confidence; the best sentence's calibrated score is
its support, the probability that the articles say the answer at all, and a support under the refusal threshold is
a refusal.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cached_property
from itertools import chain, islice
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field

from qa.answer.candidates import Candidate
from qa.answer.citations import Evidence
from qa.answer.entities import EntityRecognizer, load_recognizer
from qa.answer.lists import asks_for_several, listed
from qa.answer.periods import nearest, speaks_of
from qa.answer.reading import Reading, read
from qa.answer.scorer import AnswerScorer, load_scorer
from qa.answer.statements import is_statement
from qa.embeddings import MiniLMEmbeddings
from qa.models import AskedPeriod, Chunk, Period
from qa.text import split_sentences

# Words that open a sentence speaking of what the sentence before it named.
_REFERS_BACK = re.compile(
    r"(?:it|its|he|she|his|her|they|their|this|these|those|the (?:company|firm|agency|group|organi[sz]ation|country|"
    r"city|state|team|club|band|party|move|decision|deal|bill|law|plan|report|study|storm|virus|disease))\b",
    re.I,
)
# After the short answer's sentence come those the sentence model scores this close to its best, then those of the
# candidates ranked next (a runner-up's sentence holds the answer more often than the sentence model's next best).
FOLLOW_UP_RATIO = 0.9
MAX_SENTENCES = 3


class ShortAnswer(BaseModel):
    """A phrase of one evidence sentence that answers the question in a few words."""

    text: str = Field(
        description="The phrase, exactly as it stands in the sentence; for a question that asks for several things, "
        'the list the sentence gives ("Canada and Mexico").'
    )
    evidence: Evidence = Field(description="The sentence it was taken from.")
    other_form: str | None = Field(
        default=None,
        description='The name\'s other form, when the passages give two ("Federal Emergency Management Agency" for '
        '"FEMA"); shown in brackets after it.',
    )
    score: float = Field(description="The answer model's raw score of the phrase (higher: more likely right).")


class Selection(BaseModel):
    """What the answerer chose: sentences to cite, best first, a phrase of the first that answers briefly, and how
    sure it is."""

    evidence: list[Evidence] = Field(description="Sentences to cite, best first; empty means refuse.")
    short_answer: ShortAnswer | None = Field(description="A few words of evidence[0] that answer, if any.")
    confidence: float = Field(description="Probability that the answer is right (its short answer, if it has one).")
    confident: bool = Field(default=False, description="Whether the confidence reaches the scorer's shown threshold.")
    elsewhere: list[tuple[str, Period]] = Field(
        default_factory=list,
        description="When it refuses because the passages speak of other periods than the one asked: what they give "
        "for the nearest before and after it.",
    )


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

    def select(self, question: str, passages: Sequence[Chunk], asked: AskedPeriod | None = None) -> Selection:
        """The one to three best sentences, the phrase that answers in a few words, and the confidence.

        The short answer's sentence comes first, so citation [1] always holds it. When the period the question is
        `asked` about is past, an answer from a sentence that speaks of another period gives way to the best one
        from a sentence of that period; with none there, it is a refusal that says what the other periods give.
        A question about now does the same on a page whose dates are in its text: "Who leads the club?" is answered
        from the period still open ("since 2019"), not from one that ended ("from 2010 to 2015"), and never refused
        for it.
        """
        manifest = self.scorer.manifest  # loaded before anything else: a broken scorer is an error, never skipped
        reading = read(question, passages, self.embeddings, self.recognizer, asked)
        if not reading.sentences:
            return Selection(evidence=[], short_answer=None, confidence=0.0)
        sentence_scores = self.scorer.sentence_scores(reading.sentence_features)
        sentences = [
            s.model_copy(update={"score": round(float(score), 4)})
            for s, score in zip(reading.sentences, sentence_scores, strict=True)
        ]
        ranked = sorted(sentences, key=lambda s: -s.score)
        candidate_scores = self.scorer.candidate_scores(reading.candidate_features) if reading.groups else np.zeros(0)
        several = asks_for_several(question)
        allowed = set(range(len(sentences)))
        short = self._short_answer_in(reading, sentences, allowed, candidate_scores, several)
        undated = short is not None and not short.evidence.chunk.article.published
        if asked and short and (asked.past or (undated and not asked.named)):
            period, spoken = asked.period, reading.periods
            if speaks_of(spoken[sentences.index(short.evidence)], period) is False:
                # Of the article the answer came from: another page may speak of the period about someone else.
                article = short.evidence.chunk.article.id
                in_period = {
                    i
                    for i, periods in enumerate(spoken)
                    if speaks_of(periods, period) and sentences[i].chunk.article.id == article
                }
                if not in_period and undated and asked.past:
                    # A page whose dates are in its text says nothing for the period. (News keeps its answer: a
                    # story of the period may name no date in the sentences read.)
                    elsewhere = self._elsewhere(reading, spoken, period, candidate_scores)
                    confidence = round(manifest.confidence(float(short.score)), 4)  # of the answer refused
                    return Selection(evidence=[], short_answer=None, confidence=confidence, elsewhere=elsewhere)
                if in_period:
                    allowed = in_period
                    short = self._short_answer_in(reading, sentences, allowed, candidate_scores, several)
                    ranked = sorted((sentences[i] for i in allowed), key=lambda s: -s.score)
        support = manifest.sentence_confidence(float(sentence_scores.max()))
        confidence = round(manifest.confidence(float(short.score)) if short else support, 4)
        if support < self.refusal_threshold:  # no sentence is likely to hold the answer: the articles don't say
            return Selection(evidence=[], short_answer=None, confidence=confidence)
        chosen = [short.evidence] if short else [ranked[0]]
        close = (s for s in ranked if s.score >= FOLLOW_UP_RATIO * ranked[0].score)
        ranked_mentions = islice(self._mentions(reading, sentences, allowed, candidate_scores), MAX_SENTENCES)
        runners_up = (sentences[m.sentence] for _, m in ranked_mentions)
        for candidate in chain(close, runners_up):
            if len(chosen) == MAX_SENTENCES:
                break
            if not any(_overlaps(candidate, other) for other in chosen):
                chosen.append(candidate)
        confident = confidence >= manifest.shown_threshold
        lead = with_antecedent(chosen[0])
        chosen = [*lead, *(other for other in chosen[1:] if not any(_overlaps(other, s) for s in lead))]
        return Selection(evidence=chosen, short_answer=short, confidence=confidence, confident=confident)

    def _short_answer_in(
        self,
        reading: Reading,
        sentences: list[Evidence],
        allowed: set[int],
        scores: np.ndarray,
        several: bool = False,
    ) -> ShortAnswer | None:
        """The best candidate (by the candidate model's `scores`) with a mention in one of the `allowed` sentences,
        taken from the best of them; for a question that asks for `several` things, with the others of its kind that
        the sentence lists with it."""
        for best, mention in self._mentions(reading, sentences, allowed, scores):
            evidence = sentences[mention.sentence]
            score = float(self.scorer.answer_scores(reading.candidate_features[best : best + 1])[0])
            text = mention.text
            if several:
                beside = [m for g in reading.groups for m in g.mentions if m.sentence == mention.sentence]
                text = listed(mention, beside, evidence.text) or text
            other = next((m.text for m in reading.groups[best].mentions if m.key != mention.key), None)
            return ShortAnswer(
                text=text,
                evidence=evidence,
                score=round(score, 4),
                other_form=other if text == mention.text else None,
            )
        return None

    @staticmethod
    def _mentions(
        reading: Reading, sentences: list[Evidence], allowed: set[int], scores: np.ndarray
    ) -> Iterator[tuple[int, Candidate]]:
        """The candidates with a mention in an `allowed` sentence, best first by the candidate model's `scores`: each
        one's index and its mention in the best of those sentences."""
        for best in np.argsort(-scores, kind="stable"):
            mentions = [m for m in reading.groups[best].mentions if m.sentence in allowed]
            if mentions:
                yield int(best), max(mentions, key=lambda m: sentences[m.sentence].score)

    def _elsewhere(
        self, reading: Reading, spoken: list[list[Period]], asked: Period, scores: np.ndarray
    ) -> list[tuple[str, Period]]:
        """What the sentences nearest before and after the asked period give: their best candidate and period."""
        flat = [(index, period) for index, periods in enumerate(spoken) for period in periods]
        given = []
        for found in nearest([period for _, period in flat], asked):
            if found is None:
                continue
            index, period = flat[found]
            answer = self._short_answer_in(reading, reading.sentences, {index}, scores)
            given.append((answer.text if answer else reading.sentences[index].text, period))
        return given


def with_antecedent(sentence: Evidence) -> list[Evidence]:
    """The sentence, after the one before it in its paragraph when it refers back to it ("It", "The company"): the
    answer then names what it speaks of. One citation quotes both (they share a passage)."""
    if not _REFERS_BACK.match(sentence.text):
        return [sentence]
    chunk = sentence.chunk
    at = sentence.start - chunk.start
    before = [(start, end) for start, end in split_sentences(chunk.text, 0, at) if "\n" not in chunk.text[end:at]]
    if not before:
        return [sentence]
    start, end = before[-1]
    text = chunk.text[start:end]
    if not is_statement(text):
        return [sentence]
    return [Evidence(chunk=chunk, start=chunk.start + start, end=chunk.start + end, text=text, score=0.0), sentence]


def _overlaps(a: Evidence, b: Evidence) -> bool:
    same_span = a.chunk.article.id == b.chunk.article.id and a.start < b.end and b.start < a.end
    return same_span or a.text == b.text  # the same wire story often appears in several articles
