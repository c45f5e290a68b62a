"""The batch record: what a batch is once accepted, and how far its items have come.

A batch makes one job per valid line (its items). The record keeps what answering `GET
/v1/batches/{batch_id}` needs without reading any item: the fan-out's checkpoint (`created`), the
items per job status and the items that ended (`counts`, `done`: kept by the job store in the
transaction of every item write, adapters/batch_store.py), and the credits its items hold.

Money: the whole batch's estimate is reserved against its user's budget when the batch is accepted
(`charge`). Each item created takes its own estimate out of what is still unassigned (`unassigned`),
so the user's ledger does not move; from then on the item's charge settles or is released like any
job's. What is still unassigned when no more items will be made (all made, or cancelled first) is
released then. `reserved` is what the batch holds in all (its items' reservations and the
unassigned rest), `spent` what its items spent.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .ledger import decimal_text
from .models import Charge, JobStatus, Unit

ITEM_STATES: tuple[JobStatus, ...] = tuple(JobStatus)  # counted per state on the record


class BatchStatus(StrEnum):
    RUNNING = "RUNNING"  # items being made and worked through
    CANCELLING = "CANCELLING"  # cancelled: waiting items are being cancelled; those at Leonardo finish
    COMPLETE = "COMPLETE"  # every item ended (COMPLETE, FAILED or CANCELLED each)
    CANCELLED = "CANCELLED"  # cancelled, and every item made has ended

    @property
    def ended(self) -> bool:
        return self in (BatchStatus.COMPLETE, BatchStatus.CANCELLED)


class Batch(BaseModel):
    id: str
    user_id: str
    name: str | None = None
    status: BatchStatus = BatchStatus.RUNNING
    plan: str | None = None
    items: int  # valid lines: the jobs the batch makes
    skipped: int = 0  # invalid lines left out (skip_invalid)
    created: int = 0  # items made so far, in line order: the fan-out's checkpoint
    fanned_out: bool = False  # no more items will be made (all made, or the batch was cancelled first)
    counts: dict[str, int] = Field(default_factory=dict)  # items per job status
    done: int = 0  # items that ended
    unit: Unit = "CREDITS"
    charge: Charge | None = None  # the reservation made at accept (its periods: the items' too)
    reserved: str = "0"
    spent: str = "0"
    unassigned: str = "0"
    items_key: str  # the checked items, one JSON line each, in the object store
    deadline_at: int | None = None  # epoch seconds: items still waiting then fail batch_deadline_exceeded
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None  # its first items were made
    finished_at: datetime | None = None
    idempotency_key_hash: str | None = None
    request_hash: str | None = None  # of the request that made it: a repeated key must send the same

    def eta_seconds(self, now: datetime) -> int | None:
        """Seconds until every item has ended, at the rate items have ended so far (None: no rate yet)."""
        if self.status.ended or self.started_at is None or self.done == 0:
            return None
        elapsed = (now - self.started_at).total_seconds()
        if elapsed <= 0:
            return None
        left = (self.created if self.fanned_out else self.items) - self.done
        return max(0, round(left * elapsed / self.done))

    def count(self, status: JobStatus) -> int:
        return self.counts.get(str(status), 0)


def new_batch_id() -> str:
    return str(uuid.uuid4())


def items_key(user_id: str, batch_id: str) -> str:
    return f"batches/{user_id}/{batch_id}/items.jsonl"


def item_line(
    *, line: int, custom_id: str, kind: str, request: dict[str, Any], source: dict[str, Any] | None,
    seed: int | None, estimate: Decimal | None, model_name: str | None,
) -> dict[str, Any]:  # fmt: skip
    """One checked item as the items file keeps it: everything its job needs, decided once at accept
    (its seed too), so that making the item again after a crash makes the same job."""
    return {
        "line": line,
        "custom_id": custom_id,
        "kind": kind,
        "request": request,
        "source": source,
        "seed": seed,
        "estimate": decimal_text(estimate) if estimate is not None else None,
        "model_name": model_name,
    }
