"""The OpenAI-compatible face of the API: /v1/models and /v1/chat/completions, and an answer as chat text."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from fastapi.sse import format_sse_event

from qa.answer import answer_sentences, citation_heading
from qa.answerers import ANSWERERS, by_model_id
from qa.api.deps import EngineDep, validated
from qa.api.schemas import EVENT_STREAM, ChatCompletionRequest
from qa.chain import final_answer
from qa.conversation import MAX_TURNS
from qa.models import Answer, Citation
from qa.query import Query

router = APIRouter(tags=["openai"])


@router.get("/models")
def models(request: Request) -> dict[str, Any]:
    """OpenAI-compatible model list: the answerers this server can run."""
    settings = request.app.state.settings
    return {
        "object": "list",
        "data": [
            {"id": spec.model_id, "object": "model", "created": 0, "owned_by": "qa"}
            for spec in ANSWERERS.values()
            if spec.is_set_up(settings)
        ],
    }


@router.post("/chat/completions", response_model=None, responses=EVENT_STREAM)
def chat_completions(request: ChatCompletionRequest, engine: EngineDep) -> dict[str, Any] | StreamingResponse:
    """OpenAI-compatible chat: the last user message is the question. The reply's text carries [n] markers
    and a sources list; `citations` and `short_answer` carry the structured citations."""
    last_user = max((i for i, m in enumerate(request.messages) if m.role == "user" and m.text().strip()), default=-1)
    if last_user < 0:
        raise HTTPException(422, "messages: no user message with text")
    history = [
        {"role": m.role, "content": m.text()}
        for m in request.messages[:last_user]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    fields = {
        **request.filters.model_dump(),
        "k": request.k,
        "time_words": request.time_words,
        "mode": request.mode,
        "entries": request.entries,
        **({"as_of": request.as_of} if request.as_of else {}),
        "question": request.messages[last_user].text(),
        "history": history[-MAX_TURNS:],
        "answerer": by_model_id(request.model),
    }
    # Clients show streamed text as final, so they get the verified answer only, never unchecked tokens.
    answer = final_answer(engine.stream(validated(Query, fields)))
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    extras = {
        "citations": jsonable_encoder(answer.citations),
        "short_answer": answer.short_answer,
        "confidence": answer.confidence,
        "time_window": jsonable_encoder(answer.time_window),
        "timeline": jsonable_encoder(answer.timeline),
    }
    if not request.stream:
        message = {"role": "assistant", "content": chat_text(answer)}
        return {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": request.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
            **extras,
        }

    def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                "model": request.model, "choices": [choice], **more}  # fmt: skip
        return format_sse_event(data_str=json.dumps(body))

    def events() -> Iterator[bytes]:
        yield chunk({"role": "assistant", "content": ""})
        separator = pieces_separator(answer)
        for i, piece in enumerate(answer_pieces(answer)):
            yield chunk({"content": piece if i == 0 else separator + piece})
        if answer.citations:
            yield chunk({"content": _sources_text(answer.citations)})
        yield chunk({}, "stop", **extras)
        yield format_sse_event(data_str="[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream")


def chat_text(answer: Answer) -> str:
    """The answer as one chat message: short answer, sentences with [n], then the numbered sources."""
    text = pieces_separator(answer).join(answer_pieces(answer))
    return text + _sources_text(answer.citations) if answer.citations else text


def answer_pieces(answer: Answer) -> Iterator[str]:
    """The answer as it is streamed: the short answer with its [1], then each sentence; a timeline an entry at a
    time (a Markdown list). Joined by pieces_separator."""
    if answer.timeline and not answer.refused:
        yield from answer.answer.split("\n")
        return
    if answer.short_answer:
        yield f"{answer.short_answer} [1]."
    yield from answer_sentences(answer.answer)


def pieces_separator(answer: Answer) -> str:
    """What stands between two of the answer's pieces: a line break between a timeline's entries, else a space."""
    return "\n" if answer.timeline and not answer.refused else " "


def _sources_text(citations: list[Citation]) -> str:
    lines = ["", "", "Sources:"]
    for citation in citations:
        lines.append(citation_heading(citation) + (f" <{citation.article.url}>" if citation.article.url else ""))
        lines.append(f"    “{citation.quote}”")
    return "\n".join(lines)
