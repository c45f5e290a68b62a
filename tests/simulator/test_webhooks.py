"""Callback delivery to a receiver on loopback: auth header, envelope, retries."""

from __future__ import annotations

import socket

import pytest

from .helpers import API_KEY, WEBHOOK_KEY, WebhookReceiver, client, create, wait_done, wait_for

pytestmark = pytest.mark.integration


def test_complete_callback_is_delivered_with_bearer(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url)
        with client(sim) as c:
            generation_id = create(c, num_images=2, seed=42)
            generation = wait_done(c, generation_id)
        [delivery] = receiver.wait_for_successful(1)
    assert delivery.headers["authorization"] == f"Bearer {WEBHOOK_KEY}"
    assert delivery.headers["content-type"] == "application/json"
    envelope = delivery.body
    assert (envelope["type"], envelope["object"], envelope["api_version"]) == (
        "image_generation.complete",
        "generation",
        "v1",
    )
    assert isinstance(envelope["timestamp"], int)
    data = envelope["data"]["object"]
    assert data["id"] == generation_id and data["status"] == "COMPLETE" and data["seed"] == "42"
    assert [i["url"] for i in data["images"]] == [i["url"] for i in generation["generated_images"]]
    assert all(i["generationId"] == generation_id for i in data["images"])
    # Secret-bearing, like the published sample: consumers must strip it.
    assert data["apiKey"]["key"] == API_KEY
    assert data["apiKey"]["webhookCallbackApiKey"] == WEBHOOK_KEY
    assert sim.stats()["callbacks_sent"] == 1


def test_no_authorization_header_without_webhook_key(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url, webhook_key=None)
        with client(sim) as c:
            create(c)
        [delivery] = receiver.wait_for_successful(1)
    assert "authorization" not in delivery.headers
    assert "webhookCallbackApiKey" not in delivery.body["data"]["object"]["apiKey"]


def test_retry_after_receiver_error(start_sim):
    with WebhookReceiver(fail_first=1) as receiver:
        sim = start_sim(webhook_url=receiver.url)
        with client(sim) as c:
            create(c)
        [delivery] = receiver.wait_for_successful(1)
    assert [d.status for d in receiver.deliveries] == [500, 200]
    assert receiver.deliveries[0].body == delivery.body  # a retry resends the same body
    stats = sim.stats()
    assert (stats["callbacks_sent"], stats["callback_retries"], stats["callbacks_failed"]) == (1, 1, 0)


def test_gives_up_after_configured_retries(start_sim):
    with WebhookReceiver(fail_first=99, fail_status=503) as receiver:
        sim = start_sim(webhook_url=receiver.url, webhook_retries=2, time_scale=0.5)
        with client(sim) as c:
            create(c)
        wait_for(lambda: sim.stats()["callbacks_failed"] == 1)
    assert len(receiver.deliveries) == 3
    assert sim.stats()["callback_attempts"] == 3
    assert sim.stats()["callbacks_sent"] == 0


def test_connection_errors_are_retried_then_counted_failed(start_sim):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    sim = start_sim(webhook_url=dead_url, webhook_retries=1)
    with client(sim) as c:
        create(c)
    wait_for(lambda: sim.stats()["callbacks_failed"] == 1)
    assert sim.stats()["callback_attempts"] == 2


def test_no_webhook_url_means_no_callbacks(sim):
    with client(sim) as c:
        wait_done(c, create(c))
    assert sim.stats()["callback_attempts"] == 0
