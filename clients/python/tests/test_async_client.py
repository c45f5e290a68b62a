"""AsyncClient: the same operations as Client, awaited (the sync and async clients share one core)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from conftest import FakeClock
from fake_leo import FakeLeo, error

from leoclient import AsyncClient, Client, NotFoundError, WaitTimeoutError

pytestmark = pytest.mark.anyio


async def test_generate_then_download(async_client: AsyncClient, fake: FakeLeo, tmp_path: Path):
    async with async_client:
        job = await async_client.generate("a lighthouse", num_images=2)
        results = await async_client.download(job, tmp_path)
        again = await async_client.download(job, tmp_path)

    assert job.status == "COMPLETE"
    assert [r.action for r in results] == ["downloaded", "downloaded"]
    assert [r.action for r in again] == ["skipped", "skipped"]


async def test_retries_honour_retry_after(async_client: AsyncClient, fake: FakeLeo, clock: FakeClock):
    fake.inject("POST /v1/generations", error(429, "rate_limited", "slow down", headers={"retry-after": "2"}))

    await async_client.create_generation("a lighthouse")

    assert 2.0 <= clock.sleeps[0] <= 2.2
    keys = {r.headers["idempotency-key"] for r in fake.requests}
    assert len(keys) == 1


async def test_iterators_are_async(async_client: AsyncClient):
    for n in range(5):
        await async_client.create_generation(f"prompt {n}")
    batch = await async_client.create_batch([{"custom_id": f"c{i}", "prompt": "p"} for i in range(3)])
    await async_client.wait_batch(batch.id)

    history = [job async for job in async_client.history(page_size=2)]
    results = [line.custom_id async for line in async_client.batch_results(batch.id, page_size=2)]

    assert len(history) == 5 + 3
    assert results == ["c0", "c1", "c2"]


async def test_errors_and_timeouts_are_the_same_classes(async_client: AsyncClient):
    job = await async_client.create_generation("a lighthouse")

    with pytest.raises(WaitTimeoutError):
        await async_client.wait(job.id, timeout=0.1)
    with pytest.raises(NotFoundError):
        await async_client.get("unknown")


def test_the_async_client_has_every_call_of_the_sync_client():
    def calls(cls: type) -> dict[str, list[str]]:
        return {
            name: list(inspect.signature(member).parameters)
            for name, member in vars(cls).items()
            if not name.startswith("_") and callable(member) and name not in ("close", "aclose")
        }

    assert calls(AsyncClient) == calls(Client)
