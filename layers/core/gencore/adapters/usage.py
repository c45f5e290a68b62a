"""Per-user token buckets and daily usage, as items of the jobs table.

BUCKET#<purpose>#<user> / BUCKET holds a bucket as its theoretical arrival time (`tat`, epoch
seconds; domain/rate_limits.py): a call moves it on with one conditional UpdateItem, nothing read
first. USAGE#<user> / <YYYY-MM-DD> counts a user's paid calls and their credits per day (the credit
ledger adopts these items when it comes).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gencore.adapters.ddb import ConditionFailed, Writer, ddb_value


def _bucket_key(key: str) -> dict[str, Any]:
    return {"pk": {"S": f"BUCKET#{key}"}, "sk": {"S": "BUCKET"}}


def _seconds(value: float) -> dict[str, str]:
    return {"N": f"{value:.6f}"}


class DynamoBucketStore:
    """The BucketStore: the common case is one UpdateItem (the bucket idle: its TAT in the past).

    A busy bucket (its TAT ahead of now) takes a second write, conditioned on the call fitting; only
    a call refused, or a TAT that moved between the two writes, reads the item.
    """

    ATTEMPTS = 3

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def advance(self, key: str, *, now: datetime, interval: float, tolerance: float) -> datetime | None:
        at = now.timestamp()
        for _ in range(self.ATTEMPTS):
            if self._update(
                key,
                "SET tat = :next REMOVE tokens, refilled_at",
                "attribute_not_exists(tat) OR tat < :now",
                now=at,
                next=at + interval,
            ):
                return None  # idle (or new): the TAT starts from now
            if self._update(
                key,
                "SET tat = tat + :interval",
                "tat >= :now AND tat <= :limit",
                now=at,
                interval=interval,
                limit=at + tolerance,
            ):
                return None  # busy, and the call fits
            item = self._db.get_item(
                TableName=self._table, Key=_bucket_key(key), ConsistentRead=True, ProjectionExpression="tat"
            ).get("Item")
            if item and "tat" in item and float(item["tat"]["N"]) > at + tolerance:
                return datetime.fromtimestamp(float(item["tat"]["N"]), UTC)  # refused: it does not fit
        return now  # the TAT kept moving under us: concurrent calls are draining it right now

    def _update(self, key: str, expression: str, condition: str, **values: float) -> bool:
        try:
            self._writer.update(
                TableName=self._table,
                Key=_bucket_key(key),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues={f":{name}": _seconds(value) for name, value in values.items()},
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
