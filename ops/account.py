"""The Leonardo account as a whole: its block (if Leonardo refuses our account) and the orphans found.

Items written by gencore.adapters.account: ACCOUNT#leonardo / ACCOUNT (the block; no `since` when
none), ORPHAN#<generation> / ORPHAN (listed newest first through the UserJobs index, partition
ORPHANS), SWEEP#orphans / SWEEP (where the sweep has reached) and BALANCE#leonardo / BALANCE (the
account's balance as last read).
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ops.jobs import _item, _plain

ORPHANS_PARTITION = "ORPHANS"
_deserializer = TypeDeserializer()


def block(ddb: Any, table: str) -> dict | None:
    """The account block as stored, or None when submits may go ahead."""
    item = _item(ddb, table, "ACCOUNT#leonardo", "ACCOUNT")
    if not item or "since" not in item:
        return None
    return {k: item[k] for k in ("reason", "since", "next_probe_at", "probes") if k in item}


def balance(ddb: Any, table: str) -> dict | None:
    """The account's balance as the reconciler last read it (GET /me), or None before the first read."""
    item = _item(ddb, table, "BALANCE#leonardo", "BALANCE")
    if not item or "read_at" not in item:
        return None
    return {k: item[k] for k in ("amount", "unit", "read_at") if k in item}


def sweep_state(ddb: Any, table: str) -> dict | None:
    item = _item(ddb, table, "SWEEP#orphans", "SWEEP")
    return {k: item[k] for k in ("started_at", "reached") if k in item} if item else None


def orphans(ddb: Any, table: str, *, limit: int) -> list[dict]:
    """Recorded orphans, newest generation first, each with the job that owns it now (if one
    adopted it since it was reported)."""
    result = ddb.query(
        TableName=table,
        IndexName="UserJobs",
        KeyConditionExpression="gsi1pk = :p",
        ExpressionAttributeValues={":p": {"S": ORPHANS_PARTITION}},
        ScanIndexForward=False,
        Limit=limit,
    )
    found = []
    for raw in result.get("Items", []):
        item = {k: _plain(_deserializer.deserialize(v)) for k, v in raw.items()}
        owner = _item(ddb, table, f"GEN#{item['generation_id']}", "GEN")
        found.append(
            {
                "generation_id": item["generation_id"],
                "created_at": item.get("created_at"),
                "status": item.get("status"),
                "cost": item.get("cost"),
                "found_at": item.get("found_at"),
                "owned_by_job": owner["job_id"] if owner else None,
            }
        )
    return found
