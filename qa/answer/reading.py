"""Reading the top passages for an answer: their sentences and typed candidates, each described by the features
the answer scorer reads. The same reading serves answering and training (qa/evaluation/training.py).

Cheap features first: every sentence gets its share of the question's terms and whether it holds something of
the asked-for type; the MAX_EMBEDDED best by them are embedded (their meaning) and run through the NER model, and
only they can be cited. Their candidates are grouped by text; the MAX_SCORED best-supported groups are embedded
for the fits that need meaning (with the head noun and with the question). The question as a statement with the
candidate in it, against its sentence, bought 1 point of right answers on a split of 2022 for ~45 ms a question:
left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from qa.answer.candidates import Candidate, candidates, short_forms
from qa.answer.citations import Evidence
from qa.answer.entities import EntityRecognizer
from qa.answer.patterns import TYPE_PATTERNS
from qa.answer.periods import PERIOD_FEATURES, periods_of, relation
from qa.answer.question import CANDIDATE_KINDS, WH_KINDS, Asked, Kind, asked, said_in
from qa.answer.statements import is_statement, statement_end
from qa.embeddings import MiniLMEmbeddings
from qa.models import AskedPeriod, Chunk, Period
from qa.text import STOPWORDS, content_terms, split_sentences, stem_word, word_tokens

# Only the best-ranked passages are read: later ones rarely hold the answer and cost embedding time.
MAX_PASSAGES = 5
# Of their ~27 sentences, only this many are embedded and read for entities: those best on shared terms and type.
# Measured on 150 questions of realtimeqa-2022: a right candidate exists for 0.38 of them at 8 sentences and 8
# candidates, 0.47 at 8 and 16, 0.49 at 12 and 20, 0.53 at 30 and 30 (1.6x the time of 12 and 20).
MAX_EMBEDDED = 12
# Candidate groups embedded and scored: the best supported names, and the best common noun phrases besides.
MAX_SCORED = 20
MAX_PHRASES = 8
# The cheap ranking that picks the sentences to embed: the weights of shared terms and answer type in the score
# that chose them before the scorer was learned (0.35 and 0.10), which measured 8 enough (docs/performance.md).
TYPE_BONUS = 0.10 / 0.35
# The NER model reads the sentences on this thread while the embedding workers embed them: both spend most of
# their time outside the GIL (matrix products, ONNX Runtime), and together they took 50 ms where one after the
# other took 64 (p50, 12 sentences, two cores).
_RECOGNIZING = ThreadPoolExecutor(1, thread_name_prefix="qa-ner")
SENTENCE_FEATURES = [
    "dense",  # cosine similarity of sentence and question
    "lexical",  # idf-weighted share of the question's content terms the sentence holds
    "has_type",  # holds something of the asked-for type the question does not say
    "passage_rank",  # 0 for the best-retrieved passage
    "order",  # rank of the sentence by the cheap features
    "words",
    "candidates",  # candidate mentions in it
    "fitting_candidates",  # of the asked-for kind
    "title_case",  # share of its words capitalised: headlines hold many names and few answers
    *PERIOD_FEATURES,  # its periods against the question's (qa/answer/periods.py)
]
CANDIDATE_FEATURES = [
    "mentions",
    "sentences",
    "articles",  # distinct articles whose sentences mention it
    "best_passage_rank",
    "best_order",
    "max_dense",
    "sum_dense",
    "max_lexical",
    "sum_lexical",
    "support_share",  # its summed sentence score over all candidates'
    "support_rank",  # among the names, or among the common noun phrases
    "inside_others",  # support of longer candidates that hold it
    "holds_others",  # support of shorter candidates it holds ("Kramp-Karrenbauer" in the full name)
    "in_passages",  # times it occurs in the text of all the passages read, embedded sentences or not
    "in_titles",  # passages whose article title holds it
    "proximity",  # nearness to the question's words in its sentence
    "order_fit",  # share of the question's words in its sentence on the side of it they are of the question word
    "appositive",  # set off by a comma beside the question's words: "Hamdullah Fitrat, deputy representative of …"
    "kind_fit",  # 1 of an asked-for kind, 0.5 when any kind may do or it has none, 0 otherwise
    "from_entity",
    "from_pattern",
    "from_head",
    "opens_sentence",
    "tokens",
    "said_share",  # share of its words the question says
    "capitalised",
    "title_case",  # of its best sentence
    "head_fit",  # cosine with the question's head noun (0 without one)
    "question_fit",  # cosine with the question
    *[f"asks_{kind.value}" for kind in WH_KINDS],
    *[f"is_{kind.value}" for kind in CANDIDATE_KINDS],
    *PERIOD_FEATURES,  # of its best sentence
    "period_share",  # share of its sentences that speak of the question's period
]


@dataclass
class CandidateGroup:
    """The mentions of one candidate phrase across the sentences read."""

    key: str
    mentions: list[Candidate]
    features: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def text(self) -> str:
        """The phrase as its first mention writes it."""
        return self.mentions[0].text


@dataclass
class Reading:
    """What the answerer read: the embedded sentences (best by the cheap features first) and the candidates."""

    asked: Asked
    sentences: list[Evidence]
    sentence_features: np.ndarray
    groups: list[CandidateGroup]
    periods: list[list[Period]]  # the periods each sentence speaks of

    @property
    def candidate_features(self) -> np.ndarray:
        """One row per scored candidate group, in CANDIDATE_FEATURES order."""
        if not self.groups:
            return np.zeros((0, len(CANDIDATE_FEATURES)), dtype=np.float32)
        return np.stack([group.features for group in self.groups]).astype(np.float32)


def read(
    question: str,
    passages: Sequence[Chunk],
    embeddings: MiniLMEmbeddings,
    recognizer: EntityRecognizer,
    period: AskedPeriod | None = None,
) -> Reading:
    """The sentences and candidates of the top passages with their features, each sentence's periods against the
    `period` the question is about; when that is past, the sentences that speak of it are read first."""
    wanted = asked(question)
    skim = _skim(question, wanted, passages, period)
    sentences, order = skim.sentences, skim.order
    if not sentences:
        return Reading(wanted, [], np.zeros((0, len(SENTENCE_FEATURES)), dtype=np.float32), [], [])
    chosen = [sentences[i] for i in order]
    texts = [s.text for s in chosen]
    recognized = _RECOGNIZING.submit(recognizer.entities, texts)
    vectors = np.array(embeddings.embed_documents(texts))
    question_vector = np.array(embeddings.embed_query(question))
    dense = vectors @ question_vector
    mentions = candidates(wanted, chosen, recognized.result())
    per_sentence = np.zeros(len(chosen))
    fitting = np.zeros(len(chosen))
    for mention in mentions:
        per_sentence[mention.sentence] += 1
        fitting[mention.sentence] += _kind_fit(mention.kind, wanted) == 1.0
    sentence_features = np.array(
        [
            [
                dense[j],
                skim.lexical[i],
                skim.has_type[i],
                skim.ranks[i],
                j,
                len(sentences[i].text.split()),
                per_sentence[j],
                fitting[j],
                _title_case(sentences[i].text),
                *skim.periods[i],
            ]
            for j, i in enumerate(order)
        ],
        dtype=np.float32,
    )
    chosen = [s.model_copy(update={"score": float(dense[j])}) for j, s in enumerate(chosen)]
    read_passages = list(passages[:MAX_PASSAGES])
    groups = _groups(wanted, chosen, mentions, sentence_features, embeddings, question_vector, read_passages)
    return Reading(wanted, chosen, sentence_features, groups, [skim.spoken[i] for i in order])


def closely_read(question: str, passages: Sequence[Chunk], period: AskedPeriod | None = None) -> list[Evidence]:
    """The sentences of the top passages that `read` reads closely (embeds, runs the NER model on, takes candidates
    from), chosen by the cheap features alone: where the evaluation's funnel looks for the gold answer after the
    passages and before the answer's own sentences."""
    skim = _skim(question, asked(question), passages, period)
    return [skim.sentences[i] for i in skim.order]


@dataclass
class _Skim:
    """Every sentence of the top passages with its cheap features, and the MAX_EMBEDDED best by them (`order`)."""

    sentences: list[Evidence]
    ranks: list[int]
    lexical: list[float]
    has_type: list[bool]
    spoken: list[list[Period]]
    periods: list[list[float]]
    order: list[int]


def _skim(question: str, wanted: Asked, passages: Sequence[Chunk], period: AskedPeriod | None) -> _Skim:
    sentences, ranks = _sentences(passages)
    if not sentences:
        return _Skim([], [], [], [], [], [], [])
    terms = content_terms(question)
    sentence_terms = [content_terms(s.text) for s in sentences]
    idf = _idf(terms, sentence_terms)
    question_lower = question.lower()
    lexical = [sum(idf[t] for t in terms & found) / (sum(idf.values()) or 1.0) for found in sentence_terms]
    has_type = [_has_new_answer(s.text, wanted.wh_kind, question_lower) for s in sentences]
    spoken = periods_of(sentences)
    periods = [relation(found, period) for found in spoken]
    # A question about a past period reads the sentences that speak of it first, by the bonus a sentence with an
    # answer of the asked type gets.
    overlapping = PERIOD_FEATURES.index("period_overlaps")
    in_period = [bool(period and period.past and row[overlapping]) for row in periods]
    # Stable sort: ties keep passage order.
    order = sorted(range(len(sentences)), key=lambda i: -(lexical[i] + TYPE_BONUS * (has_type[i] + in_period[i])))[
        :MAX_EMBEDDED
    ]
    return _Skim(sentences, ranks, lexical, has_type, spoken, periods, order)


def _sentences(passages: Sequence[Chunk]) -> tuple[list[Evidence], list[int]]:
    """The statements of four words or more of the top passages (no headline, byline, caption or sign-up line; a
    credit on a sentence's end cut off), each once, with the rank of its passage."""
    sentences: list[Evidence] = []
    ranks: list[int] = []
    seen: set[tuple[str, int]] = set()
    for rank, chunk in enumerate(passages[:MAX_PASSAGES]):
        for start, end in split_sentences(chunk.text):
            key = (chunk.article.id, chunk.start + start)
            if key in seen:  # overlapping chunks repeat sentences
                continue
            seen.add(key)
            end = start + statement_end(chunk.text[start:end])  # "… on Tuesday (Photo by …)" ends before the credit
            text = chunk.text[start:end]
            if len(text.split()) >= 4 and is_statement(text):
                sentences.append(
                    Evidence(chunk=chunk, start=chunk.start + start, end=chunk.start + end, text=text, score=0.0)
                )
                ranks.append(rank)
    return sentences, ranks


def _groups(
    wanted: Asked,
    sentences: list[Evidence],
    mentions: list[Candidate],
    sentence_features: np.ndarray,
    embeddings: MiniLMEmbeddings,
    question_vector: np.ndarray,
    passages: list[Chunk],
) -> list[CandidateGroup]:
    """The MAX_SCORED best-supported candidate groups, each with its feature row."""
    # A name and its short form ("FEMA") are one candidate.
    forms = short_forms(mentions, sentences)
    by_key: dict[str, list[Candidate]] = {}
    for mention in mentions:
        by_key.setdefault(forms.get(mention.key, mention.key), []).append(mention)
    if not by_key:
        return []
    dense, lexical = sentence_features[:, 0], sentence_features[:, 1]
    base = np.maximum(dense, 0) + lexical
    support = {key: float(sum(base[m.sentence] for m in found)) for key, found in by_key.items()}
    keys = list(by_key)
    inside = {k: sum(support[o] for o in keys if o != k and f" {k} " in f" {o} ") for k in keys}
    holds = {k: sum(support[o] for o in keys if o != k and f" {o} " in f" {k} ") for k in keys}
    keys.sort(key=lambda k: -(support[k] + holds[k]))
    # Common noun phrases are many and mostly no answer: they get their own slots, never a name's.
    is_phrase = {k: all(m.source == "phrase" for m in by_key[k]) for k in keys}
    phrases = [k for k in keys if is_phrase[k]]
    named = [k for k in keys if not is_phrase[k]]
    ranks = {k: i for group in (named, phrases) for i, k in enumerate(group)}
    keys = named[:MAX_SCORED] + phrases[:MAX_PHRASES]
    total = sum(support.values()) or 1.0
    texts = [by_key[k][0].text for k in keys]
    head = wanted.head
    vectors = embeddings.encode(texts + ([head] if head else []))
    texts_lower = [f" {' '.join(word_tokens(p.text))} " for p in passages]
    titles_lower = [f" {' '.join(word_tokens(p.article.title))} " for p in passages]
    groups = []
    for index, key in enumerate(keys):
        found = by_key[key]
        rows = sentence_features[[m.sentence for m in found]]
        best = min(found, key=lambda m: m.sentence)
        tokens = word_tokens(best.text)
        content = [t for t in tokens if t not in STOPWORDS] or tokens
        kind = max((m.kind for m in found), key=lambda k: _kind_fit(k, wanted))
        row = [
            len(found),
            len({m.sentence for m in found}),
            len({sentences[m.sentence].chunk.article.id for m in found}),
            rows[:, 3].min(),
            rows[:, 4].min(),
            rows[:, 0].max(),
            rows[:, 0].sum(),
            rows[:, 1].max(),
            rows[:, 1].sum(),
            support[key] / total,
            ranks[key],
            inside[key],
            holds[key],
            sum(text.count(f" {key} ") for text in texts_lower),
            sum(f" {key} " in title for title in titles_lower),
            max(_proximity(sentences[m.sentence].text, m.text, wanted.stems) for m in found),
            max(_order_fit(sentences[m.sentence].text, m.text, wanted) for m in found),
            max(_appositive(sentences[m.sentence].text, m.text, wanted.stems) for m in found),
            _kind_fit(kind, wanted),
            any(m.source == "entity" for m in found),
            any(m.source == "pattern" for m in found),
            any(m.source == "head" for m in found),
            all(m.opens_sentence for m in found),
            len(tokens),
            sum(said_in(t, wanted.stems) for t in content) / len(content),
            best.text[:1].isupper(),
            sentence_features[best.sentence, SENTENCE_FEATURES.index("title_case")],
            float(vectors[index] @ vectors[-1]) if head else 0.0,
            float(vectors[index] @ question_vector),
            *[wanted.wh_kind is k for k in WH_KINDS],
            *[kind is k for k in CANDIDATE_KINDS],
            *sentence_features[best.sentence, _PERIODS],
            rows[:, SENTENCE_FEATURES.index("period_overlaps")].mean(),
        ]
        groups.append(CandidateGroup(key=key, mentions=found, features=np.array(row, dtype=np.float32)))
    return groups


_PERIODS = slice(SENTENCE_FEATURES.index(PERIOD_FEATURES[0]), len(SENTENCE_FEATURES))


def _title_case(sentence: str) -> float:
    words = re.findall(r"[^\W\d_][\w’'-]*", sentence)
    return sum(word[0].isupper() for word in words) / len(words) if words else 0.0


def _kind_fit(kind: Kind, wanted: Asked) -> float:
    if kind in wanted.kinds:
        return 1.0
    if not wanted.kinds or kind in (Kind.NAME, Kind.OTHER):
        return 0.5
    return 0.0


def _idf(terms: set[str], documents: list[set[str]]) -> dict[str, float]:
    n = len(documents)
    return {t: math.log(1 + (n + 1) / (1 + sum(t in d for d in documents))) for t in terms}


def _has_new_answer(sentence: str, kind: Kind, question_lower: str) -> bool:
    """Whether the sentence holds something of the expected type that the question does not already say."""
    return any(m.group(0).lower() not in question_lower for m in TYPE_PATTERNS[kind].finditer(sentence))


def _proximity(sentence: str, phrase: str, question_stems: frozenset[str]) -> float:
    """Sum over the question's words in the sentence of 1 / (1 + their distance in words to the phrase)."""
    words = [(m.start(), m.group(0).lower()) for m in re.finditer(r"\w+", sentence)]
    at = sentence.find(phrase)
    first = sum(1 for start, _ in words if start < at)
    last = first + max(len(re.findall(r"\w+", phrase)), 1) - 1
    return sum(
        1.0 / (1 + min(abs(i - first), abs(i - last)))
        for i, (_, word) in enumerate(words)
        if not first <= i <= last and word not in STOPWORDS and stem_word(word) in question_stems
    )


def _appositive(sentence: str, phrase: str, question_stems: frozenset[str]) -> float:
    """1 when the phrase and a word the question says stand on either side of a comma, two words at most from it
    ("Her British counterpart, Ben Wallace," and "Hamdullah Fitrat, deputy official representative" for "who is the
    British defence secretary", "who is the deputy official representative"): a name and what the question calls it."""
    at = sentence.find(phrase)
    if at < 0:
        return 0.0
    before = re.search(r"((?:[\w’'-]+\s+){0,1}[\w’'-]+)\s*[,(–—]\s*$", sentence[:at])
    after = re.match(r"\s*[,)–—]\s*(?:the\s+|a\s+|an\s+)?((?:[\w’'-]+\s+){0,1}[\w’'-]+)", sentence[at + len(phrase) :])
    words = [w for found in (before, after) if found for w in re.findall(r"[\w’'-]+", found.group(1))]
    return float(any(w.lower() not in STOPWORDS and said_in(w.lower(), question_stems) for w in words))


def _order_fit(sentence: str, phrase: str, wanted: Asked) -> float:
    """Of the question's words in the sentence, the share that stand on the phrase's side that they stand of the
    question word in the question: "Russia became the first country to recognise the Taliban" fits "Which country
    recognised the Taliban?" for Russia (every word after it, as after "which"), not for the Taliban."""
    at = sentence.find(phrase)
    same = total = 0
    for match in re.finditer(r"\w+", sentence):
        word = match.group(0).lower()
        if at <= match.start() < at + len(phrase) or word in STOPWORDS:
            continue
        stem = stem_word(word)
        if stem in wanted.stems:
            total += 1
            same += (match.start() < at) == (stem in wanted.stems_before)
    return same / total if total else 0.5
