"""GET /v1/models and the model name a job records, against moto and the Leonardo simulator: both
read the cache the reconciler refreshes; neither asks Leonardo."""

from __future__ import annotations

import pytest

from leonardo_simulator.catalog import BY_ID, PLATFORM_MODELS

from .test_generation_flow import PROMPT

pytestmark = pytest.mark.integration


def platform_model_calls(pipeline) -> int:
    return pipeline.stack.simulator.stats()["requests"].get("GET /api/rest/v1/platformModels", 0)


def test_before_the_first_refresh_the_list_is_empty_and_costs_no_leonardo_call(pipeline):
    assert pipeline.api("GET", "/v1/models") == (200, {"items": []})
    assert platform_model_calls(pipeline) == 0


def test_the_reconciler_fills_the_list_once_and_the_api_serves_it(pipeline):
    pipeline.reconcile()
    pipeline.reconcile()  # fresh: not asked again
    status, page = pipeline.api("GET", "/v1/models")
    assert status == 200
    assert [(m["id"], m["name"]) for m in page["items"]] == [(m.id, m.name) for m in PLATFORM_MODELS]
    assert platform_model_calls(pipeline) == 1


def test_a_job_records_its_models_name(pipeline):
    pipeline.reconcile()
    pipeline.runtime.unload()  # a new container: the API reads the refreshed cache
    status, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    assert status == 202 and job["model_name"] == BY_ID[job["request"]["model_id"]].name
