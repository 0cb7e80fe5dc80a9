"""What routes depend on: the bearer token, the engine once loaded (or why not), and bodies validated as routes'."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError

log = logging.getLogger("qa.api")
_Body = TypeVar("_Body", bound=BaseModel)


_bearer = HTTPBearer(auto_error=False, description="QA_API_TOKEN, when the server has one.")


def authorize(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """A 401 unless the request carries QA_API_TOKEN (when the server has one), compared in constant time."""
    expected = request.app.state.settings.api.token
    if expected is None:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        message = "missing or wrong bearer token (send Authorization: Bearer <QA_API_TOKEN>)"
        raise HTTPException(401, message, {"WWW-Authenticate": "Bearer"})


def ready_engine(request: Request) -> Engine:
    """The engine, or a 503 saying it is starting or why it could not start."""
    state: EngineState = request.app.state.engine_state
    return state.require()


EngineDep = Annotated[Engine, Depends(ready_engine)]


class EngineState:
    """The engine once loaded, or why it could not be."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.error: str | None = None

    def load(self, settings: Settings) -> None:
        """Build the engine from settings; keep the reason if it cannot be."""
        try:
            self.engine = Engine(settings)
            self.engine.stats()
        except Exception as error:  # reported by /readyz and every /v1 call, and logged: one line, the trace at DEBUG
            log.warning("the engine could not start: %s", type(error).__name__)
            log.debug("traceback", exc_info=error)
            self.error = str(error) if isinstance(error, QAError) else f"{type(error).__name__}: {error}"

    def require(self) -> Engine:
        """The engine, or HTTPException 503."""
        if self.engine is not None:
            return self.engine
        if self.error:
            raise HTTPException(503, f"the engine could not start: {self.error}")
        raise HTTPException(503, "starting: loading the model and the index")


def validated(model: type[_Body], data: bytes | dict[str, Any]) -> _Body:
    """`data` (JSON bytes or a dict) as `model`; invalid data is the same 422 as a route's own body."""
    try:
        return model.model_validate_json(data) if isinstance(data, bytes) else model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
