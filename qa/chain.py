"""The Runnable chain: question (+ filters) -> retrieve -> answer -> verify citations -> Answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field

from qa.answer import CANNOT_ANSWER, Evidence, ExtractiveAnswerer, cite, keep_cited_sentences, verify_citations
from qa.errors import InvalidQuestionError
from qa.models import Answer, Article, Citation
from qa.retrieval import chunk_from_document

MAX_QUESTION_CHARS = 4000


class Question(BaseModel):
    """A question with the filters that narrow which articles may answer it."""

    question: str = Field(description="The question, 1 to 4,000 characters.")
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve; the configured k if unset.")
    since: date | None = Field(default=None, description="Only articles published on or after this date.")
    until: date | None = Field(default=None, description="Only articles published on or before this date.")
    source: str | None = Field(default=None, description="Only articles from this publisher (case-insensitive).")


def validate_question(question: str) -> str:
    """The question without surrounding whitespace; raise InvalidQuestionError if empty or too long."""
    stripped = question.strip()
    if not stripped:
        raise InvalidQuestionError("the question is empty")
    if len(stripped) > MAX_QUESTION_CHARS:
        raise InvalidQuestionError(f"the question is too long ({len(stripped):,} characters > {MAX_QUESTION_CHARS:,})")
    return stripped


def build_chain(
    retriever: BaseRetriever, answerer: ExtractiveAnswerer, get_article: Callable[[str], Article | None]
) -> Runnable[Question, Answer]:
    """Compose retrieval, answering and citation verification; each step records its time."""

    def retrieve(query: Question) -> dict[str, Any]:
        started = time.perf_counter()
        question = validate_question(query.question)
        filters = {"k": query.k, "since": query.since, "until": query.until, "source": query.source}
        documents = retriever.invoke(
            question, config=None, **{key: value for key, value in filters.items() if value is not None}
        )
        passages = [chunk_from_document(document) for document in documents]
        return {"question": question, "passages": passages, "started": started, "retrieved": time.perf_counter()}

    def answer(state: dict[str, Any]) -> Answer:
        selection = answerer.select(state["question"], state["passages"])
        text, citations = cite(selection.evidence)
        text, citations = keep_cited_sentences(text, verify_citations(citations, get_article))
        short = selection.short_answer
        # Shown as "short answer [1]": only while citation [1] still quotes the sentence it came from.
        short_text = short.text if short and citations and _quotes(citations[0], short.evidence) else None
        finished = time.perf_counter()
        timings = {
            "retrieve": (state["retrieved"] - state["started"]) * 1000,
            "answer": (finished - state["retrieved"]) * 1000,
            "total": (finished - state["started"]) * 1000,
        }
        timings = {stage: round(ms, 1) for stage, ms in timings.items()}
        if not citations:
            return Answer(question=state["question"], answer=CANNOT_ANSWER, refused=True, timings_ms=timings)
        return Answer(
            question=state["question"],
            answer=text,
            short_answer=short_text,
            refused=False,
            citations=citations,
            timings_ms=timings,
        )

    return RunnableLambda(retrieve).with_config(run_name="retrieve") | RunnableLambda(answer).with_config(
        run_name="answer"
    )


def _quotes(citation: Citation, evidence: Evidence) -> bool:
    return (
        citation.article_id == evidence.chunk.article_id
        and citation.start <= evidence.start
        and evidence.end <= citation.end
    )
