"""Citation building and verification: pure functions from quoted spans to numbered citations."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from pydantic import BaseModel, Field

from qa.answer.phrases import ALSO_IN, EXTRACTIVE_ALSO_CITED, EXTRACTIVE_ELSEWHERE, UNDATED
from qa.dates import article_date, quote_dates
from qa.models import Article, Chunk, Citation


class Evidence(BaseModel):
    """A sentence chosen to answer, with the passage it was found in."""

    chunk: Chunk = Field(description="The retrieved passage holding the sentence.")
    start: int = Field(description="Offset of the sentence in the article text.")
    end: int = Field(description="Offset just past the sentence.")
    text: str = Field(description="The sentence, exactly article.text[start:end].")
    score: float = Field(description="How well the sentence answers the question.")


def cite(evidence: Sequence[Evidence]) -> tuple[str, list[Citation]]:
    """Write each sentence followed by [n], numbering distinct passages in order of first use.

    Sentences from the same passage share one citation whose quote spans them all.
    """
    numbers: dict[str, int] = {}
    spans: dict[str, tuple[int, int, float]] = {}
    parts = []
    for item in evidence:
        key = item.chunk.id
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            spans[key] = (item.start, item.end, item.score)
        else:
            start, end, score = spans[key]
            spans[key] = (min(start, item.start), max(end, item.end), max(score, item.score))
        parts.append(f"{inert_markers(item.text)} [{numbers[key]}]")
    chunks = {item.chunk.id: item.chunk for item in evidence}
    citations = [quote_citation(n, chunks[key], *spans[key]) for key, n in numbers.items()]
    return " ".join(parts), citations


def inert_markers(text: str) -> str:
    """Article text with its own "[3]" written "(3)": in an answer, only qa's markers may look like citations."""
    return MARKER.sub(lambda marker: marker.group(0).replace("[", "(").replace("]", ")"), text)


def quote_citation(n: int, chunk: Chunk, start: int, end: int, score: float) -> Citation:
    """Citation [n]: the passage's article text at [start, end) (article offsets), with the article's details."""
    quote = chunk.text[start - chunk.start : end - chunk.start]
    return Citation(
        n=n,
        article=chunk.article,
        quote=quote,
        start=start,
        end=end,
        score=round(score, 4),
        dates=quote_dates(quote, start, article_date(chunk.article.url, chunk.article.published)),
    )


def citation_heading(citation: Citation) -> str:
    """'[n] Title — Source · 2024-01-31' ('· undated' without a date; '· also in: AP, WTOP' for a story other
    outlets carried), as plain text."""
    also_in = ALSO_IN.format(outlets=", ".join(citation.also_in)) if citation.also_in else None
    meta = " · ".join(
        str(part) for part in (citation.article.source, citation.article.published or UNDATED, also_in) if part
    )
    return f"[{citation.n}] {inert_markers(citation.article.title)}" + (f" — {meta}" if meta else "")


def verify_citations(citations: Sequence[Citation], get_article: Callable[[str], Article | None]) -> list[Citation]:
    """Keep only citations whose quote is exactly the stored article's text at their offsets."""
    articles: dict[str, Article | None] = {}
    verified = []
    for citation in citations:
        if citation.article.id not in articles:
            articles[citation.article.id] = get_article(citation.article.id)
        article = articles[citation.article.id]
        if article is not None and citation.quote and article.text[citation.start : citation.end] == citation.quote:
            verified.append(citation)
    return verified


MARKER = re.compile(r"\s*\[(\d+)\]")
# A sentence of an answer ends with its markers ("... [1] [2]"); brackets inside quoted article text do not end one.
_AFTER_MARKERS = re.compile(r"(?:(?<=\[\d\])|(?<=\[\d\d\]))\s+(?!\[\d)")


def answer_sentences(answer: str) -> list[str]:
    """The answer split after each sentence's [n] markers."""
    return [sentence for sentence in _AFTER_MARKERS.split(answer.strip()) if sentence]


def keep_cited_sentences(answer: str, citations: Sequence[Citation]) -> tuple[str, list[Citation]]:
    """Drop markers that match no citation and renumber the rest 1..n in order of first use.

    Sentences left without any marker are dropped too: every claim in an answer must cite a quote.
    """
    by_number = {citation.n: citation for citation in citations}
    renumbered: dict[int, int] = {}
    kept_sentences = []
    for sentence in answer_sentences(answer):
        markers = [int(m) for m in MARKER.findall(sentence) if int(m) in by_number]
        if not markers:
            continue
        for old in markers:
            renumbered.setdefault(old, len(renumbered) + 1)

        def renumber(match: re.Match[str]) -> str:
            old = int(match.group(1))
            return f" [{renumbered[old]}]" if old in renumbered else ""

        kept_sentences.append(MARKER.sub(renumber, sentence))
    kept = [by_number[old].model_copy(update={"n": new}) for old, new in renumbered.items()]
    return " ".join(kept_sentences), kept


class QuoteContext(BaseModel):
    """A quote inside its paragraph, for showing where it came from."""

    before: str = Field(description="Paragraph text before the quote (clipped, with an ellipsis).")
    quote: str = Field(description="The quote, exactly article.text[start:end].")
    after: str = Field(description="Paragraph text after the quote (clipped, with an ellipsis).")


def quote_context(text: str, start: int, end: int, max_chars: int = 400) -> QuoteContext:
    """The paragraph around text[start:end], at most `max_chars` on each side, cut at word boundaries."""
    paragraph_start = text.rfind("\n", 0, start) + 1
    paragraph_end = text.find("\n", end)
    paragraph_end = len(text) if paragraph_end == -1 else paragraph_end
    before = text[paragraph_start:start]
    after = text[end:paragraph_end]
    if len(before) > max_chars:
        before = "…" + before[-max_chars:].split(" ", 1)[-1]
    if len(after) > max_chars:
        after = after[:max_chars].rsplit(" ", 1)[0] + "…"
    return QuoteContext(before=before, quote=text[start:end], after=after)


def second_opinion(
    label: str, answer: str, citations: Sequence[Citation], short: str, title: str, confidence: float
) -> str | None:
    """A notice when an LLM's verified answer does not name the extractive short answer: whether the LLM's own
    citations name it too (then they support both) or not (then they support the LLM's answer only)."""
    if _words_in(short, answer):
        return None
    cited = any(_words_in(short, citation.quote) for citation in citations)
    template = EXTRACTIVE_ALSO_CITED if cited else EXTRACTIVE_ELSEWHERE
    return template.format(label=label, short=short, title=title, confidence=confidence)


def _words_in(phrase: str, text: str) -> bool:
    """Whether the phrase's words stand in the text in order, case and punctuation aside."""
    words, within = (" ".join(re.findall(r"\w+", part.lower())) for part in (phrase, text))
    return bool(words) and f" {words} " in f" {within} "
