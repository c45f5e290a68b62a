"""Synchronous Leonardo REST client (it runs inside Lambda handlers).

Every call goes through :meth:`LeonardoClient._request`, the single place that
authenticates, retries and classifies failures:

* 429, 5xx and transport failures are retried with exponential backoff and
  full jitter (``uniform(0, min(max_delay, base_delay * 2**n))``), or after
  Leonardo's ``Retry-After`` (seconds or HTTP date, capped at ``max_delay``),
  at most ``RetryPolicy.max_attempts`` attempts in total.
* ``POST /generations`` is NOT idempotent and costs money. It is retried only
  when Leonardo cannot have acted on it: a connect failure or pool timeout
  (the request was never sent), a 429 (rejected before work) or a 5xx answer
  (as the contract asks; a 5xx means Leonardo reports it did not accept the
  job). A read timeout or dropped connection after the request was sent
  raises :class:`OutcomeUnknownError` immediately: the generation may exist,
  and resending it could create and bill a second one.
* A 2xx whose body is not JSON or not the shape we rely on raises
  ``leonardo_bad_response``. On GET/DELETE it is retried (asking again is
  harmless; a truncated proxy answer is usually transient) and surfaces as
  :class:`RetryableBadResponseError`; after POST it is raised at once as a
  non-retryable :class:`BadResponseError`, for the same double-billing reason.

The API key lives in a :class:`_Secret` that only the per-request auth hook
unwraps; it is never an exception argument, never logged and not in repr().
"""

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
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
)
from .models import (
    CreateGenerationEnvelope,
    DeleteGenerationEnvelope,
    Generation,
    GenerationJob,
    GenerationRequest,
    GetGenerationEnvelope,
    MeEnvelope,
    PlatformModel,
    PlatformModelsEnvelope,
    UserDetails,
    UserGenerationsEnvelope,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://cloud.leonardo.ai/api/rest/v1"
_MAX_BODY_TEXT = 500
# Failures where the request provably never reached Leonardo: safe to resend
# even a POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Envelope = TypeVar("Envelope", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; delays are in seconds."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def ceiling(self, retry_index: int) -> float:
        """Upper bound of the full-jitter sleep before retry number ``retry_index`` (0-based)."""
        return min(self.max_delay, self.base_delay * 2**retry_index)


class _Secret:
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


class _BearerAuth(httpx.Auth):
    """Adds the bearer header per request, so the key is not a client-wide default header."""

    def __init__(self, secret: _Secret) -> None:
        self._secret = secret

    def auth_flow(self, request: httpx.Request):
        request.headers["authorization"] = f"Bearer {self._secret.reveal()}"
        yield request


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN guard
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _redact(value: Any, secret: str) -> Any:
    """Remove the key from an error body in case Leonardo (or a proxy) echoes our headers."""
    if not secret:
        return value
    if isinstance(value, str):
        return value.replace(secret, "[REDACTED]")
    if isinstance(value, dict):
        return {_redact(k, secret): _redact(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secret) for v in value]
    return value


def _describe(error: ValidationError) -> str:
    """Where validation failed, without the offending values (they could be anything)."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['type']}" for e in error.errors()[:5]]
    return "; ".join(parts)


class LeonardoClient:
    """Typed client for the Leonardo generation API. Reusable; call :meth:`close` when done."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        write_timeout: float = 10.0,
        pool_timeout: float = 3.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        self._base_url = base_url.rstrip("/")
        self._secret = _Secret(api_key)
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        self._retry = retry or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LeonardoClient(base_url={self._base_url!r})"

    def __enter__(self) -> "LeonardoClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections. The client may still be used; it reconnects lazily."""
        with self._lock:
            http, self._http = self._http, None
        if http is not None:
            http.close()

    # -- public API -------------------------------------------------------

    def create_generation(self, request: GenerationRequest) -> GenerationJob:
        """Start an image generation (asynchronous, billed). See the module docstring on retries."""
        envelope = self._request(
            "POST", "/generations", CreateGenerationEnvelope, json_body=request.to_payload()
        )
        return envelope.sd_generation_job

    def get_generation(self, generation_id: str) -> Generation:
        envelope = self._request("GET", f"/generations/{_segment(generation_id)}", GetGenerationEnvelope)
        if envelope.generations_by_pk is None:
            raise NotFoundError("Leonardo has no such generation", status=200)
        return envelope.generations_by_pk

    def delete_generation(self, generation_id: str) -> str:
        """Delete and return the deleted id. A retried DELETE whose first try
        succeeded unseen answers 404: callers may treat NotFoundError as done."""
        envelope = self._request(
            "DELETE", f"/generations/{_segment(generation_id)}", DeleteGenerationEnvelope
        )
        if envelope.delete_generations_by_pk is None:
            raise NotFoundError("Leonardo has no such generation", status=200)
        return envelope.delete_generations_by_pk.id

    def list_user_generations(self, user_id: str, offset: int = 0, limit: int = 10) -> list[Generation]:
        if offset < 0 or limit < 1:
            raise ValueError("offset must be >= 0 and limit >= 1")
        envelope = self._request(
            "GET",
            f"/generations/user/{_segment(user_id)}",
            UserGenerationsEnvelope,
            params={"offset": offset, "limit": limit},
        )
        return envelope.generations

    def me(self) -> UserDetails:
        return self._request("GET", "/me", MeEnvelope).user_details[0]

    def platform_models(self) -> list[PlatformModel]:
        return self._request("GET", "/platformModels", PlatformModelsEnvelope).custom_models

    # -- the one request wrapper -----------------------------------------

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    base_url=self._base_url,
                    timeout=self._timeout,
                    transport=self._transport,
                    auth=_BearerAuth(self._secret),
                    headers={"accept": "application/json"},
                    follow_redirects=False,
                )
            return self._http

    def _request(
        self,
        method: str,
        path: str,
        envelope: type[Envelope],
        *,
        json_body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Envelope:
        idempotent = method != "POST"
        attempts = self._retry.max_attempts
        for attempt in range(1, attempts + 1):
            outcome = self._attempt(method, path, envelope, json_body, params, idempotent)
            if not isinstance(outcome, LeonardoError):
                return outcome
            error = outcome
            if not error.retryable or attempt == attempts:
                # A 404 is routine (polling a deleted generation); the rest deserve attention.
                level = logging.INFO if isinstance(error, NotFoundError) else logging.WARNING
                logger.log(
                    level,
                    "leonardo call failed",
                    extra={
                        "method": method,
                        "path": path,
                        "status": error.status,
                        "code": error.code,
                        "attempt": attempt,
                    },
                )
                raise error
            delay = self._delay(attempt - 1, getattr(error, "retry_after", None))
            logger.info(
                "leonardo call will be retried",
                extra={
                    "method": method,
                    "path": path,
                    "status": error.status,
                    "code": error.code,
                    "attempt": attempt,
                    "delay": round(delay, 3),
                },
            )
            self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

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
            return self._transport_error(exc, method, path, idempotent)
        if response.is_success:
            return self._parse(response, envelope, method, path, idempotent)
        return self._status_error(response, method, path)

    def _delay(self, retry_index: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self._retry.max_delay, retry_after)
        return self._rng.uniform(0, self._retry.ceiling(retry_index))

    @staticmethod
    def _transport_error(
        exc: httpx.TransportError, method: str, path: str, idempotent: bool
    ) -> LeonardoError:
        kind = type(exc).__name__
        error: LeonardoError
        if idempotent or isinstance(exc, _NOT_SENT):
            error = RetryableError(f"Leonardo {method} {path} failed: {kind}")
        else:
            error = OutcomeUnknownError(
                f"Leonardo {method} {path} sent but unanswered ({kind}); the outcome is unknown"
            )
        error.__cause__ = exc
        return error

    def _status_error(self, response: httpx.Response, method: str, path: str) -> LeonardoError:
        status = response.status_code
        body = self._error_body(response)
        message = f"Leonardo {method} {path} answered {status}"
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if status == 429:
            return RateLimitedError(message, status=status, body=body, retry_after=retry_after)
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

    def _error_body(self, response: httpx.Response) -> Any:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:_MAX_BODY_TEXT]
        return _redact(body, self._secret.reveal())

    def _parse(
        self, response: httpx.Response, envelope: type[Envelope], method: str, path: str, idempotent: bool
    ) -> Envelope | LeonardoError:
        bad = RetryableBadResponseError if idempotent else BadResponseError
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            return bad(
                f"Leonardo {method} {path} answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
                body=_redact(response.text[:_MAX_BODY_TEXT], self._secret.reveal()),
            )
        try:
            return envelope.model_validate(data)
        except ValidationError as exc:
            return bad(
                f"Leonardo {method} {path} answered an unexpected shape ({_describe(exc)})",
                status=response.status_code,
                body=_redact(data, self._secret.reveal()),
            )


def _segment(value: str) -> str:
    """Quote an id as one path segment, so an id like ``../me`` cannot change the route."""
    if not value or not isinstance(value, str):
        raise ValueError("an id is required")
    return quote(value, safe="")


__all__ = ["DEFAULT_BASE_URL", "LeonardoClient", "RetryPolicy", "parse_retry_after"]
