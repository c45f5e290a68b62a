"""The dashboard's job metrics (gencore/job_metrics.py): each end counted by state, and a completed
job's time from accept to completion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gencore import job_metrics, wiring
from gencore.domain.events import CompletionEvent

pytestmark = pytest.mark.unit
ENDED = datetime(2026, 12, 4, 7, 0, 42, tzinfo=UTC)


class Recorded(list):
    def add_metric(self, *, name: str, unit: object, value: float) -> None:
        self.append((name, str(getattr(unit, "value", unit)), value))


@pytest.fixture
def recorded(monkeypatch) -> Recorded:
    metrics = Recorded()
    monkeypatch.setattr(job_metrics, "metrics", metrics)
    return metrics


def event(status: str, created_at: str = "2026-12-04T07:00:00Z") -> CompletionEvent:
    detail = {"event_id": f"j-1:{status}", "job_id": "j-1", "status": status, "created_at": created_at}
    return CompletionEvent(event_id=f"j-1:{status}", detail_type="x", occurred_at=ENDED, detail=detail)


def test_a_completed_job_is_counted_and_timed_from_accept(recorded):
    job_metrics.report_job_end(event("COMPLETE"))
    assert recorded == [("JobsEnded_COMPLETE", "Count", 1), ("JobCompletionSeconds", "Seconds", 42.0)]


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED"])
def test_other_ends_are_counted_by_state_and_not_timed(recorded, status):
    job_metrics.report_job_end(event(status))
    assert recorded == [(f"JobsEnded_{status}", "Count", 1)]


def test_the_store_reports_each_end_before_publishing_it(recorded, monkeypatch):
    published = []
    monkeypatch.setattr(wiring, "publish_now", published.append)
    wiring.job_ended(event("COMPLETE"))
    assert [name for name, _, _ in recorded] == ["JobsEnded_COMPLETE", "JobCompletionSeconds"]
    assert len(published) == 1
