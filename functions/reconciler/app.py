"""Scheduled every minute: jobs due for a check are polled at Leonardo so no job is ever stuck.

Also the account's watch: while Leonardo refuses our account it is probed (and reported as
`LeonardoAccountBlocked`), every few minutes the account's generations are swept for orphans, and
every hour the platform-model cache behind `GET /v1/models` is refreshed, and the prices estimates
missed are asked of Leonardo's pricing calculator (a few per run). Every few minutes the account's
balance is read (`GET /me`) and published as `AccountBalance`, in the billing unit. Completion
events still in the outbox are published (the safety net behind the writers' fast path).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from gencore import wiring
from gencore.domain.reconcile import ACCOUNT_CALLS
from gencore.observability import MetricUnit, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The run keeps a reserve before this moment for the wake and the metrics below.
    ends_at = wiring.clock() + timedelta(milliseconds=context.get_remaining_time_in_millis())
    outcomes = wiring.reconciler().run(ends_at=ends_at)
    sweep = wiring.orphan_sweep().run(ends_at=ends_at)
    models_refreshed = wiring.platform_models().refresh(wiring.leonardo())  # hourly: GET /v1/models reads it
    prices = wiring.price_refresh()()  # the pricing calculator, for the parameter sets estimates missed
    balance = wiring.balance_watch().run()  # GET /me, at most every ACCOUNT_BALANCE_EVERY_SECONDS
    if balance.reading is not None:  # the AccountBalanceLowAlarm's metric
        metrics.add_metric(name="AccountBalance", unit=MetricUnit.Count, value=float(balance.reading.amount))
    batches = wiring.batch_worker().check_due()  # stalled fan-outs, deadlines, missed finishes
    for name, count in batches.items():
        metrics.add_metric(name=f"BatchCheck_{name}", unit=MetricUnit.Count, value=count)
    lost_calls = wiring.settle_lost_calls()  # realtime calls left reserved by a dead invocation
    for name, count in lost_calls.items():
        metrics.add_metric(name=f"LostRealtimeCalls_{name}", unit=MetricUnit.Count, value=count)
    events = wiring.publish_pending()  # completion events the fast path did not publish (docs/events.md)
    for name, count in events.items():
        metrics.add_metric(name=f"CompletionEvents_{name}", unit=MetricUnit.Count, value=count)
    account_calls = (
        outcomes.pop(ACCOUNT_CALLS, 0) + sweep.pop(ACCOUNT_CALLS, 0) + int(models_refreshed)
        + prices.priced + prices.no_price + int(balance.asked)
    )  # fmt: skip
    for outcome, count in outcomes.items():
        metrics.add_metric(name=f"Reconcile_{outcome}", unit=MetricUnit.Count, value=count)
    for pool in wiring.settings().policy().pools:  # the image pool's, and video's if kept apart
        name = "InFlightAtLeonardo" if pool == "image" else f"InFlightAtLeonardo_{pool}"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=wiring.store().in_flight(pool))
    # Account-level calls (/me, the list sweep) are not any job's: counted apart.
    if account_calls:
        metrics.add_metric(name="LeonardoAccountCalls", unit=MetricUnit.Count, value=account_calls)
    if "orphans" in sweep:
        metrics.add_metric(name="OrphanGenerations", unit=MetricUnit.Count, value=sweep["orphans"])
    block = wiring.account_guard().blocked()  # as the run just left it (cached)
    metrics.add_metric(name="LeonardoAccountBlocked", unit=MetricUnit.Count, value=1 if block else 0)
    if block:
        logger.warning(
            "Leonardo refuses our account: submits are held",
            extra={"reason": block.reason, "since": block.since.isoformat(),
                   "next_probe_at": block.next_probe_at.isoformat(), "probes": block.probes},
        )  # fmt: skip
    account_blocked = block.reason if block else None
    logger.info(
        "reconciled",
        extra={
            "outcomes": outcomes,
            "orphan_sweep": sweep,
            "account_blocked": account_blocked,
            "events": events,
            "batches": batches,
        },
    )
    return {"outcomes": outcomes, "orphan_sweep": sweep, "account_blocked": account_blocked, "events": events}
