"""What the reconciler and processor handlers report about the account (issue 9): the metrics the
alarms watch, the log lines an operator reads, and the deadline the reconciler is given."""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from gencore import wiring
from gencore.domain.balance import BalanceCheck, BalanceReading
from gencore.domain.errors import UnknownGeneration
from gencore.domain.estimates import RefreshReport
from gencore.domain.policy import Policy
from gencore.domain.ports import AccountBlock
from gencore.domain.reconcile import ACCOUNT_CALLS

pytestmark = pytest.mark.unit


def _load(function: str):
    path = Path("functions") / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"watch_{function}_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "ReconcilerFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ReconcilerFunction"
    aws_request_id = "req-1"

    def __init__(self, remaining_ms: int = 20_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def recorded(monkeypatch):
    from gencore.observability import metrics

    seen: dict[str, float] = {}
    original = metrics.add_metric

    def add_metric(*, name, unit, value, **kwargs):
        seen[name] = seen.get(name, 0) + value
        original(name=name, unit=unit, value=value, **kwargs)

    monkeypatch.setattr(metrics, "add_metric", add_metric)
    return seen


# --- processor: callbacks for generations no job owns ---------------------------------------------


def _record(generation_id: str, age_seconds: float) -> SQSRecord:
    body = {"source": "webhook", "generation_id": generation_id, "status": "COMPLETE", "images": []}
    return SQSRecord(
        {
            "messageId": "m-1",
            "body": json.dumps(body),
            "attributes": {"SentTimestamp": str(int((time.time() - age_seconds) * 1000))},
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:EventsQueue",
        }
    )


@pytest.fixture
def processor_app(monkeypatch):
    app = _load("processor")

    def unknown(event):
        raise UnknownGeneration(f"No job for generation {event['generation_id']}")

    monkeypatch.setattr(app, "_handle_once", lambda: unknown)
    grace = SimpleNamespace(unknown_generation_grace_seconds=600)  # the production default
    monkeypatch.setattr(app.wiring, "settings", lambda: grace)
    return app


def test_an_unknown_generation_past_the_grace_is_counted_warned_and_dropped(processor_app, recorded, caplog):
    caplog.set_level(logging.INFO)
    outcome = processor_app.process(_record("gen-nobody-owns", 11 * 60))

    assert outcome == "unknown_generation_dropped"
    assert recorded == {"UnknownGenerationCallbacks": 1}
    [line] = [r for r in caplog.records if "no job owns" in r.getMessage()]
    assert line.levelno == logging.WARNING
    assert line.generation_id == "gen-nobody-owns"


def test_an_unknown_generation_within_the_grace_is_retried_and_not_counted(processor_app, recorded):
    with pytest.raises(UnknownGeneration):
        processor_app.process(_record("gen-not-recorded-yet", 30))
    assert recorded == {}


# --- reconciler: the deadline, the account block, orphans, account-level calls -------------------


class FakeRun:
    def __init__(self, result: dict[str, int]) -> None:
        self.result, self.ends_at = result, None

    def run(self, *, ends_at=None):
        self.ends_at = ends_at
        return dict(self.result)


class FakeGuard:
    def __init__(self, block: AccountBlock | None) -> None:
        self.block = block

    def blocked(self, *, fresh: bool = False):
        return self.block


class FakeStore:
    def in_flight(self, pool: str = "image") -> int:
        return {"image": 3, "video": 1}[pool]


class FakeBalance:
    """The balance watch: asks GET /me when `due` (an account-level call), answering `reading`."""

    def __init__(self) -> None:
        self.due, self.reading = False, None

    def run(self) -> BalanceCheck:
        return BalanceCheck(asked=self.due, reading=self.reading if self.due else None)


class FakeModels:
    """The platform-model cache: refreshed (one account-level call) when `stale`."""

    def __init__(self) -> None:
        self.stale, self.sources = True, []

    def refresh(self, source) -> bool:
        self.sources.append(source)
        return self.stale


@pytest.fixture
def reconciler_app(monkeypatch):
    app = _load("reconciler")
    runs = {"reconciler": FakeRun({"pending": 2, ACCOUNT_CALLS: 1, "account_probe_failed": 1}),
            "sweep": FakeRun({ACCOUNT_CALLS: 1, "checked": 4, "orphans": 2})}  # fmt: skip
    since = datetime(2030, 1, 1, tzinfo=UTC)
    guard = FakeGuard(AccountBlock(reason="leonardo_auth", since=since, next_probe_at=since))
    monkeypatch.setattr(wiring, "reconciler", lambda: runs["reconciler"])
    monkeypatch.setattr(wiring, "orphan_sweep", lambda: runs["sweep"])
    monkeypatch.setattr(wiring, "account_guard", lambda: guard)
    monkeypatch.setattr(wiring, "store", lambda: FakeStore())
    models = FakeModels()
    monkeypatch.setattr(wiring, "platform_models", lambda: models)
    monkeypatch.setattr(wiring, "leonardo", lambda: "leonardo")
    prices = {"report": RefreshReport()}
    monkeypatch.setattr(wiring, "price_refresh", lambda: lambda: prices["report"])
    balance = FakeBalance()
    monkeypatch.setattr(wiring, "balance_watch", lambda: balance)
    drained = {"published": 3, "failed": 1}  # the outbox's safety net (docs/events.md)
    monkeypatch.setattr(wiring, "publish_pending", lambda: drained)
    monkeypatch.setattr(wiring, "batch_worker", lambda: SimpleNamespace(check_due=lambda: {}))
    monkeypatch.setattr(wiring, "settle_lost_calls", lambda: {"settled": 0, "gone": 0, "failed": 0})
    policy = Policy(video_max_in_flight=2)  # video in a pool of its own: its count has its own metric
    monkeypatch.setattr(wiring, "settings", lambda: SimpleNamespace(policy=lambda: policy))
    app.models, app.prices, app.balance = models, prices, balance
    return app, runs, guard


def test_the_reconciler_is_given_the_invocation_deadline(reconciler_app, recorded):
    app, runs, _ = reconciler_app
    before = datetime.now(UTC)
    app.lambda_handler({}, Context(remaining_ms=42_000))
    for run in runs.values():
        assert before + timedelta(seconds=41) <= run.ends_at <= datetime.now(UTC) + timedelta(seconds=42)


def test_a_blocked_account_is_reported_every_run_with_its_reason(reconciler_app, recorded, caplog):
    app, _, _ = reconciler_app
    caplog.set_level(logging.INFO)
    result = app.lambda_handler({}, Context())

    assert recorded["LeonardoAccountBlocked"] == 1
    assert result["account_blocked"] == "leonardo_auth"
    [line] = [r for r in caplog.records if r.getMessage() == "Leonardo refuses our account: submits are held"]
    assert line.levelno == logging.WARNING and line.reason == "leonardo_auth"


def test_orphans_and_account_calls_have_their_own_metrics(reconciler_app, recorded):
    app, _, guard = reconciler_app
    guard.block = None
    result = app.lambda_handler({}, Context())

    assert recorded["LeonardoAccountBlocked"] == 0
    assert recorded["OrphanGenerations"] == 2
    # The probe, the list sweep and the model-list refresh: no job's.
    assert recorded["LeonardoAccountCalls"] == 3 and app.models.sources == ["leonardo"]
    assert recorded["Reconcile_pending"] == 2 and recorded["InFlightAtLeonardo"] == 3
    assert recorded["InFlightAtLeonardo_video"] == 1
    assert not any(name.startswith("Reconcile_account_calls") for name in recorded)
    assert result["outcomes"] == {"pending": 2, "account_probe_failed": 1}
    assert result["account_blocked"] is None


def test_prices_asked_of_the_pricing_calculator_are_account_calls(reconciler_app, recorded):
    app, _, guard = reconciler_app
    guard.block, app.models.stale = None, False
    app.prices["report"] = RefreshReport(priced=3, no_price=1)
    app.lambda_handler({}, Context())
    assert recorded["LeonardoAccountCalls"] == 2 + 4


def test_a_fresh_model_list_costs_no_leonardo_call(reconciler_app, recorded):
    app, _, guard = reconciler_app
    guard.block, app.models.stale = None, False
    app.lambda_handler({}, Context())
    assert recorded["LeonardoAccountCalls"] == 2


def test_the_account_balance_is_published_when_read_and_its_call_counted(reconciler_app, recorded):
    app, _, guard = reconciler_app
    guard.block, app.models.stale = None, False
    app.balance.due = True
    app.balance.reading = BalanceReading(Decimal("4321.5"), "CREDITS", datetime.now(UTC))
    app.lambda_handler({}, Context())
    assert recorded["AccountBalance"] == 4321.5  # the AccountBalanceLowAlarm's metric
    assert recorded["LeonardoAccountCalls"] == 2 + 1


def test_no_balance_is_published_between_reads(reconciler_app, recorded):
    app, _, guard = reconciler_app
    guard.block, app.models.stale = None, False
    app.lambda_handler({}, Context())
    assert "AccountBalance" not in recorded and recorded["LeonardoAccountCalls"] == 2


def test_the_reconciler_publishes_pending_completion_events_and_counts_them(reconciler_app, recorded):
    app, _, _ = reconciler_app
    result = app.lambda_handler({}, Context())

    assert result["events"] == {"published": 3, "failed": 1}
    assert recorded["CompletionEvents_published"] == 3 and recorded["CompletionEvents_failed"] == 1
