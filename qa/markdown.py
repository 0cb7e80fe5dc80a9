"""Markdown for people: untrusted article text escaped, answers with their sources, conversations for export."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit

from qa.answer.citations import inert_markers
from qa.answer.phrases import ALSO_IN, UNDATED, short_answer_frame, timeline_text
from qa.models import Answer, Citation

# Every ASCII punctuation mark may be backslash-escaped in CommonMark; these are the ones that can start
# Markdown, HTML, math ($) or Streamlit directives (:red[...], :emoji:).
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>$~:=^&])")
# GFM turns bare urls and e-mail addresses into links even when escaped; an invisible word joiner breaks them.
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?=@)")
WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """Text that renders as itself: no links, images, HTML, headings, lists or math can come out of it."""
    text = _AUTOLINK.sub(WORD_JOINER, text)
    return _SPECIAL.sub(r"\\\1", text).replace("\n", "  \n")


def safe_url(url: str | None) -> str | None:
    """The url if it is a plain http(s) address, else None: a record's url must not become a script link."""
    if not url or any(char.isspace() or char in "<>\"'" for char in url):
        return None
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def source_line(citation: Citation, *, title_chars: int | None = None) -> str:
    """'Title — Source, 2024-01-31' ('undated' without a date) as escaped Markdown, the title clipped at a word to
    `title_chars`."""
    title = inert_markers(citation.article.title)
    if title_chars and len(title) > title_chars:
        title = title[:title_chars].rsplit(" ", 1)[0] + "…"
    also_in = ALSO_IN.format(outlets=", ".join(citation.also_in)) if citation.also_in else None
    details = ", ".join(
        part for part in (citation.article.source, str(citation.article.published or UNDATED), also_in) if part
    )
    return escape(title + (f" — {details}" if details else ""))


def answer_markdown(answer: Answer) -> str:
    """The short answer on its own line, if there is one (bold when confident), then the answer text (a timeline's
    dated list); all escaped."""
    text = timeline_text(answer.timeline, escape) if answer.timeline and not answer.refused else escape(answer.answer)
    return f"{short_answer_markdown(answer)}\n\n{text}" if answer.short_answer else text


def short_answer_markdown(answer: Answer) -> str:
    """The answer in a few words with the citation it comes from and the confidence: bold only when confident."""
    before, after, bold = short_answer_frame(answer)
    short = escape(answer.short_answer or "")
    return f"{before}{f'**{short}**' if bold else short}{after}"


def conversation_markdown(answers: Sequence[Answer], *, title: str = "qa chat") -> str:
    """A conversation as a Markdown document: each question, its answer, and each citation's quote with offsets."""
    lines = [f"# {escape(title)}", "", f"Exported {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.", ""]
    for answer in answers:
        lines += [f"## {escape(answer.question)}", "", answer_markdown(answer), ""]
        for citation in answer.citations:
            lines.append(f"{citation.n}. {source_line(citation)}")
            if url := safe_url(citation.article.url):
                lines.append(f"   <{url}>")
            lines += [f"   > {escape(citation.quote)}", f"   (characters {citation.start}–{citation.end})", ""]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
