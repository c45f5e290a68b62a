"""Completion events on the local stack, seen as an app's rule on the bus would see them (docs/events.md)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from gencore import wiring
from stackrunner.bus import main as events_command
from tests.support.jobs import wait_for_status

pytestmark = pytest.mark.e2e
REQUEST = {"prompt": "A lighthouse on a cliff at dawn", "width": 320, "height": 256, "num_images": 2}


@pytest.fixture
def user(token_for):
    name = f"user-{uuid.uuid4().hex[:8]}"
    return name, {"authorization": f"Bearer {token_for(name)}"}


def on_the_bus(api, event_id: str, *, timeout: float = 20.0) -> list[dict]:
    """Every event the local bus carried with this event id, once at least one arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = api.get("/_local/events", params={"limit": 500}).json()["events"]
        found = [e for e in events if e["detail"].get("event_id") == event_id]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no event {event_id} on the local bus in {timeout}s")


def test_a_completed_job_puts_generation_completed_with_its_event_id_on_the_bus(api, stack, user):
    name, headers = user
    created = api.post("/v1/generations", json=REQUEST, headers=headers)
    assert created.status_code == 202, created.text
    job = wait_for_status(api, headers, created.json()["id"])
    assert job["status"] == "COMPLETE", job

    [event] = on_the_bus(api, f"{job['id']}:COMPLETE")

    assert (event["source"], event["detail-type"]) == ("leonardo-backend", "Generation Completed")
    detail = event["detail"]
    assert (detail["job_id"], detail["user_id"], detail["status"]) == (job["id"], name, "COMPLETE")
    s3 = stack.boto3_client("s3")
    listing = s3.list_objects_v2(
        Bucket=stack.physical_ids["OutputBucket"], Prefix=f"outputs/{name}/{job['id']}/"
    )
    assert sorted(detail["output_keys"]) == sorted(o["Key"] for o in listing["Contents"])
    assert detail["cost"] == job["cost"] and detail["created_at"].startswith(job["created_at"][:19])


def test_a_crash_between_the_status_write_and_the_publish_still_yields_the_event(api, user, monkeypatch):
    # Given every writer dies right after the write that ends a job: no fast path publishes.
    monkeypatch.setattr(wiring, "publish_now", lambda event: None)
    _, headers = user
    job = wait_for_status(
        api, headers, api.post("/v1/generations", json=REQUEST, headers=headers).json()["id"]
    )
    assert job["status"] == "COMPLETE", job

    # Then the reconciler (every second here) publishes it from the outbox once the writers' head
    # start (2 s here, 30 s on AWS) is over: once, with the job's event id.
    [event] = on_the_bus(api, f"{job['id']}:COMPLETE")
    assert event["detail-type"] == "Generation Completed" and event["detail"]["job_id"] == job["id"]
    time.sleep(3)  # a few more reconciler runs: it was marked published, nothing repeats it
    assert len(on_the_bus(api, f"{job['id']}:COMPLETE")) == 1


def test_the_events_command_prints_the_last_events_of_a_running_stack(api, stack, user, capsys):
    _, headers = user
    job = wait_for_status(
        api, headers, api.post("/v1/generations", json=REQUEST, headers=headers).json()["id"]
    )
    on_the_bus(api, f"{job['id']}:COMPLETE")

    assert events_command(["5", "--type", "Generation Completed", "--api", stack.api_url]) == 0

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 1 <= len(printed) <= 5 and printed[-1]["detail"]["event_id"] == f"{job['id']}:COMPLETE"
    assert {e["detail-type"] for e in printed} == {"Generation Completed"}
