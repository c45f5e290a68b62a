"""The completion events' outbox in the jobs table (domain/events.py).

Items (pk / sk):
- OUTBOX#<event_id> / OUTBOX   one event: detail-type, when it happened, the detail (JSON text).
  Written in the transaction of its job's terminal write (DynamoJobStore); while pending it is in
  the DueJobs index (sparse) under due_pk = OUTBOX#<shard>, due_at = when the safety net may take
  it, so the reconciler finds pending events with a Query per shard, never a Scan. Published, it
  leaves the index and expires by TTL (expires_at) after PUBLISHED_RETENTION_SECONDS.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from datetime import datetime
from typing import Any

from gencore.adapters.ddb import ConditionFailed, Writer
from gencore.adapters.ddb import values as _values
from gencore.adapters.due_index import oldest_due, still_due
from gencore.domain.events import SAFETY_NET_DELAY_SECONDS, CompletionEvent

OUTBOX_SHARDS = 4  # spreads the pending events over a few index partitions; the publisher reads them all
PUBLISHED_RETENTION_SECONDS = 7 * 24 * 3600  # a published event is kept a week for inspection


def outbox_key(event_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"OUTBOX#{event_id}"}, "sk": {"S": "OUTBOX"}}


def outbox_shard(event_id: str) -> str:
    return f"OUTBOX#{zlib.crc32(event_id.encode()) % OUTBOX_SHARDS}"


def outbox_put(
    table: str, event: CompletionEvent, *, delay_seconds: int = SAFETY_NET_DELAY_SECONDS
) -> dict[str, Any]:
    """The transaction item that stores `event` as pending (unconditional: a job ends once), for the
    safety net to take `delay_seconds` after it happened."""
    item = outbox_key(event.event_id) | {
        "event_id": {"S": event.event_id},
        "detail_type": {"S": event.detail_type},
        "occurred_at": {"S": event.occurred_at.isoformat()},
        "detail": {"S": json.dumps(event.detail, separators=(",", ":"))},
        "due_pk": {"S": outbox_shard(event.event_id)},
        "due_at": {"N": str(int(event.publishable_at(delay_seconds).timestamp()))},
    }
    return {"Put": {"TableName": table, "Item": item}}


def event_of(item: dict[str, Any]) -> CompletionEvent:
    return CompletionEvent(
        event_id=item["event_id"]["S"],
        detail_type=item["detail_type"]["S"],
        occurred_at=datetime.fromisoformat(item["occurred_at"]["S"]),
        detail=json.loads(item["detail"]["S"]),
    )


class DynamoOutbox:
    """The Outbox port (domain/events.py) on the jobs table."""

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def pending(self, *, now: datetime, limit: int) -> list[CompletionEvent]:
        """Oldest first over every shard; each is read again (consistently) from the table: the
        index is eventually consistent and keeps keys only."""
        shards = [f"OUTBOX#{shard}" for shard in range(OUTBOX_SHARDS)]
        entries = oldest_due(self._db, self._table, shards, limit=limit, until=int(now.timestamp()))
        return [event_of(item) for item in still_due(self._db, self._table, entries)]  # unpublished

    def mark_published(self, event: CompletionEvent, *, now: datetime) -> None:
        with contextlib.suppress(ConditionFailed):  # gone already (expired after an earlier publish)
            self._writer.update(
                TableName=self._table,
                Key=outbox_key(event.event_id),
                UpdateExpression="SET published_at = :now, expires_at = :expires REMOVE due_pk, due_at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=_values(
                    now=now.isoformat(), expires=int(now.timestamp()) + PUBLISHED_RETENTION_SECONDS
                ),
            )
