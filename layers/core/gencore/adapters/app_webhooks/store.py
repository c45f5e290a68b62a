"""The AppWebhookStore port on the jobs table: endpoints, events and their delivery logs (the items
are described in gencore.adapters.app_webhooks.items)."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from gencore.adapters.app_webhooks.items import (
    ENDPOINTS_PARTITION,
    deliveries_partition,
    delivery_from_item,
    delivery_key,
    encoded,
    endpoint_from_item,
    endpoint_key,
    event_key,
    events_partition,
    iso_time,
    parse_iso_time,
)
from gencore.adapters.ddb import ConditionFailed, Writer, plain_item, values
from gencore.domain.app_webhooks.records import (
    Delivery,
    DeliveryMessage,
    DeliveryStatus,
    Endpoint,
    StoredEvent,
)


class DynamoAppWebhookStore:
    """The AppWebhookStore port on the jobs table (GetItem, PutItem, UpdateItem, Query of APPHOOKS)."""

    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db, self._table = client, table
        self._writer = writer or Writer(client)

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return plain_item(item) if item else None

    # --- endpoints ---

    def endpoints(self) -> list[Endpoint]:
        found, start = [], None
        while True:
            page = self._db.query(
                TableName=self._table, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                ExpressionAttributeValues=values(p=ENDPOINTS_PARTITION, s="ENDPOINT#"), ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )  # fmt: skip
            found += [endpoint_from_item(plain_item(item)) for item in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        data = self._get(endpoint_key(endpoint_id))
        return endpoint_from_item(data) if data else None

    def add_endpoint(self, endpoint: Endpoint) -> None:
        item = {
            "endpoint_id": endpoint.endpoint_id, "app": endpoint.app, "url": endpoint.url,
            "events": list(endpoint.events), "secret_ref": endpoint.secret_ref,
            "created_at": endpoint.created_at, "enabled": endpoint.enabled,
            "secret_version": endpoint.secret_version, "failed_events": 0,
        }  # fmt: skip
        self._writer.put(
            TableName=self._table,
            Item={**endpoint_key(endpoint.endpoint_id), **encoded(item)},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def set_enabled(
        self, endpoint_id: str, enabled: bool, *, now: datetime, reason: str | None = None
    ) -> bool:
        """Enable (clearing the failure counts) or disable; True when the state changed."""
        if enabled:
            expression = (
                "SET enabled = :t, failed_events = :z REMOVE disabled_reason, disabled_at, failing_since"
            )
            vals = values(t=True, f=False, z=0)
            condition = "attribute_exists(pk) AND enabled = :f"
        else:
            expression = "SET enabled = :f, disabled_reason = :r, disabled_at = :at"
            vals = values(t=True, f=False, r=reason or "operator", at=iso_time(now))
            condition = "attribute_exists(pk) AND enabled = :t"
        try:
            self._writer.update(
                TableName=self._table, Key=endpoint_key(endpoint_id), UpdateExpression=expression,
                ConditionExpression=condition, ExpressionAttributeValues=vals,
            )  # fmt: skip
        except ConditionFailed:
            return False
        return True

    def disable(self, endpoint_id: str, *, reason: str, now: datetime) -> bool:
        return self.set_enabled(endpoint_id, False, now=now, reason=reason)

    def bump_secret_version(self, endpoint_id: str) -> int:
        answer = self._writer.update(
            TableName=self._table, Key=endpoint_key(endpoint_id),
            UpdateExpression="ADD secret_version :one", ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values(one=1), ReturnValues="UPDATED_NEW",
        )  # fmt: skip
        return int(plain_item(answer["Attributes"])["secret_version"])

    def remove_endpoint(self, endpoint_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key=endpoint_key(endpoint_id))

    def endpoint_succeeded(self, endpoint_id: str) -> None:
        with suppress(ConditionFailed):  # removed meanwhile
            self._writer.update(
                TableName=self._table, Key=endpoint_key(endpoint_id),
                UpdateExpression="SET failed_events = :z REMOVE failing_since",
                ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues=values(z=0),
            )  # fmt: skip

    def endpoint_failed(self, endpoint_id: str, *, now: datetime, exhausted: bool) -> Endpoint | None:
        try:
            answer = self._writer.update(
                TableName=self._table, Key=endpoint_key(endpoint_id),
                UpdateExpression=(
                    "SET failing_since = if_not_exists(failing_since, :now) ADD failed_events :n"
                ),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values(now=now.timestamp(), n=1 if exhausted else 0),
                ReturnValues="ALL_NEW",
            )  # fmt: skip
        except ConditionFailed:
            return None
        return endpoint_from_item(plain_item(answer["Attributes"]))

    # --- events ---

    def save_event(self, event: StoredEvent, *, expires_at: int) -> StoredEvent:
        day = (event.occurred_at or iso_time(datetime.now(UTC)))[:10]
        item = {
            "event_id": event.event_id, "detail_type": event.detail_type, "occurred_at": event.occurred_at,
            "body": event.body, "expires_at": expires_at,
            "gsi1pk": events_partition(day), "gsi1sk": f"{event.occurred_at}#{event.event_id}",
        }  # fmt: skip
        try:
            self._writer.put(
                TableName=self._table, Item={**event_key(event.event_id), **encoded(item)},
                ConditionExpression="attribute_not_exists(pk)",
            )  # fmt: skip
        except ConditionFailed:
            return self.event(event.event_id) or event
        return event

    def event(self, event_id: str) -> StoredEvent | None:
        data = self._get(event_key(event_id))
        if data is None:
            return None
        return StoredEvent(
            data["event_id"], data["detail_type"], data.get("occurred_at", ""), data["body"],
            fanned_out=bool(data.get("fanned_out", False)),
        )  # fmt: skip

    def mark_fanned_out(self, event_id: str) -> None:
        self._writer.update(
            TableName=self._table, Key=event_key(event_id), UpdateExpression="SET fanned_out = :t",
            ExpressionAttributeValues=values(t=True),
        )  # fmt: skip

    def events_between(self, since: datetime, until: datetime) -> list[StoredEvent]:
        """Events whose time is in [since, until), oldest first: one Query per day (UserJobs index)."""
        found: list[StoredEvent] = []
        since, until = since.astimezone(UTC), until.astimezone(UTC)
        # Whole seconds as key bounds (times are stored as written, with or without fractions), the
        # exact range checked on the parsed time.
        low, high = since.strftime("%Y-%m-%dT%H:%M:%S"), until.strftime("%Y-%m-%dT%H:%M:%S") + "~"
        day = since.date()
        while day <= until.date():
            start = None
            while True:
                page = self._db.query(
                    TableName=self._table, IndexName="UserJobs",
                    KeyConditionExpression="gsi1pk = :p AND gsi1sk BETWEEN :lo AND :hi",
                    ExpressionAttributeValues=values(p=events_partition(day.isoformat()), lo=low, hi=high),
                    **({"ExclusiveStartKey": start} if start else {}),
                )  # fmt: skip
                for raw in page.get("Items", []):
                    data = plain_item(raw)
                    if since <= parse_iso_time(data.get("occurred_at", "")) < until:
                        found.append(StoredEvent(data["event_id"], data["detail_type"], data["occurred_at"],
                                                 data["body"]))  # fmt: skip
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
            day += timedelta(days=1)
        return found

    # --- deliveries ---

    def open_delivery(self, event_id: str, endpoint_id: str, *, now: datetime, expires_at: int) -> Delivery:
        item = {
            "event_id": event_id, "endpoint_id": endpoint_id, "status": DeliveryStatus.PENDING, "round": 0,
            "attempts": 0, "created_at": iso_time(now), "updated_at": iso_time(now), "expires_at": expires_at,
            "gsi1pk": deliveries_partition(endpoint_id), "gsi1sk": f"{iso_time(now)}#{event_id}",
        }  # fmt: skip
        try:
            self._writer.put(
                TableName=self._table, Item={**delivery_key(event_id, endpoint_id), **encoded(item)},
                ConditionExpression="attribute_not_exists(pk)",
            )  # fmt: skip
        except ConditionFailed:
            stored = self.delivery(event_id, endpoint_id)
            if stored is not None:
                return stored
        return delivery_from_item(item)

    def reopen(self, event_id: str, endpoint_id: str, *, now: datetime, expires_at: int) -> Delivery:
        answer = self._writer.update(
            TableName=self._table, Key=delivery_key(event_id, endpoint_id),
            UpdateExpression=(
                "SET #round = if_not_exists(#round, :minus) + :one, #status = :pending, attempts = :zero, "
                "event_id = :event, endpoint_id = :endpoint, updated_at = :now, expires_at = :exp, "
                "created_at = if_not_exists(created_at, :now), gsi1pk = :gpk, "
                "gsi1sk = if_not_exists(gsi1sk, :gsk) REMOVE next_attempt_at, lease_until"
            ),
            ExpressionAttributeNames={"#round": "round", "#status": "status"},
            ExpressionAttributeValues=values(
                minus=-1, one=1, pending=DeliveryStatus.PENDING, zero=0, event=event_id, endpoint=endpoint_id,
                now=iso_time(now), exp=expires_at, gpk=deliveries_partition(endpoint_id),
                gsk=f"{iso_time(now)}#{event_id}",
            ),
            ReturnValues="ALL_NEW",
        )  # fmt: skip
        return delivery_from_item(plain_item(answer["Attributes"]))

    def delivery(self, event_id: str, endpoint_id: str) -> Delivery | None:
        data = self._get(delivery_key(event_id, endpoint_id))
        return delivery_from_item(data) if data else None

    def deliveries_of_event(self, event_id: str) -> list[Delivery]:
        page = self._db.query(
            TableName=self._table, KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=values(p=f"APPEVENT#{event_id}", s="DELIVERY#"), ConsistentRead=True,
        )  # fmt: skip
        return [delivery_from_item(plain_item(item)) for item in page.get("Items", [])]

    def deliveries_of_endpoint(self, endpoint_id: str, *, limit: int = 50) -> list[Delivery]:
        page = self._db.query(
            TableName=self._table, IndexName="UserJobs", KeyConditionExpression="gsi1pk = :p",
            ExpressionAttributeValues=values(p=deliveries_partition(endpoint_id)), ScanIndexForward=False,
            Limit=limit,
        )  # fmt: skip
        return [delivery_from_item(plain_item(item)) for item in page.get("Items", [])]

    def claim(self, message: DeliveryMessage, *, now: datetime, lease_until: datetime) -> bool:
        try:
            self._writer.update(
                TableName=self._table, Key=delivery_key(message.event_id, message.endpoint_id),
                UpdateExpression=(
                    "SET attempts = :k, #status = :delivering, lease_until = :lease, updated_at = :at"
                ),
                ConditionExpression=(
                    "#round = :round AND ((attempts = :before AND #status = :pending) OR "
                    "(attempts = :k AND #status = :delivering AND lease_until < :now))"
                ),
                ExpressionAttributeNames={"#round": "round", "#status": "status"},
                ExpressionAttributeValues=values(
                    k=message.attempt, before=message.attempt - 1, round=message.round,
                    pending=DeliveryStatus.PENDING, delivering=DeliveryStatus.DELIVERING,
                    lease=lease_until.timestamp(), now=now.timestamp(), at=iso_time(now),
                ),
            )  # fmt: skip
        except ConditionFailed:
            return False
        return True

    def record(
        self, message: DeliveryMessage, *, status: str, now: datetime, status_code: int | None,
        error: str | None, next_attempt_at: datetime | None = None,
    ) -> None:  # fmt: skip
        sets = ["#status = :status", "updated_at = :at"]
        removes = ["lease_until"]
        fields = {"last_status_code": status_code, "last_error": error,
                  "next_attempt_at": iso_time(next_attempt_at) if next_attempt_at else None}  # fmt: skip
        extra = {}
        for i, (name, value) in enumerate(fields.items()):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = :x{i}")
                extra[f":x{i}"] = value
        with suppress(ConditionFailed):  # a replay started a new round meanwhile: its own log wins
            self._writer.update(
                TableName=self._table, Key=delivery_key(message.event_id, message.endpoint_id),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
                ConditionExpression="#round = :round AND attempts = :k",
                ExpressionAttributeNames={"#round": "round", "#status": "status"},
                ExpressionAttributeValues={
                    **values(status=status, at=iso_time(now), round=message.round, k=message.attempt),
                    **encoded(extra),
                },
            )  # fmt: skip
