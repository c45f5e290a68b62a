"""The account breaker (issue 9, item 7): a wrong or revoked key, or no credits, holds every submit,
is reported every run, probed with backoff, cleared by the first good probe, and held jobs fail
after the hold instead of waiting forever."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from gencore.domain.account import AUTH, CREDITS, UNAVAILABLE, AccountGuard, AccountPolicy
from gencore.domain.errors import AccountRefused, LeonardoBusy
from gencore.domain.models import JobStatus
from gencore.domain.policy import Policy, epoch
from gencore.domain.ports import AccountStatus
from gencore.domain.reconcile import ACCOUNT_CALLS, Reconciler
from tests.support.fakes import (
    T0,
    FakeAccountStateStore,
    FakeClock,
    FakeEventQueue,
    FakeJobStore,
    FakeLeonardo,
    FakeSubmitQueue,
    make_job,
)

pytestmark = pytest.mark.unit

ACCOUNT = AccountPolicy(
    cache_seconds=5, probe_first_seconds=60, probe_max_seconds=900, hold_max_seconds=6 * 3600, fail_batch=3
)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def state():
    return FakeAccountStateStore()


@pytest.fixture
def guard(state, clock):
    return AccountGuard(state, clock, ACCOUNT)


# --- the guard ---------------------------------------------------------------------------------


def test_an_account_is_not_blocked_until_tripped(guard):
    assert guard.blocked() is None


def test_a_trip_blocks_with_its_reason_and_a_first_probe_a_minute_later(guard, clock):
    block = guard.trip(AUTH)
    assert (block.reason, block.since, block.next_probe_at, block.probes) == (
        AUTH, T0, T0 + timedelta(seconds=60), 0,
    )  # fmt: skip
    assert guard.blocked() == block


def test_a_second_trip_keeps_the_first_since_and_reason(guard, clock):
    first = guard.trip(AUTH)
    clock.advance(30)
    assert guard.trip(CREDITS) == first
    assert guard.blocked(fresh=True) == first


def test_an_unknown_reason_is_refused(guard):
    with pytest.raises(ValueError, match="reason"):
        guard.trip("leonardo_bored")


def test_answers_are_cached_for_a_few_seconds_by_the_injected_clock(guard, state, clock):
    assert guard.blocked() is None
    assert guard.blocked() is None
    assert state.loads == 1
    # Another process trips the account: seen once the cached answer is older than cache_seconds
    other = AccountGuard(state, clock, ACCOUNT)
    other.trip(AUTH)
    clock.advance(4.9)
    assert guard.blocked() is None
    clock.advance(0.2)
    assert guard.blocked() is not None
    assert state.loads == 2
    assert guard.blocked(fresh=True) is not None and state.loads == 3


def test_a_cache_of_zero_reads_every_time(state, clock):
    guard = AccountGuard(state, clock, AccountPolicy(cache_seconds=0))
    guard.blocked()
    guard.blocked()
    assert state.loads == 2


def test_a_probe_before_its_time_asks_leonardo_nothing(guard, clock):
    guard.trip(AUTH)
    leonardo = FakeLeonardo(statuses=[AccountStatus(ok=True)])
    clock.advance(59)
    assert guard.probe(leonardo) is False
    assert leonardo.account_calls == 0


def test_a_failed_probe_keeps_the_block_and_backs_off_doubling_to_fifteen_minutes(guard, clock):
    guard.trip(AUTH)
    leonardo = FakeLeonardo(statuses=[AccountStatus(ok=False, reason=AUTH)] * 6)
    delays = []
    for _ in range(6):
        clock.advance((guard.blocked(fresh=True).next_probe_at - clock()).total_seconds())
        assert guard.probe(leonardo) is False
        block = guard.blocked(fresh=True)
        delays.append((block.next_probe_at - clock()).total_seconds())
    assert delays == [120, 240, 480, 900, 900, 900]
    assert block.since == T0 and block.probes == 6 and leonardo.account_calls == 6


def test_a_good_probe_clears_the_block(guard, clock):
    guard.trip(CREDITS)
    clock.advance(60)
    leonardo = FakeLeonardo(statuses=[AccountStatus(ok=True, credits=120.0)])
    assert guard.probe(leonardo) is True
    assert guard.blocked() is None and guard.blocked(fresh=True) is None


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (LeonardoBusy("503"), AUTH),  # no verdict: the reason stays
        (AccountRefused("no credits", reason=CREDITS), CREDITS),  # the new reason is kept
        (AccountStatus(ok=False, reason=CREDITS, credits=0.0), CREDITS),
        (RuntimeError("secret unreadable"), AUTH),
    ],
)
def test_a_probe_without_a_good_answer_is_a_failed_probe(guard, clock, answer, reason):
    guard.trip(AUTH)
    clock.advance(60)
    assert guard.probe(FakeLeonardo(statuses=[answer])) is False
    block = guard.blocked(fresh=True)
    assert block.reason == reason and block.probes == 1 and block.since == T0


def test_a_block_tripped_anew_during_a_probe_stands(guard, state, clock):
    guard.trip(AUTH)
    clock.advance(60)

    class Racing(FakeLeonardo):
        def account(self):
            state.block = None  # cleared by someone else, then tripped anew...
            AccountGuard(state, clock, ACCOUNT).trip(CREDITS)
            return AccountStatus(ok=True)

    assert guard.probe(Racing()) is False  # ...that block is not ours to clear
    assert guard.blocked(fresh=True).reason == CREDITS


def test_the_hold_is_over_after_hold_max(guard, clock):
    block = guard.trip(AUTH)
    clock.advance(6 * 3600)
    assert not guard.hold_over(block)
    clock.advance(1)
    assert guard.hold_over(block)


# --- the reconciler with the guard ----------------------------------------------------------------


def _reconciler(guard, clock, store, leonardo, queue):
    policy = Policy(max_in_flight=4)
    return Reconciler(store, leonardo, FakeEventQueue(), queue, clock, policy, guard=guard)


def _line(store, n):
    return [
        store.add(make_job(JobStatus.QUEUED, created_at=T0 - timedelta(minutes=10 - i)), partition="L").id
        for i in range(n)
    ]


def test_blocked_and_the_probe_fails_still_blocked_backed_off_and_nobody_woken(guard, state, clock):
    store, queue = FakeJobStore(), FakeSubmitQueue()
    _line(store, 3)
    guard.trip(AUTH)
    clock.advance(60)
    leonardo = FakeLeonardo(statuses=[AccountStatus(ok=False, reason=AUTH)])

    outcomes = _reconciler(guard, clock, store, leonardo, queue).run()

    assert outcomes == {ACCOUNT_CALLS: 1, "account_probe_failed": 1}
    assert queue.sent == [] and len(store.line()) == 3
    block = guard.blocked(fresh=True)
    assert block.probes == 1 and block.next_probe_at == clock() + timedelta(seconds=120)


def test_blocked_and_no_probe_due_asks_leonardo_nothing_and_wakes_nobody(guard, clock):
    store, queue = FakeJobStore(), FakeSubmitQueue()
    _line(store, 2)
    guard.trip(AUTH)
    leonardo = FakeLeonardo()

    assert _reconciler(guard, clock, store, leonardo, queue).run() == {}
    assert leonardo.account_calls == 0 and queue.sent == []


def test_a_good_probe_clears_the_block_and_wakes_one_job_per_free_slot(guard, clock):
    store, queue = FakeJobStore(), FakeSubmitQueue()
    line = _line(store, 6)
    store.add(make_job(JobStatus.SUBMITTED, due_at=epoch(T0) + 3600))  # holds one of the 4 slots
    guard.trip(CREDITS)
    clock.advance(60)
    leonardo = FakeLeonardo(statuses=[AccountStatus(ok=True, credits=5000.0)])

    outcomes = _reconciler(guard, clock, store, leonardo, queue).run()

    assert outcomes == {ACCOUNT_CALLS: 1, "account_cleared": 1, "woken": 3}
    assert [job_id for job_id, _ in queue.sent] == line[:3]
    assert guard.blocked(fresh=True) is None


def test_a_block_older_than_the_hold_fails_the_head_of_the_line(guard, state, clock):
    store, queue = FakeJobStore(), FakeSubmitQueue()
    line = _line(store, 5)
    guard.trip(AUTH)
    state.backdate(6 * 3600 + 1)  # blocked for longer than jobs are held; next probe not yet due
    state.block = replace(state.block, next_probe_at=clock() + timedelta(seconds=30))
    leonardo = FakeLeonardo()

    outcomes = _reconciler(guard, clock, store, leonardo, queue).run()

    # Then a bounded number (fail_batch) of the longest waiting jobs fail, naming the reason
    assert outcomes == {UNAVAILABLE: 3}
    failed = [store.jobs[i] for i in line[:3]]
    assert all(j.status == JobStatus.FAILED and j.error_code == "leonardo_unavailable" for j in failed)
    assert all(AUTH in j.error_message for j in failed)
    assert store.line() == line[3:] and queue.sent == []
    assert leonardo.account_calls == 0
    # and the next run fails the rest
    assert _reconciler(guard, clock, store, leonardo, queue).run() == {UNAVAILABLE: 2}
    assert store.line() == []


def test_within_the_hold_no_job_fails(guard, state, clock):
    store, queue = FakeJobStore(), FakeSubmitQueue()
    line = _line(store, 2)
    guard.trip(AUTH)
    state.backdate(6 * 3600 - 120)
    leonardo = FakeLeonardo(statuses=[AccountStatus(ok=False, reason=AUTH)])

    outcomes = _reconciler(guard, clock, store, leonardo, queue).run()

    assert UNAVAILABLE not in outcomes and store.line() == line


def test_without_a_guard_the_reconciler_wakes_as_before(clock):
    store, queue = FakeJobStore(), FakeSubmitQueue()
    _line(store, 2)
    reconciler = Reconciler(store, FakeLeonardo(), FakeEventQueue(), queue, clock, Policy(max_in_flight=4))
    assert reconciler.run() == {"woken": 2}
