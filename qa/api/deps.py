"""What routes depend on: the bearer token, the engine once loaded (or why not), and bodies validated as routes'."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, SecretStr, ValidationError

from qa.config import Settings
from qa.engine import Engine
from qa.errors import QAError

log = logging.getLogger("qa.api")
_Body = TypeVar("_Body", bound=BaseModel)


_bearer = HTTPBearer(auto_error=False, description="QA_API_TOKEN, when the server has one.")


def authorize(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """A 401 unless the request carries QA_API_TOKEN (when the server has one), compared in constant time."""
    _require_one_of([request.app.state.settings.api.token], credentials, "QA_API_TOKEN")


def authorize_metrics(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    """/metrics: a 401 unless the request carries QA_API_TOKEN or QA_API_METRICS_TOKEN, when either is set."""
    api = request.app.state.settings.api
    _require_one_of([api.token, api.metrics_token], credentials, "QA_API_TOKEN or QA_API_METRICS_TOKEN")


def _require_one_of(
    tokens: list[SecretStr | None], credentials: HTTPAuthorizationCredentials | None, names: str
) -> None:
    expected = [token.get_secret_value().encode() for token in tokens if token is not None]
    if not expected:
        return  # no token: the server listens on loopback only (check_exposure)
    given = (credentials.credentials if credentials else "").encode()
    # Every token compared, in constant time each: which one matched does not show in the time taken.
    if not sum(secrets.compare_digest(given, token) for token in expected):
        message = f"missing or wrong bearer token (send Authorization: Bearer <{names}>)"
        raise HTTPException(401, message, {"WWW-Authenticate": "Bearer"})


def ready_engine(request: Request) -> Engine:
    """The engine, or a 503 saying it is starting or why it could not start."""
    state: EngineState = request.app.state.engine_state
    return state.require()


EngineDep = Annotated[Engine, Depends(ready_engine)]


class EngineState:
    """The engine once loaded (or why it could not be), and whether it is warm: what it would load at its first
    answer loaded already (or why it could not be)."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.error: str | None = None
        self.warm = False
        self.warm_error: str | None = None

    def load(self, settings: Settings) -> None:
        """Build the engine from settings, unless one was given, then warm it up; keep the reason if either fails
        (a question then meets the same error and says it)."""
        try:
            if self.engine is None:
                self.engine = Engine(settings)
                self.engine.revision()  # the index answers
        except Exception as error:
            self.error = _failure("the engine could not start", error)
            return
        try:
            self.engine.warm_up()
            self.warm = True
        except Exception as error:
            self.warm_error = _failure("the engine could not warm up", error)

    def require(self) -> Engine:
        """The engine, warm or not (a question asked while it warms up waits for what it needs), or HTTPException
        503."""
        if self.engine is not None:
            return self.engine
        if self.error:
            raise HTTPException(503, f"the engine could not start: {self.error}")
        raise HTTPException(503, "starting: loading the model and the index")

    def require_warm(self) -> Engine:
        """The engine once built and warm, or HTTPException 503."""
        engine = self.require()
        if self.warm_error:
            raise HTTPException(503, f"the engine could not warm up: {self.warm_error}")
        if not self.warm:
            raise HTTPException(503, "warming up: loading the index and the models into memory")
        return engine


def _failure(what: str, error: Exception) -> str:
    """The reason to report (on /readyz and every /v1 call); logged as one line, the trace at DEBUG."""
    log.warning("%s: %s", what, type(error).__name__)
    log.debug("traceback", exc_info=error)
    return str(error) if isinstance(error, QAError) else f"{type(error).__name__}: {error}"


def validated(model: type[_Body], data: bytes | dict[str, Any]) -> _Body:
    """`data` (JSON bytes or a dict) as `model`; invalid data is the same 422 as a route's own body."""
    try:
        return model.model_validate_json(data) if isinstance(data, bytes) else model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None
