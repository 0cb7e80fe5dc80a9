"""Words of English text as the answer steps compare them: sentences with their offsets, stopwords, terms
(stemmed content words) and tokens. The BM25 catalogue tokenises with bm25s's own English rules instead, on
purpose: its postings are saved and reloaded, and must not change with these."""

from __future__ import annotations

import re
import threading

import Stemmer

STOPWORDS = frozenset(
    "a an the of in on at to for from by with about as into over after before between during and or but if "
    "is are was were be been being has have had do does did will would can could should may might must "
    "this that these those it its it's he she they them their his her him we our you your i me my "
    "what which who whom whose when where why how whats much many week weeks year month day "
    "not no yes so than then there here also just only said says say according".split()
)

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


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_local = threading.local()  # a PyStemmer stemmer is not safe to share between threads


def stem_word(word: str) -> str:
    """The word's English (Snowball) stem."""
    return _stemmer().stemWord(word)


def content_terms(text: str) -> set[str]:
    """The stems of the text's content words: lower-cased words of two or more characters, stopwords left out."""
    words = [w for w in re.findall(r"[\w’']+", text.lower()) if w not in STOPWORDS and len(w) > 1]
    return set(_stemmer().stemWords(words))


def word_tokens(text: str) -> list[str]:
    """The text's lower-cased letter-and-digit runs, in order, stopwords kept: what phrases are compared by."""
    return re.findall(r"[a-z0-9]+", text.lower())


def _stemmer() -> Stemmer.Stemmer:
    if not hasattr(_local, "stemmer"):
        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer
