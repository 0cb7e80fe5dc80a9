"""Settings: every QA_* variable keeps its name, the groups (fetch, api, llm, max) are read from theirs, and a bad
value is a one-line error that names the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings, get_settings
from qa.errors import ConfigError

# Every variable the docs name, with a value that is not its default, and where it lands.
VARIABLES = {
    "QA_DATA_DIR": ("/tmp/qa-data", lambda s: s.data_dir == Path("/tmp/qa-data")),
    "QA_CHUNK_WORDS": ("100", lambda s: s.chunk_words == 100),
    "QA_ENGINE": ("llm", lambda s: s.answerer == "llm"),
    "QA_LOCAL_MODEL": ("qwen2.5-coder-0.5b", lambda s: s.local_model == "qwen2.5-coder-0.5b"),
    "QA_FEED_MAX_ENTRIES": ("7", lambda s: s.feed_max_entries == 7),
    "QA_FETCH_PRIVATE": ("1", lambda s: s.fetch.private is True),
    "QA_FETCH_TIMEOUT": ("3.5", lambda s: s.fetch.timeout == 3.5),
    "QA_FETCH_MAX_MB": ("2", lambda s: s.fetch.max_mb == 2),
    "QA_FETCH_HOST_DELAY": ("0.25", lambda s: s.fetch.host_delay == 0.25),
    "QA_API_TOKEN": ("s3cret-token", lambda s: s.api.token.get_secret_value() == "s3cret-token"),
    "QA_API_TIMEOUT": ("9", lambda s: s.api.timeout == 9),
    "QA_API_CORS_ORIGINS": (
        '["https://newsroom.example"]',
        lambda s: s.api.cors_origins == ["https://newsroom.example"],
    ),
    "QA_API_URL": ("http://127.0.0.1:8000", lambda s: s.api.url == "http://127.0.0.1:8000"),
    "QA_LLM_BASE_URL": ("http://127.0.0.1:11434/v1", lambda s: s.llm.base_url == "http://127.0.0.1:11434/v1"),
    "QA_LLM_MODEL": ("llama3.1:8b", lambda s: s.llm.model == "llama3.1:8b"),
    "QA_LLM_API_KEY": ("sk-test", lambda s: s.llm.api_key.get_secret_value() == "sk-test"),
    "QA_LLM_TIMEOUT": ("5", lambda s: s.llm.timeout == 5),
    "QA_MAX_FILE_MB": ("4", lambda s: s.max.file_mb == 4),
    "QA_MAX_UPLOAD_MB": ("3", lambda s: s.max.upload_mb == 3),
    "QA_MAX_REQUEST_KB": ("64", lambda s: s.max.request_kb == 64),
    "QA_MAX_ARTICLE_CHARS": ("5000", lambda s: s.max.article_chars == 5000),
}


def test_every_variable_keeps_its_name_and_lands_in_its_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (value, _) in VARIABLES.items():
        monkeypatch.setenv(name, value)
    settings = get_settings()
    assert [name for name, (_, holds) in VARIABLES.items() if not holds(settings)] == []


def test_a_group_set_in_part_keeps_its_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_FETCH_TIMEOUT", "3")
    settings = get_settings()
    assert (settings.fetch.timeout, settings.fetch.max_mb, settings.fetch.private) == (3, 10, False)


def test_a_dotenv_file_sets_groups_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("QA_LLM_MODEL=from-dotenv\nQA_ENGINE=local\n")
    settings = Settings()
    assert (settings.llm.model, settings.answerer) == ("from-dotenv", "local")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("QA_FETCH_TIMEOUT", "-1", "invalid setting QA_FETCH_TIMEOUT: Input should be greater than 0"),
        ("QA_ENGINE", "gpt", "invalid setting QA_ENGINE: Input should be 'extractive', 'llm' or 'local'"),
        ("QA_API_TOKEN", " ", "invalid setting QA_API_TOKEN: Value error, the token is empty"),
        ("QA_MAX_FILE_MB", "lots", "invalid setting QA_MAX_FILE_MB: Input should be a valid number"),
    ],
)
def test_a_bad_value_is_one_line_that_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        get_settings()
    assert str(raised.value).startswith(message) and "\n" not in str(raised.value)
