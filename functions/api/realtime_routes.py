"""Routes of /v1/realtime: the realtime canvas, synchronous (domain/realtime.py). The picture comes
back in the answer; with `"keep": true` it is also stored as one of the caller's uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from gencore import wiring
from gencore.domain.realtime import CallerPlan, InpaintRequest, Operation, RealtimeRequest, UpscaleRequest
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import caller_id, caller_plan

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated


class KeptPicture(BaseModel):
    upload_id: str  # one of the caller's READY uploads: `{"source": {"upload_id": ...}}` of a later job
    created_at: datetime


class RealtimeView(BaseModel):
    # data URLs (base64 JPEG or PNG), as Leonardo answered them; short-lived https links instead
    # when they would not fit in an answer (then each is also in `kept`)
    pictures: list[str]
    cost: dict[str, Any]  # {"amount", "unit", "source"}: what Leonardo reported, else our estimate
    kept: list[KeptPicture]


def _run(operation: Operation, request: RealtimeRequest) -> RealtimeView:
    event = router.current_event
    caller = caller_id(event)
    plan = wiring.admission().plan(caller_plan(event, wiring.settings().plan_claim))
    answer = wiring.realtime().run(caller, CallerPlan(plan.name, plan.budget), operation, request)
    metrics.add_metric(name=f"Realtime_{operation}", unit=MetricUnit.Count, value=1)
    logger.info("realtime call", extra={"operation": operation, "kept": len(answer.kept)})
    # Too large to answer inline: the kept pictures, by short-lived link (presigned GET).
    links = [wiring.outputs().presign(upload.key) for upload in answer.kept] if answer.by_link else []
    return RealtimeView(
        pictures=answer.pictures or links,
        cost=answer.cost.model_dump(mode="json"),
        kept=[KeptPicture(upload_id=u.id, created_at=u.created_at) for u in answer.kept],
    )


@router.post("/v1/realtime/generate")
def realtime_generate(request: RealtimeRequest) -> RealtimeView:
    """A picture from a sketch (`image`) and a prompt, in about a second."""
    return _run("generate", request)


@router.post("/v1/realtime/refine")
def realtime_refine(request: RealtimeRequest) -> RealtimeView:
    """The picture refined at once (Leonardo's instant refine)."""
    return _run("refine", request)


@router.post("/v1/realtime/inpaint")
def realtime_inpaint(request: InpaintRequest) -> RealtimeView:
    """The area of `mask` painted again on the picture."""
    return _run("inpaint", request)


@router.post("/v1/realtime/upscale")
def realtime_upscale(request: UpscaleRequest) -> RealtimeView:
    """The picture upscaled (optionally refined creatively)."""
    return _run("upscale", request)
