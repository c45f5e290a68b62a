from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from leonardo_simulator import SimulatorConfig, SimulatorHandle, serve_in_thread

from .helpers import API_KEY, WEBHOOK_KEY


@pytest.fixture
def start_sim() -> Iterator[Callable[..., SimulatorHandle]]:
    """Start a simulator with test-friendly defaults; any SimulatorConfig field may be overridden."""
    with ExitStack() as stack:

        def start(**overrides: Any) -> SimulatorHandle:
            settings: dict[str, Any] = {
                "api_key": API_KEY,
                "webhook_key": WEBHOOK_KEY,
                "pending_seconds": 0.1,
                "webhook_backoff_seconds": 0.05,
            }
            settings.update(overrides)
            return stack.enter_context(serve_in_thread(SimulatorConfig(**settings)))

        yield start


@pytest.fixture
def sim(start_sim: Callable[..., SimulatorHandle]) -> SimulatorHandle:
    return start_sim()
