"""Benchmark questions read as the answer scorer learns from them: each question's passages as a user's question
gets them, the features of their candidates and sentences, and which are right; cached by the reading code's hash."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.entities import load_recognizer
from qa.answer.reading import CANDIDATE_FEATURES, SENTENCE_FEATURES, read
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.evaluation import metrics
from qa.evaluation.datasets import EvalDataset, EvalQuestion, TimeMode
from qa.evaluation.runner import eval_settings, open_engine

# Passages read as a user's question gets them: as of its quiz day, the recency ranking deciding (#20). Fit on
# window-mode reading, answers as of the day ran 1-2 points under the window's on 2022 and 2023q1.
TIME_MODE: TimeMode = "as-of"
# A question's number within its quiz or page, at the end of its id ("20230106_0", "timeqa-Newton_D._Baker_House-2").
QUESTION_NUMBER = re.compile(r"[-_]\d+$")
# Code whose change changes the features: the cache of readings is keyed by it.
_READING_SOURCES = (
    "answer/reading.py",
    "answer/candidates.py",
    "answer/entities.py",
    "answer/patterns.py",
    "answer/question.py",
    "answer/periods.py",
    "answer/statements.py",
    "fusion.py",
    "dates.py",
    "timewords.py",
    "embeddings.py",
    "text.py",
    "evaluation/examples.py",
)


@dataclass
class Example:
    """One question as read for training: its features, and which candidates and sentences are right."""

    dataset: str
    question_id: str
    group: str  # the questions written together (a quiz's, a page's): cross-validation folds keep them whole
    answerable: bool
    candidate_texts: list[str]
    candidate_sentences: list[list[int]]  # the sentences each candidate is mentioned in (indices of the read ones)
    candidate_features: np.ndarray
    candidate_f1: np.ndarray
    sentence_features: np.ndarray
    sentence_right: np.ndarray


def read_dataset(
    dataset: EvalDataset,
    settings: Settings,
    embeddings: MiniLMEmbeddings,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Example]:
    """Every question with a gold answer, read from its passages as of its quiz day; cached in data_dir/train/ (a
    cached reading needs no index)."""
    code = hashlib.sha256(b"".join((Path(__file__).parents[1] / s).read_bytes() for s in _READING_SOURCES))
    code.update(TIME_MODE.encode())
    collection = eval_settings(dataset, settings, embeddings.model_name).collection
    cache = settings.data_dir / "train" / f"{collection}-{code.hexdigest()[:10]}.json"
    if cache.is_file():
        return [_example(record) for record in json.loads(cache.read_text())]
    engine, _ = open_engine(dataset, settings, embeddings)
    recognizer = load_recognizer()
    questions = [q for q in dataset.questions if q.answer]
    examples = []
    for question in questions:
        examples.append(_read(dataset.name, question, engine, embeddings, recognizer))
        if on_progress:
            on_progress(1, len(questions))
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps([_record(example) for example in examples]))
    return examples


def _read(name: str, question: EvalQuestion, engine: Any, embeddings: Any, recognizer: Any) -> Example:
    """The question's passages as the engine retrieves them, read against the period it is about."""
    query = question.query(time=TIME_MODE)
    filters, window = query.search()
    period = query.period(window)
    passages = engine.retriever.retrieve(query.question, query.k, filters, period)
    reading = read(question.question, passages, embeddings, recognizer, period)
    texts = [group.text for group in reading.groups]
    golds = question.golds
    return Example(
        dataset=name,
        question_id=question.id,
        group=QUESTION_NUMBER.sub("", question.id),
        answerable=question.answerable,
        candidate_texts=texts,
        candidate_sentences=[sorted({m.sentence for m in group.mentions}) for group in reading.groups],
        candidate_features=reading.candidate_features,
        candidate_f1=np.array([max(metrics.token_f1(text, gold) for gold in golds) for text in texts]),
        sentence_features=reading.sentence_features,
        sentence_right=np.array([max(metrics.contains(s.text, gold) for gold in golds) for s in reading.sentences]),
    )


def _record(example: Example) -> dict[str, Any]:
    return {
        "dataset": example.dataset,
        "question_id": example.question_id,
        "group": example.group,
        "answerable": example.answerable,
        "candidate_texts": example.candidate_texts,
        "candidate_sentences": example.candidate_sentences,
        "candidate_features": example.candidate_features.tolist(),
        "candidate_f1": example.candidate_f1.tolist(),
        "sentence_features": example.sentence_features.tolist(),
        "sentence_right": example.sentence_right.tolist(),
    }


def _example(record: dict[str, Any]) -> Example:
    return Example(
        dataset=record["dataset"],
        question_id=record["question_id"],
        group=record["group"],
        answerable=record["answerable"],
        candidate_texts=record["candidate_texts"],
        candidate_sentences=record["candidate_sentences"],
        candidate_features=np.array(record["candidate_features"], dtype=np.float32).reshape(
            -1, len(CANDIDATE_FEATURES)
        ),
        candidate_f1=np.array(record["candidate_f1"]),
        sentence_features=np.array(record["sentence_features"], dtype=np.float32).reshape(-1, len(SENTENCE_FEATURES)),
        sentence_right=np.array(record["sentence_right"]),
    )
