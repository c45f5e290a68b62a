"""Issue 12's observability through the real functions and adapters (moto + the simulator): the cost
log line and metrics of each job's charge, whichever function wrote it; the 402's count and line;
the account's balance read at a bounded rate; the top spenders from the TopSpenders index."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from gencore import wiring
from gencore.adapters.account import DynamoBalanceState
from gencore.adapters.dynamo import DynamoJobStore
from gencore.adapters.ledger import SPEND_SHARDS, DynamoLedger, spend_partition
from gencore.domain.balance import BalanceReading
from gencore.domain.ledger import reserve
from gencore.domain.models import Cost, Job, JobStatus
from gencore.domain.plans import Budget
from gencore.domain.spend import pseudonym
from ops.cli import main as ops

from .test_generation_flow import PROMPT, callback_for, submit_one
from .test_guardrails import job, small_budgets  # noqa: F401 (a fixture)

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)
DAY = NOW.strftime("%Y-%m-%d")


@pytest.fixture(autouse=True)
def _info(caplog):
    caplog.set_level(logging.INFO)


def printed(capsys) -> list[dict]:
    """The EMF metric blobs (and any other JSON lines) the functions printed."""
    lines = []
    for line in capsys.readouterr().out.splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


def metric(lines: list[dict], name: str) -> list[float]:
    found = []
    for line in lines:
        if name in line and "_aws" in line:
            value = line[name]
            found.extend(value if isinstance(value, list) else [value])
    return found


def logged(caplog, message: str) -> list[dict]:
    """The log records with this message, as the JSON line's keys (the Logger's stream is bound to
    the first test's stdout, so lines are read from the records; a None key is left out, as there)."""
    records = [r for r in caplog.records if r.getMessage() == message]
    caplog.clear()
    return [{k: v for k, v in vars(r).items() if v is not None} for r in records]


# --- the functions ---------------------------------------------------------------------------------


def test_a_job_is_counted_at_accept_and_at_settlement_with_one_line_and_no_prompt(pipeline, capsys, caplog):
    capsys.readouterr()
    item = submit_one(pipeline, user="carol@example.com")
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
    lines = printed(capsys)

    estimate = Decimal(item["charge"]["estimate"])
    assert metric(lines, "CreditsReserved") == [float(estimate)]  # the API, at accept
    [settled] = metric(lines, "CreditsSettled")  # the submitter, when Leonardo answered its cost
    [line] = logged(caplog, "job charge settled")
    assert line["job_id"] == item["id"] and line["user"] == pseudonym("carol@example.com")
    assert (line["kind"], line["unit"], line["settled_from"]) == ("text_to_image", "CREDITS", "leonardo")
    assert Decimal(line["settled"]) == Decimal(str(settled)) and Decimal(line["reserved"]) == estimate
    everything = json.dumps(lines) + json.dumps(line, default=str)
    assert PROMPT["prompt"] not in everything and "carol@example.com" not in everything


def test_a_cancelled_job_is_counted_and_logged_as_released(pipeline, capsys, caplog):
    status, accepted = pipeline.api("POST", "/v1/generations", body=PROMPT)
    assert status == 202
    capsys.readouterr()
    assert pipeline.api("POST", f"/v1/generations/{accepted['id']}/cancel")[0] == 200
    lines = printed(capsys)
    [line] = logged(caplog, "job charge released")
    assert line["job_id"] == accepted["id"] and line.get("settled") is None  # None: not logged
    assert metric(lines, "CreditsReleased") == [float(line["reserved"])]


def test_a_budget_refusal_is_counted_and_logged_under_the_users_pseudonym(small_budgets, capsys, caplog):  # noqa: F811
    pipeline = small_budgets
    for n in range(2):
        assert (
            pipeline.api("POST", "/v1/generations", body=job(f"fox {n}"), plan="free", user="dora")[0] == 202
        )
    capsys.readouterr()
    status, _ = pipeline.api("POST", "/v1/generations", body=job("fox 2"), plan="free", user="dora")
    assert status == 402
    lines = printed(capsys)
    assert metric(lines, "BudgetRefusals") == [1]
    [line] = logged(caplog, "budget refused")
    assert (line["user"], line["plan"], line["period"]) == (pseudonym("dora"), "free", "day")
    assert "dora" not in json.dumps(line, default=str)


def test_the_reconciler_publishes_the_balance_once_per_interval(pipeline, capsys):
    balance = pipeline.stack.simulator.config.starting_credits
    capsys.readouterr()
    pipeline.reconcile()
    assert metric(printed(capsys), "AccountBalance") == [balance]
    pipeline.reconcile()  # a minute later: the interval (600 s) has not passed
    assert metric(printed(capsys), "AccountBalance") == []
    reading = wiring.balance_state().last()
    assert (reading.amount, reading.unit) == (Decimal(balance), "CREDITS")
    env = pipeline.stack.env
    assert ops(["account", "show", "--local", "--endpoint-url", env["AWS_ENDPOINT_URL"],
                "--table", env["JOBS_TABLE"]]) == 0  # fmt: skip
    assert f"balance: {balance} CREDITS" in capsys.readouterr().out


def test_an_account_billed_in_dollars_publishes_its_balance_in_dollars(pipeline, monkeypatch, capsys):
    simulator = pipeline.stack.simulator
    simulator.configure(cost_unit="DOLLARS")
    try:
        monkeypatch.setenv("BILLING_UNIT", "DOLLARS")
        monkeypatch.setenv("PLANS_DOCUMENT", "")  # the shipped plans are kept in credits
        monkeypatch.setenv("DOLLARS_PER_CREDIT", "0.0012")
        wiring.reset()
        capsys.readouterr()
        pipeline.reconcile()
    finally:
        simulator.configure(cost_unit="CREDITS")
    [published] = metric(printed(capsys), "AccountBalance")
    assert published == pytest.approx(simulator.config.starting_credits * 0.0012)
    assert wiring.balance_state().last().unit == "DOLLARS"


# --- the adapters ----------------------------------------------------------------------------------


@pytest.fixture
def reports(stack):
    seen: list[tuple[str, str | None, str]] = []
    store = DynamoJobStore(
        wiring.aws("dynamodb"), stack.env["JOBS_TABLE"],
        on_charge=lambda job, before, after: seen.append((job.id, before and before.state, after.state)),
    )  # fmt: skip
    return store, seen


def charged(user: str, estimate: str, plan: str = "free") -> Job:
    return Job(
        id=str(uuid.uuid4()), user_id=user, status=JobStatus.QUEUED, request={"prompt": "p"}, created_at=NOW,
        updated_at=NOW, leonardo_seed=1, plan=plan, charge=reserve(Decimal(estimate), "CREDITS", NOW),
    )  # fmt: skip


def create(store, job: Job) -> None:
    budget = Budget(per_day=Decimal(1000), per_month=Decimal(1000))
    assert store.create(job, dedupe_key=f"k-{job.id}", dedupe_expires_at=2**40, budget=budget) is None


def test_the_store_reports_each_committed_change_of_a_charge_once(reports):
    store, seen = reports
    create(store, first := charged("erin", "8"))
    submitted = store.transition(
        first, JobStatus.SUBMITTED, now=NOW, generation_id="g-1", cost=Cost(amount="6", unit="CREDITS")
    )
    store.update(submitted, now=NOW, checks=1)  # no charge change: no report
    create(store, second := charged("erin", "4"))
    store.cancel(second, now=NOW)
    assert seen == [
        (first.id, None, "reserved"), (first.id, "reserved", "settled"),
        (second.id, None, "reserved"), (second.id, "reserved", "released"),
    ]  # fmt: skip


def test_an_observer_that_fails_never_fails_the_write(stack):
    def broken(*_):
        raise RuntimeError("metrics are down")

    store = DynamoJobStore(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"], on_charge=broken)
    create(store, job := charged("fay", "3"))
    assert store.cancel(job, now=NOW).status == JobStatus.CANCELLED
    assert store.get(job.id).charge.state == "released"


def test_the_top_spenders_come_from_the_index_across_shards_largest_first(stack):
    store = DynamoJobStore(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    ledger = DynamoLedger(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    users = {f"user-{n}": str(10 * (n + 1)) for n in range(8)}
    assert len({spend_partition(user, "day", DAY) for user in users}) == SPEND_SHARDS  # every shard used
    for user, estimate in users.items():
        create(store, charged(user, estimate, plan="pro" if user == "user-7" else "free"))
    released = charged("user-0", "500")  # the largest reservation, given back: committed no more
    create(store, released)
    store.cancel(released, now=NOW)

    top = ledger.top("day", DAY, limit=3)

    assert [s.user_id for s in top] == ["user-7", "user-6", "user-5"]
    assert (top[0].period.committed, top[0].period.reserved, top[0].jobs, top[0].plan) == (80, 80, 1, "pro")
    month = ledger.top("month", NOW.strftime("%Y-%m"), limit=20)
    assert len(month) == 8 and month[-1].user_id == "user-0" and month[-1].jobs == 2


def test_the_balance_is_claimed_once_per_interval_and_never_replaced_by_an_older_answer(stack):
    state = DynamoBalanceState(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])
    assert state.last() is None
    assert state.claim_read(now=NOW, every_seconds=600) is True
    assert state.claim_read(now=NOW + timedelta(seconds=599), every_seconds=600) is False
    assert state.claim_read(now=NOW + timedelta(seconds=600), every_seconds=600) is True
    newer = BalanceReading(Decimal("12.4567"), "DOLLARS", NOW + timedelta(seconds=600))
    state.record(newer)
    state.record(BalanceReading(Decimal("99"), "DOLLARS", NOW))
    assert state.last() == newer
