"""The API's views as typed models.

Each class is named after its schema in docs/openapi.json (tests/test_openapi_drift.py holds them to
it). Unknown fields are ignored so a newer server does not break an older client; status-like fields
are plain strings for the same reason, with the known values as constants.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

JOB_TERMINAL = frozenset({"COMPLETE", "FAILED", "CANCELLED", "DELETED"})
JOB_STATES = ("QUEUED", "SUBMITTED", "FINALIZING", "COMPLETE", "FAILED", "CANCELLED")
BATCH_TERMINAL = frozenset({"COMPLETE", "CANCELLED"})
UPLOAD_TERMINAL = frozenset({"READY", "REJECTED", "DELETED"})


class View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ErrorView(View):
    code: str
    message: str


class HoldView(View):
    code: str
    since: datetime


class Cost(View):
    amount: str
    unit: str
    source: str | None = None


class ImageView(View):
    index: int
    url: str | None
    content_type: str | None
    width: int | None
    height: int | None
    leonardo_image_id: str
    nsfw: bool | None = None
    withheld: bool = False
    # Added with batches; null on jobs stored before them.
    size: int | None = None
    sha256: str | None = None


class BatchItemView(View):
    """On a job made by a batch: which batch, and which line of it."""

    batch_id: str
    custom_id: str
    line: int


class JobView(View):
    id: str
    kind: str
    status: str
    created_at: datetime
    updated_at: datetime
    request: dict[str, Any]
    seed: int | None
    images: list[ImageView]
    cost: Cost | None
    error: ErrorView | None
    hold: HoldView | None = None
    model_name: str | None = None
    nsfw_policy: str | None = None
    source: dict[str, Any] | None = None
    batch: BatchItemView | None = None

    @property
    def terminal(self) -> bool:
        return self.status in JOB_TERMINAL


class JobPage(View):
    items: list[JobView]
    next_cursor: str | None


class UploadForm(View):
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: datetime
    method: str = "POST"


class UploadView(View):
    id: str
    status: str
    content_type: str
    purpose: str
    created_at: datetime
    updated_at: datetime
    size: int | None
    width: int | None
    height: int | None
    url: str | None
    error: ErrorView | None
    upload: UploadForm | None = None


class EstimateView(View):
    credits: float
    source: str


class ModelView(View):
    id: str
    name: str
    description: str | None
    featured: bool | None


class ModelPage(View):
    items: list[ModelView]


class PeriodView(View):
    key: str
    budget: str
    spent: str
    reserved: str
    remaining: str
    resets_at: datetime


class RecentJobView(View):
    id: str
    kind: str
    status: str
    created_at: datetime
    cost: Cost | None


class UsageView(View):
    plan: str
    unit: str
    day: PeriodView
    month: PeriodView
    recent_jobs: list[RecentJobView]


class BatchCredits(View):
    unit: str
    reserved: str
    spent: str


class BatchView(View):
    id: str
    name: str | None
    status: str
    items: int
    skipped: int
    created: int
    counts: dict[str, int]
    credits: BatchCredits
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deadline_at: datetime | None
    eta_seconds: int | None

    @property
    def terminal(self) -> bool:
        return self.status in BATCH_TERMINAL

    @property
    def done(self) -> int:
        """Items that have ended, whatever their outcome."""
        return sum(self.counts.get(state, 0) for state in JOB_TERMINAL)

    @property
    def failed(self) -> int:
        return self.counts.get("FAILED", 0) + self.counts.get("CANCELLED", 0)


class BatchPage(View):
    batches: list[BatchView]
    next_cursor: str | None


class BatchResultError(View):
    code: str
    message: str


class BatchResult(View):
    """One line of GET /v1/batches/{batch_id}/results (a JSONL body, so not an openapi schema)."""

    line: int
    custom_id: str | None
    job_id: str | None
    status: str
    images: list[ImageView] = []
    error: BatchResultError | None = None


class InvalidLine(View):
    """One refused line of a batch (details of a 422 `batch_invalid`)."""

    line: int
    custom_id: str | None = None
    code: str
    message: str
