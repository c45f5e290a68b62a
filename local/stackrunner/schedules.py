"""Schedule tickers: invoke a function at its template rate, one invocation at a time per schedule."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from stackrunner.template import ACCOUNT_ID, REGION, ScheduleSource

log = logging.getLogger("stackrunner.schedules")


def scheduled_event(source: ScheduleSource, stack_name: str) -> Any:
    """The payload the scheduler delivers: the configured Input, else a Scheduled Event envelope."""
    if source.input is not None:
        return source.input
    service = "scheduler" if source.kind == "ScheduleV2" else "events"
    resource = "schedule/default" if source.kind == "ScheduleV2" else "rule"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": f"aws.{service}",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}/{stack_name}-{source.event}"],
        "detail": {},
    }


class ScheduleTicker:
    """One thread per schedule: the next tick waits for the previous invocation to finish."""

    def __init__(
        self,
        source: ScheduleSource,
        invoke: Callable[[str, Any], Any],
        interval: float | None = None,
        stack_name: str = "local",
    ) -> None:
        self.source = source
        self.interval = interval if interval is not None else source.interval
        self._invoke = invoke
        self._stack_name = stack_name
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{source.function}", daemon=True)
        self.ticks = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        next_tick = time.monotonic() + self.interval
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            self.ticks += 1
            try:
                self._invoke(self.source.function, scheduled_event(self.source, self._stack_name))
            except Exception as exc:
                # The template's RetryPolicy aside, a failed tick is simply the next tick's problem.
                log.warning("scheduled %s failed: %s", self.source.function, exc)
            # Never overlap and never burst to catch up: the next tick is one interval after this one.
            next_tick = max(next_tick + self.interval, time.monotonic())
