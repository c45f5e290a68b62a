"""Routes of /v1/uploads: hand out an upload form, check the file, read it, delete it, upscale it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from generation_routes import IdempotencyKey, accepted

from gencore import wiring
from gencore.domain.requests import CreateUploadRequest, UploadUpscaleRequest
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import (
    JobView,
    UploadView,
    caller_id,
    caller_plan,
    json_response,
    upload_view,
)

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated
UploadId = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/v1/uploads")
def create_upload(request: CreateUploadRequest) -> Response[UploadView]:
    upload, form = wiring.uploads().create(caller_id(router.current_event), request)
    logger.append_keys(upload_id=upload.id)
    metrics.add_metric(name="UploadsCreated", unit=MetricUnit.Count, value=1)
    max_bytes = wiring.settings().upload_max_bytes
    view = upload_view(upload, wiring.outputs().presign, form=form, max_bytes=max_bytes)
    return json_response(201, view.model_dump(mode="json"))


@router.get("/v1/uploads/<upload_id>")
def get_upload(upload_id: UploadId) -> UploadView:
    logger.append_keys(upload_id=upload_id)
    return upload_view(
        wiring.uploads().get(caller_id(router.current_event), upload_id), wiring.outputs().presign
    )


@router.post("/v1/uploads/<upload_id>/complete")
def complete_upload(upload_id: UploadId) -> UploadView:
    """Check the uploaded file: 200 READY, or 422 with why it was refused (409 if nothing arrived)."""
    logger.append_keys(upload_id=upload_id)
    upload = wiring.uploads().complete(caller_id(router.current_event), upload_id)
    metrics.add_metric(name="UploadsReady", unit=MetricUnit.Count, value=1)
    return upload_view(upload, wiring.outputs().presign)


@router.delete("/v1/uploads/<upload_id>")
def delete_upload(upload_id: UploadId) -> UploadView:
    """Delete the caller's upload (and Leonardo's copy); 503 if Leonardo must be asked again."""
    logger.append_keys(upload_id=upload_id)
    upload = wiring.uploads().delete(caller_id(router.current_event), upload_id)
    metrics.add_metric(name="UploadsDeleted", unit=MetricUnit.Count, value=1)
    return upload_view(upload, wiring.outputs().presign)


@router.post("/v1/uploads/<upload_id>/upscale")
def upscale_upload(
    upload_id: UploadId, request: UploadUpscaleRequest, idempotency_key: IdempotencyKey = None
) -> Response[JobView]:
    """A universal upscale of the caller's READY upload (a kept realtime picture has no Leonardo
    image id: it goes to Leonardo as an init image): 202 with the new job (kind universal_upscale)."""
    event = router.current_event
    caller, plan = caller_id(event), caller_plan(event, wiring.settings().plan_claim)
    logger.append_keys(upload_id=upload_id)
    upscale = wiring.generations().create_upload_upscale
    return accepted(*upscale(caller, upload_id, request, idempotency_key=idempotency_key, plan=plan))
