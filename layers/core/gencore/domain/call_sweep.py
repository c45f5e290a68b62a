"""A synchronous paid call's reservation, made durable: no call is left reserved for good.

A job carries its charge and the reconciler finishes every job, so a job's reservation always ends.
A realtime call (domain/realtime.py) has no job: its reservation is settled by the same invocation
that made it, after Leonardo answers. If that invocation dies in between (a crash, a timeout), the
reservation would stay in the user's periods forever, shrinking their budget. So the reservation's
write also records the call as **open**, with the time by which it must have been settled
(`due_at`: well past the longest call, which the API function's timeout bounds), and the
settlement closes that record in the same transaction, on the condition that it is still open. A
call is therefore settled exactly once, whoever comes first.

The sweep (run by the reconciler every minute) settles each call still open past its due time **at
its estimate**: its answer was lost and Leonardo may have billed it, the rule of a lost answer
(502 `leonardo_outcome_unknown`). A few per run, oldest first: a backlog drains over a few runs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from .models import Charge
from .policy import Clock

log = logging.getLogger(__name__)

# The API function's timeout is 29 s (HTTP API's cap): a call not settled well after that never will be.
CALL_LOST_AFTER = timedelta(minutes=5)
SWEEP_LIMIT = 25  # calls settled per run at most (a lost call is rare: a crash or a timeout)


class CallCharge(Charge):
    """A synchronous call's charge: the reservation, the call's id and the time it counts as lost by."""

    call_id: str
    created_at: datetime
    due_at: datetime


def open_call(charge: Charge, now: datetime) -> CallCharge:
    """The charge of a new call, reserved `now`: lost if not settled by `now + CALL_LOST_AFTER`."""
    return CallCharge(
        **charge.model_dump(), call_id=uuid.uuid4().hex, created_at=now, due_at=now + CALL_LOST_AFTER
    )


@dataclass(frozen=True)
class OpenCall:
    """A call whose reservation is not settled yet, as the sweep finds it."""

    user_id: str
    charge: CallCharge


class OpenCalls(Protocol):
    def due(self, *, now: datetime, limit: int) -> list[OpenCall]:
        """At most `limit` calls still open past their due time, oldest first."""

    def settle(self, user_id: str, charge: CallCharge, amount: Decimal | None) -> bool:
        """Close the call: its reservation becomes spent `amount` (None: released). False when it
        was closed already (settled by its own invocation, or by an earlier sweep): nothing moved."""


class CallSweep:
    """The reconciler's step that settles the calls whose invocation died before settling them."""

    def __init__(self, calls: OpenCalls, clock: Clock, *, limit: int = SWEEP_LIMIT) -> None:
        self._calls, self._clock, self._limit = calls, clock, limit

    def run(self) -> dict[str, int]:
        """Counts: `settled` (at the estimate, now), `gone` (settled meanwhile), `failed` (tried again
        at the next run)."""
        counts = {"settled": 0, "gone": 0, "failed": 0}
        for call in self._calls.due(now=self._clock(), limit=self._limit):
            try:
                settled = self._calls.settle(call.user_id, call.charge, Decimal(call.charge.estimate))
            except Exception:  # one call's failure does not hold the others back
                log.exception("a lost realtime call was not settled", extra={"call_id": call.charge.call_id})
                counts["failed"] += 1
                continue
            counts["settled" if settled else "gone"] += 1
            if settled:
                log.warning(
                    "a lost realtime call was settled at its estimate",
                    extra={"call_id": call.charge.call_id, "user_id": call.user_id,
                           "estimate": call.charge.estimate,
                           "created_at": call.charge.created_at.isoformat()},
                )  # fmt: skip
        return counts
