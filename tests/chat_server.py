"""A real HTTP server on 127.0.0.1 that speaks OpenAI chat completions (JSON and SSE), with scripted replies.

The one test double of the suite: it stands where Ollama, vLLM or OpenAI would, at the outside boundary.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse


@dataclass
class Reply:
    """What the server answers to the next request: text (or text made from the request), an error, or a stall."""

    content: str | Callable[[dict[str, Any]], str] = ""
    status: int = 200
    delay_s: float = 0.0
    raw: str | None = None  # sent as is instead of a well-formed completion


@dataclass
class ScriptedChatServer:
    """Pops one Reply per chat-completion request; keeps every request body it received."""

    port: int
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes."""
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        self.replies[:] = list(replies)
        self.requests.clear()

    def app(self) -> FastAPI:
        """The FastAPI app serving /v1/chat/completions and /v1/models."""
        app = FastAPI()

        @app.get("/v1/models")
        def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "tests"}]}

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            reply = self.replies.pop(0) if self.replies else Reply("I couldn't find this in the articles.")
            if reply.delay_s:
                await asyncio.sleep(reply.delay_s)
            if reply.status != 200:
                error = {"error": {"message": "scripted failure", "type": "server_error"}}
                return JSONResponse(error, status_code=reply.status)
            if reply.raw is not None:
                return PlainTextResponse(reply.raw, media_type="application/json")
            text = reply.content(body) if callable(reply.content) else reply.content
            if body.get("stream"):
                return StreamingResponse(_sse(text, body["model"]), media_type="text/event-stream")
            return JSONResponse(_completion(text, body["model"]))

        return app

    def start(self) -> None:
        """Serve in a background thread until the process ends; return once it accepts requests."""
        server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the scripted chat server did not start")
            time.sleep(0.05)


def passage_number(request: dict[str, Any], text: str) -> int:
    """The number of the passage in the request's prompt that contains `text`."""
    prompt = request["messages"][-1]["content"]
    for match in re.finditer(r'<passage id="(\d+)">(.*?)</passage>', prompt, re.S):
        if text in match.group(2):
            return int(match.group(1))
    raise AssertionError(f"no passage in the prompt contains {text!r}")


def marker(request: dict[str, Any], text: str) -> str:
    """The citation marker "[n]" of the passage that contains `text`."""
    return f"[{passage_number(request, text)}]"


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


async def _sse(text: str, model: str) -> AsyncIterator[str]:
    def chunk(delta: dict[str, str], finish: str | None) -> str:
        payload = {
            "id": "chatcmpl-scripted",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(payload)}\n\n"

    yield chunk({"role": "assistant", "content": ""}, None)
    for token in re.findall(r"\S+\s*", text):
        yield chunk({"content": token}, None)
        await asyncio.sleep(0)
    yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
