"""How one call reaches Leonardo: the key, the one request wrapper, and what its answer means.

Every Leonardo API call goes through :meth:`ApiTransport.request`, the single place that
authenticates, retries (under leonardo/retry.py's policy) and classifies failures:

* 429, 5xx and transport failures are retried (leonardo/retry.py: backoff with full jitter, or
  Leonardo's ``Retry-After``), at most ``RetryPolicy.max_attempts`` attempts in total.
* A paid POST (``attempts=1``, not idempotent) is sent exactly once per call.
  Only an answer that proves Leonardo did not act on it is reported as
  retryable: a connect failure or pool timeout (never sent) or a 429
  (rejected before work). Everything else that leaves the outcome open raises
  :class:`OutcomeUnknownError`: a read timeout or dropped connection after
  sending, any 5xx (a gateway 502/504, or a 500 after the job was created,
  may hide paid work), and a 2xx whose body is not JSON or not the shape we
  rely on (:class:`UnreadableAnswerError`).
* A 2xx whose body is not JSON or not the shape we rely on raises
  ``leonardo_bad_response``. On an idempotent call it is retried (asking again
  is harmless; a truncated proxy answer is usually transient) and surfaces as
  :class:`RetryableBadResponseError`.

The API key lives in a :class:`Secret` that only the per-request auth hook
unwraps; it is never an exception argument, never logged and not in repr().
Error bodies are redacted in case Leonardo (or a proxy) echoes our headers.
"""

import threading
from collections.abc import Generator
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

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
)
from .retry import Retrier, parse_retry_after

MAX_BODY_TEXT = 500
# Failures where the request provably never reached Leonardo: safe to resend even a POST.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Envelope = TypeVar("Envelope", bound=BaseModel)


class PaidRoutes:
    """Base of LeonardoClient's route mixins (leonardo/motion.py, realtime.py, variations.py): their
    billed POST is the client's `_paid` (one attempt, never resent once it may have reached
    Leonardo), their reads its `_read` (retried under the policy)."""

    def _paid(self, path: str, envelope: type[Envelope], body: dict[str, Any] | None = None) -> Envelope:
        raise NotImplementedError  # pragma: no cover - provided by LeonardoClient

    def _read(self, method: str, path: str, envelope: type[Envelope], **kwargs: Any) -> Envelope:
        raise NotImplementedError  # pragma: no cover - provided by LeonardoClient


def path_segment(value: str) -> str:
    """Quote an id as one path segment, so an id like ``../me`` cannot change the route."""
    if not value or not isinstance(value, str):
        raise ValueError("an id is required")
    return quote(value, safe="")


class Secret:
    """Holds the API key so that repr/str/format of anything containing it is masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("secrets are not picklable")


class BearerAuth(httpx.Auth):
    """Adds the bearer header per request, so the key is not a client-wide default header."""

    def __init__(self, secret: Secret) -> None:
        self._secret = secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        request.headers["authorization"] = f"Bearer {self._secret.reveal()}"
        yield request


def redact(value: Any, secret: str) -> Any:
    """Remove the key from an error body in case Leonardo (or a proxy) echoes our headers."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, "[REDACTED]")
    if isinstance(value, dict):
        return {redact(k, secret): redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret) for v in value]
    return value


def describe(error: ValidationError) -> str:
    """Where validation failed, without the offending values (they could be anything)."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['type']}" for e in error.errors()[:5]]
    return "; ".join(parts)


class LazyHttp:
    """An httpx client built on first use (once, under a lock) and dropped by :meth:`close`: the next
    use builds another, so a client closed after a SnapStart restore reconnects lazily. Subclasses
    say how to build it (:meth:`_build`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.http: httpx.Client | None = None

    def close(self) -> None:
        with self._lock:
            http, self.http = self.http, None
        if http is not None:
            http.close()

    def _client(self) -> httpx.Client:
        with self._lock:
            if self.http is None:
                self.http = self._build()
            return self.http

    def _build(self) -> httpx.Client:
        raise NotImplementedError


class ApiTransport(LazyHttp):
    """The authenticated HTTP client for Leonardo's API and the one request wrapper over it."""

    def __init__(
        self,
        base_url: str,
        secret: Secret,
        timeout: httpx.Timeout,
        retrier: Retrier,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__()
        self._base_url = base_url
        self._secret = secret
        self._timeout = timeout
        self._retrier = retrier
        self._transport = transport

    def request(
        self,
        method: str,
        path: str,
        envelope: type[Envelope],
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        idempotent: bool | None = None,
        attempts: int | None = None,
    ) -> Envelope:
        """``idempotent`` defaults to "not a POST"; pass True for a POST that is safe to resend.
        ``attempts`` overrides the retry policy's count (1 for a paid call)."""
        safe = method != "POST" if idempotent is None else idempotent
        return self._retrier.run(
            method,
            path,
            lambda: self._attempt(method, path, envelope, json_body, params, safe),
            attempts=attempts,
        )

    def _build(self) -> httpx.Client:
        return httpx.Client(
            base_url=self._base_url,
            timeout=self._timeout,
            transport=self._transport,
            auth=BearerAuth(self._secret),
            headers={"accept": "application/json"},
            follow_redirects=False,
        )

    def _attempt(
        self,
        method: str,
        path: str,
        envelope: type[Envelope],
        json_body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        idempotent: bool,
    ) -> Envelope | LeonardoError:
        """One HTTP exchange: the parsed envelope, or the error it should raise."""
        try:
            response = self._client().request(method, path, json=json_body, params=params)
        except httpx.TransportError as exc:
            return transport_error(exc, method, path, idempotent)
        if response.is_success:
            return parse_answer(response, envelope, method, path, idempotent, self._secret)
        return status_error(response, method, path, idempotent, self._secret)


def transport_error(exc: httpx.TransportError, method: str, path: str, idempotent: bool) -> LeonardoError:
    kind = type(exc).__name__
    error: LeonardoError
    if idempotent or isinstance(exc, NOT_SENT):
        error = RetryableError(f"Leonardo {method} {path} failed: {kind}")
    else:
        error = OutcomeUnknownError(
            f"Leonardo {method} {path} sent but unanswered ({kind}); the outcome is unknown"
        )
    error.__cause__ = exc
    return error


def status_error(
    response: httpx.Response, method: str, path: str, idempotent: bool, secret: Secret
) -> LeonardoError:
    status = response.status_code
    body = _error_body(response, secret)
    message = f"Leonardo {method} {path} answered {status}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        return RateLimitedError(message, status=status, body=body, retry_after=retry_after)
    if status >= 500 and not idempotent:
        # A gateway timeout or a 500 after the job was created: it may exist, and be billed.
        return OutcomeUnknownError(
            f"{message}; the outcome is unknown", status=status, body=body, retry_after=retry_after
        )
    if status >= 500:
        return RetryableError(message, status=status, body=body, retry_after=retry_after)
    if status == 404:
        return NotFoundError(message, status=status, body=body)
    if status in (401, 403):
        return AuthError(message, status=status, body=body)
    if 400 <= status < 500:
        return PermanentError(message, status=status, body=body)
    # 1xx/3xx: redirects are deliberately not followed (they could carry the key elsewhere).
    return BadResponseError(message, status=status, body=body)


def _error_body(response: httpx.Response, secret: Secret) -> Any:
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:MAX_BODY_TEXT]
    return redact(body, secret.reveal())


def parse_answer[E: BaseModel](
    response: httpx.Response,
    envelope: type[E],
    method: str,
    path: str,
    idempotent: bool,
    secret: Secret,
) -> E | LeonardoError:
    # After a paid POST an unreadable 2xx means "done, but we cannot tell what": outcome unknown.
    bad = RetryableBadResponseError if idempotent else UnreadableAnswerError
    conceal = getattr(envelope, "conceals_body", False)
    try:
        data = response.json()
    except (ValueError, UnicodeDecodeError):
        return bad(
            f"Leonardo {method} {path} answered {response.status_code} with a body that is not JSON",
            status=response.status_code,
            body=None if conceal else redact(response.text[:MAX_BODY_TEXT], secret.reveal()),
        )
    try:
        return envelope.model_validate(data)
    except ValidationError as exc:
        return bad(
            f"Leonardo {method} {path} answered an unexpected shape ({describe(exc)})",
            status=response.status_code,
            body=None if conceal else redact(data, secret.reveal()),
        )


__all__ = ["ApiTransport", "BearerAuth", "LazyHttp", "Secret", "redact"]
