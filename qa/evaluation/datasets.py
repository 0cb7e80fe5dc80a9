"""Benchmark datasets: a directory with articles.jsonl, questions.jsonl and optionally baselines.json."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from qa.answerers import AnswererName
from qa.errors import QAError
from qa.query import Query

# A question about "this week" is asked over the articles of its week: the benchmark's window.
WINDOW_BEFORE = timedelta(days=10)
WINDOW_AFTER = timedelta(days=1)
QUIZ_DAY = re.compile(r"^(\d{8})_")
# How a benchmark question is asked: as of its day alone, or in the benchmark's date window (the old default).
TimeMode = Literal["as-of", "window"]
BASELINE_METRICS = {
    "_generation_em": "em",
    "_generation_f1": "f1",
    "_multiple_choice_accuracy": "mc_accuracy",
}


class DatasetError(QAError):
    """A dataset directory is missing a file or holds an invalid record."""


class EvalQuestion(BaseModel):
    """One benchmark question with its gold answer and gold articles."""

    id: str = Field(description="Stable id of the question.")
    question: str = Field(description="The question as the engine is asked it (never with its choices).")
    date: dt.date | None = Field(default=None, description="When the question was asked; sets the date window.")
    source: str | None = Field(default=None, description="Who wrote the question, e.g. the quiz's publisher.")
    choices: list[str] = Field(default_factory=list, description="Multiple-choice options, if any.")
    answer_index: int | None = Field(default=None, description="Index of the gold choice.")
    answer: str = Field(default="", description="Gold answer text; empty when the articles hold no answer.")
    answers: list[str] = Field(
        default_factory=list, description="Every accepted answer, when the benchmark lists several (answer first)."
    )
    evidence: str = Field(default="", description="The sentence the question was written from, if known.")
    gold_article_ids: list[str] = Field(
        default_factory=list, description="Articles whose text holds the answer; empty when none is known."
    )

    @property
    def golds(self) -> list[str]:
        """Every accepted answer: an answer is scored against the one it matches best."""
        return list(dict.fromkeys([self.answer, *self.answers] if self.answer else self.answers))

    @property
    def answerable(self) -> bool:
        """Whether a gold article is known: retrieval is scored on these questions only."""
        return bool(self.gold_article_ids)

    def query(self, k: int | None = None, answerer: AnswererName = "extractive", time: TimeMode = "as-of") -> Query:
        """The question as the engine is asked it, alone, never with its choices: as of its quiz day and nothing
        else ("as-of": what a user gives), or in the benchmark's date window ("window")."""
        if time == "window":
            since, until = self.window()
            return Query(question=self.question, k=k, since=since, until=until, answerer=answerer)
        if self.asked_on is None:
            return Query(question=self.question, k=k, answerer=answerer)
        return Query(question=self.question, k=k, as_of=self.asked_on, answerer=answerer)

    @property
    def asked_on(self) -> dt.date | None:
        """The day the question is asked as of: its quiz's day, the date in its id ("20230106_0"), on which the
        articles found for the quiz had been published; else its date."""
        found = QUIZ_DAY.match(self.id)
        if found:
            try:
                return dt.datetime.strptime(found.group(1), "%Y%m%d").date()
            except ValueError:
                pass
        return self.date

    def window(self) -> tuple[dt.date | None, dt.date | None]:
        """Publication dates the question may be answered from: [date - 10 days, date + 1 day]."""
        if self.date is None:
            return None, None
        return self.date - WINDOW_BEFORE, self.date + WINDOW_AFTER


class Baseline(BaseModel):
    """A published score on the dataset."""

    system: str = Field(description="Which system, e.g. 'gpt3_gcs'.")
    metric: str = Field(description="Which of our metrics it is comparable to: em, f1 or mc_accuracy.")
    value: float = Field(description="The published score.")
    n: int | None = Field(default=None, description="Questions it was computed on.")


class EvalDataset(BaseModel):
    """A benchmark, loaded."""

    name: str = Field(description="The directory's name; several joined by '+' for a corpus of several.")
    articles_path: Path = Field(description="articles.jsonl: one article record a line.")
    questions: list[EvalQuestion]
    baselines: list[Baseline] = Field(default_factory=list)
    parts: list[EvalDataset] = Field(
        default_factory=list, description="The datasets merged into this one, when it is several as one corpus."
    )

    def fingerprint(self) -> str:
        """sha256 of the article file: the index built from it is reused while this stays the same."""
        digest = hashlib.sha256()
        with self.articles_path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def load_dataset(directory: Path) -> EvalDataset:
    """Read a dataset directory; raise DatasetError with the file and line of the first problem."""
    if not directory.is_dir():
        raise DatasetError(f"no such dataset directory: {directory}")
    articles, questions_path = directory / "articles.jsonl", directory / "questions.jsonl"
    for required in (articles, questions_path):
        if not required.is_file():
            raise DatasetError(f"{directory} has no {required.name} (see ../shared/benchmarks/README.md)")
    questions = []
    for number, line in enumerate(questions_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            questions.append(EvalQuestion.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValidationError) as error:
            problem = str(error).splitlines()[0] if isinstance(error, json.JSONDecodeError) else _first(error)
            raise DatasetError(f"{questions_path}:{number}: {problem}") from None
    if not questions:
        raise DatasetError(f"{questions_path} holds no questions")
    return EvalDataset(
        name=directory.resolve().name,
        articles_path=articles.resolve(),
        questions=questions,
        baselines=_baselines(directory / "baselines.json"),
    )


def load_datasets(directories: Sequence[Path], work_dir: Path) -> EvalDataset:
    """One dataset directory, or several as one corpus: a multi-year news stream replayed. Their questions are
    kept in date order; their articles merged by id, each with its earliest `week` (the day it was first
    available: years found some articles again), into one file under work_dir, written once. Published
    baselines are per dataset: the merged one has none."""
    parts = [load_dataset(directory) for directory in directories]
    if len(parts) == 1:
        return parts[0]
    names = [part.name for part in parts]
    if len(set(names)) < len(names):
        raise DatasetError(f"a dataset is given twice: {' '.join(names)}")
    merged: dict[str, dict] = {}
    for part in parts:
        with part.articles_path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    record = json.loads(line)
                    key = str(record.get("id") or record.get("url") or line)
                    kept = merged.get(key)
                    if kept is None or str(record.get("week", "")) < str(kept.get("week", "")):
                        merged[key] = record
    text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in merged.values())
    name = "+".join(names)
    path = work_dir / f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:10]}.jsonl"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    questions = sorted((q for part in parts for q in part.questions), key=lambda q: q.asked_on or dt.date.min)
    return EvalDataset(name=name, articles_path=path, questions=questions, parts=parts)


def _baselines(path: Path) -> list[Baseline]:
    """Published scores named <system><metric suffix>, e.g. gpt3_gcs_generation_f1: {"mean": 0.41, "n": 390}."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DatasetError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from None
    found = []
    for key, value in data.items():
        for suffix, metric in BASELINE_METRICS.items():
            if key.endswith(suffix) and isinstance(value, dict) and isinstance(value.get("mean"), int | float):
                found.append(
                    Baseline(system=key.removesuffix(suffix), metric=metric, value=value["mean"], n=value.get("n"))
                )
    return found


def _first(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def slug(text: str) -> str:
    """Lowercase letters, digits and dashes: safe in a collection or file name."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:24] or "dataset"
