"""Outbound webhooks' items in the jobs table: their keys, how values are written, and the
records read back from them.

Items (pk / sk), written only by the store (the delivery function) and by `python -m ops webhooks`:
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

from datetime import UTC, datetime
from typing import Any

from gencore.adapters.ddb import ddb_value
from gencore.domain.app_webhooks.records import Delivery, Endpoint

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


def iso_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def encoded(item: dict[str, Any]) -> dict[str, Any]:
    return {name: ddb_value(value) for name, value in item.items()}
