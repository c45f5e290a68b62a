"""Canvas requests: POST /canvas-init-image hands out an init and a mask upload; both go to the
simulated bucket like any init image, and a generation with `canvasRequest` must name both,
uploaded. Its pictures mix the init image's bytes."""

from __future__ import annotations

import json

import httpx
import pytest

from .helpers import client, tiny_png, upload, wait_done

pytestmark = pytest.mark.integration


def canvas_pair(c: httpx.Client) -> tuple[dict, dict]:
    answer = c.post("/canvas-init-image", json={"initExtension": "png", "maskExtension": "png"})
    assert answer.status_code == 200, answer.text
    pair = answer.json()["uploadCanvasInitImage"]
    slots = tuple(
        {"id": pair[f"{p}ImageId"], "url": pair[f"{p}Url"], "key": pair[f"{p}Key"],
         "fields": json.loads(pair[f"{p}Fields"])}
        for p in ("init", "mask")
    )  # fmt: skip
    return slots  # type: ignore[return-value]


def inpaint(c: httpx.Client, init: dict, mask: dict) -> httpx.Response:
    body = {"prompt": "a red door", "width": 64, "height": 64, "num_images": 1, "canvasRequest": True,
            "canvasRequestType": "INPAINT", "canvasInitId": init["id"], "canvasMaskId": mask["id"],
            "init_strength": 0.5}  # fmt: skip
    return c.post("/generations", json=body)


def test_an_uploaded_pair_makes_a_canvas_generation(sim):
    with client(sim) as c:
        init, mask = canvas_pair(c)
        assert upload(init, tiny_png((10, 20, 30))).status_code == 204
        assert upload(mask, tiny_png((255, 255, 255))).status_code == 204
        answer = inpaint(c, init, mask)
        assert answer.status_code == 200, answer.text
        done = wait_done(c, answer.json()["sdGenerationJob"]["generationId"])
    assert done["status"] == "COMPLETE"
    [logged] = sim.generation_log()
    assert (logged["request"]["canvasInitId"], logged["request"]["canvasMaskId"]) == (init["id"], mask["id"])
    assert sim.stats()["init_images_uploaded"] == 2


@pytest.mark.parametrize("missing", ["init", "mask"])
def test_a_canvas_generation_whose_image_is_not_uploaded_is_refused(sim, missing):
    with client(sim) as c:
        init, mask = canvas_pair(c)
        for name, slot in (("init", init), ("mask", mask)):
            if name != missing:
                assert upload(slot, tiny_png()).status_code == 204
        answer = inpaint(c, init, mask)
    assert answer.status_code == 400
    assert answer.json()["path"] == ("$.canvasInitId" if missing == "init" else "$.canvasMaskId")
    assert sim.stats()["generations_created"] == 0


def test_a_canvas_request_without_its_mask_is_refused(sim):
    with client(sim) as c:
        init, _ = canvas_pair(c)
        assert upload(init, tiny_png()).status_code == 204
        body = {
            "prompt": "x",
            "canvasRequest": True,
            "canvasRequestType": "OUTPAINT",
            "canvasInitId": init["id"],
        }
        answer = c.post("/generations", json=body)
    assert answer.status_code == 400 and answer.json()["path"] == "$.canvasMaskId"
