"""Draft vs final through the API function, the submitter and the simulator (moto + the simulator):
the estimate reflects the preset, a free user's draft is accepted, reserves the draft's estimate,
stores the settings it runs with, and Leonardo is asked for exactly those (docs/parameters.md,
"Quality presets")."""

from __future__ import annotations

import pytest

from .test_edits import leonardo_request

pytestmark = pytest.mark.integration

BODY = {"prompt": "A lighthouse on a cliff at dawn", "num_images": 1}


def test_a_draft_is_estimated_reserved_stored_and_sent_with_its_cheap_settings(pipeline):
    _, draft = pipeline.api("POST", "/v1/estimates", body=BODY | {"quality": "draft"}, plan="free")
    _, final = pipeline.api("POST", "/v1/estimates", body=BODY | {"quality": "final"}, plan="free")
    assert (draft["credits"], final["credits"]) == (15.0, 40.0)

    status, job = pipeline.api("POST", "/v1/generations", body=BODY | {"quality": "draft"}, plan="free")
    assert status == 202, job  # 512x512 fits the free plan's caps
    assert job["cost"] == {"amount": "15", "unit": "CREDITS", "source": "estimate"}
    request = job["request"]
    settings = (request["quality"], request["width"], request["height"], request["alchemy"])
    assert settings == ("draft", 512, 512, False)

    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED"
    sent = leonardo_request(pipeline, item["generation_id"])
    settings = (sent["width"], sent["height"], sent["alchemy"], sent["num_inference_steps"])
    assert settings == (512, 512, False, 10)
    assert sent["modelId"] == "b24e16ff-06e3-43eb-8d33-4416c2d75876" and "quality" not in sent


def test_a_free_users_final_is_refused_at_its_size_never_shrunk(pipeline):
    status, body = pipeline.api("POST", "/v1/generations", body=BODY | {"quality": "final"}, plan="free")
    assert status == 422 and body["error"]["code"] == "plan_limit"
    assert body["error"]["details"][0]["cap"] == "max_width"
    assert pipeline.receive("SubmitQueue") == []
