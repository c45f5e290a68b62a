"""The EventBus port (domain/events.py) on EventBridge: PutEvents to the stack's bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gencore.domain.events import EVENT_SOURCE, CompletionEvent

PUT_EVENTS_MAX_ENTRIES = 10  # EventBridge's limit per PutEvents call


class EventBridgeBus:
    def __init__(self, client: Any, bus_name: str) -> None:
        if not bus_name:
            raise ValueError("no event bus configured (EVENT_BUS_NAME)")  # fail closed: never a default bus
        self._events, self._bus = client, bus_name

    def publish(self, events: Sequence[CompletionEvent]) -> set[str]:
        accepted: set[str] = set()
        for start in range(0, len(events), PUT_EVENTS_MAX_ENTRIES):
            chunk = events[start : start + PUT_EVENTS_MAX_ENTRIES]
            result = self._events.put_events(Entries=[self._entry(e) for e in chunk])
            # Entries answer in request order; a failed one carries ErrorCode instead of EventId.
            for event, entry in zip(chunk, result.get("Entries", []), strict=False):
                if entry.get("EventId") and not entry.get("ErrorCode"):
                    accepted.add(event.event_id)
        return accepted

    def _entry(self, event: CompletionEvent) -> dict[str, Any]:
        return {
            "EventBusName": self._bus,
            "Source": EVENT_SOURCE,
            "DetailType": event.detail_type,
            "Detail": json.dumps(event.detail, separators=(",", ":")),
            "Time": event.occurred_at,
            "Resources": [],
        }
