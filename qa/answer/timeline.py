"""Timeline answers: which questions ask how a story developed, and the dated entries that answer them.

Extractive, after DATEWISE (Ghalandari & Ifrim, ACL 2020): each sentence of the passages read is dated (its own
date when it writes one inside the period, else its article's), scored by its relevance to the question's topic,
by how central it is to what the other stories read say (the sum over them of its best likeness to one of their
sentences) and by the salience of its day (how many stories speak of it); the best is taken, then the next best
that is neither from a story already taken nor a report of an event already taken (a same-day report of it by
another outlet adds that outlet instead), up to N, in date order. A later value of a fact an earlier report gave
(a number with the same measure, a role that ended) makes the entry an update that quotes both; different values
the same day from different outlets make it a difference between outlets. A later report is an update, never a
dispute (CONFLICTS, Cattan et al. 2025): a difference needs the same day, two outlets and the same event.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
from scipy import sparse

from qa.answer.citations import Evidence
from qa.answer.statements import is_statement
from qa.dates import article_date, sentence_periods
from qa.models import ArticleRef, Chunk, DayCount, EntryKind
from qa.text import STOPWORDS, content_terms, split_sentences
from qa.timewords import find_times, respelled

# The words of a question about how a story developed. "What happened to the whale?" and "What is the latest
# phishing attack?" ask for one fact: "what happened" counts with a story's words after it (with, since, this,
# over, in the last …) or alone, "the latest" with on/with/about after it or alone.
TIMELINE_QUESTION = re.compile(
    r"(?i)^\s*(?:so\s+|and\s+|ok,?\s+)?(?:"
    r"what(?:'s|’s| is| are| has| have)?\s+(?:been\s+)?happen(?:ed|ing)(?=\s+(?:with|since|this|these|over|in\s+the\s+"
    r"(?:last|past)|during|lately|recently|so\s+far|today|yesterday|last)\b|\s*[?.!]?\s*$)"
    r"|what(?:'s|’s| is| are)\s+(?:the\s+)?(?:latest|newest|new)(?:\s+news)?(?=\s+(?:on|with|about|in|regarding|for)\b"
    r"|\s*[?.!]?\s*$)"
    r"|what(?:'s|’s| has| have)?\s+changed\b"
    r"|how\s+(?:has|have|did|is|are)\b.*\b(?:develop|evolv|unfold|progress|chang)\w*"
    r"|(?:give\s+me\s+|any\s+|an?\s+)?(?:updates?|news|developments?)\s+(?:on|about|in|regarding)\b"
    r"|what(?:'s|’s| are| were)?\s+(?:the\s+)?(?:latest\s+|key\s+|main\s+|new\s+)?developments\b"
    r"|.*\btimeline\b"
    r")"
)
# Words of such a question that name no topic: what is left is what the story is about.
_FRAME = re.compile(
    r"(?i)\b(?:what(?:'s|’s)?|is|are|was|were|has|have|had|been|did|do|does|happen(?:ed|ing)?|latest|newest|(?-i:new|news)|"
    r"changed?|how|develop(?:ed|ing|ment|ments)?|evolv(?:ed|ing)|unfold(?:ed|ing)?|progress(?:ed)?|updates?|"
    r"timeline|give|me|any|key|main|story|stories|so far|lately|recently|regarding)\b"
)
# Words without which a sentence names no day of its own (a weekday, a month, yesterday): its dates go unread.
_NAMES_A_DAY = re.compile(
    r"(?i)\b(?:mon|tues|wednes|thurs|fri|satur|sun)day\b|\byesterday\b|\btoday\b|\btonight\b|"
    r"\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|\bmay\s+\d"
)
_LEADING = frozenset("with on about in regarding of for to over since so and".split())

MIN_WORDS, MAX_WORDS = 8, 70
# Passages read for a timeline on a topic (more if the question's k asks for more); first passages of the period's
# articles read for one with none, newest first; and the period of a question with no topic and no time words.
TIMELINE_PASSAGES = 30
MAX_LEADS = 1000
TOPICLESS_DAYS = 7
# At most this many sentences of a passage are read: a timeline wants its leads, not every paragraph of a page.
SENTENCES_PER_PASSAGE = 6
# A passage counts as the topic's when it holds at least this share of the topic's words (idf-weighted).
ON_TOPIC = 0.5
# Two sentences whose term vectors are this alike a day apart at most report one event (one entry, the other's
# outlet added to it); this alike any days apart, they are one paragraph repeated.
SAME_EVENT = 0.5
REPEATED = 0.9
# How much the day's salience and the sentence's centrality weigh beside its relevance: set a priori, fit on no
# benchmark year, so the digest figures of docs/timelines.md are held out on all three.
DAY_WEIGHT = 0.5
CENTRAL_WEIGHT = 1.0
# A fact's values compared across reports: the same measure, qualifier ("at least") and subject (the two
# sentences this alike), an update within UPDATE_DAYS. Without the days and the qualifier, 5 "updates" on 201
# questions of the shared years were other games, players or sums years apart, or one distance rounded two ways
# ("less than 100 miles", "just 90 miles").
SAME_FACT = 0.2
SAME_FACT_SAME_DAY = 0.35  # stricter for a difference between outlets: a wrong "differs" is worse than none
UPDATE_DAYS = 31

_NUMBER = re.compile(
    r"(?<![\w.,$])(?P<money>\$|£|€)?(?P<value>\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
    r"(?P<percent>\s*(?:%|percent\b|per cent\b))?"
    r"(?:\s+(?P<scale>million|billion|trillion))?(?:\s+(?P<measure>[a-z][a-z-]+))?"
)
# Words before a number that make it a bound or an estimate: two reports compare only under the same one.
_QUALIFIER = re.compile(
    r"(?i)\b(at least|at most|more than|less than|fewer than|over|under|up to|nearly|almost|about|around|roughly|"
    r"some|approximately|just|only)\s*$"
)
_SCALES = {"million": 1e6, "billion": 1e9, "trillion": 1e12}
# Words after a number that make it a time or an ordinal, not a measure that a later report updates.
_NOT_MEASURES = frozenset(
    "year years month months week weeks day days hour hours minute minutes second seconds am pm a.m p.m "
    "st nd rd th times time".split()
)
_MONTHS = re.compile(r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s*$")
_ROLE_ENDED = re.compile(
    r"(?P<name>(?:[A-Z][\w’'-]+\s+){0,2}[A-Z][\w’'-]+)\s+(?:has\s+|had\s+)?(?P<verb>resigned|stepped down|steps down|"
    r"quit|was (?:fired|ousted|dismissed|replaced|sacked)|has been (?:fired|ousted|dismissed|replaced|sacked))\b"
)


def asks_timeline(question: str) -> bool:
    """Whether the question asks how a story developed ("What happened with X since Monday?", "What's the latest on
    X?", "What changed in X this week?", "How has X developed?", "Updates on X") rather than for one fact."""
    return bool(TIMELINE_QUESTION.match(question))


def topic_of(question: str, as_of: date) -> str:
    """What a timeline question is about: its words without the asking and the time words ('the port strike' of
    "What happened with the port strike since Monday?"); '' when nothing is left ("What happened this week?")."""
    text = respelled(question)
    for span in reversed(find_times(text, as_of)):
        text = text[: span.start] + " " + text[span.end :]
    text = _FRAME.sub(" ", text)
    words = re.findall(r"[\w’'-]+", text)
    while words and (
        words[0].lower() in _LEADING
        or (words[0].lower() in ("the", "a") and words[1:2] and words[1].lower() in _LEADING)
    ):
        words.pop(0)
    kept = [word for word in words if word.lower() not in STOPWORDS]
    return " ".join(words) if kept else ""


@dataclass
class Line:
    """A sentence a timeline may list: its evidence, day and story."""

    evidence: Evidence
    day: date
    story: str
    source: str | None
    relevance: float
    terms: set[str]
    score: float = 0.0


@dataclass
class Entry:
    """A picked line, the outlets that ran it, and what it changes."""

    line: Line
    outlets: list[str] = field(default_factory=list)
    kind: EntryKind = "event"
    other: Line | None = None
    change: str | None = None


def lines_of(passages: Sequence[Chunk], topic: str, since: date | None, until: date) -> list[Line]:
    """The dated, newsworthy sentences of the passages on the topic (all of them for no topic), each with its
    relevance: the topic's share of the sentence and of its passage."""
    topic_terms = content_terms(topic)
    passage_terms = [content_terms(passage.text) for passage in passages] if topic_terms else []
    idf = _idf(topic_terms, passage_terms) if topic_terms else {}
    total = sum(idf.values())
    lines = []
    for rank, passage in enumerate(passages):
        passage_share = sum(w for t, w in idf.items() if t in passage_terms[rank]) / total if total else 1.0
        if topic_terms and passage_share < ON_TOPIC:
            continue
        day = _article_day(passage.article, since, until)
        if day is None:  # an entry is always of the period
            continue
        read = 0
        for start, end in split_sentences(passage.text):
            if read == SENTENCES_PER_PASSAGE:
                break
            sentence = passage.text[start:end]
            if not newsworthy(sentence):
                continue
            read += 1
            terms = content_terms(sentence)
            share = sum(w for t, w in idf.items() if t in terms) / total if total else 1.0
            evidence = Evidence(
                chunk=passage, start=passage.start + start, end=passage.start + end, text=sentence, score=0.0
            )
            # Earlier-ranked passages are likelier the topic's: a small lift by rank.
            relevance = (0.5 * share + 0.5 * passage_share) if total else 1.0
            relevance *= 1.0 - 0.5 * rank / max(len(passages), 1)
            lines.append(
                Line(evidence, day, passage.story or passage.article.id, passage.article.source, relevance, terms)
            )
    return lines


def pick_entries(lines: list[Line], entries: int, since: date | None, until: date) -> list[Entry]:
    """Up to `entries` lines, one per story and event, by relevance, centrality and the salience of their
    article's day, each marked as an update or a difference where the lines say so, then dated by the day it
    writes (inside the period) where it writes one, in date order."""
    if not lines:
        return []
    likeness = _likeness(lines)
    stories = {story: number for number, story in enumerate(sorted({line.story for line in lines}))}
    central = _centrality(likeness, [stories[line.story] for line in lines], len(stories))
    salience = _day_salience(lines)
    for index, line in enumerate(lines):
        line.score = line.relevance * (1 + CENTRAL_WEIGHT * central[index]) * (1 + DAY_WEIGHT * salience[line.day])
    order = sorted(range(len(lines)), key=lambda i: (-lines[i].score, lines[i].day, i))
    picked: list[tuple[int, Entry]] = []
    taken_stories: set[str] = set()
    for index in order:
        line = lines[index]
        if line.story in taken_stories:
            continue
        same = next((entry for at, entry in picked if _same_event(line, entry.line, likeness[index, at])), None)
        if same is not None:  # another report of a taken event: its story has had its entry
            taken_stories.add(line.story)
            if line.source and abs((line.day - same.line.day).days) <= 1 and line.source not in same.outlets:
                same.outlets.append(line.source)
            continue
        if len(picked) == entries:
            continue  # still read: a later line may be a same-day report of a picked one
        taken_stories.add(line.story)
        picked.append((index, Entry(line, outlets=[line.source] if line.source else [])))
    chosen = [entry for _, entry in picked]
    for at, entry in picked:
        _mark_change(entry, at, lines, likeness)
    # Only now: reading a sentence's dates costs as much as the rest of its reading. Each line once ("yesterday"
    # read again against the day it gave would move it back a day more).
    dated = {id(line): line for entry in chosen for line in (entry.line, entry.other) if line is not None}
    for line in dated.values():
        line.day = _written_day(line.evidence.text, line.day, since, until)
    return sorted(chosen, key=lambda entry: (entry.line.day, -entry.line.score))


def articles_per_day(lines: Sequence[Line], since: date | None, until: date) -> list[DayCount]:
    """How many of the articles the lines are from were published on each day of the period, oldest first."""
    days: dict[str, date] = {}
    for line in lines:
        article = line.evidence.chunk.article
        if (day := _article_day(article, since, until)) is not None:
            days[article.id] = day
    counts: dict[date, int] = {}
    for day in days.values():
        counts[day] = counts.get(day, 0) + 1
    return [DayCount(day=day, articles=count) for day, count in sorted(counts.items())]


def _same_event(line: Line, taken: Line, likeness: float) -> bool:
    """Whether a line reports a taken line's event: alike and a day apart at most, or the same words any day (a
    background paragraph repeated); alike days apart is the story moving on, an entry of its own."""
    return likeness >= REPEATED or (likeness >= SAME_EVENT and abs((line.day - taken.day).days) <= 1)


def newsworthy(sentence: str) -> bool:
    """A sentence of news: of a length an entry can quote, and a statement (qa/answer/statements.py)."""
    return MIN_WORDS <= len(sentence.split()) <= MAX_WORDS and is_statement(sentence)


def _written_day(sentence: str, day: date, since: date | None, until: date) -> date:
    """The one day a sentence writes ("on Tuesday", "March 3") inside the period, resolved against its article's
    `day`; that day when it writes none, or several."""
    if not _NAMES_A_DAY.search(sentence):
        return day
    days = {
        p.since
        for p in sentence_periods(sentence, day)
        if p.since is not None and p.unit == "day" and p.since == p.until and _inside(p.since, since, until)
    }
    return days.pop() if len(days) == 1 else day


def _article_day(article: ArticleRef, since: date | None, until: date) -> date | None:
    """An article's day in the period: its own date (its URL's), else its publication date, whichever is inside."""
    own = article_date(article.url, article.published)
    return next((day for day in (own, article.published) if _inside(day, since, until)), None)


def _inside(day: date | None, since: date | None, until: date) -> bool:
    return day is not None and (since is None or since <= day) and day <= until


def _idf(terms: set[str], documents: list[set[str]]) -> dict[str, float]:
    return {term: math.log(1 + len(documents) / (1 + sum(term in doc for doc in documents))) for term in terms}


def _likeness(lines: list[Line]) -> np.ndarray:
    """Cosine of the lines' idf-weighted term vectors."""
    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, line in enumerate(lines):
        for term in line.terms:
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(lines), max(len(vocabulary), 1))
    )
    frequency = np.asarray(matrix.sum(axis=0)).ravel()
    matrix = matrix.multiply(np.log(1 + len(lines) / (1 + frequency))).tocsr()
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    matrix = sparse.diags(1 / np.maximum(norms, 1e-9)) @ matrix
    return np.asarray((matrix @ matrix.T).todense())


def _centrality(likeness: np.ndarray, story_of: list[int], stories: int) -> np.ndarray:
    """Each line's summed best likeness to a line of every other story, scaled to [0, 1]: what many stories say."""
    best = np.zeros((len(story_of), stories), dtype=np.float32)
    for column, story in enumerate(story_of):
        np.maximum(best[:, story], likeness[:, column], out=best[:, story])
    own = np.asarray(story_of)
    best[np.arange(len(story_of)), own] = 0.0
    central = best.sum(axis=1)
    return central / central.max() if central.max() > 0 else central


def _day_salience(lines: list[Line]) -> dict[date, float]:
    """How many stories speak of each day, relevance-weighted, scaled to [0, 1]."""
    per_story: dict[tuple[date, str], float] = {}
    for line in lines:
        key = (line.day, line.story)
        per_story[key] = max(per_story.get(key, 0.0), line.relevance)
    days: dict[date, float] = {}
    for (day, _), weight in per_story.items():
        days[day] = days.get(day, 0.0) + weight
    top = max(days.values())
    return {day: weight / top for day, weight in days.items()}


@dataclass(frozen=True)
class _Fact:
    measure: str
    value: float
    text: str  # as written, e.g. "$3 billion"
    qualifier: str  # "at least", "nearly", … or ""


@lru_cache(maxsize=4096)
def facts(sentence: str) -> list[_Fact]:
    """The numbers a sentence gives with what they measure ('15 people', '$3 billion', '12%'); years, dates and
    durations left out."""
    found: list[_Fact] = []
    for match in _NUMBER.finditer(sentence):
        value = float(match["value"].replace(",", ""))
        money, percent, scale, measure = match["money"], match["percent"], match["scale"], match["measure"]
        if _MONTHS.search(sentence[: match.start()]):
            continue  # "March 5"
        if percent:
            measure = "percent"
        elif money:
            measure = f"{money}{scale or ''}"
        elif not measure or measure in _NOT_MEASURES or measure in STOPWORDS:
            continue
        elif 1900 <= value <= 2100 and not scale and "," not in match["value"]:
            continue  # a year
        value *= _SCALES.get(scale or "", 1.0)
        written = match.group(0)
        if match["measure"] and not percent and not money:
            written = written[: match.start("measure") - match.start()].rstrip() + " " + match["measure"]
        elif match["measure"]:
            written = written[: match.start("measure") - match.start()].rstrip()
        qualifier = _QUALIFIER.search(sentence[: match.start()])
        found.append(
            _Fact(
                measure=measure, value=value, text=written.strip(), qualifier=qualifier[1].lower() if qualifier else ""
            )
        )
    return found


def _mark_change(entry: Entry, at: int, lines: list[Line], likeness: np.ndarray) -> None:
    """Marks the entry as a difference between outlets (same day, same event, another outlet, another value) or
    an update (the latest earlier line of another story giving another value of the same fact, or the role its
    subject held before it ended)."""
    line = entry.line
    own = facts(line.evidence.text)
    for index, other in enumerate(lines):
        if other.story == line.story or other.day != line.day or not (other.source and line.source):
            continue
        if other.source.lower() == line.source.lower() or likeness[at, index] < SAME_FACT_SAME_DAY:
            continue
        for mine, theirs in _differing(own, facts(other.evidence.text)):
            entry.kind, entry.other = "differs", other
            entry.outlets = [outlet for outlet in entry.outlets if outlet != other.source]  # it ran another value
            entry.change = f"{line.source}: {mine.text} · {other.source}: {theirs.text}"
            return
    earlier = sorted(
        (
            i
            for i, other in enumerate(lines)
            if other.day < line.day and (line.day - other.day).days <= UPDATE_DAYS and other.story != line.story
        ),
        key=lambda i: (lines[i].day, likeness[at, i]),
        reverse=True,
    )
    for index in earlier:
        if likeness[at, index] < SAME_FACT:
            continue
        for mine, theirs in _differing(own, facts(lines[index].evidence.text)):
            entry.kind, entry.other, entry.change = "update", lines[index], f"{theirs.text} → {mine.text}"
            return
    ended = _ROLE_ENDED.search(line.evidence.text)
    if ended:
        surname = ended["name"].split()[-1]
        for index in earlier:
            before = lines[index].evidence.text
            if re.search(rf"\b{re.escape(surname)}\b", before) and not _ROLE_ENDED.search(before):
                entry.kind, entry.other = "update", lines[index]
                entry.change = f"{ended['name']} {ended['verb']}"
                return


def _differing(own: list[_Fact], others: list[_Fact]) -> list[tuple[_Fact, _Fact]]:
    """Pairs of facts of one measure and qualifier with different values, where each sentence gives that measure
    once."""
    pairs = []
    for mine in own:
        theirs = [fact for fact in others if fact.measure == mine.measure]
        alone = len(theirs) == 1 and sum(f.measure == mine.measure for f in own) == 1
        if alone and theirs[0].value != mine.value and theirs[0].qualifier == mine.qualifier:
            pairs.append((mine, theirs[0]))
    return pairs
