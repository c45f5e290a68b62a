from __future__ import annotations

import random
from collections.abc import Iterator

import httpx
import pytest
from fake_leo import API, FakeLeo

from leoclient import AsyncClient, Client


class FakeClock:
    """Monotonic time that only moves when the client sleeps; every pause is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def fake() -> FakeLeo:
    return FakeLeo()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(fake: FakeLeo, clock: FakeClock) -> Iterator[Client]:
    with Client(
        API,
        token="t-alice",
        transport=httpx.MockTransport(fake.handler),
        sleep=clock.sleep,
        clock=clock.monotonic,
        rng=random.Random(7),
    ) as client:
        yield client


@pytest.fixture
def async_client(fake: FakeLeo, clock: FakeClock) -> AsyncClient:
    return AsyncClient(
        API,
        token="t-alice",
        transport=httpx.MockTransport(fake.handler),
        sleep=clock.asleep,
        clock=clock.monotonic,
        rng=random.Random(7),
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
