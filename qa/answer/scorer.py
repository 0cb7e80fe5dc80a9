"""The learned answer scorer: three small LightGBM models and the calibration that turns their scores into
probabilities, read from a model folder whose files are checked against its manifest. The candidate model ranks a
question's candidates; the answer model judges the one ranked first (its probability of being right is the
confidence: a ranker's scores order the candidates of one question but do not compare across questions); the
sentence model scores each sentence for holding the answer.

The shipped folder (qa/answer/scorer_model/) is trained on RealTime QA 2022-2024 by `qa eval train`; its
manifest records what it was trained on, the features in order, each file's sha256 and the figures it gave.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from qa.answer.reading import CANDIDATE_FEATURES, SENTENCE_FEATURES
from qa.errors import QAError

SHIPPED = Path(__file__).with_name("scorer_model")
MANIFEST = "manifest.json"
CANDIDATE_MODEL = "candidates.txt"
ANSWER_MODEL = "answers.txt"
SENTENCE_MODEL = "sentences.txt"
MODEL_FILES = (CANDIDATE_MODEL, ANSWER_MODEL, SENTENCE_MODEL)


class ScorerModelError(QAError):
    """The answer scorer's files are missing, changed or for other features."""


class Calibration(BaseModel):
    """A monotone map from a raw score to the probability of being right (isotonic regression's steps)."""

    x: list[float] = Field(description="Raw scores, ascending.")
    y: list[float] = Field(description="Probability of being right at each raw score.")

    def __call__(self, score: float) -> float:
        """The calibrated probability of a raw score (linear between steps)."""
        return float(self.many([score])[0])

    def many(self, scores: Sequence[float]) -> np.ndarray:
        """The calibrated probabilities of raw scores; the scores themselves when nothing was fit."""
        return np.interp(scores, self.x, self.y) if self.x else np.asarray(scores, dtype=float)


class Manifest(BaseModel):
    """What a model folder holds and how it was made."""

    candidate_features: list[str]
    sentence_features: list[str]
    sha256: dict[str, str] = Field(description="sha256 of each model file by name.")
    confidence: Calibration = Field(description="Answer model's score of the best candidate → probability it is right.")
    sentence_confidence: Calibration = Field(description="Best sentence's score → probability it holds the answer.")
    refusal_threshold: float = Field(
        description="An answer whose best sentence holds the answer with a lower probability is a refusal."
    )
    shown_threshold: float = Field(description="A short answer at least this confident is shown in bold.")
    trained_on: list[str] = Field(description="The datasets the models were fit on.")
    figures: dict[str, Any] = Field(default_factory=dict, description="What training measured (held-out years).")


class AnswerScorer:
    """Scores of candidate groups and sentences, and the confidence of an answer."""

    def __init__(self, folder: Path) -> None:
        import lightgbm  # deferred: the HTTP client never scores

        self.folder = folder
        self.manifest = read_manifest(folder)
        if (self.manifest.candidate_features, self.manifest.sentence_features) != (
            CANDIDATE_FEATURES,
            SENTENCE_FEATURES,
        ):
            raise ScorerModelError(f"the answer scorer in {folder} was trained on other features: retrain it")
        boosters = {}
        for name in MODEL_FILES:
            try:
                text = (folder / name).read_bytes()
            except OSError:
                raise ScorerModelError(f"the answer scorer's {name} is missing in {folder}") from None
            digest = hashlib.sha256(text).hexdigest()
            if digest != self.manifest.sha256.get(name):
                raise ScorerModelError(
                    f"the answer scorer's {name} in {folder} has changed (sha256 {digest[:12]}…, manifest "
                    f"{self.manifest.sha256.get(name, '')[:12]}…): retrain it or restore the file"
                )
            boosters[name] = lightgbm.Booster(model_str=text.decode())
        self._candidates, self._answers = boosters[CANDIDATE_MODEL], boosters[ANSWER_MODEL]
        self._sentences = boosters[SENTENCE_MODEL]
        self._lock = threading.Lock()

    def candidate_scores(self, features: np.ndarray) -> np.ndarray:
        """Each candidate group's rank score among the question's (higher: ranked first)."""
        return self._predict(self._candidates, features)

    def answer_scores(self, features: np.ndarray) -> np.ndarray:
        """Each candidate group's raw score of being right, comparable across questions: what confidence reads."""
        return self._predict(self._answers, features)

    def sentence_scores(self, features: np.ndarray) -> np.ndarray:
        """Each sentence's raw score of holding the answer."""
        return self._predict(self._sentences, features)

    def _predict(self, booster: Any, features: np.ndarray) -> np.ndarray:
        if not len(features):
            return np.zeros(0)
        with self._lock:  # a Booster is not safe to call from several threads at once
            return np.asarray(booster.predict(features, num_threads=1), dtype=np.float64)


def read_manifest(folder: Path | None = None) -> Manifest:
    """The manifest of the scorer in `folder` (the shipped one if None): what the shells read its thresholds from.
    Parsed once per version of the file: the chat asks for it at every turn it draws."""
    path = (folder or SHIPPED) / MANIFEST
    try:
        stat = path.stat()
    except OSError:
        raise ScorerModelError(f"the answer scorer's {MANIFEST} is missing in {path.parent}") from None
    return _parsed_manifest(path, stat.st_mtime_ns, stat.st_size)


@cache
def _parsed_manifest(path: Path, mtime_ns: int, size: int) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError:
        raise ScorerModelError(f"the answer scorer's {MANIFEST} is missing in {path.parent}") from None
    except ValueError as error:
        raise ScorerModelError(f"{path} is not a scorer manifest: {_first_line(error)}") from None


def load_scorer(folder: Path | None = None) -> AnswerScorer:
    """The scorer in `folder`, or the shipped one."""
    return AnswerScorer(folder or SHIPPED)


def file_sha256(path: Path) -> str:
    """sha256 of a file, as the manifest records it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """The manifest, validated, as pretty JSON."""
    (folder / MANIFEST).write_text(Manifest.model_validate(manifest).model_dump_json(indent=1) + "\n")


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]
