"""Jobs: creates carry an Idempotency-Key, history follows cursors, wait() polls to a terminal status."""

from __future__ import annotations

import uuid

import pytest
from conftest import FakeClock
from fake_leo import FakeLeo

from leoclient import Client, UnprocessableError, WaitTimeoutError


def test_every_create_carries_a_fresh_uuid4_idempotency_key(client: Client, fake: FakeLeo):
    client.create_generation("one")
    client.create_generation("two")

    keys = [r.headers["idempotency-key"] for r in fake.requests]
    assert len(set(keys)) == 2
    assert all(uuid.UUID(key).version == 4 for key in keys)


def test_a_repeated_key_returns_the_original_job(client: Client, fake: FakeLeo):
    first = client.create_generation("a lighthouse", width=512, height=512, idempotency_key="click-1")
    again = client.create_generation("a lighthouse", width=512, height=512, idempotency_key="click-1")

    assert again.id == first.id
    assert len(fake.jobs) == 1


def test_a_repeated_key_with_another_body_is_refused(client: Client):
    client.create_generation("a lighthouse", idempotency_key="click-1")

    with pytest.raises(UnprocessableError) as raised:
        client.create_generation("a castle", idempotency_key="click-1")

    assert raised.value.code == "idempotency_key_reused"


def test_request_fields_are_sent_as_given_and_none_is_left_out(client: Client, fake: FakeLeo):
    job = client.create_generation("a lighthouse", width=768, height=512, num_images=2, model_id=None)

    assert job.request == {"prompt": "a lighthouse", "width": 768, "height": 512, "num_images": 2}


def test_history_follows_cursors_across_pages_newest_first(client: Client, fake: FakeLeo):
    ids = [client.create_generation(f"prompt {n}").id for n in range(7)]

    listed = [job.id for job in client.history(page_size=3)]

    assert listed == ids[::-1]
    pages = [r for r in fake.requests if r.method == "GET" and r.url.path == "/v1/generations"]
    assert len(pages) == 3
    assert "cursor" not in pages[0].url.params and "cursor" in pages[1].url.params


def test_history_stops_at_max_items_without_fetching_more_pages(client: Client, fake: FakeLeo):
    for n in range(7):
        client.create_generation(f"prompt {n}")

    assert len(list(client.history(page_size=3, max_items=2))) == 2
    assert len([r for r in fake.requests if r.url.path == "/v1/generations" and r.method == "GET"]) == 1


def test_wait_polls_with_growing_pauses_until_the_job_is_complete(client: Client, clock: FakeClock):
    job = client.create_generation("a lighthouse")

    done = client.wait(job.id, timeout=60)

    assert done.status == "COMPLETE"
    assert len(done.images) == 1
    assert len(clock.sleeps) == 2
    assert clock.sleeps[0] < clock.sleeps[1] <= 1.5


def test_wait_returns_a_failed_job_rather_than_raising(client: Client):
    job = client.create_generation("please FAIL")

    done = client.wait(job.id)

    assert done.status == "FAILED"
    assert done.error is not None and done.error.code == "generation_failed"


def test_wait_raises_a_timeout_naming_the_last_status(client: Client, clock: FakeClock):
    job = client.create_generation("a lighthouse")

    with pytest.raises(WaitTimeoutError) as raised:
        client.wait(job.id, timeout=0.5)

    # one last poll at the deadline, then the error
    assert raised.value.code == "timeout"
    assert raised.value.details == {"job_id": job.id, "status": "FINALIZING"}
    assert clock.now - 1000.0 == pytest.approx(0.5)


def test_watch_yields_every_polled_state(client: Client):
    job = client.create_generation("a lighthouse")

    assert [view.status for view in client.watch(job.id)] == ["SUBMITTED", "FINALIZING", "COMPLETE"]


def test_cancel_delete_and_variations(client: Client):
    queued = client.create_generation("never mind")
    assert client.cancel(queued.id).status == "CANCELLED"
    assert client.delete(queued.id).status == "DELETED"

    done = client.generate("a lighthouse")
    upscale = client.create_variation(done.id, 0, "upscale")
    assert (upscale.kind, upscale.status) == ("upscale", "QUEUED")


def test_estimate_usage_and_models(client: Client):
    assert client.estimate("a lighthouse", num_images=2).credits == 30
    assert client.usage().day.remaining == "405"
    assert client.models().items[0].name == "Lightning XL"
