from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fake_leo import API, FakeLeo

from leoclient import AsyncClient, Client
from leoclient.cli import main
from leoclient.config import ClientConfig


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


@dataclass
class Run:
    code: int
    out: str
    err: str


class Leo:
    """Runs `leo` in-process against the fake; records the configuration each run resolved."""

    def __init__(self, fake: FakeLeo, clock: FakeClock, capsys: pytest.CaptureFixture[str]) -> None:
        self.fake, self.clock, self.capsys = fake, clock, capsys
        self.configs: list[ClientConfig] = []

    def factory(self, cfg: ClientConfig) -> Client:
        self.configs.append(cfg)
        transport = httpx.MockTransport(self.fake.handler)
        return Client(
            cfg.api_url,
            token=cfg.token,
            transport=transport,
            sleep=self.clock.sleep,
            clock=self.clock.monotonic,
        )

    def __call__(self, *args: str) -> Run:
        code = main(list(args), client_factory=self.factory)
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)


@pytest.fixture
def leo(
    fake: FakeLeo,
    clock: FakeClock,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Callable[..., Run]:
    """`leo` with LEO_API_URL and LEO_TOKEN set for alice, and no config file."""
    for name in ("LEO_CONFIG", "LEO_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("LEO_API_URL", API)
    monkeypatch.setenv("LEO_TOKEN", "t-alice")
    monkeypatch.chdir(tmp_path)
    return Leo(fake, clock, capsys)
