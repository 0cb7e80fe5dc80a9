"""The chat models of the LLM answerers: the configured OpenAI-compatible endpoint, or the local model's server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import Field, SecretStr

from qa.config import Settings
from qa.errors import ConfigError
from qa.offline_model import INSTALL_HINT, LOCAL_MODELS, LocalServer

_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()


def endpoint_chat_model(settings: Settings) -> BaseChatModel:
    """The `llm` answerer's chat model: the configured endpoint; ConfigError saying what to set if it is not."""
    if not settings.llm.base_url or not settings.llm.model:
        raise ConfigError(
            "the llm engine needs QA_LLM_BASE_URL (an OpenAI-compatible endpoint, e.g. "
            "http://127.0.0.1:11434/v1 for Ollama) and QA_LLM_MODEL"
        )
    return ChatOpenAI(**_openai_options(settings, settings.llm.base_url, settings.llm.model, settings.llm.api_key))


def local_chat_model(settings: Settings) -> BaseChatModel:
    """The `local` answerer's chat model: the offline model's server, started on first use."""
    server = local_server(settings)
    return LocalChatModel(server=server, **_openai_options(settings, server.url, settings.local_model, None))


def local_server(settings: Settings) -> LocalServer:
    """The local model's server, started on first use and shared by the process.

    The model must be assembled already (`qa local-llm`): copying and hashing a gigabyte is no work for a request.
    """
    with _servers_lock:
        if settings.local_model not in _servers:
            path = LOCAL_MODELS[settings.local_model].assembled(settings.local_models_dir)
            if path is None:
                raise ConfigError(
                    f"the local engine needs the model {settings.local_model} in {settings.local_models_dir}: "
                    f"{INSTALL_HINT}, or run `qa local-llm` if its parts are installed"
                )
            _servers[settings.local_model] = LocalServer(path)
        return _servers[settings.local_model]


class LocalChatModel(ChatOpenAI):
    """The OpenAI protocol to the local model's server, which is started again if it died, and whose crash is
    reported as one rather than as a connection error."""

    server: Any = Field(exclude=True, description="The LocalServer answering.")

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        self.server.ensure_running()
        try:
            result = super()._generate(*args, **kwargs)
        except Exception as error:
            if crash := self.server.crash():
                raise crash from error
            raise
        self.server.answered()
        return result

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self.server.ensure_running()
        try:
            yield from super()._stream(*args, **kwargs)
        except Exception as error:
            if crash := self.server.crash():
                raise crash from error
            raise
        self.server.answered()


def _openai_options(settings: Settings, base_url: str, model: str, api_key: SecretStr | None) -> dict[str, Any]:
    # No retries: a failed call falls back to the extractive answer at once instead of after several timeouts.
    return {
        "base_url": base_url,
        "model": model,
        "api_key": api_key or SecretStr("not-needed"),
        "timeout": settings.llm.timeout,
        "max_retries": 0,
        "temperature": 0,
    }
