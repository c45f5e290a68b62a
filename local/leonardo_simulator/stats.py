"""Counters exposed by GET /_admin/stats and `SimulatorHandle.stats()`."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

COUNTERS = (
    "generations_created",
    "generations_completed",
    "generations_failed",
    "generations_deleted",
    "variations_created",
    "variations_completed",
    "variations_failed",
    "prompt_calls",
    "video_generations_created",
    "lcm_calls",
    "credits_spent",
    "callbacks_sent",
    "callbacks_failed",
    "callbacks_dropped",
    "callbacks_duplicated",
    "callbacks_delayed",
    "callback_attempts",
    "callback_retries",
    "rate_limited",
    "queue_rejected",
    "injected_429",
    "injected_5xx",
    "injected_malformed_json",
    "injected_5xx_after_create",
    "injected_slow_answers",
    "injected_malformed_create",
    "cdn_downloads",
    "init_images_created",
    "init_images_uploaded",
    "init_images_deleted",
    "uploads_rejected",
)


class Stats:
    def __init__(self, gauges: Callable[[], dict[str, int]]) -> None:
        # Written from the server loop, read from test threads.
        self._lock = threading.Lock()
        self._gauges = gauges
        self._counters: Counter[str] = Counter()
        self._requests: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        assert name in COUNTERS, name
        with self._lock:
            self._counters[name] += amount

    def count_request(self, method: str, template: str) -> None:
        with self._lock:
            self._requests[f"{method} {template}"] += 1

    def reset(self) -> None:
        with self._lock:
            self._counters.clear()
            self._requests.clear()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {name: self._counters[name] for name in COUNTERS}
            data["requests"] = dict(sorted(self._requests.items()))
        data.update(self._gauges())
        return data
