"""How jobs and errors look over HTTP: one place for the public shapes and status codes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel, ConfigDict

from gencore.domain import errors
from gencore.domain.events import cost_of, lineage_of
from gencore.domain.ledger import BudgetExceeded
from gencore.domain.models import Job, JobStatus, NsfwPolicy, Upload, UploadStatus
from gencore.domain.ports import AccountBlock, PresignedPost
from gencore.domain.rate_limits import RateLimited

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidRequest: 422,
    errors.InvalidCursor: 400,
    errors.JobNotFound: 404,
    errors.BatchNotFound: 404,
    errors.BatchInvalid: 422,
    errors.UploadNotFound: 404,
    errors.UploadNotReady: 409,
    errors.UploadRejected: 422,
    # A paid call whose answer was lost (prompt tools): it may have been billed; not sent again.
    # Before LeonardoBusy, its base: the first match wins.
    errors.SubmitOutcomeUnknown: 502,
    errors.LeonardoBusy: 503,  # the DELETE routes and prompt tools wait on Leonardo; repeat them later
    errors.NotDeletable: 409,
    errors.NotCancellable: 409,
    RateLimited: 429,
    BudgetExceeded: 402,
    errors.TooManyWaiting: 429,  # without Retry-After: waiting does not help until jobs start
}


def json_response(status: int, body: object, *, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers
    )


def retry_after(error: errors.DomainError) -> dict[str, str] | None:
    """`Retry-After` (whole seconds) for an error that says when to try again."""
    seconds = getattr(error, "retry_after", None)
    return {"Retry-After": str(max(1, math.ceil(seconds)))} if seconds else None


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 415 (HTTP API 2.0 response) for a body-carrying request whose Content-Type is not JSON.

    JSON is the only body the API takes. Checked before Powertools parses the body: it raises a bare
    ValueError (a 500) for multipart/form-data without a boundary, and answers other types with a 415
    of its own shape.
    """
    if event.get("requestContext", {}).get("http", {}).get("method") not in ("POST", "PUT", "PATCH"):
        return None
    content_type = (event.get("headers") or {}).get("content-type", "").strip().lower()
    if not content_type or content_type.startswith("application/json"):
        return None
    body = error_body("unsupported_media_type", "The request body must be application/json")
    return {
        "statusCode": 415,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def status_for(error: errors.DomainError) -> int:
    for kind, status in STATUS_BY_ERROR.items():
        if isinstance(error, kind):
            return status
    return 500


class ImageView(BaseModel):
    index: int
    url: str | None  # a short-lived download link; None when the image was withheld
    content_type: str | None
    width: int | None
    height: int | None
    size: int | None = None  # bytes of our copy: a download can resume, and be checked
    sha256: str | None = None  # of our copy, hex (None for copies made before it was recorded)
    leonardo_image_id: str
    nsfw: bool | None = None  # Leonardo flagged the image as not safe for work (None: not reported)
    # Flagged NSFW under a plan that withholds such images (docs/plans.md): not kept here, no URL.
    withheld: bool = False


class ErrorView(BaseModel):
    code: str
    message: str


class HoldView(BaseModel):
    """Why a QUEUED job is not moving: Leonardo refuses the account (an operator is alerted)."""

    code: str  # leonardo_auth | leonardo_credits
    since: datetime


class BatchItemView(BaseModel):
    batch_id: str
    custom_id: str
    line: int


class JobView(BaseModel):
    id: str
    kind: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    request: dict[str, Any]
    # Lineage: the upload ({"upload_id"}) or the image of one of our jobs ({"job_id", "index"}) it
    # came from; follow it to the original file.
    source: dict[str, Any] | None = None
    model_name: str | None = None  # the name of `request.model_id`, as Leonardo listed it at accept
    seed: int | None  # Leonardo's seed for this job: the request's, or one drawn for it
    images: list[ImageView]
    # What the job's plan did with images Leonardo flagged NSFW: keep, flag (show them marked
    # `nsfw: true`) or withhold; None until its outputs are copied (and for jobs from before plans).
    nsfw_policy: NsfwPolicy | None = None
    cost: dict[str, Any] | None
    error: ErrorView | None
    hold: HoldView | None = None
    batch: BatchItemView | None = None  # the batch it is an item of


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None


def hold_view(block: AccountBlock | None) -> HoldView | None:
    """The account's block as QUEUED jobs show it: why they are not moving."""
    return HoldView(code=block.reason, since=block.since) if block else None


def account_hold(jobs: Iterable[Job], blocked: Callable[[], AccountBlock | None]) -> HoldView | None:
    """The hold to show on `jobs`: the account block is read only when one of them is QUEUED.

    Only QUEUED jobs show it, so a read of finished work costs its own read and nothing more.
    """
    if not any(job.status == JobStatus.QUEUED for job in jobs):
        return None
    return hold_view(blocked())


def job_view(job: Job, presign: Callable[[str], str], hold: HoldView | None = None) -> JobView:
    """The public view; `hold` (the account's block, if any) is shown on QUEUED jobs only."""
    images = []
    if job.status == JobStatus.COMPLETE:
        images = [
            ImageView(
                index=i.index,
                url=presign(i.key) if i.key and not i.withheld else None,
                content_type=i.content_type,
                width=i.width or job.request.get("width"),
                height=i.height or job.request.get("height"),
                size=i.size if i.key and not i.withheld else None,
                sha256=i.sha256 if i.key and not i.withheld else None,
                leonardo_image_id=i.leonardo_image_id,
                nsfw=i.nsfw,
                withheld=i.withheld,
            )
            for i in job.images
        ]
    return JobView(
        id=job.id,
        kind=job.kind,
        status=job.status,
        created_at=job.created_at,
        updated_at=job.updated_at,
        request=job.request,
        source=lineage_of(job),
        model_name=job.model_name,
        seed=job.leonardo_seed,
        images=images,
        nsfw_policy=job.nsfw_policy if job.status == JobStatus.COMPLETE else None,
        cost=cost_of(job),
        error=ErrorView(code=job.error_code, message=job.error_message or "") if job.error_code else None,
        hold=hold if job.status == JobStatus.QUEUED else None,
        batch=BatchItemView(**job.batch.model_dump()) if job.batch else None,
    )


def caller_id(event: object) -> str:
    """The user making the request: the `sub` claim the JWT authorizer verified."""
    sub: str = event.request_context.authorizer.jwt_claim["sub"]  # type: ignore[attr-defined]
    return sub


def caller_plan(event: object, claim: str) -> str | None:
    """The caller's plan: the JWT claim named `claim` (None when absent: the default plan)."""
    value = event.request_context.authorizer.jwt_claim.get(claim)  # type: ignore[attr-defined]
    return value if isinstance(value, str) and value else None


def error_details(error: errors.DomainError) -> list[dict[str, Any]] | None:
    """What a refusal says beyond its code and message (`details` of the error envelope)."""
    details = getattr(error, "details", None)
    if isinstance(details, list):
        return details or None
    return [details] if isinstance(details, dict) and details else None


# For the models of routes few cold starts serve (uploads, models, prompt tools): their validators
# are built by the first request that needs them, not at every cold start (docs/performance.md).
ON_FIRST_USE = ConfigDict(defer_build=True)


class UploadForm(BaseModel):
    """How to send the file: a multipart/form-data POST of `fields`, then the file as `file` (last)."""

    model_config = ON_FIRST_USE

    method: str = "POST"
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: datetime


class UploadView(BaseModel):
    model_config = ON_FIRST_USE

    id: str
    status: UploadStatus
    content_type: str
    purpose: str  # init | mask
    created_at: datetime
    updated_at: datetime
    size: int | None
    width: int | None
    height: int | None
    url: str | None  # a short-lived download link once READY
    error: ErrorView | None
    upload: UploadForm | None = None  # only in the answer that creates the upload


def upload_view(
    upload: Upload, presign: Callable[[str], str], *, form: PresignedPost | None = None, max_bytes: int = 0
) -> UploadView:
    return UploadView(
        id=upload.id,
        status=upload.status,
        content_type=upload.content_type,
        purpose=upload.purpose,
        created_at=upload.created_at,
        updated_at=upload.updated_at,
        size=upload.size,
        width=upload.width,
        height=upload.height,
        url=presign(upload.key) if upload.status == UploadStatus.READY else None,
        error=ErrorView(code=upload.error_code, message=upload.error_message or "")
        if upload.error_code
        else None,
        upload=UploadForm(
            url=form.url,
            fields=form.fields,
            max_bytes=max_bytes,
            expires_at=datetime.fromtimestamp(form.expires_at, tz=UTC),
        )
        if form
        else None,
    )
