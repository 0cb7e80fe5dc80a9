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
    second_opinion,
    verify_citations,
)
from qa.answer.extractive import ExtractiveAnswerer, Selection, ShortAnswer
from qa.answer.generated import Grounded, LLMAnswerer
from qa.answer.grounding import Claim, GroundingChecker, Support, split_claims
from qa.answer.phrases import CANNOT_ANSWER

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
    "second_opinion",
    "split_claims",
    "verify_citations",
]
