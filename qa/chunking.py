"""Split articles into sentence-aligned, overlapping chunks that keep their offsets into the article."""

from __future__ import annotations

import re

from qa.models import Article, Chunk
from qa.text import split_sentences


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
                article=article.ref,
                ordinal=len(chunks),
                start=start,
                end=end,
                text=article.text[start:end],
                story=article.story,
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


def embedding_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: the title gives context; offsets still refer to the article text alone."""
    return f"{chunk.article.title}\n{chunk.text}"
