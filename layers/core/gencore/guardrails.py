"""Issue 12's groundwork built for wiring.py: the plans, the content policy, estimates and the price
refresh, from the values the template passes (docs/plans.md, docs/estimates.md). Nothing here reads
the environment: wiring.py passes what Settings read, and caches what these return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from gencore.domain.content_policy import ReloadableContentPolicy
from gencore.domain.estimates import Estimator, PricingCalculator, RefreshReport, Unit, refresh_prices
from gencore.domain.plans import PlansDocument, load_plans
from gencore.domain.policy import Clock


def build_plans(document: str | None, billing_unit: str) -> PlansDocument:
    """The plans document (empty: the shipped default), validated for the deployment's unit.
    Raises (pydantic.ValidationError, ValueError) at cold start: the function must not serve."""
    return load_plans(document).for_billing_unit(billing_unit)


def ssm_text(name: str | None, *, max_age: int) -> Callable[[], str | None]:
    """Reads an SSM parameter's text through Powertools' cache (`max_age` seconds), on the
    function's shared boto3 client; with no name configured, always None (the shipped default)."""
    if not name:
        return lambda: None
    from aws_lambda_powertools.utilities import parameters

    from gencore.clients import aws

    provider = parameters.SSMProvider(boto3_client=aws("ssm"))
    # Untransformed, an SSM parameter comes back as its text (the stubs allow for every transform).
    return lambda: cast("str | None", provider.get(name, max_age=max_age))


def build_content_policy(source: Callable[[], str | None], plans: PlansDocument) -> ReloadableContentPolicy:
    """The content policy re-read from `source` (see `ssm_text`), checked against the plans' names."""
    return ReloadableContentPolicy(source, known_plans=plans.plans)


def build_estimator(dynamodb: Any, jobs_table: str, clock: Clock, billing_unit: Unit) -> Estimator:
    from gencore.adapters.price_cache import DynamoPriceCache

    return Estimator(DynamoPriceCache(dynamodb, jobs_table), clock, unit=billing_unit)


def build_price_refresh(
    dynamodb: Any, jobs_table: str, calculator: PricingCalculator, clock: Clock, billing_unit: Unit,
    *, limit: int = 20,
) -> Callable[[], RefreshReport]:  # fmt: skip
    """The reconciler's scheduled step: `calculator` is the LeonardoGateway (its `price`)."""
    from gencore.adapters.price_cache import DynamoPriceCache

    cache = DynamoPriceCache(dynamodb, jobs_table)
    return lambda: refresh_prices(cache, calculator, clock, unit=billing_unit, limit=limit)
