"""Typed adapter for the Leonardo.Ai REST API and its webhook callback.

Imports httpx and pydantic only: no AWS SDK and no environment reads, so the
caller decides where the base URL and API key come from. The client (and httpx) is
loaded on first use of its names, so parsing a callback does not import it.
"""

from typing import TYPE_CHECKING, Any

from .errors import (
    AuthError,
    BadResponseError,
    LeonardoError,
    NotFoundError,
    OutcomeUnknownError,
    PermanentError,
    RateLimitedError,
    RetryableBadResponseError,
    RetryableError,
    UnreadableAnswerError,
    UploadRefusedError,
    UploadRejectedError,
)

if TYPE_CHECKING:
    from .client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_HOSTS, LeonardoClient, RetryPolicy

_FROM_CLIENT = frozenset({"DEFAULT_BASE_URL", "DEFAULT_UPLOAD_HOSTS", "LeonardoClient", "RetryPolicy"})


def __getattr__(name: str) -> Any:
    # The client (and httpx) loads on first use: the webhook parses callbacks without it.
    if name in _FROM_CLIENT:
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_UPLOAD_HOSTS",
    "AuthError",
    "BadResponseError",
    "LeonardoClient",
    "LeonardoError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermanentError",
    "RateLimitedError",
    "RetryPolicy",
    "RetryableBadResponseError",
    "RetryableError",
    "UnreadableAnswerError",
    "UploadRefusedError",
    "UploadRejectedError",
]
