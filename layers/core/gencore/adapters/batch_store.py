"""Batches in the jobs table (the BatchStore port, domain/batch_ports.py).

Items (pk / sk):
- BATCH#<id> / BATCH   the batch: its user's list through UserJobs (gsi1pk=BATCHES#<user>,
                       gsi1sk=<created>#<id>), and while not ended its check in DueJobs under DUE#B.
                       Counters, all changed with ADD: `created` (the fan-out's checkpoint), `n_<status>`
                       (items per job status) and `done` (items ended), `reserved`, `spent` and
                       `unassigned` (decimals in the billing unit). Items' writes move the counters in their
                       own transactions (adapters/job_side_items.py).
- DEDUPE#batch-idem:<hash> / DEDUPE   an Idempotency-Key of POST /v1/batches -> the batch, 24 h.
Items are jobs (adapters/dynamo.py), indexed by batch and line (adapters/job_keys.py).
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from typing import Any

from gencore.adapters.batch_fanout_writes import FanOutWrites
from gencore.adapters.ddb import ConditionFailed, Writer, ddb_value, decimal_value, plain_item
from gencore.adapters.ddb import values as _values
from gencore.adapters.due_index import oldest_due
from gencore.adapters.dynamo import DynamoJobStore
from gencore.adapters.index_pages import BATCH_ITEMS, USER_BATCHES, read_page
from gencore.adapters.job_keys import (
    BATCH_DUE_PARTITION,
    batch_items_partition,
    batch_key,
    user_batches_partition,
)
from gencore.adapters.ledger import PERIODS, budget_refusal, reservation_updates
from gencore.adapters.outbox import outbox_put
from gencore.domain.batch_records import ITEM_STATES, Batch, BatchStatus
from gencore.domain.errors import TransitionConflict
from gencore.domain.events import batch_completed_event
from gencore.domain.ledger import decimal_text
from gencore.domain.models import Job
from gencore.domain.plans import Budget

_DECIMALS = ("reserved", "spent", "unassigned")
_COUNTERS = ("created", "done", *(f"n_{state}" for state in ITEM_STATES))
FIRST_CHECK_SECONDS = 60


class DynamoBatchStore(FanOutWrites):  # the fan-out's writes: adapters/batch_fanout_writes.py
    def __init__(
        self, client: Any, table: str, jobs: DynamoJobStore, *, writer: Writer | None = None
    ) -> None:
        self._db, self._table, self._jobs = client, table, jobs
        self._writer = writer or Writer(client)

    # --- reads -----------------------------------------------------------------------------------
    def get_batch(self, batch_id: str) -> Batch | None:
        item = self._db.get_item(TableName=self._table, Key=batch_key(batch_id), ConsistentRead=True).get(
            "Item"
        )
        return _to_batch(item) if item else None

    def list_batches(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[Batch], str | None]:
        partition = user_batches_partition(user_id)
        items, last = read_page(
            self._db, self._table, partition, USER_BATCHES, limit=limit, cursor=cursor, newest_first=True
        )
        return [_to_batch(item) for item in items], last

    def items(self, batch_id: str, *, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        items, last = read_page(
            self._db, self._table, batch_items_partition(batch_id), BATCH_ITEMS,
            limit=limit, cursor=cursor, newest_first=False,
        )  # fmt: skip
        return [DynamoJobStore._to_job(item) for item in items], last

    def due_batch_ids(self, *, now: int, limit: int) -> list[str]:
        entries = oldest_due(self._db, self._table, [BATCH_DUE_PARTITION], limit=limit, until=now)
        return [entry["pk"]["S"].removeprefix("BATCH#") for entry in entries]

    # --- writes ----------------------------------------------------------------------------------
    def create_batch(
        self, batch: Batch, *, dedupe_key: str | None, dedupe_expires_at: int, budget: Budget | None
    ) -> Batch | None:
        now = int(batch.created_at.timestamp())
        item = _to_item(batch) | {
            "due_pk": {"S": BATCH_DUE_PARTITION},
            "due_at": {"N": str(now + FIRST_CHECK_SECONDS)},
        }
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        reservation = (
            reservation_updates(self._table, batch.user_id, batch.charge, budget, plan=batch.plan)
            if batch.charge
            else []
        )
        writes += reservation
        dedupe = {"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "DEDUPE"}}
        if dedupe_key:
            writes.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": dedupe
                        | {"batch_id": {"S": batch.id}, "expires_at": {"N": str(dedupe_expires_at)}},
                        "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                        "ExpressionAttributeValues": _values(now=now),
                    }
                }
            )
        try:
            self._writer.transact(writes)
            return None
        except ConditionFailed as failed:
            if dedupe_key and failed.failed(len(writes) - 1):
                holder = self._db.get_item(TableName=self._table, Key=dedupe, ConsistentRead=True).get("Item")
                existing = self.get_batch(holder["batch_id"]["S"]) if holder else None
                if existing is not None:
                    return existing
                raise TransitionConflict("the batch's Idempotency-Key entry changed; try again") from failed
            over = [p for i, p in enumerate(PERIODS) if reservation and failed.failed(1 + i)]
            if over and batch.charge is not None and budget is not None:
                raise budget_refusal(
                    self._db, self._table, batch.user_id, batch.charge, over[0], budget, what="batch"
                ) from failed
            raise

    def set_status(self, batch: Batch, status: BatchStatus, *, now: datetime) -> Batch:
        try:
            self._writer.update(
                TableName=self._table,
                Key=batch_key(batch.id),
                UpdateExpression="SET #s = :to, updated_at = :now",
                ConditionExpression="#s = :from",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(to=status, now=now.isoformat())
                | _values(**{"from": batch.status}),
            )
        except ConditionFailed as failed:
            raise TransitionConflict(f"batch {batch.id} is no longer {batch.status}") from failed
        return batch.model_copy(update={"status": status, "updated_at": now})

    def finish(self, batch_id: str, *, now: datetime) -> Batch | None:
        batch = self.get_batch(batch_id)
        if batch is None or batch.status.ended or not batch.fanned_out or batch.done < batch.created:
            return batch
        to = BatchStatus.CANCELLED if batch.status == BatchStatus.CANCELLING else BatchStatus.COMPLETE
        ended = batch.model_copy(update={"status": to, "finished_at": now, "updated_at": now})
        update = {
            "Update": {
                "TableName": self._table,
                "Key": batch_key(batch_id),
                "UpdateExpression": "SET #s = :to, finished_at = :now, updated_at = :now "
                "REMOVE due_pk, due_at",
                "ConditionExpression": "#s = :from AND fanned_out = :yes AND done = created",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": _values(to=to, now=now.isoformat(), yes=True)
                | _values(**{"from": batch.status}),
            }
        }
        event = batch_completed_event(ended)
        try:
            self._writer.transact([update, outbox_put(self._table, event)])
        except ConditionFailed:
            return self.get_batch(batch_id)  # an item moved meanwhile, or another caller finished it
        self._jobs._event_written(event)
        return ended

    def reschedule_batch(self, batch: Batch, *, due_at: int) -> None:
        with contextlib.suppress(ConditionFailed):  # ended meanwhile: out of the index for good
            self._writer.update(
                TableName=self._table,
                Key=batch_key(batch.id),
                UpdateExpression="SET due_at = :due, due_pk = :p",
                ConditionExpression="#s IN (:running, :cancelling)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    due=due_at,
                    p=BATCH_DUE_PARTITION,
                    running=BatchStatus.RUNNING,
                    cancelling=BatchStatus.CANCELLING,
                ),
            )


def _to_item(batch: Batch) -> dict[str, Any]:
    data = batch.model_dump(mode="json", exclude_none=True, exclude={"counts", *_DECIMALS})
    data |= {f"n_{state}": batch.counts.get(str(state), 0) for state in ITEM_STATES}
    data |= {
        "pk": f"BATCH#{batch.id}",
        "sk": "BATCH",
        "gsi1pk": user_batches_partition(batch.user_id),
        "gsi1sk": f"{data['created_at']}#{batch.id}",
    }
    if not batch.fanned_out:
        data.pop("fanned_out", None)  # exists only once true (the fan-out's end is conditioned on it)
    item = {k: ddb_value(v) for k, v in data.items()}
    return item | {name: decimal_value(Decimal(getattr(batch, name))) for name in _DECIMALS}


def _to_batch(item: dict[str, Any]) -> Batch:
    plain = plain_item({k: v for k, v in item.items() if k not in _DECIMALS})
    counts = {
        str(state): int(plain.get(f"n_{state}", 0)) for state in ITEM_STATES if plain.get(f"n_{state}", 0)
    }
    decimals = {name: decimal_text(Decimal(item[name]["N"])) if name in item else "0" for name in _DECIMALS}
    fields = {k: v for k, v in plain.items() if k in Batch.model_fields}
    return Batch.model_validate(fields | decimals | {"counts": counts})
