"""Public HTTP API: one resolver, the routes in a Router module per area, errors mapped in one place.

Routes are validated from their types (Powertools Event Handler with OpenAPI validation); the work
happens in gencore.domain, the shapes live in gencore.views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import batch_routes
import billing_routes
import generation_routes
import model_routes
import prompt_routes
import realtime_routes
import upload_routes
import video_routes
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths

from gencore import snapstart, wiring
from gencore.domain.errors import DomainError
from gencore.domain.ledger import BudgetExceeded
from gencore.observability import MetricUnit, logger, metrics
from gencore.spend_log import report_budget_refusal
from gencore.views import (
    caller_id,
    caller_plan,
    error_body,
    error_details,
    json_response,
    retry_after,
    status_for,
    unsupported_media_type,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

app = APIGatewayHttpResolver(enable_validation=True)
# Refusals a request model raises with a code of their own (the rest are `validation_error`).
NAMED_REFUSALS = frozenset({"invalid_combination", "foreign_leonardo_id"})
app.include_router(generation_routes.router)
app.include_router(upload_routes.router)
app.include_router(model_routes.router)
app.include_router(prompt_routes.router)
app.include_router(billing_routes.router)
app.include_router(batch_routes.router)
app.include_router(video_routes.router)
app.include_router(realtime_routes.router)


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.exception_handler(DomainError)  # type: ignore[untyped-decorator]  # unannotated in powertools
def domain_error(error: DomainError) -> Response[Any]:
    if error.code.startswith("upload_"):
        metrics.add_metric(name="UploadsRefused", unit=MetricUnit.Count, value=1)
    if isinstance(error, BudgetExceeded):  # BudgetRefusals, and a line counted per user (its pseudonym)
        plan = wiring.admission().plan(caller_plan(app.current_event, wiring.settings().plan_claim)).name
        report_budget_refusal(caller_id(app.current_event), plan=plan, period=error.period)
    body = error_body(error.code, error.message, error_details(error))
    return json_response(status_for(error), body, headers=retry_after(error))


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]  # unannotated in powertools
def invalid_request(error: RequestValidationError) -> Response[Any]:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return json_response(400, error_body("malformed_json", "The request body is not valid JSON"))
    # Locations and messages only: never echo the input back.
    details = [{"loc": list(p.get("loc", ())), "type": p.get("type"), "msg": p.get("msg")} for p in problems]
    kinds = {p.get("type") for p in problems}
    if len(kinds) == 1 and (code := kinds.pop()) in NAMED_REFUSALS:
        # A rule between fields broken (named), or a pasted Leonardo id of someone's account.
        details = [{"loc": list(p.get("loc", ())), **p.get("ctx", {}), "msg": p.get("msg")} for p in problems]
        return json_response(422, error_body(code, problems[0].get("msg", ""), details))
    return json_response(422, error_body("validation_error", "The request is not valid", details))


@app.exception_handler(RecursionError)  # type: ignore[untyped-decorator]  # unannotated in powertools
def too_deep(_error: RecursionError) -> Response[Any]:
    # json.loads raises RecursionError, not a decode error, for nesting deeper than it allows.
    return json_response(400, error_body("malformed_json", "The request body is not valid JSON"))


@app.not_found
def not_found(_error: Exception) -> Response[Any]:
    return json_response(404, error_body("not_found", "No such route"))


def _prime() -> None:
    """Before a SnapStart snapshot: the use cases and clients the routes use, and each route's
    validation (built by the first request of each route otherwise). Nothing is sent."""
    wiring.generations(), wiring.removal(), wiring.outputs(), wiring.account_guard(), wiring.prompts()
    wiring.realtime(), wiring.batches()  # the canvas's path then loads nothing on its first call
    app.get_openapi_schema()


snapstart.install(prime=_prime)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unsupported_media_type(event) or app.resolve(event, context)
