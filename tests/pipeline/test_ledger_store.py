"""The credit ledger in DynamoDB (adapters/ledger.py through the job store), on moto: a reservation
is written with its job or not at all, racing accepts for the last credits let exactly the budget
through, and every later job write moves the ledger in its own transaction, once."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencore import wiring
from gencore.adapters.dynamo import DynamoJobStore
from gencore.adapters.ledger import DynamoLedger
from gencore.domain.admission import Admission
from gencore.domain.errors import TransitionConflict
from gencore.domain.estimates import Estimate
from gencore.domain.generations import Generations
from gencore.domain.ledger import BudgetExceeded, reserve
from gencore.domain.models import Cost, Job, JobStatus
from gencore.domain.plans import Budget
from gencore.domain.policy import Policy
from gencore.domain.requests import ImageGenerationRequest
from gencore.domain.sources import Sources
from tests.support.fakes import image_pool
from tests.support.plans import plans_document

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
BUDGET = Budget(per_day=Decimal("10"), per_month=Decimal("100"))


@pytest.fixture
def store(stack) -> DynamoJobStore:
    return DynamoJobStore(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])


@pytest.fixture
def ledger(stack) -> DynamoLedger:
    return DynamoLedger(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])


def charged_job(user: str = "alice", estimate: str = "4") -> Job:
    return Job(
        id=str(uuid.uuid4()), user_id=user, status=JobStatus.QUEUED, request={"prompt": "p"}, created_at=NOW,
        updated_at=NOW, leonardo_seed=1, charge=reserve(Decimal(estimate), "CREDITS", NOW),
    )  # fmt: skip


def today(ledger: DynamoLedger, user: str = "alice"):
    day = NOW.strftime("%Y-%m-%d")
    usage = ledger.period(user, "day", day)
    month = ledger.period(user, "month", NOW.strftime("%Y-%m"))
    assert (usage.reserved, usage.spent) == (month.reserved, month.spent)
    return usage.reserved, usage.spent


def create(store: DynamoJobStore, job: Job) -> None:
    assert store.create(job, dedupe_key=f"k-{job.id}", dedupe_expires_at=2**40, budget=BUDGET) is None


def test_a_job_and_its_reservation_are_written_together_or_not_at_all(store, ledger):
    create(store, first := charged_job())
    create(store, charged_job())
    with pytest.raises(BudgetExceeded) as refused:
        create(store, third := charged_job())
    assert refused.value.period == "day" and refused.value.remaining == Decimal(2)
    assert store.get(third.id) is None and store.get(first.id).charge.state == "reserved"
    assert today(ledger) == (Decimal(8), 0)


def test_an_estimate_larger_than_the_whole_budget_is_refused_on_an_empty_ledger(store, ledger):
    with pytest.raises(BudgetExceeded) as refused:
        create(store, charged_job(user="dave", estimate="11"))
    assert refused.value.remaining == Decimal(10) and today(ledger, "dave") == (0, 0)


def test_racing_accepts_for_the_last_credits_let_exactly_the_budget_through(stack, store, ledger):
    admission = Admission(plans_document(free={"per_day": 10, "per_month": 100}),
                          lambda request, kind: Estimate(Decimal(3), "CREDITS", "table"))  # fmt: skip
    generations = Generations(store, wiring.submit_queue(), Sources(store), lambda: NOW, Policy(),
                              admission=admission)  # fmt: skip
    passed, refused, barrier = [], [], threading.Barrier(8)

    def click(n: int) -> None:
        barrier.wait()
        try:
            passed.append(generations.create("erin", ImageGenerationRequest(prompt=f"race {n}"), plan="free"))
        except BudgetExceeded:
            refused.append(n)

    threads = [threading.Thread(target=click, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(passed), len(refused)) == (3, 5) and today(ledger, "erin") == (Decimal(9), 0)


def test_a_reported_cost_settles_in_the_submit_write(store, ledger):
    create(store, job := charged_job())
    claim = store.claim_slot(job.id, pools=image_pool(10), now=NOW, lease_seconds=60)
    job = store.begin_post(claim.job, now=NOW, fingerprint=f"fp-{job.id}", lock_expires_at=2**40)
    submitted = store.mark_submitted(
        job, generation_id=f"gen-{job.id}", cost=Cost(amount="3.5", unit="CREDITS"), now=NOW, due_at=0
    )
    assert submitted.charge.state == "settled" and store.get(job.id).charge.amount == "3.5"
    assert today(ledger) == (0, Decimal("3.5"))


def test_a_cancel_releases_in_its_own_write_and_a_stale_writer_cannot_move_the_ledger_again(store, ledger):
    create(store, job := charged_job())
    store.cancel(job, now=NOW)
    assert store.get(job.id).charge.state == "released" and today(ledger) == (0, 0)
    with pytest.raises(TransitionConflict):
        store.transition(job, JobStatus.FAILED, now=NOW, error_code="timed_out")  # read before the cancel
    assert today(ledger) == (0, 0)


def test_a_job_without_a_charge_leaves_the_ledger_alone(store, ledger):
    job = charged_job(user="frank").model_copy(update={"charge": None})
    assert store.create(job, dedupe_key=f"k-{job.id}", dedupe_expires_at=2**40) is None
    store.cancel(job, now=NOW)
    assert today(ledger, "frank") == (0, 0)
