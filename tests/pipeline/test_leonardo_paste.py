"""A recipe pasted from Leonardo's web app, through the functions against moto and the simulator:
accepted, stored in our names, sent to Leonardo as pasted (made private); someone's Leonardo ids and
broken rules are refused at the edge, before anything is queued."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
PASTED = {
    "alchemy": True, "contrast": 3.5, "height": 512, "width": 512, "modelId": PHOENIX, "num_images": 1,
    "presetStyle": "DYNAMIC", "prompt": "A lighthouse at dawn", "public": True, "seed": None,
}  # fmt: skip


def test_a_pasted_recipe_runs_as_pasted_but_private(pipeline):
    status, job = pipeline.api("POST", "/v1/generations", body={"leonardo": PASTED})
    assert status == 202, job
    assert job["request"]["model_id"] == PHOENIX and job["request"]["contrast"] == 3.5
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    [entry] = [g for g in pipeline.stack.simulator.generation_log() if g["id"] == item["generation_id"]]
    sent = entry["request"]
    assert {k: sent[k] for k in ("modelId", "contrast", "presetStyle", "alchemy", "width")} == {
        "modelId": PHOENIX, "contrast": 3.5, "presetStyle": "DYNAMIC", "alchemy": True, "width": 512,
    }  # fmt: skip
    assert sent["public"] is False and sent["seed"] == job["seed"]


@pytest.mark.parametrize(
    ("pasted", "code"),
    [
        (PASTED | {"init_image_id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"}, "foreign_leonardo_id"),
        (PASTED | {"contrast": 1.8}, "invalid_combination"),
    ],
)
def test_foreign_ids_and_broken_rules_are_refused_before_anything_is_queued(pipeline, pasted, code):
    status, answer = pipeline.api("POST", "/v1/generations", body={"leonardo": pasted})
    assert status == 422 and answer["error"]["code"] == code
    assert pipeline.receive("SubmitQueue") == []
