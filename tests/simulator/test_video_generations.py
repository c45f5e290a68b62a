"""The motion document's three creates, read as a specification: each is a generation (PENDING, then
COMPLETE after `pending_seconds`, read with `GET /generations/{id}`, called back like a picture),
billed at creation, whose one generated image carries the clip as `motionMP4URL`; image-to-video and
SVD animate an image this account owns, and every documented rule between fields is a 400 naming the
field, before anything is charged."""

from __future__ import annotations

import httpx
import pytest

from leonardo_simulator import FaultConfig

from .helpers import WebhookReceiver, client, create, request_slot, tiny_png, upload, wait_done, wait_for

pytestmark = pytest.mark.integration

T2V, I2V, SVD = "/generations-text-to-video", "/generations-image-to-video", "/generations-motion-svd"


def picture(c: httpx.Client) -> str:
    """The id of one finished generated image of this account."""
    return wait_done(c, create(c, width=64, height=64))["generated_images"][0]["id"]


def uploaded(c: httpx.Client) -> str:
    slot = request_slot(c)
    assert upload(slot, tiny_png()).status_code == 204
    return slot["id"]


def refusal(c: httpx.Client, route: str, body: dict) -> tuple[int, str, str]:
    answer = c.post(route, json=body)
    return answer.status_code, answer.json()["code"], answer.json()["path"]


def test_text_to_video_starts_a_generation_that_completes_with_a_clip(sim):
    with client(sim) as c:
        answer = c.post(T2V, json={"prompt": "A koala surfing"})
        assert answer.status_code == 200
        job = answer.json()["motionVideoGenerationJob"]
        pending = c.get(f"/generations/{job['generationId']}").json()["generations_by_pk"]
        done = wait_done(c, job["generationId"])
    assert pending["status"] == "PENDING" and pending["generated_images"] == []
    assert done["status"] == "COMPLETE" and done["prompt"] == "A koala surfing"
    [image] = done["generated_images"]
    assert image["motionMP4URL"].endswith(".mp4") and image["motion"] is True
    assert (image["motionModel"], image["imageToVideo"]) == ("MOTION2", False)


def test_motion_2_defaults_to_480p_and_veo3_to_720p(sim):
    with client(sim) as c:
        motion = c.post(T2V, json={"prompt": "p"}).json()["motionVideoGenerationJob"]["generationId"]
        veo = c.post(T2V, json={"prompt": "p", "model": "VEO3"}).json()["motionVideoGenerationJob"]
        sizes = [
            (g["imageWidth"], g["imageHeight"])
            for g in (wait_done(c, motion), wait_done(c, veo["generationId"]))
        ]
    assert sizes == [(832, 480), (1280, 720)]


def test_image_to_video_animates_a_generated_image_of_this_account(sim):
    with client(sim) as c:
        image_id = picture(c)
        answer = c.post(I2V, json={"prompt": "pan", "imageId": image_id, "imageType": "GENERATED"})
        assert answer.status_code == 200, answer.text
        done = wait_done(c, answer.json()["motionVideoGenerationJob"]["generationId"])
    assert done["generated_images"][0]["imageToVideo"] is True
    [entry] = [e for e in sim.generation_log() if e["id"] == done["id"]]
    assert entry["initGenerationImageId"] == image_id
    assert entry["video"]["kind"] == "image_to_video" and entry["video"]["sourceType"] == "GENERATED"


def test_image_to_video_animates_an_uploaded_init_image(sim):
    with client(sim) as c:
        init_id = uploaded(c)
        answer = c.post(I2V, json={"prompt": "pan", "imageId": init_id, "imageType": "UPLOADED"})
        assert answer.status_code == 200, answer.text
        done = wait_done(c, answer.json()["motionVideoGenerationJob"]["generationId"])
    assert done["status"] == "COMPLETE"
    [entry] = [e for e in sim.generation_log() if e["id"] == done["id"]]
    assert entry["initImageId"] == init_id and entry["video"]["sourceType"] == "UPLOADED"


@pytest.mark.parametrize(
    "case",
    [
        "an unknown id",
        "an init image named GENERATED",
        "a generated image named UPLOADED",
        "a deleted generation",
        "an upload not yet uploaded",
    ],
)
def test_image_to_video_refuses_an_image_it_cannot_find(sim, case):
    with client(sim) as c:
        image_id, image_type = "0b8e4f57-2c1d-4e8a-9b6f-3a2d1c0e9f87", "GENERATED"
        if case == "an init image named GENERATED":
            image_id = uploaded(c)
        elif case == "a generated image named UPLOADED":
            image_id, image_type = picture(c), "UPLOADED"
        elif case == "a deleted generation":
            generation = wait_done(c, create(c, width=64, height=64))
            c.delete(f"/generations/{generation['id']}")
            image_id = generation["generated_images"][0]["id"]
        elif case == "an upload not yet uploaded":
            image_id, image_type = request_slot(c)["id"], "UPLOADED"
        before = sim.stats()["credits_spent"]
        refused = refusal(c, I2V, {"prompt": "pan", "imageId": image_id, "imageType": image_type})
    assert refused == (400, "validation-failed", "$.imageId")
    assert sim.stats()["credits_spent"] == before


def test_image_to_video_takes_generated_or_uploaded_only(sim):
    with client(sim) as c:
        refused = refusal(c, I2V, {"prompt": "pan", "imageId": picture(c), "imageType": "VARIATION"})
    assert refused == (400, "validation-failed", "$.imageType")


def test_a_videos_own_image_is_not_a_picture_to_animate_again(sim):
    with client(sim) as c:
        job = c.post(T2V, json={"prompt": "p"}).json()["motionVideoGenerationJob"]
        poster = wait_done(c, job["generationId"])["generated_images"][0]["id"]
        assert refusal(c, I2V, {"prompt": "p", "imageId": poster, "imageType": "GENERATED"})[0] == 400


def test_svd_refuses_a_variation_that_is_not_finished(start_sim):
    sim = start_sim(pending_seconds=0.5)
    with client(sim) as c:
        image_id = picture(c)
        variation = c.post("/variations/nobg", json={"id": image_id}).json()["sdNobgJob"]["id"]
        refused = refusal(c, SVD, {"imageId": variation, "isVariation": True})
    assert refused == (400, "validation-failed", "$.imageId")


def test_svd_animates_a_generated_image_an_init_image_or_a_variation(sim):
    with client(sim) as c:
        image_id = picture(c)
        variation = c.post("/variations/nobg", json={"id": image_id}).json()["sdNobgJob"]["id"]
        sources = [{"imageId": image_id}, {"imageId": uploaded(c), "isInitImage": True}]
        done = []
        for body in sources:
            answer = c.post(SVD, json=body | {"motionStrength": 3})
            assert answer.status_code == 200, answer.text
            done.append(wait_done(c, answer.json()["motionSvdGenerationJob"]["generationId"]))
        # A variation must be finished before it can be animated.
        wait_for(
            lambda: c.get(f"/variations/{variation}").json()["generated_image_variation_generic"][0]["url"]
        )
        answer = c.post(SVD, json={"imageId": variation, "isVariation": True})
        assert answer.status_code == 200, answer.text
    assert [g["generated_images"][0]["motionStrength"] for g in done] == [3, 3]
    assert {g["generated_images"][0]["motionModel"] for g in done} == {"SVD"}
    kinds = {e["video"]["sourceType"] for e in sim.generation_log() if e["video"]}
    assert kinds == {"GENERATED", "UPLOADED", "VARIATION"}


def test_svd_takes_the_prompt_and_size_of_the_generation_it_animates(sim):
    with client(sim) as c:
        image_id = wait_done(c, create(c, prompt="a red fox", width=96, height=64))["generated_images"][0][
            "id"
        ]
        job = c.post(SVD, json={"imageId": image_id}).json()["motionSvdGenerationJob"]
        done = wait_done(c, job["generationId"])
    assert (done["prompt"], done["imageWidth"], done["imageHeight"]) == ("a red fox", 96, 64)
    assert done["generated_images"][0]["motionStrength"] == 5  # ours: the default


REFUSED = {
    "no prompt": (T2V, {}, "$.prompt"),
    "a blank prompt": (T2V, {"prompt": "  "}, "$.prompt"),
    "an unknown field": (T2V, {"prompt": "p", "num_images": 1}, "$.num_images"),
    "the example's VEO_3": (T2V, {"prompt": "p", "model": "VEO_3"}, "$.model"),
    "an unknown resolution": (T2V, {"prompt": "p", "resolution": "RESOLUTION_4K"}, "$.resolution"),
    "1080p on Motion 2.0": (T2V, {"prompt": "p", "resolution": "RESOLUTION_1080"}, "$.resolution"),
    "480p on Veo3": (T2V, {"prompt": "p", "model": "VEO3", "resolution": "RESOLUTION_480"}, "$.resolution"),
    "a duration on Motion 2.0": (T2V, {"prompt": "p", "duration": 8}, "$.duration"),
    "a duration Veo3 does not make": (T2V, {"prompt": "p", "model": "VEO3", "duration": 5}, "$.duration"),
    "a Kling 2.5 duration from text": (
        T2V,
        {"prompt": "p", "model": "KLING2_5", "duration": 5},
        "$.duration",
    ),
    "a seed over Motion 2.0's cap": (T2V, {"prompt": "p", "seed": 2_147_483_638}, "$.seed"),
    "a seed over Veo3's cap": (T2V, {"prompt": "p", "model": "VEO3", "seed": 4_294_967_294}, "$.seed"),
    "a negative seed": (T2V, {"prompt": "p", "seed": -1}, "$.seed"),
    "a string width": (T2V, {"prompt": "p", "width": "640"}, "$.width"),
    "a zero height": (T2V, {"prompt": "p", "height": 0}, "$.height"),
    "elements on Veo3": (T2V, {"prompt": "p", "model": "VEO3", "elements": [{"akUUID": "a"}]}, "$.elements"),
    "an element without akUUID": (T2V, {"prompt": "p", "elements": [{"weight": 1}]}, "$.elements[0].akUUID"),
    "a string element weight": (
        T2V,
        {"prompt": "p", "elements": [{"akUUID": "a", "weight": "1"}]},
        "$.elements[0].weight",
    ),
    "styleIds not strings": (T2V, {"prompt": "p", "styleIds": [1]}, "$.styleIds[0]"),
    "no imageType": (I2V, {"prompt": "p", "imageId": "x"}, "$.imageType"),
    "no imageId": (I2V, {"prompt": "p", "imageType": "GENERATED"}, "$.imageId"),
    "an end frame off Kling 2.1": (
        I2V,
        {
            "prompt": "p",
            "imageId": "x",
            "imageType": "GENERATED",
            "endFrameImage": {"id": "y", "type": "GENERATED"},
        },
        "$.endFrameImage",
    ),
    "an end frame without a type": (
        I2V,
        {
            "prompt": "p",
            "imageId": "x",
            "imageType": "GENERATED",
            "model": "KLING2_1",
            "endFrameImage": {"id": "y"},
        },
        "$.endFrameImage.type",
    ),
    "a Kling 2.5 duration of 8": (
        I2V,
        {"prompt": "p", "imageId": "x", "imageType": "GENERATED", "model": "KLING2_5", "duration": 8},
        "$.duration",
    ),
    "svd without imageId": (SVD, {"motionStrength": 3}, "$.imageId"),
    "svd strength 0": (SVD, {"imageId": "x", "motionStrength": 0}, "$.motionStrength"),
    "svd strength 11": (SVD, {"imageId": "x", "motionStrength": 11}, "$.motionStrength"),
    "svd fractional strength": (SVD, {"imageId": "x", "motionStrength": 2.5}, "$.motionStrength"),
    "svd init image and variation": (
        SVD,
        {"imageId": "x", "isInitImage": True, "isVariation": True},
        "$.isVariation",
    ),
    "svd a prompt": (SVD, {"imageId": "x", "prompt": "p"}, "$.prompt"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_documented_rules_are_400s_naming_the_field_and_charge_nothing(sim, case):
    route, body, path = REFUSED[case]
    with client(sim) as c:
        assert refusal(c, route, body) == (400, "validation-failed", path)
    assert sim.stats()["credits_spent"] == 0 and sim.stats()["generations_created"] == 0


ACCEPTED = {
    "Veo3 for 4 s": (T2V, {"model": "VEO3", "duration": 4, "resolution": "RESOLUTION_720"}),
    "Veo3 Fast for 6 s": (T2V, {"model": "VEO3FAST", "duration": 6}),
    "Motion 2.0 Fast at 720p with elements": (
        T2V,
        {
            "model": "MOTION2FAST",
            "resolution": "RESOLUTION_720",
            "elements": [{"akUUID": "a", "weight": 0.5}],
        },
    ),
    "Kling 2.1 at 1080p": (T2V, {"model": "KLING2_1", "resolution": "RESOLUTION_1080"}),
    "every other documented field": (
        T2V,
        {
            "frameInterpolation": True,
            "isPublic": False,
            "seed": 1,
            "negativePrompt": "blur",
            "promptEnhance": True,
            "promptEnhanceInstruction": "make it cinematic",
            "styleIds": ["s"],
            "width": 832,
            "height": 480,
        },
    ),
    "nulls for the nullable fields": (T2V, {"model": None, "duration": None, "seed": None, "elements": None}),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_documented_fields_are_accepted(sim, case):
    route, body = ACCEPTED[case]
    with client(sim) as c:
        answer = c.post(route, json={"prompt": "p", **body})
    assert answer.status_code == 200, answer.text


def test_kling_2_5_takes_5_or_10_seconds_from_an_image_and_kling_2_1_an_end_frame(sim):
    with client(sim) as c:
        image_id, end_id = picture(c), uploaded(c)
        base = {"prompt": "p", "imageId": image_id, "imageType": "GENERATED"}
        kling25 = c.post(I2V, json=base | {"model": "KLING2_5", "duration": 10})
        kling21 = c.post(
            I2V, json=base | {"model": "KLING2_1", "endFrameImage": {"id": end_id, "type": "UPLOADED"}}
        )
        missing_end = c.post(
            I2V, json=base | {"model": "KLING2_1", "endFrameImage": {"id": image_id, "type": "UPLOADED"}}
        )
    assert (kling25.status_code, kling21.status_code) == (200, 200)
    assert (missing_end.status_code, missing_end.json()["path"]) == (400, "$.endFrameImage.id")
    entries = {e["video"]["model"]: e["video"] for e in sim.generation_log() if e["video"]}
    assert entries["KLING2_5"]["durationSeconds"] == 10 and entries["KLING2_1"]["endFrameImageId"] == end_id


def test_unknown_fields_are_ignored_when_not_strict(start_sim):
    sim = start_sim(strict=False)
    with client(sim) as c:
        answer = c.post(T2V, json={"prompt": "p", "extra": 1})
    assert answer.status_code == 200
    assert sim.generation_log()[0]["request"] == {"prompt": "p"}


def test_each_create_is_billed_what_the_price_list_says(sim):
    with client(sim) as c:
        image_id = picture(c)
        costs = [
            c.post(T2V, json={"prompt": "p"}).json()["motionVideoGenerationJob"]["apiCreditCost"],
            c.post(T2V, json={"prompt": "p", "model": "VEO3", "duration": 4}).json()[
                "motionVideoGenerationJob"
            ],
            c.post(SVD, json={"imageId": image_id}).json()["motionSvdGenerationJob"]["apiCreditCost"],
        ]
        balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    costs[1] = costs[1]["apiCreditCost"]
    assert costs == [100, 800, 45]  # 20/s x 5 s at 480p; 100/s x 4 s x 2 at 720p; the guide's Motion
    assert balance == 100_000 - sum(costs) - sim.generation_log()[0]["cost"]


def test_a_failed_video_is_refunded_and_has_no_clip(sim):
    sim.set_faults(FaultConfig(failed_generation_rate=1.0))
    with client(sim) as c:
        job = c.post(T2V, json={"prompt": "p"}).json()["motionVideoGenerationJob"]
        done = wait_done(c, job["generationId"])
        balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    assert done["status"] == "FAILED" and done["generated_images"] == []
    assert balance == 100_000


def test_a_video_is_called_back_like_a_picture(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url)
        with client(sim) as c:
            job = c.post(T2V, json={"prompt": "p"}).json()["motionVideoGenerationJob"]
            [delivery] = receiver.wait_for_successful(1)
            done = wait_done(c, job["generationId"])
    generation = delivery.body["data"]["object"]
    assert delivery.body["type"] == "image_generation.complete" and generation["id"] == job["generationId"]
    assert generation["status"] == "COMPLETE"
    assert (
        generation["images"][0]["url"] == done["generated_images"][0]["url"]
    )  # the poster; the clip is in GET


def test_videos_are_listed_with_the_users_generations_and_can_be_deleted(sim):
    with client(sim) as c:
        video_id = c.post(T2V, json={"prompt": "p"}).json()["motionVideoGenerationJob"]["generationId"]
        listed = c.get(f"/generations/user/{sim.config.user_id}").json()["generations"]
        deleted = c.delete(f"/generations/{video_id}")
        gone = c.get(f"/generations/{video_id}")
    assert [g["id"] for g in listed] == [video_id]
    assert deleted.json() == {"delete_generations_by_pk": {"id": video_id}} and gone.status_code == 404


def test_the_video_creates_need_the_api_key(sim):
    with client(sim) as c:
        answer = c.post(T2V, json={"prompt": "p"}, headers={"authorization": "Bearer wrong"})
    assert answer.status_code == 401


def test_after_create_faults_apply_to_video_creates(sim):
    sim.set_faults(FaultConfig(http_5xx_after_create_rate=1.0))
    with client(sim) as c:
        answer = c.post(T2V, json={"prompt": "p"})
    assert answer.status_code in (500, 502, 504)
    [entry] = sim.generation_log()
    assert entry["answer"] == "5xx_after_create" and entry["video"]["kind"] == "text_to_video"


def test_each_video_route_has_its_own_create_window(start_sim):
    sim = start_sim(create_rate_limit_per_minute=1)
    with client(sim) as c:
        first = c.post(T2V, json={"prompt": "p"})
        second = c.post(T2V, json={"prompt": "p"})
        other_route = c.post("/generations", json={"prompt": "p", "width": 64, "height": 64, "num_images": 1})
    assert (first.status_code, second.status_code, other_route.status_code) == (200, 429, 200)


def test_videos_share_the_generation_queue(start_sim):
    sim = start_sim(max_concurrency=1, queue_limit=0, pending_seconds=5)
    with client(sim) as c:
        assert c.post(T2V, json={"prompt": "p"}).status_code == 200
        full = c.post(T2V, json={"prompt": "p"})
    assert full.status_code == 429 and sim.stats()["queue_rejected"] == 1
