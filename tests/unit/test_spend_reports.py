"""Issue 12, observability: every change of a job's charge is reported once as metrics in the
billing unit and, when it settles or is released, one log line naming the user only by a pseudonym
and never carrying the prompt; a budget refusal is counted and logged per pseudonym."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencore.domain.ledger import reserve
from gencore.domain.models import Job, JobStatus
from gencore.domain.spend import charge_report, pseudonym
from gencore.spend_log import BUDGET_REFUSED, report_budget_refusal, report_charge

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
PROMPT = "a secret lighthouse at dusk"
RESERVED = reserve(Decimal("12"), "CREDITS", NOW)
SETTLED = RESERVED.model_copy(update={"state": "settled", "amount": "9", "source": "leonardo"})
RELEASED = RESERVED.model_copy(update={"state": "released"})


def job(**fields) -> Job:
    request = {"prompt": PROMPT, "model_id": "b24e16ff-06e3-43eb-8d33-4416c2d75876", "num_images": 3}
    return Job(
        id="job-1", user_id="alice@example.com", status=JobStatus.COMPLETE, request=request, created_at=NOW,
        updated_at=NOW, plan="free", charge=RESERVED, **fields,
    )  # fmt: skip


@pytest.fixture
def recorded(monkeypatch):
    from gencore.observability import metrics

    seen: dict[str, float] = {}
    monkeypatch.setattr(
        metrics,
        "add_metric",
        lambda *, name, unit, value, **_: seen.__setitem__(name, seen.get(name, 0) + value),
    )
    return seen


def test_a_pseudonym_is_stable_short_and_not_the_id():
    assert pseudonym("alice") == pseudonym("alice") != pseudonym("bob")
    assert len(pseudonym("alice")) == 16 and "alice" not in pseudonym("alice")


@pytest.mark.parametrize(
    ("before", "after", "event", "amount"),
    [
        (None, RESERVED, "reserved", Decimal(12)),
        (RESERVED, SETTLED, "settled", Decimal(9)),
        (RESERVED, RELEASED, "released", Decimal(12)),  # the reservation given back
        (SETTLED, RELEASED, "released", Decimal(9)),  # a settlement refunded
    ],
)
def test_each_change_of_state_is_one_report_of_what_it_moved(before, after, event, amount):
    report = charge_report(job(), before, after)
    assert (report.event, report.amount, report.reserved) == (event, amount, Decimal(12))
    assert (report.kind, report.images, report.plan, report.unit) == ("text_to_image", 3, "free", "CREDITS")
    assert report.model == "b24e16ff-06e3-43eb-8d33-4416c2d75876"


def test_a_charge_that_keeps_its_state_is_not_reported():
    assert charge_report(job(), RESERVED, RESERVED) is None
    assert charge_report(job(), SETTLED, SETTLED.model_copy(update={"amount": "10"})) is None


def test_a_settlement_is_counted_in_its_unit_and_logged_without_the_prompt_or_the_user(recorded, caplog):
    caplog.set_level(logging.INFO)
    report_charge(job(), RESERVED, SETTLED)

    assert recorded == {"CreditsSettled": 9}
    [line] = [r for r in caplog.records if r.getMessage() == "job charge settled"]
    fields = {
        k: getattr(line, k)
        for k in ("user", "plan", "kind", "model", "images", "unit", "reserved", "settled")
    }
    assert fields == {
        "user": pseudonym("alice@example.com"), "plan": "free", "kind": "text_to_image",
        "model": "b24e16ff-06e3-43eb-8d33-4416c2d75876", "images": 3, "unit": "CREDITS", "reserved": "12",
        "settled": "9",
    }  # fmt: skip
    assert (line.settled_from, line.job_id) == ("leonardo", "job-1")
    everything = json.dumps(vars(line), default=str)
    assert PROMPT not in everything and "alice@example.com" not in everything


def test_a_reservation_is_counted_and_not_logged(recorded, caplog):
    caplog.set_level(logging.INFO)
    report_charge(job(), None, RESERVED)
    assert recorded == {"CreditsReserved": 12}
    assert not [r for r in caplog.records if r.getMessage().startswith("job charge")]


def test_a_release_in_a_dollar_deployment_is_counted_in_dollars(recorded, caplog):
    caplog.set_level(logging.INFO)
    reserved = reserve(Decimal("0.048"), "DOLLARS", NOW)
    report_charge(job(), reserved, reserved.model_copy(update={"state": "released"}))
    assert recorded == {"DollarsReleased": 0.048}
    [line] = [r for r in caplog.records if r.getMessage() == "job charge released"]
    assert (line.reserved, line.settled, line.unit) == ("0.048", None, "DOLLARS")


def test_a_budget_refusal_is_counted_and_logged_under_the_pseudonym(recorded, caplog):
    caplog.set_level(logging.INFO)
    report_budget_refusal("alice@example.com", plan="free", period="day")
    assert recorded == {"BudgetRefusals": 1}
    [line] = [r for r in caplog.records if r.getMessage() == BUDGET_REFUSED]
    assert (line.user, line.plan, line.period) == (pseudonym("alice@example.com"), "free", "day")
    assert "alice@example.com" not in json.dumps(vars(line), default=str)
