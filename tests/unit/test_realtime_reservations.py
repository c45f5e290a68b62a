"""A realtime call's reservation is never left behind (domain/call_sweep.py), read as a specification
on an in-memory ledger: the reservation records the call as open, its settlement closes it once, and
the reconciler's sweep settles each call still open past its due time at its estimate, a bounded
number per run."""

from __future__ import annotations

import base64
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from PIL import Image

from gencore.domain.call_sweep import CALL_LOST_AFTER, CallSweep, OpenCall, open_call
from gencore.domain.errors import SubmitOutcomeUnknown
from gencore.domain.ledger import reserve
from gencore.domain.models import Cost
from gencore.domain.plans import Budget
from gencore.domain.rate_limits import BucketLimit, TokenBuckets
from gencore.domain.realtime import CallerPlan, Realtime, RealtimeRequest
from tests.support.fakes import FakeBucketStore, FakeClock

pytestmark = pytest.mark.unit
PLAN = CallerPlan("pro", Budget(per_day=Decimal(100), per_month=Decimal(1000)))


class Crash(BaseException):
    """The invocation dies (a timeout, an out-of-memory kill): nothing after it runs."""


def data_url() -> str:
    data = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(data, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.getvalue()).decode()


class Canvas:
    def __init__(self, answer=None) -> None:
        self.answer = answer

    def realtime(self, route, body):
        if isinstance(self.answer, BaseException):
            raise self.answer
        return [data_url()], Cost(amount="1", unit="CREDITS")


class CallLedger:
    """The ledger's periods and the calls' records, as DynamoCallLedger keeps them: the reservation and
    the open record together, the settlement conditional on the record being open."""

    def __init__(self) -> None:
        self.reserved, self.spent = Decimal(0), Decimal(0)
        self.open: dict[str, OpenCall] = {}
        self.settlements: list[tuple[str, Decimal | None]] = []
        self.crash_on_settle: BaseException | None = None

    def reserve(self, user_id, charge, budget, *, plan):
        self.reserved += Decimal(charge.estimate)
        self.open[charge.call_id] = OpenCall(user_id=user_id, charge=charge)

    def settle(self, user_id, charge, amount):
        if self.crash_on_settle is not None:
            raise self.crash_on_settle
        if self.open.pop(charge.call_id, None) is None:
            return False
        self.reserved -= Decimal(charge.estimate)
        self.spent += amount or Decimal(0)
        self.settlements.append((charge.call_id, amount))
        return True

    def due(self, *, now, limit):
        due = sorted((c for c in self.open.values() if c.charge.due_at <= now), key=lambda c: c.charge.due_at)
        return due[:limit]


def realtime(ledger: CallLedger, clock: FakeClock, canvas: Canvas | None = None) -> Realtime:
    buckets = TokenBuckets(FakeBucketStore(), clock)
    return Realtime(
        canvas or Canvas(), buckets, ledger, Keeper(), clock, BucketLimit(capacity=100, per_second=1)
    )


class Keeper:
    def keep(self, user_id, content_type, data):  # pragma: no cover - no call here keeps a picture
        raise AssertionError("nothing is kept")


def request(width: int = 1024) -> RealtimeRequest:
    return RealtimeRequest(image=data_url(), prompt="a fox", width=width)  # 1024 px: an estimate of 2


def crashed_call(ledger: CallLedger, clock: FakeClock) -> None:
    """A call whose invocation died after Leonardo answered, before its settlement."""
    ledger.crash_on_settle = Crash()
    with pytest.raises(Crash):
        realtime(ledger, clock).run("alice", PLAN, "generate", request())
    ledger.crash_on_settle = None


def test_a_call_whose_invocation_died_is_settled_at_its_estimate_once_due_and_not_before():
    # Given a call reserved (estimate 2) whose invocation died before settling it
    ledger, clock = CallLedger(), FakeClock()
    crashed_call(ledger, clock)
    assert ledger.reserved == 2 and len(ledger.open) == 1
    sweep = CallSweep(ledger, clock)

    # When the sweep runs before the call is due, Then it leaves the call alone
    clock.advance((CALL_LOST_AFTER - timedelta(seconds=1)).total_seconds())
    assert sweep.run() == {"settled": 0, "gone": 0, "failed": 0} and ledger.reserved == 2

    # When it runs once the call is due, Then the reservation is spent at the estimate
    clock.advance(1)
    assert sweep.run() == {"settled": 1, "gone": 0, "failed": 0}
    assert (ledger.reserved, ledger.spent) == (0, 2) and ledger.open == {}
    # And a later run finds nothing
    assert sweep.run() == {"settled": 0, "gone": 0, "failed": 0} and ledger.spent == 2


def test_a_call_settled_by_its_own_invocation_is_left_alone_by_the_sweep():
    ledger, clock = CallLedger(), FakeClock()
    realtime(ledger, clock).run("alice", PLAN, "generate", request())
    assert (ledger.reserved, ledger.spent) == (0, 1) and ledger.open == {}  # Leonardo's cost

    clock.advance(CALL_LOST_AFTER.total_seconds() * 10)
    assert CallSweep(ledger, clock).run() == {"settled": 0, "gone": 0, "failed": 0}
    assert (ledger.reserved, ledger.spent) == (0, 1)


def test_a_call_whose_answer_was_lost_is_settled_once_at_its_estimate_by_its_invocation():
    ledger, clock = CallLedger(), FakeClock()
    with pytest.raises(SubmitOutcomeUnknown):
        realtime(ledger, clock, Canvas(SubmitOutcomeUnknown("read timeout"))).run(
            "alice", PLAN, "generate", request()
        )
    clock.advance(CALL_LOST_AFTER.total_seconds())
    assert CallSweep(ledger, clock).run()["settled"] == 0
    assert (ledger.reserved, ledger.spent) == (0, 2)


def test_a_settlement_the_ledger_failed_is_left_open_for_the_sweep():
    # Given the settlement's write fails (the invocation answers anyway and logs it)
    ledger, clock = CallLedger(), FakeClock()
    ledger.crash_on_settle = RuntimeError("throttled")
    answer = realtime(ledger, clock).run("alice", PLAN, "generate", request())
    ledger.crash_on_settle = None
    assert answer.pictures and ledger.reserved == 2

    # Then the sweep settles it at its estimate once due
    clock.advance(CALL_LOST_AFTER.total_seconds())
    assert CallSweep(ledger, clock).run()["settled"] == 1 and (ledger.reserved, ledger.spent) == (0, 2)


def test_a_sweep_racing_the_calls_own_settlement_settles_it_once():
    # Given a slow call: the sweep lists it as due just as its invocation settles it
    ledger, clock = CallLedger(), FakeClock()
    charge = open_call(reserve(Decimal(2), "CREDITS", clock()), clock())
    ledger.reserve("alice", charge, PLAN.budget, plan="pro")
    clock.advance(CALL_LOST_AFTER.total_seconds())

    class Racing:
        def due(self, *, now, limit):
            listed = ledger.due(now=now, limit=limit)
            assert ledger.settle("alice", charge, Decimal(1))  # the invocation wins the race
            return listed

        settle = staticmethod(ledger.settle)

    # When the sweep tries to settle it, Then it finds it settled: the ledger moved once
    assert CallSweep(Racing(), clock).run() == {"settled": 0, "gone": 1, "failed": 0}
    assert (ledger.reserved, ledger.spent) == (0, 1) and ledger.settlements == [(charge.call_id, Decimal(1))]


def test_the_sweep_settles_a_bounded_number_of_calls_per_run_oldest_first():
    ledger, clock = CallLedger(), FakeClock()
    for _ in range(7):
        charge = open_call(reserve(Decimal(1), "CREDITS", clock()), clock())
        ledger.reserve("alice", charge, PLAN.budget, plan="pro")
        clock.advance(1)
    first = sorted(ledger.open.values(), key=lambda c: c.charge.due_at)[:3]
    clock.advance(CALL_LOST_AFTER.total_seconds())
    sweep = CallSweep(ledger, clock, limit=3)

    assert sweep.run()["settled"] == 3
    assert [call_id for call_id, _ in ledger.settlements] == [c.charge.call_id for c in first]
    assert sweep.run()["settled"] == 3 and sweep.run()["settled"] == 1 and ledger.reserved == 0


def test_one_call_that_cannot_be_settled_does_not_hold_the_others_back():
    ledger, clock = CallLedger(), FakeClock()
    for _ in range(3):
        ledger.reserve("alice", open_call(reserve(Decimal(1), "CREDITS", clock()), clock()), None, plan=None)
    clock.advance(CALL_LOST_AFTER.total_seconds())
    broken = next(iter(ledger.open))

    class Flaky:
        due = staticmethod(ledger.due)

        def settle(self, user_id, charge, amount):
            if charge.call_id == broken:
                raise RuntimeError("throttled")
            return ledger.settle(user_id, charge, amount)

    assert CallSweep(Flaky(), clock).run() == {"settled": 2, "gone": 0, "failed": 1}
    assert CallSweep(ledger, clock).run() == {"settled": 1, "gone": 0, "failed": 0}  # tried again next run
    assert ledger.reserved == 0 and ledger.spent == 3


def test_a_call_is_due_a_few_minutes_after_it_was_reserved():
    clock = FakeClock()
    charge = open_call(reserve(Decimal(2), "CREDITS", clock()), clock())
    assert charge.due_at - charge.created_at == CALL_LOST_AFTER >= timedelta(minutes=1)
    assert charge.state == "reserved" and charge.estimate == "2" and len(charge.call_id) == 32
    assert open_call(reserve(Decimal(2), "CREDITS", clock()), clock()).call_id != charge.call_id
