"""Per-user token buckets and daily usage, as items of the jobs table.

BUCKET#<purpose>#<user> / BUCKET holds a bucket (tokens, refilled_at), written back only if it was
not refilled by someone else meanwhile. USAGE#<user> / <YYYY-MM-DD> counts a user's paid calls
and their credits per day (the credit ledger adopts these items when it comes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gencore.adapters.ddb import ConditionFailed, Writer, ddb_value
from gencore.domain.rate_limits import BucketState


def _bucket_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"BUCKET#{key}"}, "sk": {"S": "BUCKET"}}


class DynamoBucketStore:
    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def load(self, key: str) -> BucketState | None:
        item = self._db.get_item(TableName=self._table, Key=_bucket_key(key), ConsistentRead=True).get("Item")
        if not item:
            return None
        return BucketState(
            tokens=float(item["tokens"]["N"]), refilled_at=datetime.fromisoformat(item["refilled_at"]["S"])
        )

    def save(self, key: str, state: BucketState, *, expected: BucketState | None) -> bool:
        if expected is None:
            condition, values = "attribute_not_exists(pk)", {}
        else:
            condition, values = (
                "refilled_at = :expected",
                {":expected": {"S": expected.refilled_at.isoformat()}},
            )
        try:
            self._writer.update(
                TableName=self._table,
                Key=_bucket_key(key),
                UpdateExpression="SET tokens = :tokens, refilled_at = :at",
                ConditionExpression=condition,
                ExpressionAttributeValues=values
                | {":tokens": ddb_value(round(state.tokens, 6)), ":at": {"S": state.refilled_at.isoformat()}},
            )
        except ConditionFailed:
            return False
        return True


class DynamoUsageStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db, self._table = client, table

    def record(self, user_id: str, *, day: str, what: str, credits: float | None) -> None:
        values: dict[str, Any] = {":one": {"N": "1"}}
        adds = ["#calls :one"]
        if credits is not None:
            adds.append("credits :credits")
            values[":credits"] = ddb_value(credits)
        self._db.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"USAGE#{user_id}"}, "sk": {"S": day}},
            UpdateExpression="ADD " + ", ".join(adds),
            ExpressionAttributeNames={"#calls": f"calls_{what}"},
            ExpressionAttributeValues=values,
        )
