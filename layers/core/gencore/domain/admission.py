"""What a user's plan decides when one of their jobs is accepted, checked before anything is stored.

In order, cheapest refusal first:

1. the request rate (a token bucket per user: 429 `rate_limited` with Retry-After);
2. the plan's caps (422 `plan_limit` naming the cap: never a silent clamp);
3. the content policy on the prompts (422 `content_policy` naming the rule class);
4. the job's estimate, reserved against the plan's daily and monthly budgets, and the plan's cap on
   jobs waiting here: both in the store's accept transaction (402 `budget_exceeded`, 429
   `too_many_waiting`), so two racing accepts cannot both take the last credits or the last place.

The job also gets its waiting limit (`queue_deadline`: past it, still waiting, it fails
`expired_in_queue`) and the plan's name (its NSFW policy is applied when its outputs are copied).
Nothing here calls Leonardo: estimates come from the cached pricing calculator or our table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from .estimates import Estimate
from .ledger import Pricing, reserve
from .models import Charge, Cost, Unit
from .plans import Budget, Plan, PlansDocument, check_caps
from .policy import epoch
from .rate_limits import TokenBuckets


class ContentCheck(Protocol):
    def check(self, plan: str, request: Mapping[str, Any]) -> None:
        """Raise ContentPolicyViolation if a prompt field matches a rule class of `plan`."""


@dataclass(frozen=True)
class Admitted:
    """What the store needs to accept the job, and what the job carries from its plan."""

    plan: str
    charge: Charge | None
    budget: Budget | None
    max_waiting: int | None
    queue_deadline: int | None


class Admission:
    def __init__(
        self,
        plans: PlansDocument,
        estimate: Callable[[Mapping[str, Any], str], Estimate],
        *,
        unit: Unit = "CREDITS",
        pricing: Pricing | None = None,
        content: ContentCheck | None = None,
        buckets: TokenBuckets | None = None,
    ) -> None:
        self._plans, self._estimate, self._unit = plans, estimate, unit
        self._pricing = pricing or Pricing(unit=unit)
        self._content, self._buckets = content, buckets

    def plan(self, claim: str | None) -> Plan:
        return self._plans.plan_for(claim)

    def admit(
        self, user_id: str, claim: str | None, kind: str, request: dict[str, Any], now: datetime
    ) -> Admitted:
        """Raise the plan's refusal, or say what the accept reserves (see the module)."""
        plan = self._plans.plan_for(claim)
        if self._buckets is not None:
            self._buckets.take(user_id, "requests", plan.rate.bucket)
        check_caps(plan, kind, request)
        if self._content is not None:
            self._content.check(plan.name, request)
        return Admitted(
            plan=plan.name,
            charge=reserve(self.amount(request, kind), self._unit, now),
            budget=plan.budget,
            max_waiting=plan.max_waiting_jobs,
            queue_deadline=epoch(now) + plan.max_queue_seconds,
        )

    def admit_batch(self, user_id: str, claim: str | None) -> Plan:
        """A batch is one request against the rate bucket (its lines are checked by `check_item`)."""
        plan = self._plans.plan_for(claim)
        if self._buckets is not None:
            self._buckets.take(user_id, "requests", plan.rate.bucket)
        return plan

    def check_item(self, plan: Plan, kind: str, request: dict[str, Any]) -> Decimal:
        """One line of a batch as a single job's accept checks it (caps, content): its estimate.
        The budget and the waiting cap apply to the batch as a whole (items do not count as waiting)."""
        check_caps(plan, kind, request)
        if self._content is not None:
            self._content.check(plan.name, request)
        return self.amount(request, kind)

    def reserve(self, amount: Decimal, now: datetime) -> Charge:
        return reserve(amount, self._unit, now)

    def amount(self, request: Mapping[str, Any], kind: str) -> Decimal:
        """The job's estimate in the billing unit (a table estimate in credits is converted at the
        configured price of a credit; without one, it is taken as it is and the settlement corrects it)."""
        estimate = self._estimate(request, kind)
        if estimate.unit == self._unit:
            return estimate.amount
        converted = self._pricing.amount_of(Cost(amount=str(estimate.amount), unit=estimate.unit))
        return converted if converted is not None else estimate.amount
