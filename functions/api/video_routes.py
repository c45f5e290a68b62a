"""Routes of /v1/videos: accept a video job (a clip from text or an image, or an image's motion).

The job is read, listed, cancelled and deleted like any other, under /v1/generations."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from generation_routes import IdempotencyKey, accepted

from gencore import wiring
from gencore.domain.video_requests import VideoRequest
from gencore.views import JobView, caller_id, caller_plan

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated


@router.post("/v1/videos")
def create_video(request: VideoRequest, idempotency_key: IdempotencyKey = None) -> Response[JobView]:
    """Accept a video job: 202 with it (kind text_to_video, image_to_video or motion), or 200 with
    the earlier job a repeat names. The caller's plan may refuse it, as for any job."""
    event = router.current_event
    caller, plan = caller_id(event), caller_plan(event, wiring.settings().plan_claim)
    return accepted(
        *wiring.generations().create_video(caller, request, idempotency_key=idempotency_key, plan=plan)
    )
