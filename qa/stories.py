"""Stories: articles that carry the same text (wire reprints, syndicated and lightly edited copies), found with
MinHash LSH (datasketch) over word shingles and grouped under the id of the story's first article; regrouping a
whole index; and what an answer says of a cited story (the other outlets that carry its quote, how versions differ,
that it was updated)."""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Protocol

import numpy as np
from pydantic import BaseModel, Field

from qa.answer.phrases import STORY_UPDATED, STORY_VERSIONS_DIFFER
from qa.dates import day_text
from qa.models import Article, Chunk, Citation, StoryMember

# Word 5-grams: long enough that two articles on one event share few by chance, short enough that a light edit
# (a new lead, a dateline, a line of credit) leaves most of them.
SHINGLE_WORDS = 5
# Two articles are one story when their shingle sets' Jaccard similarity is at least this (checked exactly on the
# candidates LSH finds). A seed article reprinted under another outlet's lead and footer measures > 0.85, another
# article on the same people < 0.05 (tests/test_stories.py); on the benchmark years the grouped articles' median
# similarity to their story's first is 0.83-1.0 (benchmarks/stories.py).
SAME_STORY = 0.5
NUM_PERM = 64
# LSH bands x rows per band for NUM_PERM and SAME_STORY, as datasketch's MinHashLSH chooses them (false positive
# and negative weights equal): a pair at the threshold shares a band with probability 0.59, at 0.7 with 0.97.
BANDS, ROWS = 14, 4
# datasketch's hashing scheme, named so that stored band keys stay comparable across its versions.
SCHEME = "affine32"
BAND_KEYS = tuple(f"band{i}" for i in range(BANDS))
WORD = re.compile(r"\w+")


@lru_cache(maxsize=1024)
def shingles(text: str) -> np.ndarray:
    """The text's word 5-grams, lower-cased, as sorted distinct 32-bit hashes (a text shorter than that is one).
    Each word is hashed once (CRC-32) and the five of a shingle combined: a tenth of the cost of hashing the
    joined strings. Cached: a wire story's reprints are each compared with the same earlier ones."""
    words = WORD.findall(text.lower())
    if not words:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.fromiter((zlib.crc32(word.encode()) for word in words), dtype=np.uint64, count=len(words))
    width = min(SHINGLE_WORDS, len(hashes))
    combined = np.zeros(len(hashes) - width + 1, dtype=np.uint64)
    for offset in range(width):
        combined = (combined * np.uint64(1_000_003) + hashes[offset : offset + len(combined)]) & np.uint64(0xFFFFFFFF)
    return np.unique(combined)


@lru_cache(maxsize=256)
def band_keys(text: str) -> tuple[str, ...]:
    """The text's LSH band keys: two texts of one story share at least one (with the probabilities above).
    Cached: an ingest asks for an article's keys to find its story, then again to store them."""
    from datasketch import MinHash  # imported here: only writes need it

    # The shingles are hashes already: datasketch's hash function is the identity.
    signature = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=int, permutations=_permutations(), scheme=SCHEME)
    signature.update_batch(shingles(text).tolist())
    values = np.asarray(signature.hashvalues, dtype=np.uint64)
    return tuple(
        hashlib.blake2b(values[i * ROWS : (i + 1) * ROWS].tobytes(), digest_size=8).hexdigest() for i in range(BANDS)
    )


def similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Jaccard similarity of two shingle sets."""
    if not len(first) or not len(second):
        return 0.0
    shared = len(np.intersect1d(first, second, assume_unique=True))
    return shared / (len(first) + len(second) - shared)


class StoryFinder:
    """Gives each article of an ingest run its story: that of the earliest stored or earlier-in-the-run article
    it shares a band with and is at least SAME_STORY similar to, else its own id."""

    def __init__(self, stored_candidates: Callable[[Sequence[str]], Sequence[Article]]) -> None:
        """`stored_candidates(keys)`: the stored articles holding any of the band keys (ArticleStore.band_matches)."""
        self._stored_candidates = stored_candidates
        self._run: dict[str, list[Article]] = {}

    def assign(self, article: Article) -> Article:
        """The article with its story set."""
        keys = band_keys(article.text)
        candidates = {c.id: c for c in self._stored_candidates(keys) if c.id != article.id}
        for key in keys:
            candidates.update({c.id: c for c in self._run.get(key, []) if c.id != article.id})
        own = shingles(article.text)
        matching = [c for c in candidates.values() if similarity(own, shingles(c.text)) >= SAME_STORY]
        if matching:
            first = min(matching, key=meeting_order)
            story = first.story or first.id
        else:
            story = article.id
        assigned = article.model_copy(update={"story": story})
        for key in keys:
            self._run.setdefault(key, []).append(assigned)
        return assigned


def meeting_order(article: Article) -> tuple[date, datetime, str]:
    """The order stories meet articles, at ingest and when regrouped alike: by publication date, undated last; then
    as the index first stored them (those stored before that was recorded first); then by id, as one run does."""
    return (article.published or date.max, article.ingested or datetime.min.replace(tzinfo=UTC), article.id)


class StoredArticles(Protocol):
    """What regrouping needs of the index (qa.store.ArticleStore): its articles, and a way to move them."""

    def iter_articles(self) -> Iterator[Article]:
        """Every stored article with its text."""
        ...

    def set_stories(self, stories: dict[str, str]) -> None:
        """Move articles into other stories: article id -> story id."""
        ...


class StoryCount(BaseModel):
    """How the stored articles fall into stories (qa stories)."""

    articles: int = Field(description="Stored articles.")
    stories: int = Field(description="Stories: articles and their reprints count once.")
    in_shared: int = Field(description="Articles in stories of more than one article.")
    moved: int = Field(description="Articles whose story this regrouping changed.")

    def summary(self) -> str:
        """One line for a terminal."""
        share = self.in_shared / self.articles if self.articles else 0.0
        return (
            f"{self.articles} articles in {self.stories} stories; {self.in_shared} ({share:.1%}) share a story with "
            f"another article; {self.moved} regrouped"
        )


def regroup_stories(store: StoredArticles) -> StoryCount:
    """Group every stored article into stories again, oldest first, as ingest groups new ones: for an index from
    before stories, or after qa.stories changed."""
    articles = sorted(store.iter_articles(), key=meeting_order)
    finder = StoryFinder(lambda keys: [])  # every article is in this one run
    stored = {article.id: article.story for article in articles}
    grouped = {article.id: finder.assign(article).story or article.id for article in articles}
    moved = {id_: story for id_, story in grouped.items() if story != stored[id_]}
    store.set_stories(moved)
    sizes = Counter(grouped.values())
    return StoryCount(
        articles=len(articles),
        stories=len(sizes),
        in_shared=sum(size for size in sizes.values() if size > 1),
        moved=len(moved),
    )


def with_stories(
    citations: list[Citation],
    passages: list[Chunk],
    story_members: Callable[[Sequence[str]], list[StoryMember]],
    get_article: Callable[[str], Article | None],
) -> tuple[list[Citation], list[str]]:
    """Each citation with the other outlets whose own text carries its quote, and the notices its story calls for:
    that it updates a version its own outlet ran before, or that other outlets' versions differ from the quote
    (an altered copy never speaks for the outlet it copied, nor that outlet for it)."""
    story_of = {passage.article.id: passage.story for passage in passages if passage.story}
    wanted = sorted({story_of[c.article.id] for c in citations if c.article.id in story_of})
    members: dict[str, list[StoryMember]] = {}
    for member in story_members(wanted) if wanted else []:
        members.setdefault(member.story, []).append(member)
    texts: dict[str, str] = {}
    cited, notices = [], []
    for citation in citations:
        others = [
            m for m in members.get(story_of.get(citation.article.id, ""), []) if m.article_id != citation.article.id
        ]
        for member in others:
            if member.article_id not in texts:
                article = get_article(member.article_id)
                texts[member.article_id] = " ".join(article.text.split()) if article else ""
        quote = " ".join(citation.quote.split())
        elsewhere = [m for m in others if m.source and m.source != citation.article.source]
        carrying = [m for m in elsewhere if quote in texts[m.article_id]]
        differing = [m for m in elsewhere if quote not in texts[m.article_id]]
        cited.append(citation.model_copy(update={"also_in": list(dict.fromkeys(m.source for m in carrying))}))
        if differing:
            outlets = ", ".join(dict.fromkeys(str(m.source) for m in differing))
            notices.append(STORY_VERSIONS_DIFFER.format(n=citation.n, outlets=outlets))
        earlier = [
            m.published
            for m in others
            if m.source == citation.article.source
            and m.published
            and citation.article.published
            and m.published < citation.article.published
        ]
        if earlier and citation.article.source:
            notices.append(
                STORY_UPDATED.format(n=citation.n, source=citation.article.source, first=day_text(min(earlier)))
            )
    return cited, list(dict.fromkeys(notices))


@cache
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME).permutations
