"""A user's plan through the API function (moto + the simulator): the shipped `free` and `pro` plans
(docs/plans.md) cap requests, check prompts, limit the request rate, reserve each job's estimate
against the daily budget, and show the caller's spend; every refusal comes before anything is
stored or paid."""

from __future__ import annotations

import json

import pytest

from gencore import wiring
from gencore.domain.plans import default_plans_json

pytestmark = pytest.mark.integration


def free_plan_with(**fields) -> str:
    """The shipped plans, with `free` changed as a test needs (a high rate unless it says)."""
    document = json.loads(default_plans_json())
    document["plans"]["free"] |= {"rate": {"per_second": 100, "burst": 100}} | fields
    return json.dumps(document)


def with_plans(pipeline, monkeypatch, document: str):
    monkeypatch.setenv("PLANS_DOCUMENT", document)
    wiring.reset()
    return pipeline


@pytest.fixture
def small_budgets(pipeline, monkeypatch):
    """`free` allowed 30 credits a day: two 512x512 jobs."""
    return with_plans(pipeline, monkeypatch, free_plan_with(budget={"per_day": 30, "per_month": 300}))


def job(prompt: str, **fields) -> dict:
    return {"prompt": prompt, "width": 512, "height": 512, "num_images": 1} | fields


@pytest.mark.parametrize(
    ("fields", "cap"),
    [
        ({"width": 1024}, "max_width"),
        ({"num_images": 4}, "max_images_per_request"),
        ({"model_id": "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"}, "allowed_models"),  # Phoenix: not on free
    ],
)
def test_a_request_over_a_cap_of_the_plan_is_refused_naming_the_cap(pipeline, fields, cap):
    status, body = pipeline.api("POST", "/v1/generations", body=job("a fox", **fields), plan="free")
    assert status == 422 and body["error"]["code"] == "plan_limit"
    assert body["error"]["details"][0]["cap"] == cap
    assert pipeline.receive("SubmitQueue") == []
    assert pipeline.api("POST", "/v1/generations", body=job("a fox", **fields), plan="pro")[0] == 202


def test_a_prompt_against_the_content_policy_is_refused_without_echoing_it(pipeline):
    status, body = pipeline.api("POST", "/v1/generations", body=job("a N.U.D.E portrait"), plan="free")
    assert status == 422 and body["error"]["code"] == "content_policy"
    assert body["error"]["details"][0]["rule_class"] == "explicit" and "nude" not in json.dumps(body).lower()


def test_past_the_daily_budget_a_free_user_gets_402_and_a_pro_user_goes_on(small_budgets):
    pipeline = small_budgets
    for n in range(2):
        assert pipeline.api("POST", "/v1/generations", body=job(f"fox {n}"), plan="free")[0] == 202
    status, body = pipeline.api("POST", "/v1/generations", body=job("fox 2"), plan="free")
    assert status == 402 and body["error"]["code"] == "budget_exceeded"
    [details] = body["error"]["details"]
    assert details["period"] == "day" and details["remaining"] == "0" and details["unit"] == "CREDITS"
    assert details["resets_at"].endswith("T00:00:00Z")
    assert pipeline.api("POST", "/v1/generations", body=job("fox 2"), plan="pro")[0] == 202
    assert pipeline.api("POST", "/v1/generations", body=job("fox 3"), plan="free", user="bob")[0] == 202


def test_usage_shows_what_is_reserved_spent_and_left(small_budgets):
    pipeline = small_budgets
    status, accepted = pipeline.api("POST", "/v1/generations", body=job("a heron"), plan="free")
    assert status == 202 and accepted["cost"] == {"amount": "15", "unit": "CREDITS", "source": "estimate"}
    status, usage = pipeline.api("GET", "/v1/usage", plan="free")
    assert status == 200 and usage["plan"] == "free" and usage["unit"] == "CREDITS"
    assert (usage["day"]["budget"], usage["day"]["reserved"], usage["day"]["remaining"]) == ("30", "15", "15")
    assert usage["recent_jobs"][0]["id"] == accepted["id"]

    pipeline.drain("SubmitQueue", "SubmitterFunction")  # Leonardo answers with the job's cost
    status, usage = pipeline.api("GET", "/v1/usage", plan="free")
    assert (usage["day"]["reserved"], usage["day"]["spent"]) == ("0", "15")
    assert usage["recent_jobs"][0]["cost"]["source"] == "leonardo"


def test_a_cancelled_job_gives_its_reservation_back(small_budgets):
    pipeline = small_budgets
    _, accepted = pipeline.api("POST", "/v1/generations", body=job("a heron"), plan="free")
    assert pipeline.api("POST", f"/v1/generations/{accepted['id']}/cancel", plan="free")[0] == 200
    _, usage = pipeline.api("GET", "/v1/usage", plan="free")
    assert (usage["day"]["reserved"], usage["day"]["spent"], usage["day"]["remaining"]) == ("0", "0", "30")


def test_past_the_request_rate_a_user_gets_429_with_retry_after(pipeline, monkeypatch):
    with_plans(pipeline, monkeypatch, free_plan_with(rate={"per_second": 0.01, "burst": 3}))
    answers = [pipeline.api("POST", "/v1/generations", body=job(f"owl {n}"), plan="free") for n in range(4)]
    assert [status for status, _ in answers[:3]] == [202] * 3  # the plan's burst
    status, body = answers[3]
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert int(pipeline.last_headers["retry-after"]) >= 1
    assert pipeline.api("POST", "/v1/generations", body=job("owl 4"), plan="free", user="bob")[0] == 202


def test_past_the_waiting_cap_a_user_gets_429_without_retry_after_until_a_job_starts(pipeline, monkeypatch):
    with_plans(pipeline, monkeypatch, free_plan_with(max_waiting_jobs=2))
    for n in range(2):
        assert pipeline.api("POST", "/v1/generations", body=job(f"elk {n}"), plan="free")[0] == 202
    status, body = pipeline.api("POST", "/v1/generations", body=job("elk 2"), plan="free")
    assert status == 429 and body["error"]["code"] == "too_many_waiting"
    assert "retry-after" not in pipeline.last_headers
    pipeline.drain("SubmitQueue", "SubmitterFunction")  # both start at Leonardo: no longer waiting
    assert pipeline.api("POST", "/v1/generations", body=job("elk 2"), plan="free")[0] == 202


def test_an_estimate_answers_from_the_table_until_the_reconciler_has_asked_leonardo(pipeline):
    status, estimate = pipeline.api("POST", "/v1/estimates", body=job("a fox"))
    assert status == 200 and estimate == {"credits": 15.0, "source": "table"}
    pipeline.reconcile()  # asks the pricing calculator for the parameter set the estimate missed
    wiring.reset()  # a new cold start: the estimator's short memo forgotten
    status, estimate = pipeline.api("POST", "/v1/estimates", body=job("another fox"))
    assert status == 200 and estimate == {"credits": 15.0, "source": "pricing_calculator"}
    status, estimate = pipeline.api("POST", "/v1/estimates", body={"type": "upscale"})
    assert status == 200 and estimate["source"] == "table"
