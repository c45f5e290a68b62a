"""Scheduled every minute: jobs due for a check are polled at Leonardo so no job is ever stuck."""

from __future__ import annotations

from gencore import wiring
from gencore.observability import MetricUnit, logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    outcomes = wiring.reconciler().run()
    for outcome, count in outcomes.items():
        metrics.add_metric(name=f"Reconcile_{outcome}", unit=MetricUnit.Count, value=count)
    metrics.add_metric(name="InFlightAtLeonardo", unit=MetricUnit.Count, value=wiring.store().in_flight())
    logger.info("reconciled", extra={"outcomes": outcomes})
    return {"outcomes": outcomes}
