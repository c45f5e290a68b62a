"""The body delivered for a bus event: {type, timestamp, data}, under the event's id."""

from __future__ import annotations

import json

import pytest

from gencore.domain.app_webhooks.bus_events import NotAnEvent, event_from_bus, payload_type
from tests.support.app_webhooks import bus_event

pytestmark = pytest.mark.unit


def test_the_delivered_body_is_type_timestamp_and_the_events_detail():
    event = event_from_bus(bus_event())
    body = json.loads(event.body)
    assert body == {
        "type": "generation.completed",
        "timestamp": "2026-12-04T12:00:00Z",
        "data": bus_event()["detail"],
    }
    assert event.event_id == "job-1:COMPLETE"
    assert payload_type("Generation Cancelled") == "generation.cancelled"
    assert payload_type("Batch Completed") == "batch.completed"


@pytest.mark.parametrize("mutate", [lambda e: e.pop("detail"), lambda e: e["detail"].pop("event_id"),
                                    lambda e: e["detail"].update(event_id="a.b")])  # fmt: skip
def test_an_event_without_a_usable_id_is_refused(mutate):
    event = bus_event()
    mutate(event)
    with pytest.raises(NotAnEvent):
        event_from_bus(event)
