"""The simulator refuses, with Leonardo's 400, the combinations real Leonardo documents as
invalid: the suite is only as good as its Leonardo."""

from __future__ import annotations

import pytest

from .helpers import client

pytestmark = pytest.mark.integration
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
BASE = {"prompt": "a fox", "width": 64, "height": 64, "num_images": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"ultra": True, "alchemy": True},
        {"photoReal": True, "alchemy": False},
        {"photoReal": True, "alchemy": True, "modelId": PHOENIX},  # v1 takes no model
        {"contrast": 1.1, "modelId": PHOENIX},
        {"contrast": 1.8, "alchemy": True, "modelId": PHOENIX},
        {"unzoom": True, "unzoomAmount": 0.2},
        {"seed": 2_147_483_638, "sd_version": "FLUX"},
        {"elements": [{"akUUID": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "weight": "0.5"}]},
        {"init_generation_image_id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"},
    ],
    ids=["ultra with alchemy", "photoReal without alchemy", "photoReal v1 with a model", "contrast 1.1",
         "Phoenix alchemy contrast 1.8", "unzoom without an init image", "Flux seed over its cap",
         "string element weight", "unknown generated image"],
)  # fmt: skip
def test_combinations_leonardo_refuses_are_refused_and_cost_nothing(sim, body):
    with client(sim) as c:
        answer = c.post("/generations", json=BASE | body)
    assert answer.status_code == 400, answer.text
    assert sim.stats()["generations_created"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"ultra": True, "alchemy": False, "modelId": PHOENIX},
        {"photoReal": True, "alchemy": True},
        {"contrast": 3.5, "alchemy": True, "modelId": PHOENIX},
        {"seed": 9_999_999_998},
    ],
)
def test_documented_combinations_are_accepted(sim, body):
    with client(sim) as c:
        assert c.post("/generations", json=BASE | body).status_code == 200
