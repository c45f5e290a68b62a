"""The event types an endpoint may subscribe to, and the body delivered for one bus event."""

from __future__ import annotations

import json
from typing import Any

from gencore.domain.app_webhooks.records import StoredEvent

# The bus's detail-types an endpoint may subscribe to (docs/webhooks.md, "Events").
EVENT_TYPES = ("Generation Completed", "Generation Failed", "Generation Cancelled", "Batch Completed")


class NotAnEvent(ValueError):
    """A bus event without the fields every completion event carries."""


def payload_type(detail_type: str) -> str:
    """`Generation Completed` -> `generation.completed` (the spec's dotted event type)."""
    return ".".join(detail_type.strip().lower().split(" ", 1)).replace(" ", "_")


def event_from_bus(envelope: dict[str, Any]) -> StoredEvent:
    """The body we deliver for one EventBridge event: {type, timestamp, data: detail}."""
    detail, detail_type = envelope.get("detail"), envelope.get("detail-type")
    if not isinstance(detail, dict) or not isinstance(detail_type, str):
        raise NotAnEvent("no detail-type or detail")
    event_id = detail.get("event_id")
    if not isinstance(event_id, str) or not event_id or "." in event_id or len(event_id) > 200:
        raise NotAnEvent("detail.event_id missing or unusable as a webhook id")
    occurred_at = str(envelope.get("time") or detail.get("finished_at") or "")
    body = {"type": payload_type(detail_type), "timestamp": occurred_at, "data": detail}
    return StoredEvent(event_id, detail_type, occurred_at, json.dumps(body, separators=(",", ":")))
