"""Every error as JSON `{"error": {"type", "message"}}` with a one-line message, and which status each gets."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.articles import NESTED_TOO_DEEPLY
from qa.errors import (
    ArticleError,
    ConfigError,
    FetchError,
    InvalidFeedbackError,
    InvalidQuestionError,
    NotFoundError,
    QAError,
)

STATUS = {
    InvalidQuestionError: 422,
    InvalidFeedbackError: 422,
    ArticleError: 422,
    FetchError: 422,
    NotFoundError: 404,
    ConfigError: 400,
}
KINDS = {
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "unavailable",
}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON error body with its OpenAI-style type."""
    kind = KINDS.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def add_error_handlers(app: FastAPI) -> None:
    """Validation errors, HTTP errors and QAErrors, each as one JSON line (anything unexpected: Unexpected)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0]
        message = str(problem.get("msg", "invalid"))
        if message.startswith("Value error, "):  # our own validators' words, after their field as in the CLI
            field = ".".join(str(part) for part in problem.get("loc", ()) if part not in ("body", "question"))
            message = message.removeprefix("Value error, ")
            return error_response(422, f"{field}: {message}" if field else message)
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"
        return error_response(422, f"{where}: {message}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and isinstance(error.__cause__, RecursionError):
            # FastAPI's JSON parsing lets a body nested too deeply through as a 400: it is malformed JSON, a 422.
            return error_response(422, f"body: {NESTED_TOO_DEEPLY}")
        return error_response(error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(QAError)
    async def qa_error(_: Request, error: QAError) -> JSONResponse:
        # What is left (the store or the model failing) is the service's trouble, not the request's.
        return error_response(next((code for kind, code in STATUS.items() if isinstance(error, kind)), 503), str(error))
