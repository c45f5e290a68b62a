"""Public HTTP API: generations (accept, read, list) and uploads (create, complete, read).

Routes are validated from their types (Powertools Event Handler with OpenAPI validation); the work
happens in gencore.domain, the shapes live in gencore.views.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.logging import correlation_paths

from gencore import wiring
from gencore.domain.errors import DomainError
from gencore.domain.models import CreateUploadRequest, ImageGenerationRequest
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import (
    JobPage,
    JobView,
    UploadView,
    account_hold,
    error_body,
    job_view,
    json_response,
    status_for,
    unsupported_media_type,
    upload_view,
)

app = APIGatewayHttpResolver(enable_validation=True)


def _caller() -> str:
    # The JWT authorizer has verified the token; `sub` is the user.
    return app.current_event.request_context.authorizer.jwt_claim["sub"]


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


@app.post("/v1/generations")
def create_generation(
    request: ImageGenerationRequest,
    idempotency_key: Annotated[
        str | None, Header(alias="idempotency-key", min_length=1, max_length=128)
    ] = None,
) -> Response[JobView]:
    job, created = wiring.generations().create(_caller(), request, idempotency_key=idempotency_key)
    logger.append_keys(job_id=job.id)
    metrics.add_metric(name="JobsAccepted" if created else "JobsDeduplicated", unit=MetricUnit.Count, value=1)
    view = job_view(job, wiring.outputs().presign, account_hold([job], wiring.account_guard().blocked))
    return json_response(202 if created else 200, view.model_dump(mode="json"))


@app.get("/v1/generations")
def list_generations(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> JobPage:
    page = wiring.generations().list(_caller(), limit=limit, cursor=cursor)
    presign, hold = wiring.outputs().presign, account_hold(page.jobs, wiring.account_guard().blocked)
    return JobPage(items=[job_view(job, presign, hold) for job in page.jobs], next_cursor=page.next_cursor)


@app.get("/v1/generations/<job_id>")
def get_generation(job_id: Annotated[str, Path(min_length=1, max_length=64)]) -> JobView:
    logger.append_keys(job_id=job_id)
    job = wiring.generations().get(_caller(), job_id)
    return job_view(job, wiring.outputs().presign, account_hold([job], wiring.account_guard().blocked))


@app.post("/v1/uploads")
def create_upload(request: CreateUploadRequest) -> Response[UploadView]:
    upload, form = wiring.uploads().create(_caller(), request)
    logger.append_keys(upload_id=upload.id)
    metrics.add_metric(name="UploadsCreated", unit=MetricUnit.Count, value=1)
    max_bytes = wiring.settings().upload_max_bytes
    view = upload_view(upload, wiring.outputs().presign, form=form, max_bytes=max_bytes)
    return json_response(201, view.model_dump(mode="json"))


@app.get("/v1/uploads/<upload_id>")
def get_upload(upload_id: Annotated[str, Path(min_length=1, max_length=64)]) -> UploadView:
    logger.append_keys(upload_id=upload_id)
    return upload_view(wiring.uploads().get(_caller(), upload_id), wiring.outputs().presign)


@app.post("/v1/uploads/<upload_id>/complete")
def complete_upload(upload_id: Annotated[str, Path(min_length=1, max_length=64)]) -> UploadView:
    """Check the uploaded file: 200 READY, or 422 with why it was refused (409 if nothing arrived)."""
    logger.append_keys(upload_id=upload_id)
    upload = wiring.uploads().complete(_caller(), upload_id)
    metrics.add_metric(name="UploadsReady", unit=MetricUnit.Count, value=1)
    return upload_view(upload, wiring.outputs().presign)


@app.delete("/v1/uploads/<upload_id>")
def delete_upload(upload_id: Annotated[str, Path(min_length=1, max_length=64)]) -> UploadView:
    """Delete the caller's upload (and Leonardo's copy); 503 if Leonardo must be asked again."""
    logger.append_keys(upload_id=upload_id)
    upload = wiring.uploads().delete(_caller(), upload_id)
    metrics.add_metric(name="UploadsDeleted", unit=MetricUnit.Count, value=1)
    return upload_view(upload, wiring.outputs().presign)


@app.exception_handler(DomainError)
def domain_error(error: DomainError) -> Response:
    if error.code.startswith("upload_"):
        metrics.add_metric(name="UploadsRefused", unit=MetricUnit.Count, value=1)
    return json_response(status_for(error), error_body(error.code, error.message))


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return json_response(400, error_body("malformed_json", "The request body is not valid JSON"))
    # Locations and messages only: never echo the input back.
    details = [{"loc": list(p.get("loc", ())), "type": p.get("type"), "msg": p.get("msg")} for p in problems]
    return json_response(422, error_body("validation_error", "The request is not valid", details))


@app.exception_handler(RecursionError)
def too_deep(_error: RecursionError) -> Response:
    # json.loads raises RecursionError, not a decode error, for nesting deeper than it allows.
    return json_response(400, error_body("malformed_json", "The request body is not valid JSON"))


@app.not_found
def not_found(_error: Exception) -> Response:
    return json_response(404, error_body("not_found", "No such route"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return unsupported_media_type(event) or app.resolve(event, context)
