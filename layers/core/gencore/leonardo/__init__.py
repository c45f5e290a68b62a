"""Typed adapter for the Leonardo.Ai REST API and its webhook callback.

Imports httpx and pydantic only: no AWS SDK and no environment reads, so the
caller decides where the base URL and API key come from.
"""

from .client import DEFAULT_BASE_URL, DEFAULT_UPLOAD_HOSTS, LeonardoClient, RetryPolicy
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
