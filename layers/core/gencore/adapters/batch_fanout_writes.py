"""The batch fan-out's writes (mixed into DynamoBatchStore, adapters/batch_store.py).

`add_items` is the checkpoint: a chunk of item jobs (Put if absent, each parked in the waiting line at
its user's next turn), the batch's `created` moved on by as many (conditioned on the value read and
on the batch still RUNNING), and the user's last turn (conditioned on the value read), all in one
transaction. `end_fanout` says no more items will be made and releases what is unassigned of the
batch's reservation, in the ledger and on the batch, in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from gencore.adapters.ddb import ConditionFailed, Writer, decimal_value
from gencore.adapters.ddb import values as _values
from gencore.adapters.dynamo import DynamoJobStore
from gencore.adapters.job_keys import LINE_PARTITION, batch_key, line_head_key, line_user_key
from gencore.adapters.ledger import change_updates
from gencore.domain.batch_records import Batch, BatchStatus
from gencore.domain.errors import TransitionConflict
from gencore.domain.ledger import Delta, decimal_text
from gencore.domain.models import Job
from gencore.domain.waiting import turn_of


class FanOutWrites:
    """Uses DynamoBatchStore's client, table, writer and job store."""

    _db: Any
    _table: str
    _writer: Writer
    _jobs: DynamoJobStore

    def add_items(self, batch: Batch, jobs: list[Job], *, now: datetime) -> Batch:
        taken = sum((Decimal(job.charge.estimate) for job in jobs if job.charge is not None), Decimal(0))
        for _ in range(8):
            head, last = self._turns(batch.user_id, now)
            first = turn_of(head, last)
            puts = []
            for offset, job in enumerate(jobs):
                turn = first + offset
                item = self._jobs._to_item(job.model_copy(update={"due_at": turn, "line_turn": turn}))
                item["due_pk"] = {"S": LINE_PARTITION}  # parked at its turn: a freed slot wakes it
                puts.append(
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            seen = "attribute_not_exists(last_turn)" if last is None else "last_turn = :seen"
            turns = {
                "Update": {
                    "TableName": self._table,
                    "Key": line_user_key(batch.user_id),
                    "UpdateExpression": "SET last_turn = :turn",
                    "ConditionExpression": seen,
                    "ExpressionAttributeValues": _values(turn=first + len(jobs) - 1)
                    | ({} if last is None else _values(seen=last)),
                }
            }
            checkpoint = {
                "Update": {
                    "TableName": self._table,
                    "Key": batch_key(batch.id),
                    "UpdateExpression": "SET updated_at = :now, started_at = if_not_exists(started_at, :now) "
                    "ADD created :count, n_QUEUED :count, unassigned :taken",
                    "ConditionExpression": "#s = :running AND created = :created",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": _values(
                        now=now.isoformat(),
                        count=len(jobs),
                        running=BatchStatus.RUNNING,
                        created=batch.created,
                    )
                    | {":taken": decimal_value(-taken)},
                }
            }
            try:
                self._writer.transact([checkpoint, turns, *puts])
            except ConditionFailed as failed:
                if failed.failed(1) and not failed.failed(0):
                    continue  # the user took a turn meanwhile (another job parked): take the next ones
                raise TransitionConflict(f"batch {batch.id} moved on (cancelled, or another run)") from failed
            counts = batch.counts | {"QUEUED": batch.counts.get("QUEUED", 0) + len(jobs)}
            return batch.model_copy(
                update={
                    "created": batch.created + len(jobs), "counts": counts, "updated_at": now,
                    "unassigned": decimal_text(Decimal(batch.unassigned) - taken),
                    "started_at": batch.started_at or now,
                }
            )  # fmt: skip
        raise TransitionConflict(f"the line turns of {batch.user_id} kept changing")

    def _turns(self, user_id: str, now: datetime) -> tuple[int, int | None]:
        head = self._db.get_item(TableName=self._table, Key=line_head_key(), ConsistentRead=True).get("Item")
        user = self._db.get_item(TableName=self._table, Key=line_user_key(user_id), ConsistentRead=True).get(
            "Item"
        )
        line_head = int(head["turn"]["N"]) if head else int(now.timestamp())
        return line_head, (int(user["last_turn"]["N"]) if user else None)

    def end_fanout(self, batch: Batch, *, now: datetime) -> Batch:
        if batch.fanned_out:
            return batch
        rest = Decimal(batch.unassigned)
        update = {
            "Update": {
                "TableName": self._table,
                "Key": batch_key(batch.id),
                "UpdateExpression": "SET fanned_out = :yes, updated_at = :now "
                "ADD unassigned :minus, reserved :minus",
                "ConditionExpression": "created = :created AND attribute_not_exists(fanned_out)",
                "ExpressionAttributeValues": _values(yes=True, now=now.isoformat(), created=batch.created)
                | {":minus": decimal_value(-rest)},
            }
        }
        ledger = (
            change_updates(self._table, batch.user_id, batch.charge, Delta(reserved=-rest))
            if batch.charge is not None and rest
            else []
        )
        try:
            self._writer.transact([update, *ledger])
        except ConditionFailed as failed:
            raise TransitionConflict(f"batch {batch.id}'s fan-out moved on") from failed
        return batch.model_copy(
            update={
                "fanned_out": True,
                "unassigned": "0",
                "reserved": decimal_text(Decimal(batch.reserved) - rest),
            }
        )
