"""Routes of /v1/generations: accept, read, list, variations of an image, cancel, delete."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from gencore import wiring
from gencore.domain.models import Job
from gencore.domain.requests import ImageGenerationRequest, VariationRequest
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import JobPage, JobView, account_hold, caller_id, caller_plan, job_view, json_response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated
JobId = Annotated[str, Path(min_length=1, max_length=64)]
IdempotencyKey = Annotated[str | None, Header(alias="idempotency-key", min_length=1, max_length=128)]


def _view(job: Job) -> JobView:
    return job_view(job, wiring.outputs().presign, account_hold([job], wiring.account_guard().blocked))


def _caller() -> tuple[str, str | None]:
    """The caller and the plan their token names (None: the default plan)."""
    event = router.current_event
    return caller_id(event), caller_plan(event, wiring.settings().plan_claim)


def accepted(job: Job, created: bool) -> Response[JobView]:
    """The answer to a job's accept, on every route that makes one: 202 new, 200 a repeat."""
    logger.append_keys(job_id=job.id)
    metrics.add_metric(name="JobsAccepted" if created else "JobsDeduplicated", unit=MetricUnit.Count, value=1)
    return json_response(202 if created else 200, _view(job).model_dump(mode="json"))


@router.post("/v1/generations")
def create_generation(
    request: ImageGenerationRequest, idempotency_key: IdempotencyKey = None
) -> Response[JobView]:
    """Accept a job: 202 with it, or 200 with the earlier job a repeat names. The caller's plan
    (docs/plans.md) may refuse it: 402 budget_exceeded, 422 plan_limit or content_policy, 429
    rate_limited or too_many_waiting."""
    caller, plan = _caller()
    generations = wiring.generations()
    return accepted(*generations.create(caller, request, idempotency_key=idempotency_key, plan=plan))


@router.post("/v1/generations/<job_id>/images/<index>/variations")
def create_variation(
    job_id: JobId,
    index: Annotated[int, Path(ge=0, le=15)],
    request: VariationRequest,
    idempotency_key: IdempotencyKey = None,
) -> Response[JobView]:
    """A new job working on image `index` of one of the caller's COMPLETE jobs (its `kind` is the type)."""
    caller, plan = _caller()
    generations = wiring.generations()
    return accepted(
        *generations.create_variation(
            caller, job_id, index, request, idempotency_key=idempotency_key, plan=plan
        )
    )


@router.get("/v1/generations")
def list_generations(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> JobPage:
    page = wiring.generations().list(caller_id(router.current_event), limit=limit, cursor=cursor)
    presign, hold = wiring.outputs().presign, account_hold(page.jobs, wiring.account_guard().blocked)
    return JobPage(items=[job_view(job, presign, hold) for job in page.jobs], next_cursor=page.next_cursor)


@router.get("/v1/generations/<job_id>")
def get_generation(job_id: JobId) -> JobView:
    logger.append_keys(job_id=job_id)
    return _view(wiring.generations().get(caller_id(router.current_event), job_id))


@router.post("/v1/generations/<job_id>/cancel")
def cancel_generation(job_id: JobId) -> JobView:
    """Cancel a job still waiting here (nothing charged); 409 once Leonardo may have it."""
    logger.append_keys(job_id=job_id)
    job = wiring.removal().cancel(caller_id(router.current_event), job_id)
    metrics.add_metric(name="JobsCancelled", unit=MetricUnit.Count, value=1)
    return _view(job)


@router.delete("/v1/generations/<job_id>")
def delete_generation(job_id: JobId) -> JobView:
    """Delete an ended job's outputs here and at Leonardo; the record stays (DELETED) for lineage."""
    logger.append_keys(job_id=job_id)
    job = wiring.removal().delete(caller_id(router.current_event), job_id)
    metrics.add_metric(name="JobsDeleted", unit=MetricUnit.Count, value=1)
    return _view(job)
