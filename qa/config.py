"""All settings in one place, read from the environment (QA_*) or a .env file when asked for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa.answerer_names import AnswererName
from qa.errors import ConfigError, QAError

INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_interval(text: str, *, zero: bool = False) -> float:
    """Seconds in '15m', '1h', '90s', '1d' (minutes when no unit is given); '0' only where `zero` turns a thing off."""
    found = INTERVAL.match(text)
    if not found or (float(found[1]) <= 0 and not zero):
        raise QAError(f"invalid interval {text!r}: use e.g. 15m, 1h, 90s")
    return float(found[1]) * {"s": 1, "m": 60, "": 60, "h": 3600, "d": 86400}[found[2]]


class FetchSettings(BaseModel):
    """How pages and feeds are fetched from the web (QA_FETCH_*)."""

    model_config = ConfigDict(frozen=True)

    private: bool = Field(
        default=False,
        description="Let URLs from the HTTP API, the chat and feeds reach loopback and private addresses (an "
        "intranet, tests); link-local and cloud-metadata addresses stay refused.",
    )
    timeout: float = Field(default=20, gt=0, description="Seconds one page or feed fetch may take in all.")
    max_mb: float = Field(
        default=10, gt=0, description="Largest page or feed fetched, compressed or decompressed (MB)."
    )
    host_delay: float = Field(
        default=1.0, ge=0, description="Seconds between two requests to the same host (feeds, their pages)."
    )


class ApiSettings(BaseModel):
    """The HTTP API: who may call it and for how long (QA_API_*), and the API the chat uses instead of its own
    engine (QA_API_URL)."""

    model_config = ConfigDict(frozen=True)

    token: SecretStr | None = Field(
        default=None, description="Bearer token every /v1 route of the HTTP API requires; required off loopback."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A second bearer token that may read /metrics only (a scraper's), beside QA_API_TOKEN.",
    )
    timeout: float = Field(
        default=120, gt=0, description="Seconds an HTTP API request may take before it is answered 504."
    )
    cors_origins: list[str] = Field(
        default=[], description="Web origins allowed to call the API from a browser (JSON list); none by default."
    )
    url: str | None = Field(
        default=None, description="The chat uses this HTTP API (e.g. http://127.0.0.1:8000) instead of its own engine."
    )

    @field_validator("token", "metrics_token")
    @classmethod
    def _token_not_blank(cls, token: SecretStr | None) -> SecretStr | None:
        # An empty QA_API_TOKEN= would be "a token" that an empty Authorization header matches: the API open to all.
        if token is not None and not token.get_secret_value().strip():
            raise ValueError("the token is empty: set a long random token, or unset QA_API_TOKEN")
        return token


class LLMSettings(BaseModel):
    """The OpenAI-compatible endpoint the llm answerer calls (QA_LLM_*)."""

    model_config = ConfigDict(frozen=True)

    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama) or https://api.openai.com/v1.",
    )
    model: str | None = Field(default=None, description="Model name the endpoint serves, e.g. llama3.1:8b.")
    api_key: SecretStr | None = Field(default=None, description="API key for the endpoint, if it needs one.")
    timeout: float = Field(default=60, gt=0, description="Seconds to wait for the LLM before answering extractively.")


class Limits(BaseModel):
    """The largest inputs taken (QA_MAX_*): anything larger is refused with a one-line error."""

    model_config = ConfigDict(frozen=True)

    file_mb: float = Field(default=40, gt=0, description="Files larger than this are skipped at ingest.")
    upload_mb: float = Field(default=20, gt=0, description="Uploads (chat, API) larger than this are refused.")
    request_kb: float = Field(
        default=2048, gt=0, description="Other HTTP API bodies (questions, chats) larger than this are refused."
    )
    article_chars: int = Field(default=2_000_000, gt=0, description="Articles longer than this are skipped.")


class Settings(BaseSettings):
    """Configuration of the QA engine; every field can be set as QA_<NAME> in the environment or .env, a group's
    as QA_<GROUP>_<NAME> (QA_FETCH_TIMEOUT sets fetch.timeout)."""

    # A group's variables split once after its name: QA_FETCH_HOST_DELAY is fetch.host_delay.
    model_config = SettingsConfigDict(
        env_prefix="QA_",
        env_file=".env",
        extra="ignore",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        validate_by_name=True,
    )

    data_dir: Path = Field(default=Path(".qa"), description="Directory for the embedded Chroma index.")
    chroma_url: str | None = Field(
        default=None, description="Chroma server, e.g. http://127.0.0.1:8000; embedded storage when unset."
    )
    collection: str = Field(
        default="qa", pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$", description="Chroma collection prefix."
    )
    lock_timeout: float = Field(
        default=60, ge=0, description="Seconds a write waits while another process writes the same data directory."
    )
    chunk_words: int = Field(default=120, ge=20, le=180, description="Target words per chunk (model limit ~180).")
    chunk_overlap_words: int = Field(
        default=30, ge=0, description="Words of trailing sentences repeated in the next chunk."
    )
    embedding_backend: Literal["auto", "onnx-int8", "onnx-fp32", "torch-bf16", "sentence-transformers"] = Field(
        default="auto",
        description="How vectors are made: auto (the fastest within the quality bound on this CPU, measured once: "
        "`qa doctor`), or one backend by name (docs/performance.md).",
    )
    embedding_batch_size: int = Field(default=32, ge=1, description="Texts per model call of the PyTorch backends.")
    k: int = Field(default=5, ge=1, le=50, description="Passages given to the answerer.")
    refusal_threshold: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Probability that the best sentence holds the answer below which an extractive answer is a "
        "refusal; the answer scorer's own when unset.",
    )
    answer_model: Path | None = Field(
        default=None, description="Folder of the answer scorer (qa eval train writes one); the shipped one when unset."
    )
    answerer: AnswererName = Field(
        default="extractive",
        validation_alias="QA_ENGINE",  # users set the answer writer as QA_ENGINE, like --engine
        description="Who writes answers: extractive (no LLM), llm (the QA_LLM_* endpoint) or local (offline model).",
    )
    local_model: Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"] = Field(
        default="qwen2.5-coder-1.5b", description="The offline model the local answerer runs (make local-llm)."
    )
    models_dir: Path | None = Field(
        default=None, description="Where the offline model is assembled; <data_dir>/models when unset."
    )
    feed_max_entries: int = Field(default=50, ge=1, description="Entries one feed's poll fetches at most.")
    feed_every: float = Field(
        default=900,
        ge=0,
        description="How often `qa serve` polls the followed feeds in the background: 15m, 1h, 90s (minutes without "
        "a unit); 0 turns it off.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="The request log of `qa serve`: a line of text per request, or JSON lines."
    )
    log_questions: bool = Field(
        default=False,
        description="Put the question into each request's log line (off: questions can be private; docs/deploy.md).",
    )
    feedback_per_minute: int = Field(
        default=30, ge=1, description="Feedback calls one client may make to the HTTP API in a minute."
    )
    fetch: FetchSettings = Field(default=FetchSettings(), description="Fetching pages and feeds (QA_FETCH_*).")
    api: ApiSettings = Field(default=ApiSettings(), description="The HTTP API (QA_API_*).")
    llm: LLMSettings = Field(default=LLMSettings(), description="The LLM endpoint (QA_LLM_*).")
    max: Limits = Field(default=Limits(), description="The largest inputs taken (QA_MAX_*).")

    @field_validator("feed_every", mode="before")
    @classmethod
    def _interval(cls, every: Any) -> Any:
        if isinstance(every, str):
            try:
                return parse_interval(every, zero=True)
            except QAError as error:
                raise ValueError(str(error)) from None
        return every

    @property
    def local_models_dir(self) -> Path:
        """The folder holding the assembled offline models."""
        return self.models_dir or self.data_dir / "models"


def get_settings(settings: Settings | dict[str, Any] | None = None) -> Settings:
    """Return `settings` as is, build them from a dict of overrides, or read them from the environment."""
    if isinstance(settings, Settings):
        return settings
    try:
        return Settings(**(settings or {}))
    except ValidationError as error:
        problem = error.errors()[0]
        name = "_".join(str(part) for part in problem["loc"]).upper()
        name = name if name.startswith("QA_") else f"QA_{name}"
        raise ConfigError(f"invalid setting {name}: {problem['msg']}") from None
