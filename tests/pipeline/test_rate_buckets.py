"""The token bucket's DynamoDB writes on moto (adapters/usage.py): taking a token from an idle bucket
is one conditional UpdateItem and reads nothing; a busy bucket admits exactly its capacity, even to
calls racing from threads; a refused call leaves the bucket as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gencore import wiring
from gencore.adapters.usage import DynamoBucketStore
from tests.support.concurrency import at_once

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def buckets(pipeline) -> tuple[DynamoBucketStore, list[str]]:
    client = wiring.aws("dynamodb")
    calls: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: calls.append(model.name))
    return DynamoBucketStore(client, pipeline.stack.env["JOBS_TABLE"]), calls


def test_an_idle_bucket_costs_one_write_and_no_read(buckets):
    store, calls = buckets
    assert store.advance("requests#alice", now=NOW, interval=2.0, tolerance=4.0) is None
    assert (
        store.advance("requests#alice", now=NOW + timedelta(seconds=10), interval=2.0, tolerance=4.0) is None
    )
    assert calls == ["UpdateItem", "UpdateItem"]


def test_a_busy_bucket_admits_its_capacity_then_names_when_it_fits_again(buckets):
    store, _ = buckets
    admitted = [store.advance("requests#bob", now=NOW, interval=2.0, tolerance=4.0) for _ in range(4)]
    assert admitted[:3] == [None, None, None]
    assert admitted[3] == NOW + timedelta(seconds=6)  # the TAT: it fits again 2 s from now
    assert store.advance("requests#bob", now=NOW, interval=2.0, tolerance=4.0) == NOW + timedelta(seconds=6)
    assert store.advance("requests#bob", now=NOW + timedelta(seconds=2), interval=2.0, tolerance=4.0) is None


def test_racing_calls_are_admitted_up_to_the_capacity_and_no_further(buckets):
    store, _ = buckets
    outcomes = at_once(lambda: store.advance("requests#carol", now=NOW, interval=1.0, tolerance=9.0), 25)
    assert outcomes.count(None) == 10
