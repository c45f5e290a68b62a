"""Reading the jobs table's sparse DueJobs index: one way for every kind of item kept due in it (jobs
to poll or re-send, the waiting lines, pending outbox events, open realtime calls)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

DUE_INDEX = "DueJobs"


def oldest_due(
    db: Any, table: str, partitions: Iterable[str], *, limit: int, until: int | None = None
) -> list[dict[str, Any]]:
    """The index's entries (the item's keys, due_pk, due_at) with the `limit` lowest due_at over
    `partitions` (at most `until`), lowest first. Each partition answers its oldest and the answers
    are merged, so one busy shard cannot fill every batch and starve the others."""
    condition, values = "due_pk = :p", {}
    if until is not None:
        condition, values = condition + " AND due_at <= :until", {":until": {"N": str(until)}}
    found: list[dict[str, Any]] = []
    for partition in partitions:
        result = db.query(
            TableName=table,
            IndexName=DUE_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues={":p": {"S": partition}} | values,
            Limit=limit,
        )
        found.extend(result["Items"])
    found.sort(key=lambda entry: (int(entry["due_at"]["N"]), entry["pk"]["S"]))
    return found[:limit]


def still_due(db: Any, table: str, entries: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each entry's item, read again consistently, left out once it is no longer due (no due_pk):
    the index keeps keys only and follows the table late."""
    for entry in entries:
        key = {"pk": entry["pk"], "sk": entry["sk"]}
        item = db.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        if item is not None and "due_pk" in item:
            yield item
