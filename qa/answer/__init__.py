"""Answer engines and the citation handling they share."""

from qa.answer.citations import (
    Evidence,
    QuoteContext,
    answer_sentences,
    citation_heading,
    cite,
    keep_cited_sentences,
    quote_context,
    verify_citations,
)
from qa.answer.extractive import ExtractiveAnswerer, Selection
from qa.answer.phrases import CANNOT_ANSWER
from qa.answer.short_answer import ShortAnswer, short_answer

__all__ = [
    "CANNOT_ANSWER",
    "Evidence",
    "ExtractiveAnswerer",
    "QuoteContext",
    "Selection",
    "ShortAnswer",
    "answer_sentences",
    "citation_heading",
    "cite",
    "keep_cited_sentences",
    "quote_context",
    "short_answer",
    "verify_citations",
]
