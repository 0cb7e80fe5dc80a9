"""The names of the answer writers, on their own: the settings name them without importing how each is built
(qa.answerers, which builds them from the settings)."""

from typing import Literal

AnswererName = Literal["extractive", "llm", "local"]
"""Who writes an answer: sentences picked from the passages (no LLM), the configured endpoint, the offline model."""
