"""gencore/guardrails.py against moto and the simulator: the plans and the content policy as a
deployment builds them (the rules from an SSM parameter, re-read without a deploy), and estimates
with their refresh on the jobs table."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gencore import guardrails
from gencore.adapters.leonardo import LeonardoGateway
from gencore.domain.errors import ContentPolicyViolation
from gencore.domain.requests import ImageGenerationRequest
from gencore.leonardo import LeonardoClient

from .conftest import LEONARDO_KEY

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 4, tzinfo=UTC)
RULES = {"version": 1, "classes": {"weapons": {"terms": ["pipe bomb"]}}}


def test_no_plans_document_is_the_shipped_one_for_a_deployment_billed_in_credits():
    assert set(guardrails.build_plans("", "CREDITS").plans) >= {"free", "pro"}
    with pytest.raises(ValueError, match="budgets are in CREDITS"):
        guardrails.build_plans("", "DOLLARS")
    with pytest.raises(ValidationError):
        guardrails.build_plans('{"version": 1}', "CREDITS")


def test_the_content_policy_follows_its_ssm_parameter(stack):
    ssm = stack.aws.client("ssm")
    ssm.put_parameter(Name="/test/content-policy", Value=json.dumps(RULES), Type="String")
    plans = guardrails.build_plans("", "CREDITS")
    rules = guardrails.build_content_policy(guardrails.ssm_text("/test/content-policy", max_age=0), plans)
    with pytest.raises(ContentPolicyViolation, match="weapons"):
        rules.check("pro", {"prompt": "a pipe bomb"})
    changed = {"version": 1, "classes": {"gore": {"terms": ["gore"]}}}
    ssm.put_parameter(Name="/test/content-policy", Value=json.dumps(changed), Type="String", Overwrite=True)
    rules.check("pro", {"prompt": "a pipe bomb"})
    with pytest.raises(ContentPolicyViolation, match="gore"):
        rules.check("pro", {"prompt": "gore"})


def test_without_a_parameter_the_shipped_rules_apply():
    plans = guardrails.build_plans("", "CREDITS")
    rules = guardrails.build_content_policy(guardrails.ssm_text("", max_age=300), plans)
    with pytest.raises(ContentPolicyViolation, match="explicit"):
        rules.check("free", {"prompt": "nsfw"})


def test_an_estimate_misses_then_the_refresh_fills_the_cache(stack):
    ddb, table = stack.aws.client("dynamodb"), stack.env["JOBS_TABLE"]
    gateway = LeonardoGateway(
        lambda fresh_key=False: LeonardoClient(base_url=stack.simulator.base_url, api_key=LEONARDO_KEY)
    )
    request = ImageGenerationRequest(prompt="a lake", width=512, height=512).normalized()
    first = guardrails.build_estimator(ddb, table, lambda: NOW, "CREDITS").estimate(request, "text_to_image")
    report = guardrails.build_price_refresh(ddb, table, gateway, lambda: NOW, "CREDITS")()
    again = guardrails.build_estimator(ddb, table, lambda: NOW, "CREDITS").estimate(request, "text_to_image")
    assert (first.source, report.priced, again.source, again.amount) == ("table", 1, "pricing_calculator", 15)
