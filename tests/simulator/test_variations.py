"""The simulator's variations, read as a specification: each route takes one of the account's
generated images (or a variation's output where Leonardo allows it), bills at creation, answers a
variation id, and is PENDING until it is COMPLETE with one PNG on the CDN. No webhook."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from .helpers import client, create, wait_done, wait_for

pytestmark = pytest.mark.integration


def finished_image(c: httpx.Client) -> tuple[dict, dict]:
    generation = wait_done(c, create(c, width=64, height=64))
    return generation, generation["generated_images"][0]


def poll(c: httpx.Client, variation_id: str) -> dict:
    def done():
        [variation] = c.get(f"/variations/{variation_id}").json()["generated_image_variation_generic"]
        return variation if variation["status"] != "PENDING" else None

    return wait_for(done)


@pytest.mark.parametrize(
    ("route", "envelope", "transform", "size"),
    [
        ("/variations/upscale", "sdUpscaleJob", "UPSCALE", (128, 128)),
        ("/variations/unzoom", "sdUnzoomJob", "UNZOOM", (96, 96)),
        ("/variations/nobg", "sdNobgJob", "NOBG", (64, 64)),
    ],
)
def test_a_variation_of_a_generated_image_completes_with_one_png(sim, route, envelope, transform, size):
    with client(sim) as c:
        _, image = finished_image(c)
        answer = c.post(route, json={"id": image["id"]})
        assert answer.status_code == 200, answer.text
        job = answer.json()[envelope]
        assert job["apiCreditCost"] > 0 and job["cost"]["unit"] == "CREDITS"
        variation = poll(c, job["id"])
        assert (variation["id"], variation["status"], variation["transformType"]) == (
            job["id"],
            "COMPLETE",
            transform,
        )
        png = httpx.get(variation["url"], timeout=10)
        assert png.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(png.content)).size == size
    [logged] = sim.variation_log()
    assert logged["sourceImageId"] == image["id"] and logged["transformType"] == transform
    assert sim.stats()["variations_created"] == 1


def test_the_universal_upscaler_takes_its_options_within_the_documented_ranges(sim):
    with client(sim) as c:
        _, image = finished_image(c)
        body = {"generatedImageId": image["id"], "ultraUpscaleStyle": "REALISTIC", "creativityStrength": 3,
                "detailContrast": 7, "similarity": 5, "upscaleMultiplier": 1.5}  # fmt: skip
        job = c.post("/variations/universal-upscaler", json=body).json()["universalUpscaler"]
        assert poll(c, job["id"])["status"] == "COMPLETE"
        for wrong in ({"creativityStrength": 11}, {"upscaleMultiplier": 2.5}, {"detailContrast": 3},
                      {"upscalerStyle": "GENERAL", "ultraUpscaleStyle": "ARTISTIC"}):  # fmt: skip
            refused = c.post("/variations/universal-upscaler", json={"generatedImageId": image["id"]} | wrong)
            assert refused.status_code == 400, wrong
    assert sim.stats()["variations_created"] == 1  # refused ones cost nothing


def test_an_unknown_image_is_refused_and_costs_nothing(sim):
    with client(sim) as c:
        refused = c.post("/variations/upscale", json={"id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"})
        assert refused.status_code == 400
        assert c.get("/variations/0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11").status_code == 404
    assert sim.stats()["variations_created"] == 0 and sim.variation_log() == []


def test_a_variations_output_can_be_unzoomed_or_freed_of_its_background_but_not_upscaled(sim):
    with client(sim) as c:
        _, image = finished_image(c)
        first = c.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"]
        poll(c, first)
        nobg = c.post("/variations/nobg", json={"id": first, "isVariation": True})
        assert nobg.status_code == 200 and poll(c, nobg.json()["sdNobgJob"]["id"])["status"] == "COMPLETE"
        assert c.post("/variations/upscale", json={"id": first, "isVariation": True}).status_code == 400


def test_no_webhook_is_sent_for_a_variation(start_sim):
    from .helpers import WebhookReceiver

    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url)
        with client(sim) as c:
            _, image = finished_image(c)
            receiver.wait_for_successful(1)
            poll(c, c.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"])
        assert len(receiver.successful()) == 1  # the generation's callback only
