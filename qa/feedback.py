"""Thumbs up or down on an answer, appended as one JSON line that evaluation scripts can read back."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from qa.models import Answer

Rating = Literal["up", "down"]


class Feedback(BaseModel):
    """One person's verdict on one answer."""

    time: datetime = Field(default_factory=lambda: datetime.now(UTC), description="When it was given (UTC).")
    rating: Rating = Field(description="'up' for a good answer, 'down' for a bad one.")
    answer: Answer = Field(description="The question, answer and citations that were rated.")
    filters: dict[str, str | int | None] = Field(
        default_factory=dict, description="Filters and k the question was asked with."
    )


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
