"""The chat models behind the LLM engines: the configured OpenAI-compatible endpoint, or the local model's server."""

from __future__ import annotations

import importlib.util
import threading

from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from qa.config import Settings
from qa.errors import ConfigError
from qa.local_llm import INSTALL_HINT, LOCAL_MODELS, LocalServer
from qa.models import EngineName

ENGINES: tuple[EngineName, ...] = ("extractive", "llm", "local")
# The engines as OpenAI "models" of the HTTP API.
MODEL_IDS: dict[str, EngineName] = {"qa-extractive": "extractive", "qa-llm": "llm", "qa-local": "local"}

_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()


def chat_model(settings: Settings, engine: EngineName) -> BaseChatModel:
    """The chat model of an LLM engine; raises ConfigError or LocalModelError with what to set or install."""
    if engine == "llm":
        if not settings.llm_base_url or not settings.llm_model:
            raise ConfigError(
                "the llm engine needs QA_LLM_BASE_URL (an OpenAI-compatible endpoint, e.g. "
                "http://127.0.0.1:11434/v1 for Ollama) and QA_LLM_MODEL"
            )
        return _openai_compatible(settings, settings.llm_base_url, settings.llm_model, settings.llm_api_key)
    if engine == "local":
        return _openai_compatible(settings, local_server(settings).url, settings.local_model, None)
    raise ConfigError(f"{engine!r} is not an LLM engine")


def engine_available(settings: Settings, engine: EngineName) -> bool:
    """Whether the engine is set up: the endpoint configured, or the local model's runtime installed."""
    if engine == "llm":
        return bool(settings.llm_base_url and settings.llm_model)
    if engine == "local":
        assembled = LOCAL_MODELS[settings.local_model].assembled(settings.local_models_dir)
        return importlib.util.find_spec("llama_cpp") is not None and assembled is not None
    return True


def engine_label(settings: Settings, engine: EngineName) -> str:
    """Who answers, for notices: 'the LLM at URL (model)' or 'the local model NAME'."""
    if engine == "llm":
        return f"the LLM at {settings.llm_base_url} ({settings.llm_model})"
    if engine == "local":
        return f"the local model {settings.local_model}"
    return "the extractive engine"


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


def _openai_compatible(settings: Settings, base_url: str, model: str, api_key: SecretStr | None) -> ChatOpenAI:
    # No retries: a failed call falls back to the extractive answer at once instead of after several timeouts.
    return ChatOpenAI(
        base_url=base_url,
        model=model,
        api_key=api_key or SecretStr("not-needed"),
        timeout=settings.llm_timeout,
        max_retries=0,
        temperature=0,
    )
