"""The simulator's variations, read as a specification: each route takes one of the account's
generated images (or a variation's output where Leonardo allows it), bills at creation, answers a
variation id, and is PENDING until it is COMPLETE with one PNG on the CDN. No webhook."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from leonardo_simulator import FaultConfig

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


def test_a_background_removal_is_a_png_with_a_real_alpha_channel(sim):
    with client(sim) as c:
        _, image = finished_image(c)
        variation = poll(c, c.post("/variations/nobg", json={"id": image["id"]}).json()["sdNobgJob"]["id"])
        picture = Image.open(io.BytesIO(httpx.get(variation["url"], timeout=10).content))
    assert picture.mode == "RGBA"
    low, high = picture.getchannel("A").getextrema()
    assert (low, high) == (0, 255)  # a transparent background around an opaque subject


def test_the_same_variation_of_the_same_image_is_the_same_picture(sim):
    with client(sim) as c:
        _, image = finished_image(c)
        urls = [
            poll(c, c.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"])[
                "url"
            ]
            for _ in range(2)
        ]
        first, second = (httpx.get(url, timeout=10).content for url in urls)
    assert urls[0] != urls[1] and first == second


def test_the_universal_upscaler_takes_an_uploaded_init_image(sim):
    from .helpers import request_slot, tiny_png, upload

    with client(sim) as c:
        slot = request_slot(c)
        assert upload(slot, tiny_png(size=40)).status_code == 204
        job = c.post("/variations/universal-upscaler", json={"initImageId": slot["id"]}).json()
        variation = poll(c, job["universalUpscaler"]["id"])
        picture = Image.open(io.BytesIO(httpx.get(variation["url"], timeout=10).content))
        unknown = c.post(
            "/variations/universal-upscaler", json={"initImageId": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"}
        )
    assert picture.size == (60, 60)  # the documented default multiplier, 1.5
    assert unknown.status_code == 400 and unknown.json()["path"] == "$.initImageId"
    [logged] = sim.variation_log()
    assert (logged["sourceType"], logged["sourceImageId"], logged["kind"]) == (
        "UPLOADED",
        slot["id"],
        "universal_upscale",
    )


@pytest.mark.parametrize(
    "wrong",
    [{"creativityStrength": 4.5}, {"creativityStrength": 0},
     {"similarity": 11, "ultraUpscaleStyle": "ARTISTIC"}, {"upscaleMultiplier": 0.9},
     {"upscalerStyle": "OIL"}, {"generatedImageId": 7}],
)  # fmt: skip
def test_universal_upscaler_options_outside_the_document_are_refused(sim, wrong):
    with client(sim) as c:
        _, image = finished_image(c)
        answer = c.post("/variations/universal-upscaler", json={"generatedImageId": image["id"]} | wrong)
    assert answer.status_code == 400 and sim.stats()["variations_created"] == 0


def test_the_generation_lists_its_images_variations(sim):
    with client(sim) as c:
        generation, image = finished_image(c)
        job = c.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]["id"]
        pending = c.get(f"/generations/{generation['id']}").json()["generations_by_pk"]
        done = poll(c, job)
        listed = c.get(f"/generations/{generation['id']}").json()["generations_by_pk"]
    [entry] = pending["generated_images"][0]["generated_image_variation_generics"]
    assert (entry["id"], entry["transformType"], entry["url"]) == (job, "UPSCALE", None)
    [entry] = listed["generated_images"][0]["generated_image_variation_generics"]
    assert (entry["status"], entry["url"]) == ("COMPLETE", done["url"])


def test_the_admin_log_says_what_each_variation_worked_on_and_how_it_was_answered(sim):
    with client(sim) as c:
        generation, image = finished_image(c)
        c.post("/variations/unzoom", json={"id": image["id"]})
        sim.set_faults(FaultConfig(seed=1, http_5xx_after_create_rate=1.0))
        spoiled = c.post("/variations/nobg", json={"id": image["id"]})
        log = httpx.get(f"{sim.origin}/_admin/variations").json()
    assert spoiled.status_code in (500, 502, 504)
    # The route serves the handle's log; only a status may have moved on between the two reads.
    assert [entry | {"status": None} for entry in log] == [
        entry | {"status": None} for entry in sim.variation_log()
    ]
    unzoom, nobg = log
    assert set(unzoom) == {
        "id", "sequence", "kind", "route", "transformType", "sourceImageId", "sourceType", "isVariation",
        "sourceGenerationId", "status", "cost", "request", "width", "height", "createdAt", "receivedAt",
        "answer", "answerStatus", "answeredAt",
    }  # fmt: skip
    assert (unzoom["kind"], unzoom["sourceType"], unzoom["sourceGenerationId"]) == (
        "unzoom", "GENERATED", generation["id"],
    )  # fmt: skip
    assert (unzoom["answer"], unzoom["answerStatus"], unzoom["sequence"]) == ("ok", 200, 1)
    assert (nobg["kind"], nobg["answer"], nobg["answerStatus"]) == ("no_background", "5xx_after_create",
                                                                    spoiled.status_code)  # fmt: skip
    assert sim.stats()["variations_created"] == 2  # the spoiled one was made (and billed) all the same


def test_a_failed_variation_is_refunded(start_sim):
    sim = start_sim(starting_credits=1000)
    with client(sim) as c:
        _, image = finished_image(c)
        before = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
        sim.set_faults(FaultConfig(seed=1, failed_generation_rate=1.0))
        job = c.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]
        assert poll(c, job["id"])["status"] == "FAILED"
        after = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    assert after == before and sim.stats()["variations_failed"] == 1


def test_each_variation_route_has_its_own_create_window(start_sim):
    sim = start_sim(create_rate_limit_per_minute=1)
    with client(sim) as c:
        _, image = finished_image(c)
        first = c.post("/variations/upscale", json={"id": image["id"]})
        second = c.post("/variations/upscale", json={"id": image["id"]})
        other_route = c.post("/variations/nobg", json={"id": image["id"]})
    assert (first.status_code, second.status_code, other_route.status_code) == (200, 429, 200)
    assert sim.stats()["variations_created"] == 2


def test_an_account_billed_in_dollars_is_answered_in_dollars(start_sim):
    sim = start_sim(cost_unit="DOLLARS")
    with client(sim) as c:
        _, image = finished_image(c)
        job = c.post("/variations/upscale", json={"id": image["id"]}).json()["sdUpscaleJob"]
    assert (
        job["apiCreditCost"] is None and job["cost"]["unit"] == "DOLLARS" and float(job["cost"]["amount"]) > 0
    )
