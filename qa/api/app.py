"""The application: routes, error handlers and middleware put together over one engine; and who may listen where."""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from qa.api import openai, routes
from qa.api.deps import EngineState, authorize
from qa.api.errors import add_error_handlers
from qa.api.middleware import BodyLimit, RateLimit, SecurityHeaders, TimeLimit, Unexpected
from qa.api.schemas import ErrorBody
from qa.config import Settings, get_settings
from qa.engine import Engine
from qa.errors import QAError


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API over `engine`, or over an engine built from `settings` in the background at startup."""
    settings = get_settings(settings)
    state = EngineState(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.engine is None:
            threading.Thread(target=state.load, args=(settings,), daemon=True, name="qa-engine-load").start()
        yield

    app = FastAPI(
        title="qa",
        summary="Question answering over news articles, with quoted citations.",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}},
    )
    add_error_handlers(app)
    # Read by the routes and their dependencies.
    app.state.settings, app.state.engine_state = settings, state
    app.state.feedback_rate = RateLimit(settings.feedback_per_minute)

    app.include_router(routes.health)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)], responses={401: {"model": ErrorBody}})
    for router in (routes.questions, openai.router, routes.articles, routes.feeds):
        v1.include_router(router)
    app.include_router(v1)
    # The last added runs first: headers on every response, the 504 and 413 included.
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(TimeLimit, seconds=settings.api.timeout)
    app.add_middleware(Unexpected)
    app.add_middleware(SecurityHeaders)
    if settings.api.cors_origins:  # closed unless origins are named: no browser page may call the API otherwise
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.openapi = _without_unused_schemas(app.openapi)  # type: ignore[method-assign]
    return app


def _without_unused_schemas(build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """The OpenAPI document without the component schemas nothing refers to: FastAPI lists every model a field
    names, ArticleRef too, which a citation's JSON writes flat."""

    def openapi() -> dict[str, Any]:
        doc = build()
        schemas = doc.get("components", {}).get("schemas", {})
        while True:
            text = json.dumps(doc)
            unused = [name for name in schemas if f'"#/components/schemas/{name}"' not in text]
            if not unused:
                return doc
            for name in unused:
                del schemas[name]

    return openapi


def check_exposure(host: str, settings: Settings) -> None:
    """Refuse to listen beyond this machine without a token: raise QAError for a non-loopback host."""
    if settings.api.token is not None or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise QAError(f"refusing to listen on {host} without a token: set QA_API_TOKEN, or use --host 127.0.0.1")
