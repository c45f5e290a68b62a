"""The per-user token bucket, read as a specification (domain/rate_limits.py): a full bucket admits
`capacity` calls at once, then one per `1 / per_second`; a refused call is told how long to wait and
takes nothing; however many calls race, no more are admitted than the bucket allows."""

from __future__ import annotations

import pytest

from gencore.domain.rate_limits import BucketLimit, RateLimited, TokenBuckets
from tests.support.concurrency import at_once
from tests.support.fakes import FakeBucketStore, FakeClock

pytestmark = pytest.mark.unit

LIMIT = BucketLimit(capacity=3, per_second=0.5)  # a burst of 3, then one every 2 s


def admitted(buckets: TokenBuckets, user: str = "alice", *, limit: BucketLimit = LIMIT) -> bool:
    try:
        buckets.take(user, "requests", limit)
    except RateLimited:
        return False
    return True


def test_a_full_bucket_admits_its_capacity_at_once_then_refuses_with_the_wait():
    clock = FakeClock()
    buckets = TokenBuckets(FakeBucketStore(), clock)
    assert [admitted(buckets) for _ in range(3)] == [True, True, True]
    with pytest.raises(RateLimited) as refused:
        buckets.take("alice", "requests", LIMIT)
    assert refused.value.retry_after == 2 and refused.value.code == "rate_limited"


def test_a_token_comes_back_every_interval_and_the_bucket_refills_to_its_capacity_only():
    clock = FakeClock()
    buckets = TokenBuckets(FakeBucketStore(), clock)
    assert all(admitted(buckets) for _ in range(3))
    clock.advance(2)
    assert admitted(buckets) and not admitted(buckets)
    clock.advance(3600)  # an hour idle: full again, never more than full
    assert [admitted(buckets) for _ in range(4)] == [True, True, True, False]


def test_a_refused_call_takes_nothing():
    clock = FakeClock()
    buckets = TokenBuckets(FakeBucketStore(), clock)
    assert all(admitted(buckets) for _ in range(3))
    assert not any(admitted(buckets) for _ in range(10))  # hammering does not push the wait out
    clock.advance(2)
    assert admitted(buckets)


def test_users_and_purposes_have_buckets_of_their_own():
    buckets = TokenBuckets(FakeBucketStore(), FakeClock())
    assert all(admitted(buckets, "alice") for _ in range(3)) and not admitted(buckets, "alice")
    assert admitted(buckets, "bob")
    buckets.take("alice", "prompts", LIMIT)  # another purpose: another bucket


def test_racing_calls_never_get_more_than_the_bucket_holds():
    buckets = TokenBuckets(FakeBucketStore(), FakeClock())
    limit = BucketLimit(capacity=20, per_second=0.001)
    assert at_once(lambda: admitted(buckets, limit=limit), 60).count(True) == 20
