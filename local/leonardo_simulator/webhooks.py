"""Callback delivery: bearer-authenticated JSON POSTs with retries and faults.

Leonardo documents neither a retry schedule nor ordering guarantees, so the
simulator retries a configurable number of times with exponential backoff and
can drop, duplicate or delay (hence reorder) callbacks on purpose.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from .config import SimulatorConfig
from .faults import FaultInjector
from .stats import Stats


class WebhookDispatcher:
    def __init__(
        self,
        cfg: SimulatorConfig,
        faults: FaultInjector,
        stats: Stats,
        spawn: Callable[[Coroutine[Any, Any, None]], Any],
    ) -> None:
        self._cfg = cfg
        self._faults = faults
        self._stats = stats
        self._spawn = spawn
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self._cfg.webhook_timeout_seconds)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def dispatch(self, envelope: dict[str, Any]) -> None:
        """Schedule delivery of one callback (fault rolls happen here, in a fixed order)."""
        if not self._cfg.webhook_url:
            return
        if self._faults.roll("drop_callback"):
            self._stats.incr("callbacks_dropped")
            return
        duplicate = self._faults.roll("duplicate_callback")
        delay = 0.0
        if self._faults.roll("delay_callback"):
            delay = self._faults.config.delay_callback_seconds
            self._stats.incr("callbacks_delayed")
        body = json.dumps(envelope, separators=(",", ":")).encode()
        self._spawn(self._deliver(body, delay))
        if duplicate:
            self._stats.incr("callbacks_duplicated")
            self._spawn(self._deliver(body, delay))

    async def _deliver(self, body: bytes, delay: float) -> None:
        cfg = self._cfg
        assert cfg.webhook_url is not None
        headers = {"content-type": "application/json", "user-agent": "leonardo-simulator"}
        if cfg.webhook_key:
            headers["authorization"] = f"Bearer {cfg.webhook_key}"
        if delay:
            await asyncio.sleep(delay)
        for attempt in range(cfg.webhook_retries + 1):
            if attempt:
                self._stats.incr("callback_retries")
                await asyncio.sleep(cfg.webhook_backoff_seconds * 2 ** (attempt - 1) * cfg.time_scale)
            self._stats.incr("callback_attempts")
            try:
                assert self._client is not None
                response = await self._client.post(cfg.webhook_url, content=body, headers=headers)
            except httpx.HTTPError:
                continue
            if 200 <= response.status_code < 300:
                self._stats.incr("callbacks_sent")
                return
        self._stats.incr("callbacks_failed")
