"""Errors raised by the Leonardo client.

Callers branch on two things only: the class (``RetryableError`` or not) and
the stable ``code`` string, which is safe to store, log and return to API
clients. Exception args hold the human message only, never the request
headers or the raw body, so ``str(exc)``/``repr(exc)`` cannot leak the API key;
Leonardo's parsed error body is kept on ``.body`` (with the key redacted).
"""

from typing import Any


class LeonardoError(Exception):
    """Base class: every failure talking to Leonardo."""

    code: str = "leonardo_error"
    #: True when the same call may succeed if repeated later.
    retryable: bool = False

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None, body: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        if code is not None:
            self.code = code
        self.body = body


class RetryableError(LeonardoError):
    """Transient: 5xx, connection failure or timeout. Repeating the call is safe.

    ``retry_after`` is Leonardo's Retry-After in seconds (uncapped), when it sent one.
    """

    code = "leonardo_unavailable"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class RateLimitedError(RetryableError):
    """429: Leonardo's per-minute or queue limit."""

    code = "leonardo_rate_limited"


class PermanentError(LeonardoError):
    """A 4xx Leonardo will answer the same way again (validation, bad id...)."""

    code = "leonardo_rejected"


class NotFoundError(PermanentError):
    """404, or a 200 whose ``*_by_pk`` object is null (Hasura's way of saying 404)."""

    code = "leonardo_not_found"


class AuthError(PermanentError):
    """401/403: the API key is wrong, revoked or lacks access. Retrying cannot help."""

    code = "leonardo_auth"


class UploadRefusedError(PermanentError):
    """The client will not send an init image to the URL Leonardo handed out:
    its host is not in ``upload_hosts``, or it is not https (plain http is
    allowed on loopback only). Raised before any connection is made."""

    code = "leonardo_upload_refused"


class UploadRejectedError(PermanentError):
    """S3 answered 4xx to an init-image upload (bad or expired policy, wrong
    signature, file too large or too small...). Sending the same form again
    gets the same answer; a fresh upload slot may not.

    ``s3_code`` is S3's error ``<Code>``. The form fields, the policy and the
    signature are never part of the message or ``.body``.
    """

    code = "leonardo_upload_rejected"

    def __init__(self, message: str, *, s3_code: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.s3_code = s3_code


class BadResponseError(LeonardoError):
    """A 2xx whose body is not JSON or does not match the model we rely on.

    Not retryable by itself: after ``POST /generations`` a paid generation may
    already exist, so repeating blindly could pay twice. Idempotent calls
    raise :class:`RetryableBadResponseError` instead.
    """

    code = "leonardo_bad_response"


class RetryableBadResponseError(BadResponseError, RetryableError):
    """A malformed answer to an idempotent call (GET/DELETE): asking again is safe."""

    code = "leonardo_bad_response"


class OutcomeUnknownError(LeonardoError):
    """``POST /generations`` was sent but its answer does not say what happened:
    none arrived (read timeout, dropped connection), a 5xx came back (a gateway
    timeout, or a failure after the job was created), or the 2xx could not be
    read (:class:`UnreadableAnswerError`). The generation may exist and may
    already be billed, so the client does not resend it; the caller must look
    for it (the user's recent generations) instead of resubmitting.

    ``retry_after`` carries a 5xx answer's Retry-After, if any.
    """

    code = "leonardo_outcome_unknown"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class UnreadableAnswerError(OutcomeUnknownError, BadResponseError):
    """A 2xx to a paid POST whose body is not JSON or not the shape we rely on:
    Leonardo acted, and we cannot tell on what."""

    code = "leonardo_bad_response"
