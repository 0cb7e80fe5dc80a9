"""Errors a user can act on: each message is one line that says what went wrong and what to do."""


class QAError(Exception):
    """Base class for every error shown to a user as a single line."""


class ConfigError(QAError):
    """A setting from the environment or .env is invalid."""


class InvalidQuestionError(QAError):
    """The question is empty, whitespace or too long."""


class ArticleError(QAError):
    """A file or record could not be read into an article."""


class StoreError(QAError):
    """The index cannot be opened or is incompatible with this configuration."""


class StoreBusyError(StoreError):
    """Another process held the index for writing longer than QA_LOCK_TIMEOUT."""


class EmbeddingModelError(QAError):
    """The offline embedding model is not installed or cannot be loaded."""


class NotFoundError(QAError):
    """No stored article matches the given id or path."""


class InvalidFeedbackError(QAError):
    """Feedback on an answer whose citations do not quote the stored articles."""


class FetchError(QAError):
    """A web page or feed could not be fetched, or was refused (address, size, type, robots.txt); `reason` says which
    in one word, the label /metrics counts it by."""

    def __init__(self, message: str, reason: str, status: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status


def one_line(error: Exception) -> str:
    """An exception's message as one line of at most 200 characters ("" when it has none): for third-party errors,
    whose messages may span lines."""
    return " ".join(str(error).split())[:200]
