"""Outbound webhooks: their items in the jobs table, their queue, their secrets, the HTTP sender.

Items (pk / sk), written only here (the delivery function) and by `python -m ops webhooks`:
- APPHOOKS / ENDPOINT#<endpoint_id>      an app's endpoint: url, events, enabled, secret ARN and
                                         version, failing_since, failed_events. One partition: the
                                         fan-out reads every endpoint with one Query, never a Scan
- APPEVENT#<event_id> / EVENT            the event as delivered (its JSON body, signed per attempt);
                                         by time through the UserJobs index (gsi1pk =
                                         APPEVENTS#<YYYY-MM-DD>, gsi1sk = <time>#<event_id>), for
                                         `replay --since/--until`; `expires_at` TTL
- APPEVENT#<event_id> / DELIVERY#<ep>    the delivery log of that event to one endpoint: status, round,
                                         attempts, last status code or error, next attempt; by
                                         endpoint through UserJobs (gsi1pk = APPHOOK#<endpoint_id>,
                                         gsi1sk = <created>#<event_id>); `expires_at` TTL
None of these partitions is a USER# one, so no user's listing ever sees them.
"""

from __future__ import annotations

import email.utils
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from gencore.adapters.ddb import ConditionFailed, Writer, ddb_value, plain_item, values
from gencore.domain.app_webhooks import (
    Delivery,
    DeliveryMessage,
    DeliveryStatus,
    Endpoint,
    SecretDocument,
    SendResult,
    StoredEvent,
    UrlRefused,
    check_addresses,
    check_url,
)

ENDPOINTS_PARTITION = "APPHOOKS"


def endpoint_key(endpoint_id: str) -> dict[str, Any]:
    return {"pk": {"S": ENDPOINTS_PARTITION}, "sk": {"S": f"ENDPOINT#{endpoint_id}"}}


def event_key(event_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"APPEVENT#{event_id}"}, "sk": {"S": "EVENT"}}


def delivery_key(event_id: str, endpoint_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"APPEVENT#{event_id}"}, "sk": {"S": f"DELIVERY#{endpoint_id}"}}


def events_partition(day: str) -> str:
    return f"APPEVENTS#{day}"


def deliveries_partition(endpoint_id: str) -> str:
    return f"APPHOOK#{endpoint_id}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parsed(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def endpoint_from_item(data: dict[str, Any]) -> Endpoint:
    return Endpoint(
        endpoint_id=data["endpoint_id"], app=data.get("app", ""), url=data["url"],
        events=tuple(data.get("events", [])), secret_ref=data["secret_ref"], created_at=data["created_at"],
        enabled=bool(data.get("enabled", True)), secret_version=int(data.get("secret_version", 1)),
        disabled_reason=data.get("disabled_reason"), disabled_at=data.get("disabled_at"),
        failing_since=data.get("failing_since"), failed_events=int(data.get("failed_events", 0)),
    )  # fmt: skip


def delivery_from_item(data: dict[str, Any]) -> Delivery:
    return Delivery(
        event_id=data["event_id"], endpoint_id=data["endpoint_id"], status=data["status"],
        round=int(data.get("round", 0)), attempts=int(data.get("attempts", 0)),
        last_status_code=data.get("last_status_code"), last_error=data.get("last_error"),
        next_attempt_at=data.get("next_attempt_at"), updated_at=data.get("updated_at"),
    )  # fmt: skip


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
            Item={**endpoint_key(endpoint.endpoint_id), **_encoded(item)},
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
            vals = values(t=True, f=False, r=reason or "operator", at=_iso(now))
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
        day = (event.occurred_at or _iso(datetime.now(UTC)))[:10]
        item = {
            "event_id": event.event_id, "detail_type": event.detail_type, "occurred_at": event.occurred_at,
            "body": event.body, "expires_at": expires_at,
            "gsi1pk": events_partition(day), "gsi1sk": f"{event.occurred_at}#{event.event_id}",
        }  # fmt: skip
        try:
            self._writer.put(
                TableName=self._table, Item={**event_key(event.event_id), **_encoded(item)},
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
                    if since <= _parsed(data.get("occurred_at", "")) < until:
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
            "attempts": 0, "created_at": _iso(now), "updated_at": _iso(now), "expires_at": expires_at,
            "gsi1pk": deliveries_partition(endpoint_id), "gsi1sk": f"{_iso(now)}#{event_id}",
        }  # fmt: skip
        try:
            self._writer.put(
                TableName=self._table, Item={**delivery_key(event_id, endpoint_id), **_encoded(item)},
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
                now=_iso(now), exp=expires_at, gpk=deliveries_partition(endpoint_id),
                gsk=f"{_iso(now)}#{event_id}",
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
                    lease=lease_until.timestamp(), now=now.timestamp(), at=_iso(now),
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
                  "next_attempt_at": _iso(next_attempt_at) if next_attempt_at else None}  # fmt: skip
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
                    **values(status=status, at=_iso(now), round=message.round, k=message.attempt),
                    **_encoded(extra),
                },
            )  # fmt: skip


def _encoded(item: dict[str, Any]) -> dict[str, Any]:
    return {name: ddb_value(value) for name, value in item.items()}


# ----- the delivery queue -----------------------------------------------------------------------------


class SqsDeliveryQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._url = sqs, queue_url

    def send(self, message: DeliveryMessage, *, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=message.to_json(),
            DelaySeconds=max(0, min(900, int(delay_seconds))),
        )


# ----- secrets ----------------------------------------------------------------------------------------


class SecretsManagerKeys:
    """The SigningKeys port: each endpoint's SecretDocument, cached per (secret, version).

    A rotation bumps the endpoint's secret_version, which every delivery reads with the endpoint, so a
    warm function signs with the new secret from the next delivery on; `max_age` bounds the rest.
    """

    def __init__(
        self, client: Any, *, max_age: float = 300, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sm, self._max_age, self._clock = client, max_age, clock
        self._cache: dict[str, tuple[int, float, SecretDocument]] = {}
        self._lock = threading.Lock()

    def document(self, endpoint: Endpoint) -> SecretDocument:
        with self._lock:
            cached = self._cache.get(endpoint.secret_ref)
        if cached and cached[0] == endpoint.secret_version and self._clock() - cached[1] < self._max_age:
            return cached[2]
        text = self._sm.get_secret_value(SecretId=endpoint.secret_ref)["SecretString"]
        document = SecretDocument.from_json(text)
        with self._lock:
            self._cache[endpoint.secret_ref] = (endpoint.secret_version, self._clock(), document)
        return document

    def active(self, endpoint: Endpoint, now: datetime) -> list[str]:
        return self.document(endpoint).active(now)


# ----- the HTTP sender ------------------------------------------------------------------------------


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class HttpSender:
    """POSTs one signed delivery: never follows a redirect, never reads more than the status.

    The host is resolved here and every address checked (a name that now points at a private
    address is refused: DNS rebinding); the connection then goes to the checked address itself,
    with the name in the Host header and in TLS (SNI and certificate check), so a second
    resolution between the check and the connect cannot change where the request lands.
    """

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        timeout: httpx.Timeout | None = None,
        resolve: Callable[[str, int], list[str]] = _system_resolve,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._timeout = timeout or httpx.Timeout(10.0, connect=3.0, write=5.0, pool=2.0)
        self._resolve, self._transport = resolve, transport
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self._timeout, follow_redirects=False, transport=self._transport, trust_env=False
            )
        return self._http

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        try:
            target = check_url(url, allow_loopback=self._allow_loopback)
            addresses = [target.host] if target.is_ip else self._resolve(target.host, target.port)
            check_addresses(addresses, allow_loopback=self._allow_loopback)
        except UrlRefused as refused:
            return SendResult(error=refused.code)
        except OSError:
            return SendResult(error="dns_failed")
        request_url = httpx.URL(url).copy_with(host=addresses[0], fragment=None)
        netloc = httpx.URL(url).netloc.decode()
        extensions = {} if target.is_ip or target.scheme != "https" else {"sni_hostname": target.host}
        try:
            request = self._client().build_request(
                "POST", request_url, content=body, headers={**headers, "host": netloc}, extensions=extensions
            )
            response = self._client().send(request, stream=True)
            response.close()  # the status is all we keep: the body is not read
        except httpx.TimeoutException:
            return SendResult(error="timeout")
        except httpx.HTTPError:
            return SendResult(error="connection_failed")
        return SendResult(
            status_code=response.status_code, retry_after=_retry_after(response.headers.get("retry-after"))
        )
