"""The API's defences: constant-time token check, CORS closed by default, request time limit, quiet logs."""

from __future__ import annotations

import logging
import os
import secrets
import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from qa.api import create_app
from qa.config import ApiSettings, LLMSettings
from qa.engine import Engine

from .chat_server import Reply, ScriptedChatServer, marker
from .conftest import served
from .test_api_live import start_server, wait_ready

TOKEN = "security-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def client_for(engine: Engine, **api: object) -> TestClient:
    """A client of the API over `engine` behind TOKEN; `api` sets the API's other settings (cors_origins, ...)."""
    configured = engine.settings.model_copy(update={"api": ApiSettings(token=SecretStr(TOKEN), **api)})
    return TestClient(create_app(configured, engine))


def test_the_token_is_compared_in_constant_time(seeded: Engine, monkeypatch: pytest.MonkeyPatch):
    compared: list[tuple[bytes, bytes]] = []
    constant_time = secrets.compare_digest

    def recording(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return constant_time(given, expected)

    monkeypatch.setattr("qa.api.deps.secrets.compare_digest", recording)
    client = client_for(seeded)
    assert client.get("/v1/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/v1/stats", headers=AUTH).status_code == 200
    assert compared == [(b"wrong", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


def test_cors_is_closed_unless_origins_are_named(seeded: Engine):
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    closed = client_for(seeded)
    assert "access-control-allow-origin" not in closed.options("/v1/ask", headers=preflight).headers
    assert (
        "access-control-allow-origin"
        not in closed.get("/v1/stats", headers={**AUTH, "Origin": "https://evil.example"}).headers
    )

    opened = client_for(seeded, cors_origins=["https://newsroom.example"])
    allowed = opened.options("/v1/ask", headers={**preflight, "Origin": "https://newsroom.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://newsroom.example"
    assert "access-control-allow-origin" not in opened.options("/v1/ask", headers=preflight).headers


def test_a_request_over_the_time_limit_is_answered_504(seeded: Engine, chat_server: ScriptedChatServer):
    engine = Engine(
        seeded.settings.model_copy(update={"llm": LLMSettings(base_url=chat_server.url, model="scripted", timeout=10)}),
        seeded.embeddings,
    )
    chat_server.script(Reply("NATO expelled eight Russians [1].", delay_s=3))
    settings = engine.settings.model_copy(update={"api": ApiSettings(token=SecretStr(TOKEN), timeout=0.5)})
    with served(create_app(settings, engine)) as url:
        started = time.monotonic()
        response = httpx.post(
            f"{url}/v1/ask", json={"question": "How many Russians did NATO expel?", "engine": "llm"}, headers=AUTH
        )
    assert response.status_code == 504
    assert response.json()["error"]["message"] == "the request took longer than 0.5 s (QA_API_TIMEOUT)"
    assert time.monotonic() - started < 2.5
    time.sleep(3)  # let the scripted reply finish before the next test scripts the server
    chat_server.script()


def test_an_unexpected_error_logs_one_line_with_an_id_and_no_traceback(
    seeded: Engine, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    secret_text = f"article text {uuid.uuid4().hex}"

    def failing(*_: object, **__: object) -> None:
        raise ValueError(f"could not parse {secret_text}")

    monkeypatch.setattr(seeded, "stats", failing)
    with caplog.at_level(logging.INFO), served(create_app(seeded.settings, seeded)) as url:  # as uvicorn logs it
        response = httpx.get(f"{url}/v1/stats")
    assert response.status_code == 500
    message = response.json()["error"]["message"]
    assert message.startswith("internal error ") and secret_text not in message
    error_id = message.split()[2]
    shown = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert not any(record.exc_info for record in shown)  # no traceback at the default level, from any logger
    logged = "\n".join(record.getMessage() for record in shown)
    assert f"error {error_id}: unexpected ValueError at test_api_security.py" in logged
    assert secret_text not in logged and "Traceback" not in logged
    with caplog.at_level(logging.DEBUG, logger="qa.api"), served(create_app(seeded.settings, seeded)) as url:
        httpx.get(f"{url}/v1/stats")
    assert any(record.exc_info for record in caplog.records if record.levelno == logging.DEBUG)  # the trace, asked for


@pytest.mark.parametrize("token", ["", "   "])
def test_an_empty_token_is_a_start_up_error(monkeypatch: pytest.MonkeyPatch, token: str):
    from typer.testing import CliRunner

    from qa import cli
    from qa.config import get_settings
    from qa.errors import ConfigError

    monkeypatch.setenv("QA_API_TOKEN", token)
    with pytest.raises(ConfigError, match=r"QA_API_TOKEN.*empty"):
        get_settings()
    served_anyway = CliRunner().invoke(cli.app, ["serve", "--host", "0.0.0.0"])
    assert served_anyway.exit_code == 1 and "QA_API_TOKEN" in served_anyway.output


def test_a_served_api_logs_no_secret_and_no_article_text(tmp_path: Path, chat_server: ScriptedChatServer):
    sentinel = uuid.uuid4().hex
    secrets_and_text = {
        "token": f"token-{sentinel}",
        "llm key": f"sk-{sentinel}",
        "article": f"The Quillby ferry sank near Harrow Rock {sentinel}",
        "question": f"What sank near Harrow Rock {sentinel}?",
    }
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "data"),
        "QA_API_TOKEN": secrets_and_text["token"],
        "QA_LLM_BASE_URL": chat_server.url,
        "QA_LLM_MODEL": "scripted",
        "QA_LLM_API_KEY": secrets_and_text["llm key"],
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("QA_CHROMA_URL", None)
    log = tmp_path / "serve.log"
    process, url = start_server(env, log)
    try:
        wait_ready(process, url, log)
        auth = {"Authorization": f"Bearer {secrets_and_text['token']}"}
        article = (secrets_and_text["article"] + ". ") * 5
        uploaded = httpx.post(
            f"{url}/v1/articles", files={"file": ("ferry.txt", article.encode())}, headers=auth, timeout=60
        )
        assert uploaded.status_code == 200
        assert httpx.get(f"{url}/v1/stats", headers={"Authorization": f"Bearer {sentinel}"}).status_code == 401
        for engine, reply in (
            ("extractive", None),
            ("llm", Reply(lambda r: f"The Quillby ferry sank {marker(r, 'Quillby')}.")),
            ("llm", Reply(status=500)),
        ):
            chat_server.script(*([reply] if reply else []))
            asked = httpx.post(
                f"{url}/v1/ask",
                json={"question": secrets_and_text["question"], "engine": engine},
                headers=auth,
                timeout=60,
            )
            assert asked.status_code == 200 and asked.json()["citations"]
        article_id = uploaded.json()["items"][0]["article_id"]
        assert sentinel in httpx.get(f"{url}/v1/articles/{article_id}", headers=auth).json()["text"]
    finally:
        process.terminate()
        process.wait(timeout=30)
        chat_server.script()
    logged = log.read_text()
    assert "POST /v1/ask" in logged  # the log is there...
    assert sentinel not in logged  # ...and holds none of them
