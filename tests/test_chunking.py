"""Sentence splitting and chunking keep exact offsets into the article."""

from __future__ import annotations

import itertools

from qa.chunking import chunk_article
from qa.models import Article
from qa.text import split_sentences

from .conftest import SEEDS


def make_article(text: str) -> Article:
    return Article(id="a", title="T", text=text)


def test_sentences_keep_offsets_and_respect_abbreviations():
    text = 'Mr. Biden met Gov. Smith in the U.S. on Jan. 5. "It went well," he said. Then J. Doe left!\nNew line here'
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "Mr. Biden met Gov. Smith in the U.S. on Jan. 5.",
        '"It went well," he said.',
        "Then J. Doe left!",
        "New line here",
    ]


def test_chunks_are_exact_spans_that_cover_every_sentence_with_overlap():
    text = (SEEDS / "004_ea751519490200ce.txt").read_text().strip()
    article = make_article(text)
    chunks = chunk_article(article, chunk_words=80, overlap_words=20)
    assert len(chunks) > 5
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text.split()) <= 80
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    overlapping = sum(b.start < a.end for a, b in itertools.pairwise(chunks))
    assert overlapping >= len(chunks) // 2
    assert all(b.start > a.start for a, b in itertools.pairwise(chunks))


def test_a_sentence_longer_than_a_chunk_is_cut_at_word_boundaries():
    text = " ".join(f"word{i}" for i in range(250)) + "."
    chunks = chunk_article(make_article(text), chunk_words=100, overlap_words=0)
    assert [len(c.text.split()) for c in chunks] == [100, 100, 50]
    assert "".join(c.text for c in chunks).replace("word", " word").split() == text.split()


def test_no_overlap_when_asked_for_none():
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    chunks = chunk_article(make_article(text), chunk_words=50, overlap_words=0)
    assert all(b.start >= a.end for a, b in itertools.pairwise(chunks))
