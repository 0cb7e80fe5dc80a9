"""Split articles into sentence-aligned, overlapping chunks that keep their offsets into the article."""

from __future__ import annotations

import re

from qa.models import Article, Chunk

# Words that end in a period without ending a sentence ("Mr. Biden", "Jan. 5", "U.S. troops").
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sen rep gov gen col lt sgt capt cmdr adm st jr sr inc co corp ltd no vs "
    "jan feb mar apr jun jul aug sep sept oct nov dec u.s u.k u.n e.g i.e a.m p.m".split()
)
# A boundary candidate: sentence punctuation, optional closing quotes or brackets, then whitespace.
BOUNDARY = re.compile(r"[.!?]+[\"”’')\]]*\s+")
WORD_BEFORE = re.compile(r"([\w.]+)[.!?]+[\"”’')\]]*\s+$")


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return (start, end) offsets of the sentences in text[start:end]; lines never share a sentence."""
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        line_start = start + line.start()
        sentence_start = line_start
        for match in BOUNDARY.finditer(line.group()):
            boundary = line_start + match.end()
            following = text[boundary : boundary + 1]
            if not (following.isupper() or following.isdigit() or following in '"“‘(['):
                continue
            before = WORD_BEFORE.search(text, sentence_start, boundary)
            word = before.group(1).lower() if before else ""
            if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
            spans.append(_trimmed(text, sentence_start, boundary))
            sentence_start = boundary
        spans.append(_trimmed(text, sentence_start, line_start + len(line.group())))
    return [span for span in spans if span[1] > span[0]]


def chunk_article(article: Article, *, chunk_words: int, overlap_words: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `chunk_words` words, repeating trailing sentences as overlap."""
    pieces = _pieces(article.text, chunk_words)
    chunks: list[Chunk] = []
    first = 0
    while first < len(pieces):
        last, words = first, pieces[first][2]
        while last + 1 < len(pieces) and words + pieces[last + 1][2] <= chunk_words:
            last += 1
            words += pieces[last][2]
        start, end = pieces[first][0], pieces[last][1]
        chunks.append(
            Chunk(
                article_id=article.id,
                ordinal=len(chunks),
                start=start,
                end=end,
                text=article.text[start:end],
                title=article.title,
                source=article.source,
                url=article.url,
                path=article.path,
                published=article.published,
            )
        )
        if last + 1 >= len(pieces):
            break
        # Repeat trailing sentences until the overlap reaches `overlap_words`, never more than half a chunk,
        # and always move forward.
        following, overlap = last + 1, 0
        while (
            following - 1 > first and overlap < overlap_words and overlap + pieces[following - 1][2] <= chunk_words // 2
        ):
            following -= 1
            overlap += pieces[following][2]
        first = following
    return chunks


def _pieces(text: str, max_words: int) -> list[tuple[int, int, int]]:
    """Sentences as (start, end, words); a sentence longer than a chunk is cut at word boundaries."""
    pieces = []
    for start, end in split_sentences(text):
        words = list(re.finditer(r"\S+", text[start:end]))
        for i in range(0, len(words), max_words):
            group = words[i : i + max_words]
            pieces.append((start + group[0].start(), start + group[-1].end(), len(group)))
    return pieces


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def embedding_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: the title gives context; offsets still refer to the article text alone."""
    return f"{chunk.title}\n{chunk.text}"
