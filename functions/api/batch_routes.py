"""Routes of /v1/batches: accept a batch, read it, list them, its results (JSONL), cancel."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from generation_routes import IdempotencyKey

from gencore import wiring
from gencore.batch_views import BatchPage, BatchView, batch_view, result_lines
from gencore.domain.batch_records import Batch
from gencore.domain.batches import BatchRequest
from gencore.observability import MetricUnit, logger, metrics
from gencore.views import caller_id, caller_plan, json_response

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated
BatchId = Annotated[str, Path(min_length=1, max_length=64)]
RESULTS_PAGE_MAX = 500  # lines: a page with every image's link stays far under Lambda's 6 MB answer


def _view(batch: Batch) -> BatchView:
    return batch_view(batch, wiring.clock())


@router.post("/v1/batches")
def create_batch(request: BatchRequest, idempotency_key: IdempotencyKey = None) -> Response[BatchView]:
    """Accept a batch: 202 with it, or 200 with the batch an earlier use of the Idempotency-Key made.
    422 `batch_invalid` lists the refused lines (unless `skip_invalid`); 402 `budget_exceeded` when
    the whole batch's estimate does not fit the caller's budget."""
    event = router.current_event
    caller, plan = caller_id(event), caller_plan(event, wiring.settings().plan_claim)
    batch, created = wiring.batches().create(caller, request, idempotency_key=idempotency_key, plan=plan)
    logger.append_keys(batch_id=batch.id)
    if created:
        metrics.add_metric(name="BatchesAccepted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BatchItemsAccepted", unit=MetricUnit.Count, value=batch.items)
    return json_response(202 if created else 200, _view(batch).model_dump(mode="json"))


@router.get("/v1/batches")
def list_batches(
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> BatchPage:
    batches, next_cursor = wiring.batches().list(caller_id(router.current_event), limit=limit, cursor=cursor)
    return BatchPage(batches=[_view(batch) for batch in batches], next_cursor=next_cursor)


@router.get("/v1/batches/<batch_id>")
def get_batch(batch_id: BatchId) -> BatchView:
    logger.append_keys(batch_id=batch_id)
    return _view(wiring.batches().get(caller_id(router.current_event), batch_id))


@router.get("/v1/batches/<batch_id>/results")
def batch_results(
    batch_id: BatchId,
    limit: Annotated[int, Query(ge=1, le=RESULTS_PAGE_MAX)] = RESULTS_PAGE_MAX,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[str]:
    """The items made so far, one JSON line each in manifest order (`application/jsonl`); the
    header `X-Next-Cursor` names the next page while there is one."""
    logger.append_keys(batch_id=batch_id)
    _, jobs, next_cursor = wiring.batches().results(
        caller_id(router.current_event), batch_id, limit=limit, cursor=cursor
    )
    headers = {"X-Next-Cursor": next_cursor} if next_cursor else None
    return Response(
        status_code=200,
        content_type="application/jsonl",
        body=result_lines(jobs, wiring.outputs().presign),
        headers=headers,
    )


@router.post("/v1/batches/<batch_id>/cancel")
def cancel_batch(batch_id: BatchId) -> BatchView:
    """No more items are made; waiting items are cancelled (reservations released); items at
    Leonardo finish. 409 `not_cancellable` once the batch has ended."""
    logger.append_keys(batch_id=batch_id)
    return _view(wiring.batches().cancel(caller_id(router.current_event), batch_id))
