"""Answer engines and the citation handling they share."""

from qa.answer.citations import (
    Evidence,
    QuoteContext,
    answer_sentences,
    cite,
    keep_cited_sentences,
    quote_context,
    verify_citations,
)
from qa.answer.extractive import ExtractiveAnswerer
from qa.answer.phrases import CANNOT_ANSWER

__all__ = [
    "CANNOT_ANSWER",
    "Evidence",
    "ExtractiveAnswerer",
    "QuoteContext",
    "answer_sentences",
    "cite",
    "keep_cited_sentences",
    "quote_context",
    "verify_citations",
]
