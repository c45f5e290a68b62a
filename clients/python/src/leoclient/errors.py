"""One exception hierarchy for everything the client raises.

Every error carries `status` (the HTTP status, or None when no answer came), `code` (the API's stable
code, or a fallback for answers that are not the API's envelope), `message` and `details`.
"""

from __future__ import annotations

from typing import Any

from leoclient.models import InvalidLine


class LeoError(Exception):
    """Base of every error the client raises."""

    default_code = "error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or self.default_code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class APIError(LeoError):
    """The API (or the gateway in front of it) answered with an error status."""

    default_code = "api_error"


class BadRequestError(APIError):
    """400: malformed JSON, invalid cursor."""


class AuthenticationError(APIError):
    """401: no token, or one the gateway refuses."""

    default_code = "unauthorized"


class PermissionDeniedError(APIError):
    """403."""

    default_code = "forbidden"


class NotFoundError(APIError):
    """404: unknown id (or another user's), or an unknown route."""

    default_code = "not_found"


class ConflictError(APIError):
    """409: `not_cancellable`, `not_deletable`."""


class BudgetExceededError(APIError):
    """402 `budget_exceeded`: `details` gives the period, what remains and when it resets."""


class UnprocessableError(APIError):
    """422: validation, plan limits, content policy, unusable sources."""


class BatchInvalidError(UnprocessableError):
    """422 `batch_invalid`: the batch was refused because of invalid lines (see `lines`).

    `details` is the report `{"valid", "invalid", "lines", "truncated"}`; a bare list of lines is
    read too (then `valid` is unknown, None).
    """

    @property
    def valid(self) -> int | None:
        valid = self._report().get("valid")
        return None if valid is None else int(valid)

    @property
    def invalid(self) -> int:
        return int(self._report().get("invalid", len(self.lines)))

    @property
    def truncated(self) -> bool:
        return bool(self._report().get("truncated", False))

    @property
    def lines(self) -> list[InvalidLine]:
        lines = self._report().get("lines", [])
        return [InvalidLine.model_validate(line) for line in lines if isinstance(line, dict)]

    def _report(self) -> dict[str, Any]:
        if isinstance(self.details, dict):
            return self.details
        if isinstance(self.details, list):
            return {"lines": self.details}
        return {}


class RateLimitError(APIError):
    """429 after the client's retries ran out (`rate_limited`, `too_many_waiting`)."""

    @property
    def retry_after(self) -> str | None:
        """The server's last Retry-After, as sent (seconds or an HTTP date); None without one."""
        return self.headers.get("retry-after")


class ServerError(APIError):
    """5xx after the client's retries ran out (503 `leonardo_busy`, gateway 5xx)."""


class TransportError(LeoError):
    """No answer: the connection failed or timed out (after retries, where retrying was safe)."""

    default_code = "connection_error"


class WaitTimeoutError(LeoError):
    """`wait()` gave up before the job or batch reached a terminal status."""

    default_code = "timeout"


class IntegrityError(LeoError):
    """A downloaded file does not match the size or sha256 the API announced."""

    default_code = "checksum_mismatch"


class UploadRejectedError(LeoError):
    """The uploaded file was refused when completed (the upload's error code says why)."""

    default_code = "upload_rejected"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: BudgetExceededError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
    429: RateLimitError,
}


def error_class(status: int, code: str) -> type[APIError]:
    if code == "batch_invalid":
        return BatchInvalidError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
