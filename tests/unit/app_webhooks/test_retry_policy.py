"""Outbound webhooks' retry schedule: the default back-off, its jitter, a receiver's Retry-After."""

from __future__ import annotations

import itertools

import pytest

from gencore.domain.app_webhooks.retry_policy import DEFAULT_SCHEDULE, DeliveryPolicy

pytestmark = pytest.mark.unit


def test_the_default_schedule_backs_off_exponentially_over_about_three_days():
    policy = DeliveryPolicy()
    assert policy.schedule == DEFAULT_SCHEDULE
    assert policy.max_attempts == 10
    assert all(later > earlier for earlier, later in itertools.pairwise(DEFAULT_SCHEDULE))
    assert 2.5 * 86400 < sum(DEFAULT_SCHEDULE) < 4 * 86400


def test_each_delay_stays_within_ten_percent_of_the_schedule_and_is_stable_per_delivery():
    policy = DeliveryPolicy()
    for attempt, base in enumerate(DEFAULT_SCHEDULE, start=1):
        delays = {policy.delay_after(attempt, key=f"e{n}|ep") for n in range(20)}
        assert all(0.9 * base - 1 <= d <= 1.1 * base + 1 for d in delays)
        assert policy.delay_after(attempt, key="e1|ep") == policy.delay_after(attempt, key="e1|ep")
    assert len({policy.delay_after(4, key=f"e{n}|ep") for n in range(20)}) > 1  # spread out


def test_a_receivers_retry_after_is_honoured_up_to_a_day():
    policy = DeliveryPolicy(schedule=(5,), jitter=0)
    assert policy.delay_after(1, key="k", retry_after=600) == 600
    assert policy.delay_after(1, key="k", retry_after=2) == 5  # never sooner than the schedule
    assert policy.delay_after(1, key="k", retry_after=10 * 86400) == 86400
