"""The application: routes, error handlers and middleware put together over one engine, with the feed poller in
its background; who may listen where; and how `qa serve` logs."""

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
from qa.api.middleware import BodyLimit, InFlight, RateLimit, RequestLog, SecurityHeaders, TimeLimit, Unexpected
from qa.api.schemas import ErrorBody
from qa.config import Settings, get_settings
from qa.engine import Engine
from qa.errors import QAError
from qa.poller import FeedPoller

# A stopping server waits this long for a background poll to reach the end of an entry; then for the write under
# way (if one is), so nothing is left half-written. SIGTERM to exit: within 5 s.
POLLER_STOP_S = 1.5
WRITE_FINISH_S = 2.0


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API over `engine`, or over an engine built from `settings` in the background at startup; followed
    feeds polled in the background every QA_FEED_EVERY."""
    settings = get_settings(settings)
    state = EngineState(engine)
    in_flight = InFlight()
    poller = (
        FeedPoller(lambda: state.engine, settings.feed_every, busy=in_flight.__bool__) if settings.feed_every else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=state.load, args=(settings,), daemon=True, name="qa-engine-load").start()
        if poller:
            poller.start()
        yield
        if poller and not poller.stop(POLLER_STOP_S) and state.engine:
            # Still fetching, or writing: a write under way is let finish, and none begins after it.
            state.engine.store.connection.ingest_lock.acquire(timeout=WRITE_FINISH_S)

    app = FastAPI(
        title="qa",
        summary="Question answering over news articles, with quoted citations.",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}},
    )
    add_error_handlers(app)
    # Read by the routes and their dependencies.
    app.state.settings, app.state.engine_state, app.state.poller = settings, state, poller
    app.state.feedback_rate = RateLimit(settings.feedback_per_minute)

    app.include_router(routes.health)
    app.include_router(routes.metrics)
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authorize)], responses={401: {"model": ErrorBody}})
    v1_routers = (routes.questions, openai.router, routes.articles, routes.feeds)
    for router in v1_routers:
        v1.include_router(router)
    app.include_router(v1)
    # A request's scope holds its route as the router has it ("/feeds"): the log and metrics name it as served.
    # By id: routes are not hashable, and these live as long as their modules.
    served_as = {id(route): f"/v1{getattr(route, 'path', '')}" for router in v1_routers for route in router.routes}
    # The last added runs first: headers on every response, the 504 and 413 included.
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(TimeLimit, seconds=settings.api.timeout)
    app.add_middleware(Unexpected)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestLog, settings=settings, in_flight=in_flight, served_as=served_as)
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


def log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging with ours beside it: one line per request on qa.requests (text or JSON, nothing else on
    the line), the engine's warnings on the other qa loggers. uvicorn's own access log is left off: it logs the
    raw path, where ours logs the route."""
    from uvicorn.config import LOGGING_CONFIG

    config = json.loads(json.dumps(LOGGING_CONFIG))
    config["formatters"] |= {
        "qa": {"format": "%(levelname)s:     %(name)s: %(message)s"},
        "qa_requests": {"format": "%(message)s"},
    }
    config["handlers"] |= {
        "qa": {"class": "logging.StreamHandler", "formatter": "qa", "stream": "ext://sys.stderr"},
        "qa_requests": {"class": "logging.StreamHandler", "formatter": "qa_requests", "stream": "ext://sys.stderr"},
    }
    config["loggers"] |= {
        "qa": {"handlers": ["qa"], "level": "INFO", "propagate": False},
        "qa.requests": {"handlers": ["qa_requests"], "level": "INFO", "propagate": False},
    }
    return config
