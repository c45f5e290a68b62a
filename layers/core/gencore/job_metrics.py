"""What the operations dashboard shows of jobs as they end (template.yaml, OperationsDashboard).

Called by the job store after each committed write that ended a job, with that job's completion
event (the same observer that publishes it): `JobsEnded_<STATUS>` counts the ends by state, and
`JobCompletionSeconds` is a completed job's time from accept (its `created_at`) to the write that
completed it, waiting line and Leonardo included: what the caller waited between POST and result.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from gencore.observability import MetricUnit, metrics

if TYPE_CHECKING:
    from gencore.domain.events import CompletionEvent

COMPLETION_SECONDS = "JobCompletionSeconds"


def report_job_end(event: CompletionEvent) -> None:
    status = str(event.detail.get("status") or "UNKNOWN")
    metrics.add_metric(name=f"JobsEnded_{status}", unit=MetricUnit.Count, value=1)
    created = event.detail.get("created_at")
    if status != "COMPLETE" or not isinstance(created, str):
        return
    seconds = (event.occurred_at - datetime.fromisoformat(created)).total_seconds()
    metrics.add_metric(name=COMPLETION_SECONDS, unit=MetricUnit.Seconds, value=max(0.0, seconds))
