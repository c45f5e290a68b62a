"""Every operation of the client, once, as I/O-free generators (see `_sansio.py`)."""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import json
import mimetypes
import os
import random
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from leoclient import errors
from leoclient._sansio import Emit, Op, Send, Sleep
from leoclient.models import (
    BatchPage,
    BatchResult,
    BatchView,
    EstimateView,
    ImageView,
    JobPage,
    JobView,
    ModelPage,
    UploadView,
    UsageView,
)

__version__ = "0.1.0"

type TokenSource = str | Callable[[], str] | None

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({429, 503})
# Statuses the gateway answers without our envelope: their fallback codes.
FALLBACK_CODES = {401: "unauthorized", 404: "not_found"}
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter; `Retry-After` is honoured."""

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server asking for a longer pause than this is not retried: the error is raised instead.
    max_retry_after: float = 120.0


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How `wait()` polls: the first pause, growth factor and the longest pause."""

    initial: float = 1.0
    factor: float = 1.5
    maximum: float = 10.0


@dataclass(frozen=True, slots=True)
class DownloadResult:
    job_id: str
    index: int
    path: Path | None
    # downloaded: written now; skipped: already complete on disk; withheld: the image has no URL
    action: Literal["downloaded", "skipped", "withheld"]
    size: int = 0


@dataclass(slots=True)
class Clock:
    """Time sources, swappable in tests: `monotonic` for timeouts, `wall` for Retry-After dates."""

    monotonic: Callable[[], float]
    wall: Callable[[], float]


@dataclass(slots=True)
class Settings:
    base_url: str
    token: TokenSource
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    user_agent: str = f"leoclient/{__version__}"


class _PartFile:
    """A download's temp file beside its final name; only a verified file is renamed into place."""

    def __init__(self, final: Path) -> None:
        self.final = final
        self.temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.part")
        self._file: Any = None
        self._hash = hashlib.sha256()
        self.size = 0

    def reset(self) -> None:
        self.discard()
        self._file = self.temp.open("wb")
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self, size: int | None, sha256: str | None) -> None:
        self._close()
        if self._file is None and not self.temp.exists():
            raise errors.IntegrityError(f"{self.final.name}: no body was received")
        if size is not None and self.size != size:
            self.discard()
            raise errors.IntegrityError(
                f"{self.final.name}: received {self.size} bytes, expected {size}",
                details={"path": str(self.final), "expected_size": size, "size": self.size},
            )
        digest = self._hash.hexdigest()
        if sha256 is not None and digest != sha256.lower():
            self.discard()
            raise errors.IntegrityError(
                f"{self.final.name}: sha256 {digest} does not match {sha256}",
                details={"path": str(self.final), "expected_sha256": sha256, "sha256": digest},
            )
        os.replace(self.temp, self.final)

    def discard(self) -> None:
        self._close()
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()

    def _close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def error_from_response(response: httpx.Response) -> errors.APIError:
    """Our envelope gives the code; anything else (gateway answers, non-JSON) gets a fallback."""
    status = response.status_code
    headers = dict(response.headers)
    try:
        body: Any = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    envelope = body.get("error") if isinstance(body, dict) else None
    if isinstance(envelope, dict) and isinstance(envelope.get("code"), str):
        code = envelope["code"]
        message = str(envelope.get("message") or code)
        details = envelope.get("details")
    else:
        code = FALLBACK_CODES.get(status, f"http_{status}")
        gateway_message = body.get("message") if isinstance(body, dict) else None
        reason = gateway_message or _s3_message(response) or response.reason_phrase or f"HTTP {status}"
        message = str(reason)
        details = None
    return errors.error_class(status, code)(
        message, status=status, code=code, details=details, headers=headers
    )


def _s3_message(response: httpx.Response) -> str | None:
    """The bucket's own XML error (an expired or altered presigned URL, a file over the form's limit)."""
    found = [
        match.group(1)
        for tag in ("Code", "Message")
        if (match := re.search(rf"<{tag}>([^<]{{1,500}})</{tag}>", response.text))
    ]
    return ": ".join(found) or None


def extension_for(image: ImageView) -> str:
    if image.content_type in EXTENSIONS:
        return EXTENSIONS[image.content_type]
    suffix = Path(urlsplit(image.url or "").path).suffix.lstrip(".").lower()
    if suffix.isalnum() and 0 < len(suffix) <= 5:
        return suffix
    guessed = mimetypes.guess_extension(image.content_type or "")
    return guessed.lstrip(".") if guessed else "bin"


def file_is_complete(path: Path, size: int | None, sha256: str | None) -> bool:
    """A file under its final name was renamed there whole; it is stale only if it contradicts the view."""
    if not path.is_file():
        return False
    if size is not None and path.stat().st_size != size:
        return False
    if sha256 is not None:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == sha256.lower()
    return True


def parse_model[M: BaseModel](model: type[M], response: httpx.Response) -> M:
    try:
        return model.model_validate(response.json())
    except (ValueError, ValidationError) as exc:
        raise errors.APIError(
            f"unexpected answer to {response.request.method} {response.request.url.path}: {exc}",
            status=response.status_code,
            code="invalid_response",
        ) from exc


class Core:
    """The operations. Each public method returns an `Op` for a driver to run."""

    def __init__(self, settings: Settings, clock: Clock, rng: random.Random) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = rng
        self.base_url = settings.base_url.rstrip("/")

    # -- the one request path ----------------------------------------------------------------------

    def _token(self) -> str | None:
        token = self.settings.token
        return token() if callable(token) else token

    def _build(
        self,
        method: str,
        url: str,
        *,
        api: bool,
        json_body: Any,
        params: Mapping[str, Any] | None,
        idempotency_key: str | None,
        data: Mapping[str, str] | None,
        files: Mapping[str, tuple[str, bytes, str]] | None,
    ) -> httpx.Request:
        headers = {"user-agent": self.settings.user_agent}
        if api:
            headers["accept"] = "application/json"
            token = self._token()  # per attempt, so a provider can refresh an expiring token
            if token:
                headers["authorization"] = f"Bearer {token}"
            if idempotency_key is not None:
                headers["idempotency-key"] = idempotency_key
        # No params at all unless some are set: httpx rebuilds (here: drops) a URL's own query when
        # given params, and a presigned URL's query is its signature.
        clean_params = {k: v for k, v in (params or {}).items() if v is not None} or None
        return httpx.Request(
            method, url, headers=headers, json=json_body, params=clean_params, data=data, files=files
        )

    def backoff(self, attempt: int) -> float:
        retry = self.settings.retry
        return self.rng.uniform(0, min(retry.max_delay, retry.base_delay * 2 ** (attempt - 1)))

    def exchange(
        self,
        method: str,
        path_or_url: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        idempotent: bool | None = None,
        sink: _PartFile | None = None,
    ) -> Op[httpx.Response]:
        """Send one logical request: retried on 429/503 and, when repeating is safe, on lost answers."""
        api = not path_or_url.startswith(("http://", "https://"))
        url = self.base_url + path_or_url if api else path_or_url
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or idempotency_key is not None
        retry = self.settings.retry
        attempt = 0
        while True:
            attempt += 1
            request = self._build(
                method,
                url,
                api=api,
                json_body=json_body,
                params=params,
                idempotency_key=idempotency_key,
                data=data,
                files=files,
            )
            try:
                response: httpx.Response = yield Send(request, sink)
            except httpx.TransportError as exc:
                if sink is not None:
                    sink.discard()
                # A connection never made cannot have done anything; other failures only when repeatable.
                safe = idempotent or isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                hopeless = isinstance(exc, httpx.UnsupportedProtocol)
                if not safe or hopeless or attempt >= retry.max_attempts:
                    raise errors.TransportError(
                        f"{method} {request.url.copy_with(query=None)}: {type(exc).__name__}: {exc}",
                        details={"attempts": attempt},
                    ) from exc
                yield Sleep(self.backoff(attempt))
                continue
            if response.is_success:
                return response
            if sink is not None:
                sink.discard()
            if response.status_code in RETRY_STATUSES and attempt < retry.max_attempts:
                wait = parse_retry_after(response.headers.get("retry-after"), self.clock.wall())
                if wait is None:
                    yield Sleep(self.backoff(attempt))
                    continue
                if wait <= retry.max_retry_after:
                    yield Sleep(wait + self.rng.uniform(0, min(1.0, wait * 0.1)))
                    continue
            raise error_from_response(response)

    def call[M: BaseModel](
        self,
        model: type[M],
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Op[M]:
        response = yield from self.exchange(
            method, path, json_body=json_body, params=params, idempotency_key=idempotency_key
        )
        return parse_model(model, response)

    # -- generations -------------------------------------------------------------------------------

    @staticmethod
    def key(idempotency_key: str | None) -> str:
        """Every create carries a key; one call reuses it on each retry."""
        return idempotency_key if idempotency_key is not None else str(uuid.uuid4())

    def create_generation(self, body: Mapping[str, Any], idempotency_key: str | None) -> Op[JobView]:
        return self.call(
            JobView,
            "POST",
            "/v1/generations",
            json_body=dict(body),
            idempotency_key=self.key(idempotency_key),
        )

    def create_variation(
        self, job_id: str, index: int, body: Mapping[str, Any], idempotency_key: str | None
    ) -> Op[JobView]:
        return self.call(
            JobView,
            "POST",
            f"/v1/generations/{job_id}/images/{index}/variations",
            json_body=dict(body),
            idempotency_key=self.key(idempotency_key),
        )

    def get_job(self, job_id: str) -> Op[JobView]:
        return self.call(JobView, "GET", f"/v1/generations/{job_id}")

    def cancel_job(self, job_id: str) -> Op[JobView]:
        return self.call(JobView, "POST", f"/v1/generations/{job_id}/cancel")

    def delete_job(self, job_id: str) -> Op[JobView]:
        return self.call(JobView, "DELETE", f"/v1/generations/{job_id}")

    def list_jobs(self, limit: int | None, cursor: str | None) -> Op[JobPage]:
        return self.call(JobPage, "GET", "/v1/generations", params={"limit": limit, "cursor": cursor})

    def iter_jobs(self, page_size: int | None, max_items: int | None) -> Op[None]:
        cursor: str | None = None
        count = 0
        while True:
            page = yield from self.list_jobs(page_size, cursor)
            for job in page.items:
                if max_items is not None and count >= max_items:
                    return
                yield Emit(job)
                count += 1
            if page.next_cursor is None or not page.items:
                return
            cursor = page.next_cursor

    def watch_job(self, job_id: str, timeout: float | None) -> Op[JobView]:
        """Poll until the job is terminal, emitting each view; raises WaitTimeoutError past `timeout`."""
        return self._watch(lambda: self.get_job(job_id), "job", job_id, timeout)

    def _watch[V: JobView | BatchView](
        self, fetch: Callable[[], Op[V]], what: str, ident: str, timeout: float | None
    ) -> Op[V]:
        poll = self.settings.poll
        deadline = None if timeout is None else self.clock.monotonic() + timeout
        delay = poll.initial
        while True:
            view = yield from fetch()
            yield Emit(view)
            if view.terminal:
                return view
            pause = delay * self.rng.uniform(0.8, 1.0)
            if deadline is not None:
                remaining = deadline - self.clock.monotonic()
                if remaining <= 0:
                    raise errors.WaitTimeoutError(
                        f"{what} {ident} is still {view.status} after {timeout:g}s",
                        details={f"{what}_id": ident, "status": view.status},
                    )
                pause = min(pause, remaining)
            yield Sleep(pause)
            delay = min(delay * poll.factor, poll.maximum)

    # -- downloads ---------------------------------------------------------------------------------

    def download_image(self, job_id: str, image: ImageView, directory: Path) -> Op[DownloadResult]:
        if image.url is None:
            return DownloadResult(job_id, image.index, None, "withheld")
        final = directory / f"{job_id}_{image.index}.{extension_for(image)}"
        if file_is_complete(final, image.size, image.sha256):
            return DownloadResult(job_id, image.index, final, "skipped", final.stat().st_size)
        directory.mkdir(parents=True, exist_ok=True)
        part = _PartFile(final)
        try:
            yield from self.exchange("GET", image.url, sink=part)
            part.commit(image.size, image.sha256)
        finally:
            part.discard()
        return DownloadResult(job_id, image.index, final, "downloaded", final.stat().st_size)

    def download_images(self, job_id: str, images: Iterable[ImageView], directory: Path) -> Op[None]:
        for image in images:
            result = yield from self.download_image(job_id, image, directory)
            yield Emit(result)

    # -- uploads -----------------------------------------------------------------------------------

    def create_upload(self, content_type: str, purpose: str) -> Op[UploadView]:
        body = {"content_type": content_type, "purpose": purpose}
        return self.call(UploadView, "POST", "/v1/uploads", json_body=body)

    def get_upload(self, upload_id: str) -> Op[UploadView]:
        return self.call(UploadView, "GET", f"/v1/uploads/{upload_id}")

    def complete_upload(self, upload_id: str) -> Op[UploadView]:
        return self.call(UploadView, "POST", f"/v1/uploads/{upload_id}/complete")

    def upload_file(self, path: Path, purpose: str, content_type: str | None) -> Op[UploadView]:
        """Ask for an upload, POST the file to its presigned form, complete it; READY or an error."""
        content_type = content_type or guess_content_type(path)
        data = path.read_bytes()
        upload = yield from self.create_upload(content_type, purpose)
        if upload.upload is None:
            raise errors.APIError(
                "the upload came without a form to send the file to", code="invalid_response"
            )
        form = upload.upload
        if len(data) > form.max_bytes:  # the bucket would refuse it; say so in the API's words
            raise errors.UploadRejectedError(
                f"{path.name} is {len(data)} bytes; uploads take at most {form.max_bytes}",
                code="upload_too_large",
                details={"upload_id": upload.id, "size": len(data), "max_bytes": form.max_bytes},
            )
        # The presigned form carries its own credentials: no Authorization header goes to the bucket.
        yield from self.exchange(
            "POST",
            form.url,
            data=form.fields,
            files={"file": (path.name, data, content_type)},
            idempotent=True,
        )
        upload = yield from self.complete_upload(upload.id)
        if upload.status == "REJECTED":
            code = upload.error.code if upload.error else "upload_rejected"
            message = upload.error.message if upload.error else "the file was refused"
            raise errors.UploadRejectedError(message, code=code, details={"upload_id": upload.id})
        return upload

    # -- estimates, usage, models ------------------------------------------------------------------

    def estimate(self, body: Mapping[str, Any]) -> Op[EstimateView]:
        return self.call(EstimateView, "POST", "/v1/estimates", json_body=dict(body))

    def usage(self) -> Op[UsageView]:
        return self.call(UsageView, "GET", "/v1/usage")

    def models(self) -> Op[ModelPage]:
        return self.call(ModelPage, "GET", "/v1/models")

    # -- batches -----------------------------------------------------------------------------------

    def create_batch(
        self,
        *,
        items: list[Mapping[str, Any]] | None,
        manifest_upload_id: str | None,
        name: str | None,
        skip_invalid: bool | None,
        complete_within_hours: int | None,
        idempotency_key: str | None,
    ) -> Op[BatchView]:
        if (items is None) == (manifest_upload_id is None):
            raise ValueError("give exactly one of items or manifest_upload_id")
        body: dict[str, Any] = (
            {"items": [dict(item) for item in items]}
            if items is not None
            else {"manifest_upload_id": manifest_upload_id}
        )
        options = {"name": name, "skip_invalid": skip_invalid, "complete_within_hours": complete_within_hours}
        body.update({k: v for k, v in options.items() if v is not None})
        return self.call(
            BatchView, "POST", "/v1/batches", json_body=body, idempotency_key=self.key(idempotency_key)
        )

    def create_batch_from_file(
        self,
        path: Path,
        *,
        name: str | None,
        skip_invalid: bool | None,
        complete_within_hours: int | None,
        idempotency_key: str | None,
    ) -> Op[BatchView]:
        upload = yield from self.upload_file(path, "batch_manifest", "application/jsonl")
        return (
            yield from self.create_batch(
                items=None,
                manifest_upload_id=upload.id,
                name=name,
                skip_invalid=skip_invalid,
                complete_within_hours=complete_within_hours,
                idempotency_key=idempotency_key,
            )
        )

    def get_batch(self, batch_id: str) -> Op[BatchView]:
        return self.call(BatchView, "GET", f"/v1/batches/{batch_id}")

    def cancel_batch(self, batch_id: str) -> Op[BatchView]:
        return self.call(BatchView, "POST", f"/v1/batches/{batch_id}/cancel")

    def list_batches(self, limit: int | None, cursor: str | None) -> Op[BatchPage]:
        return self.call(BatchPage, "GET", "/v1/batches", params={"limit": limit, "cursor": cursor})

    def iter_batches(self, page_size: int | None) -> Op[None]:
        cursor: str | None = None
        while True:
            page = yield from self.list_batches(page_size, cursor)
            for batch in page.batches:
                yield Emit(batch)
            if page.next_cursor is None or not page.batches:
                return
            cursor = page.next_cursor

    def results_page(
        self, batch_id: str, limit: int | None, cursor: str | None
    ) -> Op[tuple[list[BatchResult], str | None]]:
        response = yield from self.exchange(
            "GET", f"/v1/batches/{batch_id}/results", params={"limit": limit, "cursor": cursor}
        )
        results = []
        for number, line in enumerate(response.text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                results.append(BatchResult.model_validate(json.loads(line)))
            except (ValueError, ValidationError) as exc:
                raise errors.APIError(
                    f"unreadable results line {number}: {exc}",
                    status=response.status_code,
                    code="invalid_response",
                ) from exc
        return results, response.headers.get("x-next-cursor") or None

    def iter_results(self, batch_id: str, page_size: int | None) -> Op[None]:
        cursor: str | None = None
        while True:
            results, cursor = yield from self.results_page(batch_id, page_size, cursor)
            for result in results:
                yield Emit(result)
            if cursor is None:
                return

    def download_results(self, batch_id: str, directory: Path, page_size: int | None) -> Op[None]:
        """Every image of every item that has some, emitted as DownloadResults; resumable."""
        cursor: str | None = None
        while True:
            results, cursor = yield from self.results_page(batch_id, page_size, cursor)
            for result in results:
                if result.job_id is not None:
                    yield from self.download_images(result.job_id, result.images, directory)
            if cursor is None:
                return

    def watch_batch(self, batch_id: str, timeout: float | None) -> Op[BatchView]:
        return self._watch(lambda: self.get_batch(batch_id), "batch", batch_id, timeout)


def guess_content_type(path: Path) -> str:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return "application/jsonl"
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"
