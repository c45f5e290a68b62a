"""Routes of what jobs cost: an estimate before asking (POST /v1/estimates) and the caller's spend
against their plan's budgets (GET /v1/usage). Neither calls Leonardo."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from gencore import wiring
from gencore.domain.events import cost_of
from gencore.domain.ledger import PeriodUsage, usage_of
from gencore.domain.requests import ImageGenerationRequest, VariationRequest
from gencore.views import ON_FIRST_USE, caller_id, caller_plan

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # powertools leaves __init__ unannotated


class EstimateView(BaseModel):
    model_config = ON_FIRST_USE

    credits: float  # in the deployment's billing unit (DOLLARS deployments: dollars), as Leonardo bills it
    source: Literal["pricing_calculator", "table"]


class PeriodView(BaseModel):
    model_config = ON_FIRST_USE

    key: str  # the UTC day ("2026-12-04") or month ("2026-12")
    budget: str
    spent: str
    reserved: str  # by jobs accepted and not yet settled
    remaining: str
    resets_at: datetime


class RecentJobView(BaseModel):
    model_config = ON_FIRST_USE

    id: str
    kind: str
    status: str
    created_at: datetime
    cost: dict[str, Any] | None  # {"amount", "unit", "source"}: what it cost, or its estimate while unsettled


class UsageView(BaseModel):
    model_config = ON_FIRST_USE

    plan: str
    unit: Literal["CREDITS", "DOLLARS"]
    day: PeriodView
    month: PeriodView
    recent_jobs: list[RecentJobView]


@router.post("/v1/estimates")
def create_estimate(request: ImageGenerationRequest | VariationRequest) -> EstimateView:
    """What the job in the body would cost (the body of POST /v1/generations, or of a variation);
    from Leonardo's pricing calculator as cached, else our table (docs/estimates.md)."""
    kind: str
    if isinstance(request, VariationRequest):
        kind, stored = request.type, request.model_dump(mode="json", exclude_none=True)
    else:
        kind, stored = request.kind, request.normalized()
    estimate = wiring.estimator().estimate(stored, kind)
    return EstimateView(credits=float(estimate.amount), source=estimate.source)


@router.get("/v1/usage")
def get_usage() -> UsageView:
    """The caller's spend and reservations against their plan's budgets, today and this month (UTC),
    and what their latest jobs cost."""
    event = router.current_event
    user = caller_id(event)
    admission = wiring.admission()
    plan = admission.plan(caller_plan(event, wiring.settings().plan_claim))
    usage = usage_of(
        wiring.ledger(), user, plan.name, plan.budget.per_day, plan.budget.per_month,
        wiring.settings().billing_unit, wiring.clock(),
    )  # fmt: skip
    recent = wiring.generations().list(user, limit=10, cursor=None).jobs
    return UsageView(
        plan=usage.plan, unit=usage.unit, day=_period(usage.day), month=_period(usage.month),
        recent_jobs=[
            RecentJobView(id=j.id, kind=j.kind, status=j.status, created_at=j.created_at, cost=cost_of(j))
            for j in recent
        ],
    )  # fmt: skip


def _period(usage: PeriodUsage) -> PeriodView:
    def text(amount: Decimal) -> str:
        return format(amount.normalize(), "f")

    return PeriodView(
        key=usage.period.key, budget=text(usage.budget), spent=text(usage.period.spent),
        reserved=text(usage.period.reserved), remaining=text(usage.remaining), resets_at=usage.resets_at,
    )  # fmt: skip
