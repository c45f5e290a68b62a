"""The orphan sweep (issue 9, item 9b): generations of our account that no job owns are reported,
once each, after a grace period, at most every few minutes, counted as account-level calls."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest

from gencore.domain.errors import LeonardoBusy
from gencore.domain.models import JobStatus
from gencore.domain.orphans import OrphanPolicy, OrphanSweep
from gencore.domain.ports import RemoteSummary
from gencore.domain.reconcile import ACCOUNT_CALLS
from tests.support.fakes import T0, FakeClock, FakeJobStore, FakeLeonardo, FakeOrphanStore, make_job

pytestmark = pytest.mark.unit

POLICY = OrphanPolicy(every_seconds=600, grace_seconds=900, first_lookback_seconds=3600, limit_pages=4)


def summary(gid: str, minutes_ago: float, status: str = "COMPLETE", cost: float | None = 8.0):
    return RemoteSummary(id=gid, created_at=T0 - timedelta(minutes=minutes_ago), status=status, cost=cost)


@pytest.fixture
def world():
    clock, store, orphans = FakeClock(), FakeJobStore(), FakeOrphanStore()
    leonardo = FakeLeonardo()
    sweep = OrphanSweep(store, orphans, leonardo, clock, POLICY)
    return SimpleNamespace(clock=clock, store=store, orphans=orphans, leonardo=leonardo, sweep=sweep)


def test_a_generation_no_job_owns_is_reported_once_grace_is_over(world, caplog):
    owned = world.store.add(make_job(JobStatus.SUBMITTED, created_at=T0 - timedelta(minutes=30)))
    world.leonardo.listing = [
        summary("orphan-1", 40, status="COMPLETE", cost=12.5),
        summary(owned.generation_id, 30),
        summary("young", 5),  # an adoption may still be under way
        summary("too-old", 90),  # before the first sweep's lookback
    ]
    caplog.set_level(logging.WARNING, logger="gencore")

    result = world.sweep.run()

    assert result == {ACCOUNT_CALLS: 1, "checked": 2, "orphans": 1}
    assert list(world.orphans.recorded) == ["orphan-1"]
    recorded = world.orphans.recorded["orphan-1"]
    assert (recorded.status, recorded.cost, recorded.found_at) == ("COMPLETE", 12.5, T0)
    assert world.leonardo.list_calls == [{"since": T0 - timedelta(hours=1), "limit_pages": 4}]
    [line] = [r for r in caplog.records if r.getMessage().startswith("orphan generation")]
    assert line.levelno == logging.WARNING
    assert line.generation_id == "orphan-1" and line.generation_status == "COMPLETE"
    assert line.created_at == (T0 - timedelta(minutes=40)).isoformat()


def test_a_sweep_runs_at_most_every_interval_and_continues_where_the_last_one_reached(world):
    world.leonardo.listing = [summary("orphan-1", 40)]
    world.sweep.run()

    world.clock.advance(599)
    assert world.sweep.run() == {}
    assert len(world.leonardo.list_calls) == 1

    # Ten minutes on: the young one is old enough now; the first is not reported again
    world.clock.advance(1)
    world.leonardo.listing = [summary("orphan-1", 40), summary("later", 10)]
    assert world.sweep.run() == {ACCOUNT_CALLS: 1, "checked": 1, "orphans": 1}
    assert world.leonardo.list_calls[-1]["since"] == T0 - timedelta(seconds=900)
    assert sorted(world.orphans.recorded) == ["later", "orphan-1"]


def test_an_orphan_seen_twice_is_counted_once(world):
    world.leonardo.listing = [summary("orphan-1", 40)]
    world.sweep.run()
    world.orphans.reached = None  # as if the sweep state were lost: the same window is listed again
    world.clock.advance(600)
    assert world.sweep.run()["orphans"] == 0


def test_leonardo_failing_is_reported_and_never_raises(world):
    world.leonardo.listing = LeonardoBusy("503")
    assert world.sweep.run() == {ACCOUNT_CALLS: 1, "sweep_failed": 1}
    assert world.orphans.reached is None  # the window is listed again by the next sweep


def test_a_store_failure_never_raises():
    class Broken(FakeOrphanStore):
        def claim_sweep(self, **kwargs):
            raise RuntimeError("DynamoDB unavailable")

    sweep = OrphanSweep(FakeJobStore(), Broken(), FakeLeonardo(), FakeClock(), POLICY)
    assert sweep.run() == {"sweep_failed": 1}


def test_no_sweep_starts_without_time_left_in_the_invocation(world):
    assert world.sweep.run(ends_at=world.clock() + timedelta(seconds=25)) == {}  # 10 s reserve + 20 s needed
    assert world.leonardo.list_calls == [] and world.orphans.started_at is None
    assert world.sweep.run(ends_at=world.clock() + timedelta(seconds=40)) != {}
