"""Run a dataset through the engine: its own index (built once, then reused), every question, every metric."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from qa.answer import verify_citations
from qa.answer.citations import MARKER
from qa.answer.reading import closely_read
from qa.answerers import AnswererName
from qa.config import Settings
from qa.connection import index_exists
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.errors import QAError
from qa.evaluation import metrics
from qa.evaluation.datasets import DatasetError, EvalDataset, EvalQuestion, TimeMode, slug
from qa.ingest import ingest_paths
from qa.models import Citation, ProgressCallback
from qa.store import SCHEMA_VERSION, ArticleStore

FUNNEL = {
    "top10": "in a top-10 passage",
    "top5": "in a top-5 passage",
    "read": "in the sentences read closely",
    "answer": "in the answer's sentences",
    "exact": "short answer exact (strict)",
}
"""The stages where an answer is lost, in order: the gold answer's string in the retrieved passages, in the sentences
the reader reads closely (qa.answer.reading.closely_read, of the answer's own passages), in the answer, and the
short answer exactly it (EM)."""
RIGHT_F1 = 0.5
"""A short answer is right when its token F1 against the gold answer reaches this."""
RETRIEVAL_DEPTH = 10
"""Passages retrieved to score recall@1/5/10 and MRR (a separate retrieval from the answer's own)."""
SHORT_ANSWER_WEIGHT, ANSWER_WEIGHT, CITED_WEIGHT, RETRIEVED_WEIGHT = 1.2, 1.0, 0.5, 0.45
"""Multiple choice: a choice that is the short answer counts most, then one stated in the answer, then in a cited
passage, then in another of the top 10 retrieved passages (measured on RealTime QA; docs/evaluation.md)."""


class IngestFigures(BaseModel):
    """How the dataset's index was built."""

    chunks: int = Field(description="Chunks in the index.")
    chunks_per_s: float | None = Field(description="Ingest speed when the index was built (None if unknown).")
    reused: bool = Field(description="True when this run found the index already built.")


class QuestionResult(BaseModel):
    """One question's answer, citations and scores: a line of results.jsonl."""

    id: str
    question: str
    date: dt.date | None
    source: str | None
    gold_answer: str
    gold_answers: list[str] = Field(
        default_factory=list, description="Every accepted answer (gold_answer first); scores take the best match."
    )
    gold_article_ids: list[str]
    choices: list[str]
    answer_index: int | None
    answer: str = Field(description="The engine's answer text, or its refusal.")
    short_answer: str | None = Field(default=None, description="The engine's answer in a few words, if any.")
    refused: bool
    answered_by: AnswererName = Field(default="extractive", description="The answerer that wrote the answer.")
    notices: list[str] = Field(default_factory=list, description="The answer's notices (e.g. an LLM failure).")
    citations: list[Citation]
    retrieved: list[str] = Field(description=f"Article ids of the top {RETRIEVAL_DEPTH} retrieved passages.")
    rank: int | None = Field(description="Rank of the first gold passage among them.")
    em: float | None = Field(
        description="Exact match of the short answer (else the answer), either form of a name, a list in any order "
        "(metrics.answer_match); None without gold."
    )
    f1: float | None = Field(description="Token F1 of the short answer (else the answer), as em; None without gold.")
    em_strict: float | None = Field(default=None, description="SQuAD exact match of the short answer as given.")
    f1_strict: float | None = Field(default=None, description="SQuAD token F1 of the short answer as given.")
    contains: float | None = Field(description="Gold answer inside the answer; None without a gold answer.")
    mc_choice: int | None = Field(description="The choice the answer supports best; None without choices.")
    mc_correct: float | None = Field(description="1.0 when that is the gold choice.")
    verbatim: list[bool] = Field(description="Per citation: is the quote exactly the article text at its offsets.")
    timings_ms: dict[str, float]
    confidence: float | None = Field(default=None, description="The answer's confidence (None for an LLM's).")
    funnel: dict[str, bool] = Field(
        default_factory=dict,
        description="Where the gold answer still is, stage by stage (FUNNEL); empty without a gold answer.",
    )

    @property
    def right(self) -> float | None:
        """What the confidence is a probability of: the short answer has token F1 ≥ 0.5, or, without one, the
        answer contains the gold answer. None without a gold answer."""
        if not self.gold_answer:
            return None
        if self.short_answer:
            best = max(metrics.token_f1(self.short_answer, gold) for gold in self.gold_answers or [self.gold_answer])
            return float(best >= RIGHT_F1)
        return self.contains

    @property
    def answerable(self) -> bool:
        """Whether a gold article is known."""
        return bool(self.gold_article_ids)


def eval_settings(dataset: EvalDataset, settings: Settings, model_name: str) -> Settings:
    """The dataset's own collection, named by what its index depends on: articles, chunking, model, schema."""
    key = json.dumps(
        [dataset.fingerprint(), settings.chunk_words, settings.chunk_overlap_words, model_name, SCHEMA_VERSION]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return settings.model_copy(update={"collection": f"eval-{slug(dataset.name)}-{digest}"})


def open_engine(
    dataset: EvalDataset,
    settings: Settings,
    embeddings: MiniLMEmbeddings,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[Engine, IngestFigures]:
    """The engine over the dataset's index, ingesting what is missing or changed (nothing, on a rerun)."""
    engine = Engine(eval_settings(dataset, settings, embeddings.model_name), embeddings)
    record = engine.settings.data_dir / "eval" / f"{engine.settings.collection}.json"
    # A corpus of several datasets takes the vectors of their own indexes where they were built.
    members = [eval_settings(part, settings, embeddings.model_name) for part in dataset.parts]
    donors = [ArticleStore(member, embeddings) for member in members if index_exists(member)]
    report = ingest_paths([dataset.articles_path], engine.store, engine.settings, on_progress, donors=donors)
    if report.failed:
        first = report.failed[0]
        raise DatasetError(f"{len(report.failed)} articles could not be read; first {first.location}: {first.reason}")
    chunks = engine.stats().chunks
    if report.chunks:
        figures = IngestFigures(chunks=chunks, chunks_per_s=round(report.chunks / report.seconds, 1), reused=False)
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(figures.model_dump_json())
    elif record.is_file():
        figures = IngestFigures.model_validate_json(record.read_text()).model_copy(update={"reused": True})
    else:
        figures = IngestFigures(chunks=chunks, chunks_per_s=None, reused=True)
    return engine, figures


def evaluate(
    engine: Engine,
    questions: Sequence[EvalQuestion],
    k: int | None = None,
    answerer: AnswererName = "extractive",
    time: TimeMode = "as-of",
) -> Iterator[QuestionResult]:
    """Ask each question (never with its choices) as the time mode says; yield its scored result."""
    for question in questions:
        yield evaluate_one(engine, question, k, answerer, time)


def evaluate_one(
    engine: Engine,
    question: EvalQuestion,
    k: int | None = None,
    answerer: AnswererName = "extractive",
    time: TimeMode = "as-of",
) -> QuestionResult:
    """One question: retrieval at depth 10 for the retrieval metrics, then the engine's answer, then scores."""
    query = question.query(k, answerer, time)
    filters, window = query.search()
    passages = engine.retriever.retrieve(query.question, max(RETRIEVAL_DEPTH, k or 0), filters)
    retrieved = [passage.article.id for passage in passages[:RETRIEVAL_DEPTH]]
    answer = engine.ask(query)
    gold, golds = question.answer, question.golds
    funnel: dict[str, bool] = {}
    if gold:
        period = query.period(window)
        read = closely_read(query.question, engine.retriever.retrieve(query.question, query.k, filters, period), period)

        def holds(texts: Iterable[str]) -> bool:
            return any(metrics.contains(text, g) for text in texts for g in golds)

        funnel = {
            "top10": holds(p.text for p in passages[:RETRIEVAL_DEPTH]),
            "top5": holds(p.text for p in passages[:5]),
            "read": holds(s.text for s in read),
        }
    # EM and F1 score the answer in a few words when the engine gives one (as the benchmark's baselines do),
    # "contains" the whole answer.
    brief = answer.short_answer or MARKER.sub("", answer.answer)
    em = max(metrics.answer_match(brief, g) for g in golds) if gold else None
    em_strict = max(metrics.exact_match(brief, g) for g in golds) if gold else None
    contains = max(metrics.contains(answer.answer, g) for g in golds) if gold else None
    if gold:
        funnel |= {"answer": bool(contains), "exact": bool(em_strict)}
    mc_choice = None
    if question.choices:
        cited = [p.text for p in passages if any(_covers(p, c) for c in answer.citations)]
        evidence = [(answer.answer, ANSWER_WEIGHT)] if not answer.refused else []
        evidence += [(answer.short_answer, SHORT_ANSWER_WEIGHT)] if answer.short_answer else []
        evidence += [(text, CITED_WEIGHT) for text in cited]
        evidence += [(p.text, RETRIEVED_WEIGHT) for p in passages[:RETRIEVAL_DEPTH]]
        context = answer.answer if not answer.refused else (passages[0].text if passages else question.question)
        mc_choice = metrics.choose_choice(question.choices, evidence, _similarity(engine, context))
    return QuestionResult(
        id=question.id,
        question=question.question,
        date=question.date,
        source=question.source,
        gold_answer=gold,
        gold_answers=golds,
        gold_article_ids=question.gold_article_ids,
        choices=question.choices,
        answer_index=question.answer_index,
        answer=answer.answer,
        short_answer=answer.short_answer,
        refused=answer.refused,
        answered_by=answer.answerer,
        notices=answer.notices,
        citations=answer.citations,
        retrieved=retrieved,
        rank=metrics.gold_rank(retrieved, question.gold_article_ids),
        em=em,
        f1=max(metrics.answer_f1(brief, g) for g in golds) if gold else None,
        em_strict=em_strict,
        f1_strict=max(metrics.token_f1(brief, g) for g in golds) if gold else None,
        contains=contains,
        mc_choice=mc_choice,
        mc_correct=None if mc_choice is None else float(mc_choice == question.answer_index),
        verbatim=_verbatim(engine, answer.citations),
        timings_ms=answer.timings_ms,
        confidence=answer.confidence,
        funnel=funnel,
    )


class EvaluationRun(BaseModel):
    """What one `qa eval` run gave: each question's result, the summary, and whether it was cut short."""

    results: list[QuestionResult]
    summary: dict[str, Any]
    asked: int = Field(description="How many questions the run was to ask.")
    interrupted: bool = Field(description="True when Ctrl-C stopped it: the summary covers the results so far.")


def run(
    dataset: EvalDataset,
    settings: Settings,
    embeddings: MiniLMEmbeddings,
    *,
    answerer: AnswererName = "extractive",
    limit: int | None = None,
    k: int | None = None,
    time: TimeMode = "as-of",
    on_index_progress: ProgressCallback | None = None,
    on_question: Callable[[], None] | None = None,
) -> EvaluationRun:
    """Index the dataset (once), ask its first `limit` questions and summarise; Ctrl-C ends it early, scored."""
    questions = dataset.questions[:limit]
    engine, ingest = open_engine(dataset, settings, embeddings, on_index_progress)
    results: list[QuestionResult] = []
    interrupted = False
    try:
        for result in evaluate(engine, questions, k, answerer, time):
            results.append(result)
            if on_question:
                on_question()
    except KeyboardInterrupt:
        interrupted = True
    if not results:
        raise QAError("interrupted before the first question was scored")
    summary = summarize(results, dataset=dataset.name, answerer=answerer, ingest=ingest, time=time)
    return EvaluationRun(results=results, summary=summary, asked=len(questions), interrupted=interrupted)


def summarize(
    results: Sequence[QuestionResult], *, dataset: str, answerer: str, ingest: IngestFigures, time: TimeMode = "as-of"
) -> dict[str, Any]:
    """The stable JSON object of `qa eval --json` (keys documented in docs/evaluation.md)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    with_gold = [r for r in results if r.gold_answer]
    citations = [v for r in results for v in r.verbatim]
    gold_citations = [c.article.id in r.gold_article_ids for r in answerable for c in r.citations]
    totals = [r.timings_ms["total"] for r in results if "total" in r.timings_ms]
    return {
        "dataset": dataset,
        "engine": answerer,  # the report's key, as --engine names it
        "time": time,
        "questions": len(results),
        "answerable": len(answerable),
        "retrieval": {
            "recall@1": _round(metrics.mean([metrics.recall_at(r.rank, 1) for r in answerable])),
            "recall@5": _round(metrics.mean([metrics.recall_at(r.rank, 5) for r in answerable])),
            "recall@10": _round(metrics.mean([metrics.recall_at(r.rank, 10) for r in answerable])),
            "mrr": _round(metrics.mean([metrics.reciprocal_rank(r.rank) for r in answerable])),
        },
        "answer": {
            "em": _round(metrics.mean([r.em for r in with_gold if r.em is not None])),
            "f1": _round(metrics.mean([r.f1 for r in with_gold if r.f1 is not None])),
            # SQuAD's, on the short answer as given: no other form of a name, a list only in the gold's order.
            "em_strict": _round(metrics.mean([r.em_strict for r in with_gold if r.em_strict is not None])),
            "f1_strict": _round(metrics.mean([r.f1_strict for r in with_gold if r.f1_strict is not None])),
            "contains": _round(metrics.mean([r.contains for r in with_gold if r.contains is not None])),
            "mc_accuracy": _round(metrics.mean([r.mc_correct for r in results if r.mc_correct is not None])),
        },
        "citations": {
            "verbatim": _round(metrics.mean([float(v) for v in citations])),
            "precision": _round(metrics.mean([float(g) for g in gold_citations])),
            "with_citation": _round(metrics.mean([float(bool(r.citations)) for r in results])),
        },
        "refusal": {
            "rate": _round(metrics.mean([float(r.refused) for r in results])),
            "rate_answerable": _round(metrics.mean([float(r.refused) for r in answerable])),
            "rate_unanswerable": _round(metrics.mean([float(r.refused) for r in unanswerable])),
            # Of the questions whose articles hold no answer though one is retrieved (TimeQA's: nothing for the
            # period asked), how many were refused.
            "rate_no_answer": _round(metrics.mean([float(r.refused) for r in results if not r.gold_answer])),
        },
        "latency_ms": {
            "p50": _round(metrics.percentile(totals, 50), 1),
            "p95": _round(metrics.percentile(totals, 95), 1),
        },
        "confidence": _confidence_summary(with_gold),
        # Share of the questions with a gold answer where it still is at each stage (FUNNEL).
        "funnel": {
            stage: _round(metrics.mean([float(r.funnel[stage]) for r in with_gold if stage in r.funnel]))
            for stage in FUNNEL
        },
        "ingest": {"chunks": ingest.chunks, "chunks_per_s": ingest.chunks_per_s},
        # How many answers each answerer wrote: an LLM run falls back to extractive answers when the LLM fails.
        "answered_by": dict(Counter(r.answered_by for r in results)),
    }


COVERAGES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def _confidence_summary(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """Accuracy ("right") of the most confident answers at each coverage, and the calibration error."""
    scored = [r for r in results if r.confidence is not None and r.right is not None]
    if not scored:
        return {"ece": None, "risk_coverage": {}}
    confidence = np.array([r.confidence for r in scored], dtype=float)
    right = np.array([r.right for r in scored], dtype=float)
    curve = metrics.risk_coverage(confidence, right)
    at = {f"{c:.1f}": _round(curve[max(round(c * len(curve)) - 1, 0)][1]) for c in COVERAGES}
    return {"ece": _round(metrics.expected_calibration_error(confidence, right)), "risk_coverage": at}


def _covers(passage: Any, citation: Citation) -> bool:
    return passage.article.id == citation.article.id and passage.start <= citation.start and citation.end <= passage.end


def _verbatim(engine: Engine, citations: Sequence[Citation]) -> list[bool]:
    """Per citation, whether the stored article holds its quote at its offsets (checked anew, as the chain does)."""
    verified = verify_citations(citations, engine.store.get_article)
    return [citation in verified for citation in citations]


def _similarity(engine: Engine, context: str) -> Callable[[Sequence[str]], Sequence[float]]:
    def similarity(choices: Sequence[str]) -> Sequence[float]:
        vectors = np.array(engine.embeddings.embed_documents(list(choices)))
        return list(vectors @ np.array(engine.embeddings.embed_query(context)))

    return similarity


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)
