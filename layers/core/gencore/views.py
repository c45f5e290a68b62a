"""How jobs and errors look over HTTP: one place for the public shapes and status codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel

from gencore.domain import errors
from gencore.domain.models import Job, JobStatus

STATUS_BY_ERROR: dict[type[errors.DomainError], int] = {
    errors.InvalidRequest: 422,
    errors.InvalidCursor: 400,
    errors.JobNotFound: 404,
}


def json_response(status: int, body: object) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def error_body(code: str, message: str, details: list | None = None) -> dict:
    error: dict = {"code": code, "message": message}
    if details:
        error["details"] = details
    return {"error": error}


def unsupported_media_type(event: dict) -> dict | None:
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
    url: str
    content_type: str
    width: int | None
    height: int | None
    leonardo_image_id: str


class ErrorView(BaseModel):
    code: str
    message: str


class JobView(BaseModel):
    id: str
    kind: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    request: dict
    images: list[ImageView]
    cost: dict | None
    error: ErrorView | None


class JobPage(BaseModel):
    items: list[JobView]
    next_cursor: str | None


def job_view(job: Job, presign: Callable[[str], str]) -> JobView:
    images = []
    if job.status == JobStatus.COMPLETE:
        images = [
            ImageView(
                index=i.index,
                url=presign(i.key),
                content_type=i.content_type,
                width=i.width or job.request.get("width"),
                height=i.height or job.request.get("height"),
                leonardo_image_id=i.leonardo_image_id,
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
        images=images,
        cost={"credits": job.api_credit_cost} if job.api_credit_cost is not None else None,
        error=ErrorView(code=job.error_code, message=job.error_message or "") if job.error_code else None,
    )
