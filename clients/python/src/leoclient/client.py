"""`Client` (blocking) and `AsyncClient`: thin drivers over the operations in `_core.Core`."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from leoclient._core import Clock, Core, DownloadResult, PollPolicy, RetryPolicy, Settings, TokenSource
from leoclient._sansio import Op, iter_async, iter_sync, run_async, run_sync
from leoclient.models import (
    BatchPage,
    BatchResult,
    BatchView,
    EstimateView,
    JobPage,
    JobView,
    ModelPage,
    UploadView,
    UsageView,
)

type StrPath = str | PathLike[str]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _core(
    base_url: str,
    token: TokenSource,
    retry: RetryPolicy | None,
    poll: PollPolicy | None,
    clock: Callable[[], float] | None,
    rng: random.Random | None,
) -> Core:
    settings = Settings(
        base_url=base_url, token=token, retry=retry or RetryPolicy(), poll=poll or PollPolicy()
    )
    return Core(settings, Clock(clock or time.monotonic, time.time), rng or random.Random())


def _body(prompt: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in fields.items() if v is not None}
    if prompt is not None:
        body["prompt"] = prompt
    return body


class Client:
    """The blocking client.

    `token` is a string or a callable returning one (called for every request, so it may refresh).
    `transport` swaps the HTTP layer (tests use `httpx.MockTransport`); `sleep` and `clock` swap time.
    """

    def __init__(
        self,
        base_url: str,
        token: TokenSource = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._core = _core(base_url, token, retry, poll, clock, rng)
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True)
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _run[R](self, op: Op[R]) -> R:
        return run_sync(op, self._http, self._sleep)

    def _iter(self, op: Op[Any]) -> Iterator[Any]:
        return iter_sync(op, self._http, self._sleep)

    # generations
    def create_generation(
        self, prompt: str | None = None, *, idempotency_key: str | None = None, **fields: Any
    ) -> JobView:
        """POST /v1/generations (any request field as a keyword). A key is made up when none is given."""
        return self._run(self._core.create_generation(_body(prompt, fields), idempotency_key))

    def create_variation(
        self, job_id: str, index: int, type: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> JobView:
        body = _body(None, {"type": type, **fields})
        return self._run(self._core.create_variation(job_id, index, body, idempotency_key))

    def get(self, job_id: str) -> JobView:
        return self._run(self._core.get_job(job_id))

    def cancel(self, job_id: str) -> JobView:
        return self._run(self._core.cancel_job(job_id))

    def delete(self, job_id: str) -> JobView:
        return self._run(self._core.delete_job(job_id))

    def list_page(self, *, limit: int | None = None, cursor: str | None = None) -> JobPage:
        return self._run(self._core.list_jobs(limit, cursor))

    def history(self, *, page_size: int | None = None, max_items: int | None = None) -> Iterator[JobView]:
        """The caller's jobs, newest first, following cursors across pages."""
        return self._iter(self._core.iter_jobs(page_size, max_items))

    def watch(self, job_id: str, *, timeout: float | None = None) -> Iterator[JobView]:
        """Each polled view until the job is terminal."""
        return self._iter(self._core.watch_job(job_id, timeout))

    def wait(self, job_id: str, *, timeout: float | None = 600.0) -> JobView:
        """Poll until COMPLETE/FAILED/CANCELLED/DELETED; WaitTimeoutError past `timeout` seconds."""
        return self._run(self._core.watch_job(job_id, timeout))

    def download(self, job: JobView, directory: StrPath) -> list[DownloadResult]:
        """Write each image as <job_id>_<index>.<ext>; complete files are skipped, others verified."""
        return list(self._iter(self._core.download_images(job.id, job.images, Path(directory))))

    def download_result(self, result: BatchResult, directory: StrPath) -> list[DownloadResult]:
        """The images of one batch results line, as `download` does for a job."""
        if result.job_id is None:
            return []
        return list(self._iter(self._core.download_images(result.job_id, result.images, Path(directory))))

    def generate(
        self, prompt: str, *, timeout: float | None = 600.0, idempotency_key: str | None = None, **fields: Any
    ) -> JobView:
        """Create a job and wait for it to end."""
        job = self.create_generation(prompt, idempotency_key=idempotency_key, **fields)
        return self.wait(job.id, timeout=timeout)

    # uploads, estimates, account
    def upload_file(
        self, path: StrPath, *, purpose: str = "init", content_type: str | None = None
    ) -> UploadView:
        return self._run(self._core.upload_file(Path(path), purpose, content_type))

    def get_upload(self, upload_id: str) -> UploadView:
        return self._run(self._core.get_upload(upload_id))

    def estimate(self, prompt: str | None = None, **fields: Any) -> EstimateView:
        return self._run(self._core.estimate(_body(prompt, fields)))

    def usage(self) -> UsageView:
        return self._run(self._core.usage())

    def models(self) -> ModelPage:
        return self._run(self._core.models())

    # batches
    def create_batch(
        self,
        items: Iterable[Mapping[str, Any]] | None = None,
        *,
        manifest_upload_id: str | None = None,
        name: str | None = None,
        skip_invalid: bool | None = None,
        complete_within_hours: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchView:
        """Inline items (each with a `custom_id`) or an uploaded manifest; BatchInvalidError if refused."""
        return self._run(
            self._core.create_batch(
                items=None if items is None else list(items),
                manifest_upload_id=manifest_upload_id,
                name=name,
                skip_invalid=skip_invalid,
                complete_within_hours=complete_within_hours,
                idempotency_key=idempotency_key,
            )
        )

    def create_batch_from_file(
        self,
        path: StrPath,
        *,
        name: str | None = None,
        skip_invalid: bool | None = None,
        complete_within_hours: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchView:
        """Upload a JSONL manifest (purpose batch_manifest), then create the batch from it."""
        return self._run(
            self._core.create_batch_from_file(
                Path(path),
                name=name,
                skip_invalid=skip_invalid,
                complete_within_hours=complete_within_hours,
                idempotency_key=idempotency_key,
            )
        )

    def get_batch(self, batch_id: str) -> BatchView:
        return self._run(self._core.get_batch(batch_id))

    def cancel_batch(self, batch_id: str) -> BatchView:
        return self._run(self._core.cancel_batch(batch_id))

    def list_batches_page(self, *, limit: int | None = None, cursor: str | None = None) -> BatchPage:
        return self._run(self._core.list_batches(limit, cursor))

    def batches(self, *, page_size: int | None = None) -> Iterator[BatchView]:
        return self._iter(self._core.iter_batches(page_size))

    def batch_results(self, batch_id: str, *, page_size: int | None = None) -> Iterator[BatchResult]:
        """Every result line in manifest order, across pages (partial while the batch runs)."""
        return self._iter(self._core.iter_results(batch_id, page_size))

    def watch_batch(self, batch_id: str, *, timeout: float | None = None) -> Iterator[BatchView]:
        return self._iter(self._core.watch_batch(batch_id, timeout))

    def wait_batch(self, batch_id: str, *, timeout: float | None = None) -> BatchView:
        return self._run(self._core.watch_batch(batch_id, timeout))

    def download_batch_results(
        self, batch_id: str, directory: StrPath, *, page_size: int | None = None
    ) -> Iterator[DownloadResult]:
        return self._iter(self._core.download_results(batch_id, Path(directory), page_size))


async def _asleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class AsyncClient:
    """The same calls as `Client`, awaitable; iterators are async iterators."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = _asleep,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._core = _core(base_url, token, retry, poll, clock, rng)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=True)
        self._sleep = sleep

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _run[R](self, op: Op[R]) -> R:
        return await run_async(op, self._http, self._sleep)

    def _iter(self, op: Op[Any]) -> AsyncIterator[Any]:
        return iter_async(op, self._http, self._sleep)

    async def create_generation(
        self, prompt: str | None = None, *, idempotency_key: str | None = None, **fields: Any
    ) -> JobView:
        return await self._run(self._core.create_generation(_body(prompt, fields), idempotency_key))

    async def create_variation(
        self, job_id: str, index: int, type: str, *, idempotency_key: str | None = None, **fields: Any
    ) -> JobView:
        body = _body(None, {"type": type, **fields})
        return await self._run(self._core.create_variation(job_id, index, body, idempotency_key))

    async def get(self, job_id: str) -> JobView:
        return await self._run(self._core.get_job(job_id))

    async def cancel(self, job_id: str) -> JobView:
        return await self._run(self._core.cancel_job(job_id))

    async def delete(self, job_id: str) -> JobView:
        return await self._run(self._core.delete_job(job_id))

    async def list_page(self, *, limit: int | None = None, cursor: str | None = None) -> JobPage:
        return await self._run(self._core.list_jobs(limit, cursor))

    def history(
        self, *, page_size: int | None = None, max_items: int | None = None
    ) -> AsyncIterator[JobView]:
        return self._iter(self._core.iter_jobs(page_size, max_items))

    def watch(self, job_id: str, *, timeout: float | None = None) -> AsyncIterator[JobView]:
        return self._iter(self._core.watch_job(job_id, timeout))

    async def wait(self, job_id: str, *, timeout: float | None = 600.0) -> JobView:
        return await self._run(self._core.watch_job(job_id, timeout))

    async def download(self, job: JobView, directory: StrPath) -> list[DownloadResult]:
        return [r async for r in self._iter(self._core.download_images(job.id, job.images, Path(directory)))]

    async def download_result(self, result: BatchResult, directory: StrPath) -> list[DownloadResult]:
        if result.job_id is None:
            return []
        op = self._core.download_images(result.job_id, result.images, Path(directory))
        return [r async for r in self._iter(op)]

    async def generate(
        self, prompt: str, *, timeout: float | None = 600.0, idempotency_key: str | None = None, **fields: Any
    ) -> JobView:
        job = await self.create_generation(prompt, idempotency_key=idempotency_key, **fields)
        return await self.wait(job.id, timeout=timeout)

    async def upload_file(
        self, path: StrPath, *, purpose: str = "init", content_type: str | None = None
    ) -> UploadView:
        return await self._run(self._core.upload_file(Path(path), purpose, content_type))

    async def get_upload(self, upload_id: str) -> UploadView:
        return await self._run(self._core.get_upload(upload_id))

    async def estimate(self, prompt: str | None = None, **fields: Any) -> EstimateView:
        return await self._run(self._core.estimate(_body(prompt, fields)))

    async def usage(self) -> UsageView:
        return await self._run(self._core.usage())

    async def models(self) -> ModelPage:
        return await self._run(self._core.models())

    async def create_batch(
        self,
        items: Iterable[Mapping[str, Any]] | None = None,
        *,
        manifest_upload_id: str | None = None,
        name: str | None = None,
        skip_invalid: bool | None = None,
        complete_within_hours: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchView:
        return await self._run(
            self._core.create_batch(
                items=None if items is None else list(items),
                manifest_upload_id=manifest_upload_id,
                name=name,
                skip_invalid=skip_invalid,
                complete_within_hours=complete_within_hours,
                idempotency_key=idempotency_key,
            )
        )

    async def create_batch_from_file(
        self,
        path: StrPath,
        *,
        name: str | None = None,
        skip_invalid: bool | None = None,
        complete_within_hours: int | None = None,
        idempotency_key: str | None = None,
    ) -> BatchView:
        return await self._run(
            self._core.create_batch_from_file(
                Path(path),
                name=name,
                skip_invalid=skip_invalid,
                complete_within_hours=complete_within_hours,
                idempotency_key=idempotency_key,
            )
        )

    async def get_batch(self, batch_id: str) -> BatchView:
        return await self._run(self._core.get_batch(batch_id))

    async def cancel_batch(self, batch_id: str) -> BatchView:
        return await self._run(self._core.cancel_batch(batch_id))

    async def list_batches_page(self, *, limit: int | None = None, cursor: str | None = None) -> BatchPage:
        return await self._run(self._core.list_batches(limit, cursor))

    def batches(self, *, page_size: int | None = None) -> AsyncIterator[BatchView]:
        return self._iter(self._core.iter_batches(page_size))

    def batch_results(self, batch_id: str, *, page_size: int | None = None) -> AsyncIterator[BatchResult]:
        return self._iter(self._core.iter_results(batch_id, page_size))

    def watch_batch(self, batch_id: str, *, timeout: float | None = None) -> AsyncIterator[BatchView]:
        return self._iter(self._core.watch_batch(batch_id, timeout))

    async def wait_batch(self, batch_id: str, *, timeout: float | None = None) -> BatchView:
        return await self._run(self._core.watch_batch(batch_id, timeout))

    def download_batch_results(
        self, batch_id: str, directory: StrPath, *, page_size: int | None = None
    ) -> AsyncIterator[DownloadResult]:
        return self._iter(self._core.download_results(batch_id, Path(directory), page_size))
