"""Account-level state in the jobs table: the account block and the orphan sweep.

Items (pk / sk):
- ACCOUNT#leonardo / ACCOUNT   the account block while Leonardo refuses our account (reason, since,
                               next_probe_at, probes); absent when submits may go ahead. Also
                               `paused_until` (epoch seconds): no create before it (a 429's Retry-After)
- SWEEP#orphans / SWEEP        the orphan sweep: when the last one started (`started_at`, epoch) and
                               the createdAt up to which every generation was looked at (`reached`)
- BALANCE#leonardo / BALANCE   the account's balance (domain/balance.py): when it was last asked
                               (`claimed_at`, epoch), and the last answer (`amount`, `unit`, `read_at`)
- ORPHAN#<generation> / ORPHAN a generation of our account that no job owns; listed newest first
                               through the UserJobs index (gsi1pk=ORPHANS, gsi1sk=<createdAt>#<id>;
                               not a USER# partition, so no user ever sees them); `expires_at` TTL
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from gencore.adapters.ddb import (
    ConditionFailed,
    Writer,
    decimal_value,
    plain_item,
    update_clauses,
    update_expression,
    values,
)
from gencore.domain.balance import BalanceReading
from gencore.domain.ports import AccountBlock, Orphan

ACCOUNT_KEY = {"pk": {"S": "ACCOUNT#leonardo"}, "sk": {"S": "ACCOUNT"}}
SWEEP_KEY = {"pk": {"S": "SWEEP#orphans"}, "sk": {"S": "SWEEP"}}
BALANCE_KEY = {"pk": {"S": "BALANCE#leonardo"}, "sk": {"S": "BALANCE"}}
ORPHANS_PARTITION = "ORPHANS"


def orphan_key(generation_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"ORPHAN#{generation_id}"}, "sk": {"S": "ORPHAN"}}


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


class DynamoAccountState:
    """The AccountStateStore: one item; a block is written once and changed only by its holder.

    Every write is an UpdateItem (the functions hold GetItem and UpdateItem on the table, no more):
    a cleared block is an item without `since`.
    """

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def load(self) -> AccountBlock | None:
        item = self._db.get_item(TableName=self._table, Key=ACCOUNT_KEY, ConsistentRead=True).get("Item")
        data = plain_item(item) if item else {}
        if "since" not in data:
            return None
        return AccountBlock(
            reason=data["reason"],
            since=_moment(data["since"]),
            next_probe_at=_moment(data["next_probe_at"]),
            probes=int(data.get("probes", 0)),
        )

    def trip(self, block: AccountBlock) -> AccountBlock:
        for _ in range(3):  # cleared between our failed write and our read: try again
            try:
                self._set(block, condition="attribute_not_exists(since)")  # the first trip keeps its since
                return block
            except ConditionFailed:
                stored = self.load()
                if stored is not None:
                    return stored
        return self.load() or block

    def update(self, block: AccountBlock) -> bool:
        try:
            self._set(block, condition="since = :since")
        except ConditionFailed:
            return False
        return True

    def clear(self, since: datetime) -> bool:
        try:
            self._writer.update(
                TableName=self._table,
                Key=ACCOUNT_KEY,
                UpdateExpression="REMOVE reason, since, next_probe_at, probes",
                ConditionExpression="since = :since",  # a block tripped anew meanwhile stays
                ExpressionAttributeValues=values(since=since.isoformat()),
            )
        except ConditionFailed:
            return False
        return True

    def pause(self, until: datetime) -> datetime:
        try:
            self._writer.update(
                TableName=self._table,
                Key=ACCOUNT_KEY,
                UpdateExpression="SET paused_until = :until",
                ConditionExpression="attribute_not_exists(paused_until) OR paused_until < :until",
                ExpressionAttributeValues={":until": {"N": f"{until.timestamp():.3f}"}},
            )
        except ConditionFailed:
            return self.paused_until() or until  # a later pause stands
        return until

    def paused_until(self) -> datetime | None:
        item = self._db.get_item(
            TableName=self._table, Key=ACCOUNT_KEY, ConsistentRead=True, ProjectionExpression="paused_until"
        ).get("Item")
        if not item or "paused_until" not in item:
            return None
        return datetime.fromtimestamp(float(item["paused_until"]["N"]), UTC)

    def _set(self, block: AccountBlock, *, condition: str) -> None:
        self._writer.update(
            TableName=self._table,
            Key=ACCOUNT_KEY,
            UpdateExpression="SET reason = :reason, since = :since, next_probe_at = :next, probes = :probes",
            ConditionExpression=condition,
            ExpressionAttributeValues=values(
                reason=block.reason,
                since=block.since.isoformat(),
                next=block.next_probe_at.isoformat(),
                probes=block.probes,
            ),
        )


class DynamoBalanceState:
    """The BalanceStore: one item, claimed by one reconciler per interval (UpdateItem only)."""

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def claim_read(self, *, now: datetime, every_seconds: int) -> bool:
        claimed = int(now.timestamp())
        try:
            self._writer.update(
                TableName=self._table,
                Key=BALANCE_KEY,
                UpdateExpression="SET claimed_at = :now",
                ConditionExpression="attribute_not_exists(claimed_at) OR claimed_at <= :due",
                ExpressionAttributeValues=values(now=claimed, due=claimed - every_seconds),
            )
        except ConditionFailed:
            return False
        return True

    def record(self, reading: BalanceReading) -> None:
        with suppress(ConditionFailed):  # an older answer never replaces a newer one
            self._writer.update(
                TableName=self._table,
                Key=BALANCE_KEY,
                UpdateExpression="SET amount = :amount, #unit = :unit, read_at = :read",
                ConditionExpression="attribute_not_exists(read_at) OR read_at < :read",
                ExpressionAttributeNames={"#unit": "unit"},
                ExpressionAttributeValues=values(unit=reading.unit, read=reading.read_at.isoformat())
                | {":amount": decimal_value(reading.amount)},
            )

    def last(self) -> BalanceReading | None:
        item = self._db.get_item(TableName=self._table, Key=BALANCE_KEY, ConsistentRead=True).get("Item")
        if not item or "read_at" not in item:
            return None
        return BalanceReading(
            amount=Decimal(item["amount"]["N"]), unit=item["unit"]["S"], read_at=_moment(item["read_at"]["S"])
        )


class DynamoOrphanStore:
    """The OrphanStore: the sweep's one state item and an ORPHAN item per generation found."""

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def claim_sweep(self, *, now: datetime, every_seconds: int) -> tuple[bool, datetime | None]:
        started = int(now.timestamp())
        try:
            result = self._writer.update(
                TableName=self._table,
                Key=SWEEP_KEY,
                UpdateExpression="SET started_at = :now",
                # One sweep per interval, however many reconcilers run at once.
                ConditionExpression="attribute_not_exists(started_at) OR started_at <= :due",
                ExpressionAttributeValues=values(now=started, due=started - every_seconds),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return False, None
        reached = plain_item(result.get("Attributes", {})).get("reached")
        return True, _moment(reached) if reached else None

    def finish_sweep(self, *, reached: datetime) -> None:
        with suppress(ConditionFailed):  # a later sweep got further already
            self._writer.update(
                TableName=self._table,
                Key=SWEEP_KEY,
                UpdateExpression="SET reached = :reached",
                ConditionExpression="attribute_not_exists(reached) OR reached < :reached",  # never backwards
                ExpressionAttributeValues=values(reached=reached.isoformat()),
            )

    def record_orphan(self, orphan: Orphan, *, expires_at: int) -> bool:
        created = orphan.created_at.isoformat()
        fields = {
            "gsi1pk": ORPHANS_PARTITION,
            "gsi1sk": f"{created}#{orphan.generation_id}",
            "generation_id": orphan.generation_id,
            "created_at": created,
            "status": orphan.status,
            "found_at": orphan.found_at.isoformat(),
            "expires_at": expires_at,
        }
        if orphan.cost is not None:
            fields["cost"] = orphan.cost
        sets, _, names, vals = update_clauses(fields, fields)
        try:
            self._writer.update(
                TableName=self._table,
                Key=orphan_key(orphan.generation_id),
                UpdateExpression=update_expression(sets, []),
                ConditionExpression="attribute_not_exists(pk)",  # reported once
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=vals,
            )
        except ConditionFailed:
            return False
        return True

    def orphans(self, *, limit: int) -> list[Orphan]:
        result = self._db.query(
            TableName=self._table,
            IndexName="UserJobs",
            KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=values(p=ORPHANS_PARTITION),
            ScanIndexForward=False,
            Limit=limit,
        )
        found = []
        for item in result.get("Items", []):
            data = plain_item(item)
            found.append(
                Orphan(
                    generation_id=data["generation_id"],
                    created_at=_moment(data["created_at"]),
                    status=data["status"],
                    cost=data.get("cost"),
                    found_at=_moment(data["found_at"]),
                )
            )
        return found
