"""The HTTP API in process (FastAPI TestClient): each route, auth, limits, errors, concurrent ingest and questions."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from qa.api import check_exposure, create_app
from qa.config import ApiSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.errors import QAError
from qa.query import Query

from .conftest import ANSWER_KEYS, SEEDS

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NATO = "How many Russians did NATO expel?"


@pytest.fixture(scope="module")
def api_engine(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> Engine:
    settings = Settings(data_dir=tmp_path_factory.mktemp("api"), api=ApiSettings(token=TOKEN))
    engine = Engine(settings, embeddings)
    assert engine.ingest([SEEDS]).failed == []
    return engine


@pytest.fixture(scope="module")
def client(api_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(api_engine.settings, api_engine), raise_server_exceptions=False) as test_client:
        yield test_client


def v1_routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every /v1 operation in the OpenAPI schema."""
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method.upper(), path) for path, operations in paths.items() if path.startswith("/v1") for method in operations
    ]


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event, data) for each server-sent event."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields.get("event"), fields["data"]))
    return events


def ready(client: TestClient) -> Response:
    """/readyz once the engine has started and warmed up (or failed to)."""
    deadline = time.monotonic() + 60
    while (response := client.get("/readyz")).status_code == 503 and response.json()["error"]["message"].startswith(
        ("starting", "warming up")
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return response


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert ready(client).json() == {"status": "ready"}  # what the index holds is behind the token


def test_readiness_waits_for_the_warm_up_and_questions_are_answered_meanwhile(
    api_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a million chunks Chroma reads its dense index at the first search (~15 s): the server loads it, and the
    models, at start, and says it is ready once they are in memory."""
    engine = Engine(api_engine.settings, api_engine.embeddings)
    released, warm_up = threading.Event(), engine.warm_up
    monkeypatch.setattr(engine, "warm_up", lambda: released.wait(60) and warm_up())
    with TestClient(create_app(engine.settings, engine)) as client:
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"]["message"].startswith("warming up: loading the index and the models")
        asked = client.post("/v1/ask", json={"question": NATO}, headers=AUTH)
        assert asked.status_code == 200 and "eight Russians" in asked.json()["answer"]
        assert "scorer" in vars(engine.answerer)  # the question loaded what it needed
        released.set()
        assert ready(client).json() == {"status": "ready"}


def test_readiness_says_why_the_engine_could_not_warm_up(
    api_engine: Engine, embeddings: MiniLMEmbeddings, tmp_path: Path
) -> None:
    scorer = tmp_path / "scorer"
    scorer.mkdir()  # no manifest.json: the extractive answerer cannot load it
    engine = Engine(api_engine.settings.model_copy(update={"answer_model": scorer}), embeddings)
    with TestClient(create_app(engine.settings, engine)) as client:
        response = ready(client)
        assert response.status_code == 503
        assert response.json()["error"]["message"].startswith("the engine could not warm up: the answer scorer's ")
        asked = client.post("/v1/ask", json={"question": NATO}, headers=AUTH)
        assert asked.status_code != 200 and "the answer scorer's manifest.json is missing" in asked.text


def test_every_v1_route_needs_the_token(client: TestClient) -> None:
    routes = v1_routes(client)
    assert len(routes) >= 10
    for method, path in routes:
        url = path.replace("{article_id}", "x")
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            response = client.request(method, url, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["type"] == "authentication_error"
            assert response.headers["www-authenticate"] == "Bearer"


def test_ask_returns_the_cli_json_with_exact_quotes(client: TestClient, api_engine: Engine) -> None:
    response = client.post("/v1/ask", json={"question": NATO, "k": 3}, headers=AUTH)
    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == ANSWER_KEYS
    assert answer["short_answer"] == "eight" and not answer["refused"]
    for citation in answer["citations"]:
        article = client.get(f"/v1/articles/{citation['article_id']}", headers=AUTH).json()
        assert article["text"][citation["start"] : citation["end"]] == citation["quote"]
    assert answer["answer"] == api_engine.ask(Query(question=NATO, k=3)).answer


def test_ask_stream_sends_the_text_then_the_citations(client: TestClient) -> None:
    response = client.post("/v1/ask/stream", json={"question": NATO}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [event for event, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"} and len(kinds) >= 3
    final = json.loads(events[-1][1])
    assert set(final) == ANSWER_KEYS and final["citations"]
    streamed = " ".join(json.loads(data)["text"] for _, data in events[:-1])
    assert streamed.startswith("eight [1].") and final["answer"] in streamed


def test_a_bad_question_to_the_stream_is_a_plain_error(client: TestClient) -> None:
    response = client.post("/v1/ask/stream", json={"question": "   "}, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "the question is empty"


def test_chat_completions_speaks_openai(client: TestClient) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi."},
        {"role": "user", "content": [{"type": "text", "text": NATO}]},
    ]
    response = client.post("/v1/chat/completions", json={"model": "any", "messages": messages}, headers=AUTH)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == "any"
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("eight [1].") and "\n\nSources:\n[1] " in content
    assert body["citations"][0]["quote"] in content and body["short_answer"] == "eight"
    assert client.get("/v1/models", headers=AUTH).json()["data"][0]["id"] == "qa-extractive"


def test_chat_completions_take_as_of_and_time_words_and_say_the_window(client: TestClient) -> None:
    question = {"role": "user", "content": "How many Russians did NATO expel last week?"}
    body = {"messages": [question], "as_of": "2026-11-30"}
    reply = client.post("/v1/chat/completions", json=body, headers=AUTH).json()
    assert reply["time_window"] == {
        "since": "2026-11-23",
        "until": "2026-11-30",
        "from_text": "last week",
        "latest": False,
        "period": {"since": "2026-11-23", "until": "2026-11-29", "unit": "week", "text": "last week"},
    }
    assert "eight" in reply["choices"][0]["message"]["content"]  # the seeds are undated: in every window
    dropped = client.post("/v1/chat/completions", json={**body, "time_words": False}, headers=AUTH).json()
    assert dropped["time_window"] is None
    future = client.post("/v1/chat/completions", json={**body, "as_of": "2999-01-01"}, headers=AUTH)
    assert future.status_code == 422 and "as_of" in future.json()["error"]["message"]


def test_chat_completions_stream_ends_with_citations_and_done(client: TestClient) -> None:
    body = {"messages": [{"role": "user", "content": NATO}], "stream": True}
    response = client.post("/v1/chat/completions", json=body, headers=AUTH)
    events = [data for _, data in sse_events(response.text)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text.startswith("eight [1].") and "Sources:" in text
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/ask", {"question": "x" * 4001}, 422, "the question is too long (4,001 characters > 4,000)"),
        ("/v1/ask", {"question": ""}, 422, "question: String should have at least 1 character"),
        ("/v1/ask", {"question": NATO, "k": 0}, 422, "k: Input should be greater than or equal to 1"),
        ("/v1/ask", {"question": NATO, "k": 51}, 422, "k: Input should be less than or equal to 50"),
        ("/v1/ask", {"question": NATO, "since": "last year"}, 422, "since: Input should be a valid date"),
        ("/v1/ask", {"question": 42}, 422, "question: Input should be a valid string"),
        ("/v1/ask", {"question": NATO, "engine": "gpt"}, 422, "engine: Input should be 'extractive'"),
        ("/v1/ask", {}, 422, "question: Field required"),
        ("/v1/ask", {"question": "   "}, 422, "the question is empty"),
        ("/v1/chat/completions", {"messages": []}, 422, "messages: List should have at least 1 item"),
        ("/v1/chat/completions", {"messages": [{"role": "system", "content": "x"}]}, 422, "no user message"),
        ("/v1/articles", {"articles": "nope"}, 422, "articles: Input should be a valid array"),
    ],
)
def test_bad_requests_get_a_json_error(client: TestClient, path: str, body: dict, status: int, message: str) -> None:
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error["message"] and "\n" not in error["message"]
    assert error["type"] == "invalid_request_error"


def test_malformed_json_unknown_ids_and_routes(client: TestClient) -> None:
    broken = client.post("/v1/ask", content=b"{not json", headers={**AUTH, "Content-Type": "application/json"})
    assert broken.status_code == 422 and "JSON" in broken.json()["error"]["message"]
    for method in ("GET", "DELETE"):
        missing = client.request(method, "/v1/articles/no-such-id", headers=AUTH)
        assert missing.status_code == 404
        error = missing.json()["error"]
        assert error["type"] == "not_found_error"
        assert error["message"].startswith("no stored article has the id 'no-such-id'")
    assert client.get("/v1/nothing-here", headers=AUTH).status_code == 404


def test_uploads_over_the_limit_get_413_and_store_nothing(client: TestClient) -> None:
    before = client.get("/v1/stats", headers=AUTH).json()
    big = b"x" * (20 * 1024 * 1024 + 1)
    response = client.post("/v1/articles", files={"file": ("big.txt", big, "text/plain")}, headers=AUTH)
    assert response.status_code == 413 and "too large" in response.json()["error"]["message"]
    assert client.get("/v1/stats", headers=AUTH).json() == before


def test_articles_add_list_page_upload_and_delete(client: TestClient, tmp_path: Path) -> None:
    seeds = {a["id"] for a in client.get("/v1/articles", headers=AUTH).json()["articles"]}
    records = [
        {"id": "api-1", "title": "Floods in Lisbon", "text": "Floods hit Lisbon on Monday.", "date": "2023-01-09"},
        {"title": "Floods in Porto", "text": "Heavy floods hit Porto on Tuesday.", "source": "Lusa"},
        {"title": "No text"},
    ]
    report = client.post("/v1/articles", json={"articles": records}, headers=AUTH).json()
    assert [item["status"] for item in report["items"]] == ["failed", "added", "added"]
    assert report["items"][0] == {**report["items"][0], "location": "articles[2]", "reason": "missing 'text' or 'body'"}
    again = client.post("/v1/articles", json={"articles": records[:2]}, headers=AUTH).json()
    assert [item["status"] for item in again["items"]] == ["skipped", "skipped"]  # same text, same article

    note = ("../../etc/note.md", b"# Storm in Faro\nA storm hit Faro.", "text/markdown")
    upload = client.post("/v1/articles", files={"file": note}, headers=AUTH).json()
    assert [(item["status"], item["location"]) for item in upload["items"]] == [("added", "note.md")]

    page = client.get("/v1/articles", params={"offset": 1, "limit": 2}, headers=AUTH).json()
    assert page["total"] == 5 and page["offset"] == 1 and len(page["articles"]) == 2
    everything = client.get("/v1/articles", params={"limit": 500}, headers=AUTH).json()["articles"]
    assert len({a["id"] for a in everything}) == 5

    removed = client.delete("/v1/articles/api-1", headers=AUTH).json()
    assert removed["id"] == "api-1" and removed["chunks"] >= 1
    assert client.get("/v1/articles/api-1", headers=AUTH).status_code == 404
    for article in everything:
        if article["id"] != "api-1" and article["id"] not in seeds:
            assert client.delete(f"/v1/articles/{article['id']}", headers=AUTH).status_code == 200
    assert client.get("/v1/stats", headers=AUTH).json()["articles"] == 2


def test_feedback_is_appended(client: TestClient, api_engine: Engine) -> None:
    answer = client.post("/v1/ask", json={"question": NATO}, headers=AUTH).json()
    response = client.post("/v1/feedback", json={"rating": "up", "answer": answer, "filters": {"k": 5}}, headers=AUTH)
    assert response.status_code == 204
    line = json.loads(api_engine.feedback_path.read_text().splitlines()[-1])
    assert line["rating"] == "up" and line["answer"]["answer"] == answer["answer"]


def test_concurrent_ingest_and_questions_lose_and_duplicate_nothing(client: TestClient) -> None:
    errors: list[str] = []
    names = "Alfa Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliett Kilo Lima Mike November Oscar Papa "
    names += "Quebec Romeo Sierra Tango Uniform Victor Whiskey Xray"
    records = [
        {"id": f"c{i}", "title": f"Storm report {i}", "text": f"Storm {name} closed {i} schools on Friday."}
        for i, name in enumerate(names.split())
    ]

    def ingest(batch: list[dict]) -> None:
        response = client.post("/v1/articles", json={"articles": batch}, headers=AUTH)
        if response.status_code != 200 or response.json()["items"][0]["status"] == "failed":
            errors.append(response.text)

    def ask() -> None:
        for _ in range(4):
            response = client.post("/v1/ask", json={"question": NATO}, headers=AUTH)
            if response.status_code != 200 or not response.json()["citations"]:
                errors.append(response.text)

    threads = [threading.Thread(target=ingest, args=(records[i : i + 6],)) for i in range(0, 24, 6)]
    threads += [threading.Thread(target=ingest, args=(records[:6],))]  # the same articles twice at once
    threads += [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    ids = [a["id"] for a in client.get("/v1/articles", params={"limit": 500}, headers=AUTH).json()["articles"]]
    assert len(ids) == len(set(ids)) and {f"c{i}" for i in range(24)} <= set(ids)
    found = client.post("/v1/ask", json={"question": "How many schools did Storm Romeo close?"}, headers=AUTH)
    assert "17" in found.json()["answer"]  # its chunks were written too
    for record in records:
        client.delete(f"/v1/articles/{record['id']}", headers=AUTH)


def test_readiness_reports_an_engine_that_cannot_start(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, chroma_url="http://127.0.0.1:9", api=ApiSettings(token=TOKEN))
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 60
        while (response := client.get("/readyz")).json()["error"]["message"].startswith("starting"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert response.status_code == 503
        assert response.json()["error"]["message"].startswith("the engine could not start: ")
        assert client.get("/healthz").status_code == 200
        assert client.post("/v1/ask", json={"question": NATO}, headers=AUTH).status_code == 503


@pytest.mark.parametrize(
    ("host", "token", "allowed"),
    [
        ("127.0.0.1", None, True),
        ("localhost", None, True),
        ("::1", None, True),
        ("0.0.0.0", None, False),
        ("192.168.1.5", None, False),
        ("example.org", None, False),
        ("0.0.0.0", TOKEN, True),
    ],
)
def test_the_server_refuses_to_listen_beyond_loopback_without_a_token(host: str, token: str | None, allowed: bool):
    settings = Settings(api=ApiSettings(token=token))
    if allowed:
        check_exposure(host, settings)
    else:
        with pytest.raises(QAError, match=f"refusing to listen on {host} without a token"):
            check_exposure(host, settings)


def test_json_nested_too_deeply_is_a_422_like_any_malformed_body(client: TestClient) -> None:
    deep = b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = client.post("/v1/ask", content=deep, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"] == "body: JSON nested too deeply"


def test_an_article_id_with_a_slash_can_be_read_and_deleted(client: TestClient) -> None:
    record = {"id": "wire/2023/ferry", "title": "Ferry", "text": "The ferry from Dover sailed at dawn."}
    assert (
        client.post("/v1/articles", json={"articles": [record]}, headers=AUTH).json()["items"][0]["status"] == "added"
    )
    for path in ("/v1/articles/wire/2023/ferry", "/v1/articles/wire%2F2023%2Fferry"):
        article = client.get(path, headers=AUTH)
        assert article.status_code == 200 and article.json()["id"] == "wire/2023/ferry", article.text
    removed = client.delete("/v1/articles/wire/2023/ferry", headers=AUTH)
    assert removed.status_code == 200 and removed.json()["id"] == "wire/2023/ferry"
    assert client.get("/v1/articles/wire/2023/ferry", headers=AUTH).status_code == 404


def test_a_question_with_control_characters_is_the_question_without_them(client: TestClient) -> None:
    clean = client.post("/v1/ask", json={"question": NATO}, headers=AUTH).json()
    dirty = client.post("/v1/ask", json={"question": "How many\x1b[2J Russians\x00 did NATO\x07 expel?"}, headers=AUTH)
    assert dirty.status_code == 200, dirty.text
    assert dirty.json()["question"] == NATO
    assert dirty.json()["answer"] == clean["answer"] and dirty.json()["citations"] == clean["citations"]
    only_controls = client.post("/v1/ask", json={"question": "\x1b[2J\x00\x07"}, headers=AUTH)
    assert only_controls.status_code == 422 and only_controls.json()["error"]["message"] == "the question is empty"


def test_feedback_is_bounded_and_must_rate_an_answer_this_service_gave(client: TestClient, api_engine: Engine) -> None:
    answer = client.post("/v1/ask", json={"question": NATO}, headers=AUTH).json()
    lines = len(api_engine.feedback_path.read_text().splitlines()) if api_engine.feedback_path.exists() else 0

    def send(rated: dict, **more: object) -> Response:
        return client.post("/v1/feedback", json={"rating": "down", "answer": rated, **more}, headers=AUTH)

    made_up = {**answer, "answer": "x" * (15 * 1024 * 1024)}
    assert send(made_up).status_code == 413
    quote, *others = answer["citations"]
    forged = send({**answer, "citations": [{**quote, "quote": "NATO expelled nobody at all."}, *others]})
    assert forged.status_code == 422 and "do not span its quote" in forged.json()["error"]["message"]
    shifted = {**quote, "start": quote["start"] + 1, "end": quote["end"] + 1}
    response = send({**answer, "citations": [shifted, *others]})
    assert response.status_code == 422 and "does not quote a stored article" in response.json()["error"]["message"]
    unnumbered = send({**answer, "answer": answer["answer"] + " Also this [7]."})
    assert unnumbered.status_code == 422 and "names no citation" in unnumbered.json()["error"]["message"]
    assert send({**answer, "refused": True}).status_code == 422
    assert send(answer, filters={"source": "x" * 500}).status_code == 422
    after = len(api_engine.feedback_path.read_text().splitlines()) if api_engine.feedback_path.exists() else 0
    assert after == lines  # none of them was kept


def test_feedback_is_rate_limited_per_client(tmp_path: Path, api_engine: Engine) -> None:
    settings = api_engine.settings.model_copy(update={"feedback_per_minute": 3})
    with TestClient(create_app(settings, api_engine), raise_server_exceptions=False) as limited:
        answer = limited.post("/v1/ask", json={"question": NATO}, headers=AUTH).json()
        statuses = [
            limited.post("/v1/feedback", json={"rating": "up", "answer": answer}, headers=AUTH).status_code
            for _ in range(5)
        ]
        assert statuses == [204, 204, 204, 429, 429]
        refused = limited.post("/v1/feedback", json={"rating": "up", "answer": answer}, headers=AUTH)
        assert refused.json()["error"]["type"] == "rate_limit_error" and int(refused.headers["Retry-After"]) >= 1
