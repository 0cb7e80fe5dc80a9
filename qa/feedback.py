"""Thumbs up or down on an answer, appended as one JSON line that evaluation scripts can read back."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from qa.models import Answer

Rating = Literal["up", "down"]
MAX_ANSWER_CHARS = 20_000
MAX_CITATIONS = 50
_MARKER = re.compile(r"\[(\d+)\]")


class Feedback(BaseModel):
    """One person's verdict on one answer, which must be an answer this service could have given."""

    time: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When it was given (UTC).")
    rating: Rating = Field(description="'up' for a good answer, 'down' for a bad one.")
    answer: Answer = Field(description="The question, answer and citations that were rated.")
    filters: dict[str, str | int | None] = Field(
        default_factory=dict, max_length=10, description="Filters and k the question was asked with."
    )

    @model_validator(mode="after")
    def _well_formed(self) -> Feedback:
        answer = self.answer
        if len(answer.question) > MAX_ANSWER_CHARS or len(answer.answer) > MAX_ANSWER_CHARS:
            raise ValueError(f"answer: question and answer are at most {MAX_ANSWER_CHARS:,} characters each")
        if len(answer.citations) > MAX_CITATIONS:
            raise ValueError(f"answer: at most {MAX_CITATIONS} citations")
        if answer.refused and answer.citations:
            raise ValueError("answer: a refusal cites nothing")
        if [c.n for c in answer.citations] != list(range(1, len(answer.citations) + 1)):
            raise ValueError("answer: citations are numbered 1, 2, 3, … in order")
        for citation in answer.citations:
            if citation.end - citation.start != len(citation.quote) or len(citation.quote) > MAX_ANSWER_CHARS:
                raise ValueError(f"answer: citation [{citation.n}]'s offsets do not span its quote")
        if not {int(n) for n in _MARKER.findall(answer.answer)} <= {c.n for c in answer.citations}:
            raise ValueError("answer: a [n] marker names no citation")
        if any(isinstance(value, str) and len(value) > 200 for value in self.filters.values()):
            raise ValueError("filters: values are at most 200 characters")
        return self


def record_feedback(path: Path, feedback: Feedback) -> None:
    """Append one line; a single O_APPEND write keeps concurrent writers' lines whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (feedback.model_dump_json() + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_feedback(path: Path) -> list[Feedback]:
    """Every feedback line in the file, oldest first; a missing file holds none."""
    if not path.exists():
        return []
    return [Feedback.model_validate(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
