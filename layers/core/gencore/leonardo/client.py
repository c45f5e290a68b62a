"""Synchronous Leonardo REST client (it runs inside Lambda handlers).

Every call goes through :meth:`LeonardoClient._request`, the single place that
authenticates, retries and classifies failures:

* 429, 5xx and transport failures are retried with exponential backoff and
  full jitter (``uniform(0, min(max_delay, base_delay * 2**n))``), or after
  Leonardo's ``Retry-After`` (seconds or HTTP date, capped at ``max_delay``),
  at most ``RetryPolicy.max_attempts`` attempts in total.
* ``POST /generations`` is NOT idempotent and costs money, so it is sent
  exactly once per call (``create_generation`` makes a single attempt: the
  caller's queue retries with backoff, and the call's worst case stays
  :attr:`LeonardoClient.paid_call_seconds`). Only an answer that proves
  Leonardo did not act on it is reported as retryable: a connect failure or
  pool timeout (never sent) or a 429 (rejected before work). Everything else
  that leaves the outcome open raises :class:`OutcomeUnknownError`: a read
  timeout or dropped connection after sending, any 5xx (a gateway 502/504,
  or a 500 after the job was created, may hide a paid generation), and a 2xx
  whose body is not JSON or not the shape we rely on
  (:class:`UnreadableAnswerError`). The caller must look for the generation
  before ever sending again.
* A 2xx whose body is not JSON or not the shape we rely on raises
  ``leonardo_bad_response``. On GET/DELETE it is retried (asking again is
  harmless; a truncated proxy answer is usually transient) and surfaces as
  :class:`RetryableBadResponseError`.

* ``POST /init-image`` is a POST but only hands out an upload slot (nothing
  is billed, an unused slot is harmless), so it is retried like a GET.

Init images are uploaded by :meth:`LeonardoClient.send_init_image` straight to
the presigned S3 URL Leonardo hands out: a separate HTTP client with no auth
hook (S3 answers 403 to Leonardo's Authorization header), limited to the hosts
in ``upload_hosts`` and to https (plain http on loopback only, for the
simulator), with the same timeouts and retry policy as the API calls.

The API key lives in a :class:`_Secret` that only the per-request auth hook
unwraps; it is never an exception argument, never logged and not in repr().
"""

import email.utils
import ipaddress
import logging
import random
import re
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
    UnreadableAnswerError,
    UploadRefusedError,
    UploadRejectedError,
)
from .models import (
    CreateGenerationEnvelope,
    DeleteGenerationEnvelope,
    DeleteInitImageEnvelope,
    Generation,
    GenerationJob,
    GenerationRequest,
    GetGenerationEnvelope,
    InitImage,
    InitImageEnvelope,
    InitImageUpload,
    InitImageUploadRequest,
    MeEnvelope,
    PlatformModel,
    PlatformModelsEnvelope,
    UploadInitImageEnvelope,
    UserDetails,
    UserGenerationsEnvelope,
)
from .tools import (
    CanvasUpload,
    CanvasUploadEnvelope,
    CanvasUploadRequest,
    NobgEnvelope,
    PromptEnvelope,
    PromptGeneration,
    PromptImproveRequest,
    UniversalUpscaleEnvelope,
    UniversalUpscaleRequest,
    UnzoomEnvelope,
    UpscaleEnvelope,
    Variation,
    VariationEnvelope,
    VariationJob,
    VariationRequest,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://cloud.leonardo.ai/api/rest/v1"
# Leonardo's presigned init-image uploads go to S3 (e.g. <bucket>.s3-accelerate.amazonaws.com).
DEFAULT_UPLOAD_HOSTS: tuple[str, ...] = ("*.amazonaws.com",)
_MAX_BODY_TEXT = 500
_HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
_S3_CODE = re.compile(r"<Code>\s*([A-Za-z0-9.]{1,64})\s*</Code>")
# Failures where the request provably never reached Leonardo: safe to resend
# even a POST.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

Envelope = TypeVar("Envelope", bound=BaseModel)
T = TypeVar("T")


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


def _check_host_pattern(pattern: str) -> str:
    """An exact host (name or IP) or ``*.suffix``, lower-cased; anything broader is a mistake."""
    lowered = pattern.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    name = lowered.removeprefix("*.")
    wildcard = name != lowered
    if wildcard and "." not in name:
        raise ValueError(f"upload_hosts: {pattern!r} would match a whole top-level domain")
    if not (_HOST_NAME.fullmatch(name) or (not wildcard and _is_ip(name))):
        raise ValueError(f"upload_hosts: {pattern!r} is not a host or a '*.suffix' pattern")
    return lowered


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _s3_code(response: httpx.Response) -> str | None:
    """S3's error ``<Code>``: the one part of its XML safe to keep (some answers echo the policy)."""
    found = _S3_CODE.search(response.text[:4096])
    return found.group(1) if found else None


class LeonardoClient:
    """Typed client for the Leonardo generation API. Reusable; call :meth:`close` when done.

    ``upload_hosts`` lists the hosts :meth:`send_init_image` may post files to:
    exact names or ``*.suffix`` patterns (default ``*.amazonaws.com``).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str = "",
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        write_timeout: float = 5.0,
        pool_timeout: float = 2.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        upload_hosts: tuple[str, ...] = DEFAULT_UPLOAD_HOSTS,
    ) -> None:
        if not api_key:
            raise ValueError("api_key is required")
        if isinstance(upload_hosts, str):
            raise ValueError("upload_hosts must be a tuple of hosts, not one string")
        self._upload_hosts = tuple(_check_host_pattern(p) for p in upload_hosts)
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
        self._upload_http: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LeonardoClient(base_url={self._base_url!r})"

    @property
    def paid_call_seconds(self) -> float:
        """The longest a paid call (one attempt, never retried here) can take: every timeout of
        one exchange added up. A caller with less time left must not start one."""
        t = self._timeout
        return float((t.connect or 0) + (t.write or 0) + (t.read or 0) + (t.pool or 0))

    def __enter__(self) -> "LeonardoClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections. The client may still be used; it reconnects lazily."""
        with self._lock:
            clients = (self._http, self._upload_http)
            self._http = self._upload_http = None
        for http in clients:
            if http is not None:
                http.close()

    # -- public API -------------------------------------------------------

    def create_generation(self, request: GenerationRequest) -> GenerationJob:
        """Start an image generation (asynchronous, billed). See the module docstring on retries."""
        envelope = self._request(
            "POST", "/generations", CreateGenerationEnvelope, json_body=request.to_payload(), attempts=1
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

    def upload_init_image(self, extension: str) -> InitImageUpload:
        """Ask for a presigned upload slot for one init image (png, jpg, jpeg or
        webp). Resent on failure like a GET: a slot costs nothing. Upload to it at
        once with :meth:`send_init_image`; the details expire quickly."""
        body = InitImageUploadRequest.model_validate({"extension": extension}).to_payload()
        envelope = self._request(
            "POST", "/init-image", UploadInitImageEnvelope, json_body=body, idempotent=True
        )
        return envelope.upload_init_image

    def send_init_image(self, upload: InitImageUpload, content: bytes, content_type: str) -> None:
        """Post the file to the slot's presigned URL: a multipart form of
        ``upload.fields`` then the file, last and named ``file`` (S3 ignores
        anything after it), with no Authorization header. Posting the same bytes
        to the same key again is harmless, so transport failures and 5xx are
        retried; a 4xx raises :class:`UploadRejectedError`, a URL outside
        ``upload_hosts`` :class:`UploadRefusedError` before connecting."""
        url = self._upload_url(upload.url)
        target = f"//{url.host}{url.path}"  # for logs and messages: no query, no fields
        filename = upload.key.rsplit("/", 1)[-1] or "init-image"
        files = {"file": (filename, content, content_type)}
        self._retrying(
            "POST", target, lambda: self._upload_attempt(url, target, upload.fields, files), "upload"
        )

    def init_image(self, init_image_id: str) -> InitImage:
        envelope = self._request("GET", f"/init-image/{_segment(init_image_id)}", InitImageEnvelope)
        if envelope.init_images_by_pk is None:
            raise NotFoundError("Leonardo has no such init image", status=200)
        return envelope.init_images_by_pk

    def delete_init_image(self, init_image_id: str) -> str:
        """Delete and return the deleted id; a 404 after a retry may mean it is already gone."""
        envelope = self._request("DELETE", f"/init-image/{_segment(init_image_id)}", DeleteInitImageEnvelope)
        if envelope.delete_init_images_by_pk is None:
            raise NotFoundError("Leonardo has no such init image", status=200)
        return envelope.delete_init_images_by_pk.id

    # -- variations (billed; answered with a variation id, followed by polling) --

    def create_upscale(self, image_id: str) -> VariationJob:
        body = VariationRequest(id=image_id).to_payload()
        return self._request("POST", "/variations/upscale", UpscaleEnvelope, json_body=body, attempts=1).job

    def create_unzoom(self, image_id: str, *, is_variation: bool = False) -> VariationJob:
        body = VariationRequest(id=image_id, is_variation=is_variation).to_payload()
        return self._request("POST", "/variations/unzoom", UnzoomEnvelope, json_body=body, attempts=1).job

    def create_no_background(self, image_id: str, *, is_variation: bool = False) -> VariationJob:
        body = VariationRequest(id=image_id, is_variation=is_variation).to_payload()
        return self._request("POST", "/variations/nobg", NobgEnvelope, json_body=body, attempts=1).job

    def create_universal_upscale(self, request: UniversalUpscaleRequest) -> VariationJob:
        body = request.to_payload()
        path = "/variations/universal-upscaler"
        return self._request("POST", path, UniversalUpscaleEnvelope, json_body=body, attempts=1).job

    def get_variation(self, variation_id: str) -> Variation:
        envelope = self._request("GET", f"/variations/{_segment(variation_id)}", VariationEnvelope)
        if not envelope.generated_image_variation_generic:
            raise NotFoundError("Leonardo has no such variation", status=200)
        return envelope.generated_image_variation_generic[0]

    # -- prompt tools (billed, synchronous) -------------------------------

    def improve_prompt(self, prompt: str, instructions: str | None = None) -> PromptGeneration:
        body = PromptImproveRequest(prompt=prompt, prompt_instructions=instructions).to_payload()
        return self._request(
            "POST", "/prompt/improve", PromptEnvelope, json_body=body, attempts=1
        ).prompt_generation

    def random_prompt(self) -> PromptGeneration:
        return self._request("POST", "/prompt/random", PromptEnvelope, attempts=1).prompt_generation

    # -- canvas: an init image and its mask in one exchange ---------------

    def upload_canvas_images(self, init_extension: str, mask_extension: str) -> CanvasUpload:
        """Two presigned slots (free: resent like a GET). Post each file with :meth:`send_init_image`."""
        body = CanvasUploadRequest.model_validate(
            {"initExtension": init_extension, "maskExtension": mask_extension}
        ).to_payload()
        return self._request(
            "POST", "/canvas-init-image", CanvasUploadEnvelope, json_body=body, idempotent=True
        ).upload

    # -- init-image uploads (S3, not Leonardo) -----------------------------

    def _upload_url(self, raw: str) -> httpx.URL:
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL:
            raise UploadRefusedError("the init-image upload URL is not a valid URL") from None
        host = url.host.lower().rstrip(".")
        if url.userinfo:
            raise UploadRefusedError(f"the init-image upload URL for {host!r} carries credentials")
        if url.scheme != "https" and not (url.scheme == "http" and _is_loopback(host)):
            raise UploadRefusedError(f"the init-image upload URL for {host!r} is not https")
        if not _host_allowed(host, self._upload_hosts):
            raise UploadRefusedError(f"init-image upload host {host!r} is not in upload_hosts")
        return url

    def _uploader(self) -> httpx.Client:
        # No auth hook and no default headers: S3 refuses Leonardo's Authorization header.
        with self._lock:
            if self._upload_http is None:
                self._upload_http = httpx.Client(
                    timeout=self._timeout, transport=self._transport, follow_redirects=False
                )
            return self._upload_http

    def _upload_attempt(
        self, url: httpx.URL, target: str, fields: dict[str, str], files: dict[str, Any]
    ) -> LeonardoError | None:
        try:
            # httpx writes `data` fields before `files`: the file goes last, as S3 requires.
            response = self._uploader().post(url, data=fields, files=files)
        except httpx.TransportError as exc:
            error = RetryableError(f"init-image upload POST {target} failed: {type(exc).__name__}")
            error.__cause__ = exc
            return error
        if response.is_success:
            return None
        status = response.status_code
        s3_code = _s3_code(response)
        message = f"init-image upload POST {target} answered {status}" + (f" ({s3_code})" if s3_code else "")
        body = {"Code": s3_code} if s3_code else None
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return RetryableError(message, status=status, body=body, retry_after=retry_after)
        if 400 <= status < 500:
            return UploadRejectedError(message, status=status, body=body, s3_code=s3_code)
        return BadResponseError(message, status=status, body=body)  # redirects are not followed

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
        idempotent: bool | None = None,
        attempts: int | None = None,
    ) -> Envelope:
        """``idempotent`` defaults to "not a POST"; pass True for a POST that is safe to resend.
        ``attempts`` overrides the retry policy's count (1 for a paid call)."""
        safe = method != "POST" if idempotent is None else idempotent
        return self._retrying(
            method,
            path,
            lambda: self._attempt(method, path, envelope, json_body, params, safe),
            attempts=attempts,
        )

    def _retrying(
        self,
        method: str,
        path: str,
        attempt_once: Callable[[], T | LeonardoError],
        what: str = "call",
        attempts: int | None = None,
    ) -> T:
        """Run ``attempt_once`` until it returns a result or a non-retryable error,
        within the retry policy; log each failure (never bodies or headers)."""
        attempts = attempts or self._retry.max_attempts
        for attempt in range(1, attempts + 1):
            outcome = attempt_once()
            if not isinstance(outcome, LeonardoError):
                return outcome
            error = outcome
            if not error.retryable or attempt == attempts:
                # A 404 is routine (polling a deleted generation); the rest deserve attention.
                level = logging.INFO if isinstance(error, NotFoundError) else logging.WARNING
                logger.log(
                    level,
                    f"leonardo {what} failed",
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
                f"leonardo {what} will be retried",
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
        return self._status_error(response, method, path, idempotent)

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

    def _status_error(
        self, response: httpx.Response, method: str, path: str, idempotent: bool = True
    ) -> LeonardoError:
        status = response.status_code
        body = self._error_body(response)
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

    def _error_body(self, response: httpx.Response) -> Any:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:_MAX_BODY_TEXT]
        return _redact(body, self._secret.reveal())

    def _parse(
        self, response: httpx.Response, envelope: type[Envelope], method: str, path: str, idempotent: bool
    ) -> Envelope | LeonardoError:
        # After a paid POST an unreadable 2xx means "done, but we cannot tell what": outcome unknown.
        bad = RetryableBadResponseError if idempotent else UnreadableAnswerError
        conceal = getattr(envelope, "conceals_body", False)
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            return bad(
                f"Leonardo {method} {path} answered {response.status_code} with a body that is not JSON",
                status=response.status_code,
                body=None if conceal else _redact(response.text[:_MAX_BODY_TEXT], self._secret.reveal()),
            )
        try:
            return envelope.model_validate(data)
        except ValidationError as exc:
            return bad(
                f"Leonardo {method} {path} answered an unexpected shape ({_describe(exc)})",
                status=response.status_code,
                body=None if conceal else _redact(data, self._secret.reveal()),
            )


def _segment(value: str) -> str:
    """Quote an id as one path segment, so an id like ``../me`` cannot change the route."""
    if not value or not isinstance(value, str):
        raise ValueError("an id is required")
    return quote(value, safe="")


__all__ = ["DEFAULT_BASE_URL", "DEFAULT_UPLOAD_HOSTS", "LeonardoClient", "RetryPolicy", "parse_retry_after"]
