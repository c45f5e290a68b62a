"""What the outbound webhooks' unit specifications share: a moment, and a completion event as the
bus delivers it."""

from __future__ import annotations

from datetime import UTC, datetime

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def bus_event(
    status: str = "COMPLETE", detail_type: str = "Generation Completed", job: str = "job-1"
) -> dict:
    return {
        "version": "0", "id": "bus-id", "source": "leonardo-backend", "detail-type": detail_type,
        "time": "2026-12-04T12:00:00Z",
        "detail": {"version": "1", "event_id": f"{job}:{status}", "job_id": job, "user_id": "alice",
                   "status": status, "outputs": []},
    }  # fmt: skip
