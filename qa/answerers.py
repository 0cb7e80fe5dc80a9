"""The answer writers a question may choose (`--engine`, `engine` in JSON, the API's model ids): one table.

Every list of them (the CLI's choices, the API's models, the chat's captions, what is set up) is read from
ANSWERERS; adding one is one entry here. Light to import: a chat model's machinery is imported only to build one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from qa.answerer_names import AnswererName

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from qa.config import Settings

__all__ = ["ANSWERERS", "AnswererName", "AnswererSpec", "by_model_id", "set_up"]


@dataclass(frozen=True)
class AnswererSpec:
    """One answer writer: its names in each shell, whether it is set up, and how to build its chat model."""

    name: AnswererName
    model_id: str  # its OpenAI "model" in the HTTP API
    caption: str  # what the chat says of it
    is_set_up: Callable[[Settings], bool]
    label: Callable[[Settings], str]  # who answered, for notices
    chat_model: Callable[[Settings], BaseChatModel] | None  # None: it writes without an LLM


def _endpoint_set_up(settings: Settings) -> bool:
    return bool(settings.llm.base_url and settings.llm.model)


def _local_set_up(settings: Settings) -> bool:
    from qa.offline_model import LOCAL_MODELS

    assembled = LOCAL_MODELS[settings.local_model].assembled(settings.local_models_dir)
    return importlib.util.find_spec("llama_cpp") is not None and assembled is not None


def _endpoint_model(settings: Settings) -> BaseChatModel:
    from qa.chat_models import endpoint_chat_model

    return endpoint_chat_model(settings)


def _local_model(settings: Settings) -> BaseChatModel:
    from qa.chat_models import local_chat_model

    return local_chat_model(settings)


ANSWERERS: dict[AnswererName, AnswererSpec] = {
    spec.name: spec
    for spec in (
        AnswererSpec(
            name="extractive",
            model_id="qa-extractive",
            caption="Quotes the best sentences; needs no LLM.",
            is_set_up=lambda _: True,
            label=lambda _: "the extractive engine",
            chat_model=None,
        ),
        AnswererSpec(
            name="llm",
            model_id="qa-llm",
            caption="Your OpenAI-compatible LLM writes the answer; every claim is checked against its quote.",
            is_set_up=_endpoint_set_up,
            label=lambda settings: f"the LLM at {settings.llm.base_url} ({settings.llm.model})",
            chat_model=_endpoint_model,
        ),
        AnswererSpec(
            name="local",
            model_id="qa-local",
            caption="The offline model on this machine writes it (slow on a laptop); claims are checked the same way.",
            is_set_up=_local_set_up,
            label=lambda settings: f"the local model {settings.local_model}",
            chat_model=_local_model,
        ),
    )
}
assert tuple(ANSWERERS) == get_args(AnswererName), "every answerer name has exactly one spec"


def by_model_id(model_id: str) -> AnswererName | None:
    """The answerer an OpenAI model id names, if any."""
    return next((spec.name for spec in ANSWERERS.values() if spec.model_id == model_id), None)


def set_up(settings: Settings) -> list[AnswererName]:
    """The answerers that can run with these settings: extractive always, the others once configured."""
    return [spec.name for spec in ANSWERERS.values() if spec.is_set_up(settings)]
