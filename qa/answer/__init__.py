"""Answer engines and the citation handling they share."""

from qa.answer.citations import (
    Evidence,
    QuoteContext,
    answer_sentences,
    citation_heading,
    cite,
    inert_markers,
    keep_cited_sentences,
    quote_context,
    verify_citations,
)
from qa.answer.extractive import ExtractiveAnswerer, Selection
from qa.answer.grounding import Claim, GroundingChecker, Support, split_claims
from qa.answer.llm import Grounded, LLMAnswerer
from qa.answer.phrases import CANNOT_ANSWER
from qa.answer.short_answer import ShortAnswer, short_answer

__all__ = [
    "CANNOT_ANSWER",
    "Claim",
    "Evidence",
    "ExtractiveAnswerer",
    "Grounded",
    "GroundingChecker",
    "LLMAnswerer",
    "QuoteContext",
    "Selection",
    "ShortAnswer",
    "Support",
    "answer_sentences",
    "citation_heading",
    "cite",
    "inert_markers",
    "keep_cited_sentences",
    "quote_context",
    "short_answer",
    "split_claims",
    "verify_citations",
]
