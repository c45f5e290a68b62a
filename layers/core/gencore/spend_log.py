"""The money side of observability: a log line and metrics per change of a job's charge, and per
budget refusal (docs/runbook.md, "Money").

Metrics, one set per billing unit (`Credits...` or `Dollars...`, as `CreditsSpent`/`DollarsSpent`):
- `<Unit>Reserved`: estimates reserved at accept (the API);
- `<Unit>Settled`: what jobs count as spent once settled (the submitter, processor or reconciler:
  whichever wrote the change), at Leonardo's reported cost or at the estimate; the spend anomaly
  alarm watches it;
- `<Unit>Released`: reservations given back (jobs that ended without a paid generation) and
  settlements refunded (a generation Leonardo itself failed);
- `BudgetRefusals`: 402 `budget_exceeded` answers (the API).

Log lines (INFO): `job charge settled` / `job charge released` with the job id, the user's
pseudonym (domain/spend.py), plan, kind, model id, images asked for, unit, reserved and settled
amounts; `budget refused` with the pseudonym, plan and period (Contributor Insights counts these
per user: the RepeatedBudgetRefusalsAlarm). Never a prompt, never a user id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gencore.domain.spend import charge_report, pseudonym
from gencore.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from gencore.domain.models import Charge, Job

BUDGET_REFUSED = "budget refused"  # the message Contributor Insights filters on (template.yaml)


def unit_prefix(unit: str) -> str:
    return "Dollars" if unit == "DOLLARS" else "Credits"


def report_charge(job: Job, before: Charge | None, after: Charge) -> None:
    """The job store's observer: called after each committed write that changed a job's charge."""
    report = charge_report(job, before, after)
    if report is None:
        return
    name = unit_prefix(report.unit) + report.event.capitalize()
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=float(report.amount))
    if report.event != "reserved":  # the accept is counted; the outcome gets the line
        logger.info(f"job charge {report.event}", extra=report.fields())


def report_budget_refusal(user_id: str, *, plan: str | None, period: str | None) -> None:
    """A 402 budget_exceeded answered to `user_id`: counted, and logged under their pseudonym."""
    metrics.add_metric(name="BudgetRefusals", unit=MetricUnit.Count, value=1)
    logger.info(BUDGET_REFUSED, extra={"user": pseudonym(user_id), "plan": plan, "period": period})
