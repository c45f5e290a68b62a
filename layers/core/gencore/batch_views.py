"""How batches look over HTTP: the batch, a page of batches, and a line of its results."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from gencore.domain.batch_records import Batch, BatchStatus
from gencore.domain.models import Job, JobStatus
from gencore.views import ON_FIRST_USE, ErrorView, ImageView, job_view


class BatchCounts(BaseModel):
    QUEUED: int = 0
    SUBMITTED: int = 0
    FINALIZING: int = 0
    COMPLETE: int = 0
    FAILED: int = 0
    CANCELLED: int = 0
    DELETED: int = 0  # deleted by their owner after they ended


class BatchCredits(BaseModel):
    unit: Literal["CREDITS", "DOLLARS"]
    reserved: str  # decimal strings: held for the batch now (its items' and those not made yet)
    spent: str


class BatchView(BaseModel):
    model_config = ON_FIRST_USE

    id: str
    name: str | None
    status: BatchStatus
    items: int  # valid lines: the jobs the batch makes
    skipped: int  # invalid lines left out (skip_invalid)
    created: int  # items made so far
    counts: BatchCounts  # items per status (a deleted item counts where it ended)
    credits: BatchCredits
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    eta_seconds: int | None  # at the rate items have ended so far


class BatchPage(BaseModel):
    model_config = ON_FIRST_USE

    batches: list[BatchView]
    next_cursor: str | None


class BatchResult(BaseModel):
    """One line of GET /v1/batches/{batch_id}/results (JSONL), in manifest order."""

    model_config = ON_FIRST_USE

    line: int
    custom_id: str
    job_id: str
    status: JobStatus
    images: list[ImageView]
    error: ErrorView | None


def batch_view(batch: Batch, now: datetime) -> BatchView:
    return BatchView(
        id=batch.id,
        name=batch.name,
        status=batch.status,
        items=batch.items,
        skipped=batch.skipped,
        created=batch.created,
        counts=BatchCounts(**{k: v for k, v in batch.counts.items() if k in BatchCounts.model_fields}),
        credits=BatchCredits(unit=batch.unit, reserved=batch.reserved, spent=batch.spent),
        created_at=batch.created_at,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
        deadline_at=datetime.fromtimestamp(batch.deadline_at, tz=now.tzinfo) if batch.deadline_at else None,
        eta_seconds=batch.eta_seconds(now),
    )


def result_lines(jobs: list[Job], presign: Callable[[str], str]) -> str:
    """The JSONL body of a results page: one line per item, presigned links for its images."""
    lines = []
    for job in jobs:
        assert job.batch is not None
        view = job_view(job, presign)
        result = BatchResult(
            line=job.batch.line, custom_id=job.batch.custom_id, job_id=job.id, status=job.status,
            images=view.images, error=view.error,
        )  # fmt: skip
        lines.append(json.dumps(result.model_dump(mode="json"), separators=(",", ":")))
    return "".join(line + "\n" for line in lines)
