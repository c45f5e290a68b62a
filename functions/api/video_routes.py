"""Routes of /v1/videos: accept a video job (a clip from text or an image, or an image's motion).

The job is read, listed, cancelled and deleted like any other, under /v1/generations."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from gencore import wiring
from gencore.domain.video_requests import VideoRequest
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import JobView, account_hold, caller_id, caller_plan, job_view, json_response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated
IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key", min_length=1, max_length=128)]


@router.post("/v1/videos")
def create_video(request: VideoRequest, idempotency_key: IdempotencyKey = None) -> Response[JobView]:
    """Accept a video job: 202 with it (kind text_to_video, image_to_video or motion), or 200 with
    the earlier job a repeat names. The caller's plan may refuse it, as for any job."""
    event = router.current_event
    caller, plan = caller_id(event), caller_plan(event, wiring.settings().plan_claim)
    job, created = wiring.generations().create_video(
        caller, request, idempotency_key=idempotency_key, plan=plan
    )
    logger.append_keys(job_id=job.id)
    metrics.add_metric(name="JobsAccepted" if created else "JobsDeduplicated", unit=MetricUnit.Count, value=1)
    view = job_view(job, wiring.outputs().presign, account_hold([job], wiring.account_guard().blocked))
    return json_response(202 if created else 200, view.model_dump(mode="json"))
