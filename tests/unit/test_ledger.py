"""The credit ledger, read as a specification (domain/ledger.py): an accept reserves the job's
estimate against the caller's daily and monthly budgets, or is refused with nothing stored; every
way a job ends settles the reservation at what Leonardo charged (or the estimate, when it may have
charged without saying) or releases it when nothing was paid, so reservations balance to zero.

The use cases run on in-memory fakes whose store moves the ledger with the job, as the real store
does in the same transaction (tests/pipeline/test_ledger_store.py proves that one)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencore.domain.admission import Admission
from gencore.domain.errors import LeonardoRejected
from gencore.domain.estimates import Estimate
from gencore.domain.generations import Generations
from gencore.domain.ledger import BudgetExceeded, Pricing, charge_after, resets_at
from gencore.domain.models import Cost, JobStatus
from gencore.domain.policy import Policy
from gencore.domain.requests import ImageGenerationRequest
from gencore.domain.sources import Sources
from tests.support.fakes import FakeClock, FakeSubmitQueue
from tests.support.plans import plans_document

pytestmark = pytest.mark.unit
DAY, MONTH = "2026-12-04", "2026-12"  # FakeClock's periods
ESTIMATE = Decimal("2")  # what the fake estimate says every job costs
PLANS = plans_document(free={"per_day": 5, "per_month": 40}, pro={"per_day": 10**6, "per_month": 10**6})


def admission(plans=PLANS) -> Admission:
    return Admission(plans, lambda request, kind: Estimate(ESTIMATE, "CREDITS", "table"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))


@pytest.fixture
def queue() -> FakeSubmitQueue:
    return FakeSubmitQueue()


@pytest.fixture
def generations(store, queue, clock) -> Generations:
    return Generations(store, queue, Sources(store), clock, Policy(), admission=admission())


def accept(generations, prompt="a fox", *, user="alice", plan="free", **fields):
    job, created = generations.create(user, ImageGenerationRequest(prompt=prompt, **fields), plan=plan)
    assert created
    return job


def held(store, user="alice"):
    """(reserved, spent) today and this month."""
    day, month = store.spent(user, "day", DAY), store.spent(user, "month", MONTH)
    assert (day.reserved, day.spent) == (month.reserved, month.spent)  # one job, both periods alike
    return day.reserved, day.spent


def test_an_accept_reserves_the_estimate_in_the_day_and_the_month(generations, store):
    job = accept(generations)
    assert job.charge.state == "reserved" and job.charge.estimate == "2" and job.charge.unit == "CREDITS"
    assert (job.charge.day, job.charge.month) == (DAY, MONTH)
    assert held(store) == (Decimal(2), 0)


def test_a_repeated_click_is_the_same_job_and_reserves_nothing_more(generations, store):
    first = accept(generations)
    again, created = generations.create("alice", ImageGenerationRequest(prompt="a fox"), plan="free")
    assert not created and again.id == first.id and held(store) == (Decimal(2), 0)


def test_over_the_daily_budget_nothing_is_stored_and_the_refusal_says_what_is_left(generations, store, queue):
    accept(generations, "one"), accept(generations, "two")  # 4 of 5 credits
    with pytest.raises(BudgetExceeded) as refused:
        accept(generations, "three")
    error = refused.value
    assert error.code == "budget_exceeded" and error.period == "day"
    assert error.details == {"period": "day", "remaining": "1", "unit": "CREDITS",
                             "resets_at": "2026-12-05T00:00:00Z"}  # fmt: skip
    assert len(store.jobs) == 2 and len(queue.sent) == 2 and held(store) == (Decimal(4), 0)


def test_another_plan_or_another_user_has_budgets_of_its_own(generations, store):
    for n in range(2):
        accept(generations, f"alice {n}")
    accept(generations, "bob's", user="bob")
    for n in range(10):
        accept(generations, f"pro {n}", user="carol", plan="pro")  # another plan's budget
    assert store.spent("carol", "day", DAY).reserved == Decimal(20)


def test_the_monthly_budget_counts_every_day_of_the_month(store, queue, clock):
    plans = plans_document(free={"per_day": 4, "per_month": 6})
    generations = Generations(store, queue, Sources(store), clock, Policy(), admission=admission(plans))
    accept(generations, "a"), accept(generations, "b")
    clock.advance(23 * 3600)  # the next day, the same month
    accept(generations, "c")
    with pytest.raises(BudgetExceeded) as refused:
        accept(generations, "d")
    assert refused.value.period == "month" and refused.value.resets_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_racing_accepts_for_the_last_credits_let_exactly_the_budget_through(generations, store):
    passed, refused = [], []
    barrier = threading.Barrier(12)

    def click(n: int) -> None:
        barrier.wait()
        try:
            passed.append(accept(generations, f"race {n}"))
        except BudgetExceeded:
            refused.append(n)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(passed) == 2 and len(refused) == 10 and held(store) == (Decimal(4), 0)


# --- every way a job ends -------------------------------------------------------------------------
def test_a_cost_reported_by_the_post_settles_the_reservation(generations, submitter, store):
    job = accept(generations)
    assert submitter.submit(job.id).outcome == "submitted"  # PaidLeonardo reports 1.5 credits
    charge = store.get(job.id).charge
    assert (charge.state, charge.amount, charge.source) == ("settled", "1.5", "leonardo")
    assert held(store) == (0, Decimal("1.5"))


def test_a_generation_adopted_without_a_cost_settles_at_its_estimate_when_it_completes(
    generations, submitter, store, leonardo, clock
):
    leonardo.script = ["unknown"]
    job = accept(generations)
    assert submitter.submit(job.id).outcome == "adopted"
    assert store.get(job.id).charge.state == "reserved"  # Leonardo never said what it cost
    finishing = store.transition(store.get(job.id), JobStatus.FINALIZING, now=clock())
    done = store.transition(finishing, JobStatus.COMPLETE, now=clock())
    assert (done.charge.state, done.charge.amount, done.charge.source) == ("settled", "2", "estimate")
    assert held(store) == (0, Decimal(2))


def test_a_cancelled_job_releases_its_reservation(generations, store, clock):
    job = accept(generations)
    cancelled = store.cancel(job, now=clock())
    assert cancelled.charge.state == "released" and held(store) == (0, 0)


def test_a_job_refused_by_leonardo_releases_its_reservation(generations, submitter, store, leonardo):
    leonardo.script = [LeonardoRejected("modelId is not valid")]
    job = accept(generations)
    assert submitter.submit(job.id).outcome == "failed"
    assert store.get(job.id).charge.state == "released" and held(store) == (0, 0)


def test_a_job_failed_before_anything_was_sent_releases_its_reservation(generations, store, clock):
    job = accept(generations)
    failed = store.transition(job, JobStatus.FAILED, now=clock(), error_code="upload_unavailable")
    assert failed.charge.state == "released" and held(store) == (0, 0)


def test_a_post_whose_outcome_stayed_unknown_settles_at_the_estimate(
    generations, submitter, store, leonardo, clock
):
    from gencore.domain.errors import LeonardoBusy

    leonardo.script = ["lost"]
    leonardo.list_error = LeonardoBusy("down")
    job = accept(generations)
    submitter.submit(job.id)
    clock.advance(Policy().max_job_age_seconds + 1)
    assert submitter.submit(job.id).outcome == "failed"
    charge = store.get(job.id).charge
    assert (charge.state, charge.amount, charge.source) == ("settled", "2", "estimate")  # it may have paid


def test_a_generation_leonardo_reports_failed_is_not_charged(generations, submitter, store, clock):
    job = accept(generations)
    submitter.submit(job.id)
    assert held(store) == (0, Decimal("1.5"))
    job = store.get(job.id)
    failed = store.transition(job, JobStatus.FAILED, now=clock(), error_code="generation_failed")
    assert failed.charge.state == "released" and held(store) == (0, 0)


@pytest.mark.parametrize("error_code", ["no_outputs", "output_too_large", "timed_out"])
def test_a_job_that_fails_after_leonardo_generated_it_stays_charged(
    generations, submitter, store, clock, error_code
):
    job = accept(generations)
    submitter.submit(job.id)
    failed = store.transition(store.get(job.id), JobStatus.FAILED, now=clock(), error_code=error_code)
    assert failed.charge.state == "settled" and held(store) == (0, Decimal("1.5"))


def test_deleting_a_finished_job_changes_nothing(generations, store, clock):
    job = accept(generations)
    failed = store.cancel(job, now=clock())
    deleted = store.transition(failed, JobStatus.DELETED, now=clock())
    assert deleted.charge == failed.charge and held(store) == (0, 0)


# --- units ----------------------------------------------------------------------------------------
def test_a_cost_in_the_other_unit_is_converted_at_the_price_of_a_credit(generations, store, clock):
    job = accept(generations)
    dollars = Cost(amount="0.0147", unit="DOLLARS")
    priced = Pricing(unit="CREDITS", dollars_per_credit=Decimal("0.0049"))
    assert charge_after(job, {"cost": dollars}, priced).amount == "3"
    assert charge_after(job, {"cost": dollars}, Pricing(unit="CREDITS")).state == "reserved"  # no price


def test_periods_reset_at_the_start_of_the_next_utc_day_and_month():
    assert resets_at("day", "2026-12-31") == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("month", "2026-02") == datetime(2026, 3, 1, tzinfo=UTC)


def test_a_job_expired_in_the_queue_releases_its_reservation(generations, submitter, store, clock):
    job = accept(generations)
    clock.advance(PLANS.plan_for("free").max_queue_seconds + 1)
    assert submitter.submit(job.id).outcome == "failed"
    expired = store.get(job.id)
    assert expired.error_code == "expired_in_queue" and expired.charge.state == "released"
    assert held(store) == (0, 0)
