"""Init images over real HTTP: upload slots, the presigned POST to the simulated
S3 bucket, the CDN copy, and image-to-image generations that trace back to them."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from leonardo_simulator import FaultConfig, SimulatorConfig

from .helpers import (
    AUTH,
    client,
    create,
    multipart,
    request_slot,
    s3_error_code,
    tiny_png,
    upload,
    wait_done,
)
from .test_api import UNKNOWN_ID, assert_error_shape

pytestmark = pytest.mark.integration

PICTURE = tiny_png((200, 40, 40))
OTHER_PICTURE = tiny_png((40, 40, 200))


def uploaded_slot(c: httpx.Client, content: bytes = PICTURE, extension: str = "png") -> dict:
    slot = request_slot(c, extension)
    response = upload(slot, content)
    assert response.status_code == 204, response.text
    return slot


def first_image(c: httpx.Client, **body) -> bytes:
    generation = wait_done(c, create(c, **body))
    assert generation["status"] == "COMPLETE"
    return httpx.get(generation["generated_images"][0]["url"]).content


# -- the slot ------------------------------------------------------------------


def test_slot_is_a_presigned_post_to_the_simulated_bucket(start_sim):
    sim = start_sim(upload_max_bytes=4096, upload_expiry_seconds=30)
    with client(sim) as c:
        response = c.post("/init-image", json={"extension": "jpg"})
    assert response.status_code == 200
    slot = response.json()["uploadInitImage"]
    assert set(slot) == {"id", "url", "key", "fields"}
    assert isinstance(slot["fields"], str)  # a JSON string, as Leonardo sends it
    fields = json.loads(slot["fields"])
    assert slot["url"] == f"{sim.origin}/_s3/init-images"
    assert not slot["url"].startswith(sim.base_url)
    assert slot["key"] == f"users/{sim.config.user_id}/initImages/{slot['id']}.jpg"
    assert fields["key"] == slot["key"] and fields["Content-Type"] == "image/jpeg"
    assert {"Policy", "X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date"} <= set(fields)
    policy = json.loads(base64.b64decode(fields["Policy"]))
    assert ["content-length-range", 1, 4096] in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"]) - datetime.now(UTC)
    assert 25 < expires.total_seconds() <= 30
    assert sim.init_images[slot["id"]].content is None
    assert sim.stats()["init_images_created"] == 1


def test_default_size_ceiling_is_ten_mebibytes(sim):
    with client(sim) as c:
        policy = json.loads(base64.b64decode(request_slot(c)["fields"]["Policy"]))
    assert ["content-length-range", 1, 10 * 1024 * 1024] in policy["conditions"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"extension": "gif"}, "extension"),
        ({"extension": "PNG"}, "extension"),
        ({"extension": 1}, "extension"),
        ({"extension": None}, "extension"),
        ({}, "extension"),
        ({"extension": "png", "mime": "image/png"}, "mime"),
    ],
)
def test_wrong_extension_or_unknown_field_is_400(sim, body, field):
    with client(sim) as c:
        error = assert_error_shape(c.post("/init-image", json=body), 400, "validation-failed")
    assert error["path"] == f"$.{field}"
    assert sim.stats()["init_images_created"] == 0


def test_unknown_fields_are_ignored_when_not_strict(start_sim):
    sim = start_sim(strict=False)
    with client(sim) as c:
        assert c.post("/init-image", json={"extension": "webp", "someFutureField": 1}).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}])
def test_init_image_routes_need_the_bearer_key(sim, headers):
    for method, path in [
        ("POST", "/init-image"),
        ("GET", f"/init-image/{UNKNOWN_ID}"),
        ("DELETE", f"/init-image/{UNKNOWN_ID}"),
        ("POST", "/canvas-init-image"),
    ]:
        response = httpx.request(method, sim.base_url + path, headers=headers, json={"extension": "png"})
        assert_error_shape(response, 401, "access-denied")
    assert sim.stats()["init_images_created"] == 0


# -- the upload ----------------------------------------------------------------


def test_upload_then_get_then_cdn_serves_the_exact_bytes(sim):
    with client(sim) as c:
        slot = request_slot(c)
        response = upload(slot, PICTURE)
        assert response.status_code == 204 and response.content == b""
        assert response.headers["etag"].startswith('"')
        record = c.get(f"/init-image/{slot['id']}").json()["init_images_by_pk"]
    assert set(record) == {"id", "url", "createdAt"}
    assert record["id"] == slot["id"]
    assert record["url"] == f"{sim.origin}/cdn/users/{sim.config.user_id}/initImages/{slot['id']}.png"
    served = httpx.get(record["url"])  # public, like the generated images
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert served.content == PICTURE
    assert sim.init_images[slot["id"]].content == PICTURE
    assert sim.stats()["init_images_uploaded"] == 1


def test_cdn_serves_the_pinned_content_type(sim):
    with client(sim) as c:
        slot = uploaded_slot(c, b"\xff\xd8\xff fake jpeg", "jpeg")
        url = c.get(f"/init-image/{slot['id']}").json()["init_images_by_pk"]["url"]
    assert url.endswith(".jpeg")
    assert httpx.get(url).headers["content-type"] == "image/jpeg"


def test_cdn_is_404_before_the_upload(sim):
    with client(sim) as c:
        slot = request_slot(c)
        record = c.get(f"/init-image/{slot['id']}").json()["init_images_by_pk"]
    assert_error_shape(httpx.get(record["url"]), 404)


def test_fields_after_the_file_are_ignored(sim):
    """S3: the file must be the last field; anything after it is ignored."""
    with client(sim) as c:
        slot = request_slot(c)
    body, headers = multipart(*slot["fields"].items(), ("file", PICTURE), ("key", "users/x/other.png"))
    assert httpx.post(slot["url"], content=body, headers=headers).status_code == 204
    assert sim.init_images[slot["id"]].content == PICTURE


def test_delete_init_image(sim):
    with client(sim) as c:
        slot = uploaded_slot(c)
        url = c.get(f"/init-image/{slot['id']}").json()["init_images_by_pk"]["url"]
        response = c.delete(f"/init-image/{slot['id']}")
        assert response.status_code == 200
        assert response.json() == {"delete_init_images_by_pk": {"id": slot["id"]}}
        assert_error_shape(c.get(f"/init-image/{slot['id']}"), 404, "not-found")
        assert_error_shape(c.delete(f"/init-image/{slot['id']}"), 404, "not-found")
    assert_error_shape(httpx.get(url), 404)
    assert slot["id"] not in sim.init_images
    assert sim.stats()["init_images_deleted"] == 1


def test_unknown_init_image_is_404(sim):
    with client(sim) as c:
        assert_error_shape(c.get(f"/init-image/{UNKNOWN_ID}"), 404, "not-found")
        assert_error_shape(c.get("/init-image/not-a-uuid"), 404, "not-found")
        assert_error_shape(c.delete(f"/init-image/{UNKNOWN_ID}"), 404, "not-found")


# -- S3's refusals ---------------------------------------------------------------


def tampered_policy(slot: dict) -> str:
    policy = json.loads(base64.b64decode(slot["fields"]["Policy"]))
    policy["conditions"] = [
        ["content-length-range", 1, 10**9] if isinstance(c, list) else c for c in policy["conditions"]
    ]
    return base64.b64encode(json.dumps(policy).encode()).decode()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (lambda slot: {"X-Amz-Signature": "0" * 64}, 403, "SignatureDoesNotMatch"),
        (lambda slot: {"Policy": tampered_policy(slot)}, 403, "SignatureDoesNotMatch"),
        (lambda slot: {"key": slot["key"].replace(".png", ".webp")}, 403, "AccessDenied"),
        (lambda slot: {"Content-Type": "text/html"}, 403, "AccessDenied"),
        (lambda slot: {"acl": "public-read"}, 403, "AccessDenied"),  # a field the policy does not name
    ],
    ids=["bad-signature", "tampered-policy", "other-key", "other-content-type", "extra-field"],
)
def test_upload_that_breaks_the_signed_policy_is_refused(sim, change, status, code):
    with client(sim) as c:
        slot = request_slot(c)
    response = upload(slot, PICTURE, **change(slot))
    assert response.status_code == status
    assert s3_error_code(response) == code
    assert sim.init_images[slot["id"]].content is None
    assert sim.stats()["uploads_rejected"] == 1


def test_expired_policy_is_403(start_sim):
    sim = start_sim(upload_expiry_seconds=0.2)
    with client(sim) as c:
        slot = request_slot(c)
    time.sleep(0.3)
    response = upload(slot, PICTURE)
    assert response.status_code == 403
    assert s3_error_code(response) == "AccessDenied"
    assert "Policy expired" in response.text
    assert sim.init_images[slot["id"]].content is None


def test_authorization_header_is_403(sim):
    """CONTRACT.md: adding Leonardo's Authorization header to the upload is a known cause of 403s."""
    with client(sim) as c:
        slot = request_slot(c)
    response = upload(slot, PICTURE, headers=AUTH)
    assert response.status_code == 403
    assert s3_error_code(response) == "AccessDenied"
    assert sim.init_images[slot["id"]].content is None


def test_file_over_the_ceiling_is_entity_too_large_and_not_kept(start_sim):
    sim = start_sim(upload_max_bytes=1024)
    with client(sim) as c:
        slot = request_slot(c)
        assert upload(slot, b"x" * 1024).status_code == 204  # the ceiling itself is allowed
        slot = request_slot(c)
    response = upload(slot, b"x" * (2 * 1024 * 1024))  # far past it: still a clean XML answer
    assert response.status_code == 400
    assert s3_error_code(response) == "EntityTooLarge"
    assert "<MaxSizeAllowed>1024</MaxSizeAllowed>" in response.text
    assert sim.init_images[slot["id"]].content is None


def test_empty_file_is_entity_too_small(sim):
    with client(sim) as c:
        slot = request_slot(c)
    response = upload(slot, b"")
    assert response.status_code == 400
    assert s3_error_code(response) == "EntityTooSmall"


def test_missing_file_is_invalid_argument(sim):
    with client(sim) as c:
        slot = request_slot(c)
    body, headers = multipart(*slot["fields"].items())
    response = httpx.post(slot["url"], content=body, headers=headers)
    assert response.status_code == 400
    assert s3_error_code(response) == "InvalidArgument"
    assert "<ArgumentName>file</ArgumentName>" in response.text


def test_oversized_fields_before_the_file_are_refused(sim):
    with client(sim) as c:
        slot = request_slot(c)
    response = upload(slot, PICTURE, **{"x-ignore-padding": "p" * 21 * 1024})
    assert response.status_code == 400
    assert s3_error_code(response) == "MaxPostPreDataLengthExceeded"


def test_missing_key_field_is_invalid_argument(sim):
    with client(sim) as c:
        slot = request_slot(c)
    fields = {name: value for name, value in slot["fields"].items() if name != "key"}
    body, headers = multipart(*fields.items(), ("file", PICTURE))
    response = httpx.post(slot["url"], content=body, headers=headers)
    assert response.status_code == 400
    assert s3_error_code(response) == "InvalidArgument"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"key=value", "application/x-www-form-urlencoded"),
        (b"--nope\r\nnot a part", "multipart/form-data; boundary=nope"),
        (b"no boundary at all", "multipart/form-data; boundary=missing"),
    ],
)
def test_body_that_is_not_multipart_is_malformed(sim, content, content_type):
    response = httpx.post(
        f"{sim.origin}/_s3/init-images", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 400
    assert s3_error_code(response) == "MalformedPOSTRequest"


# -- generations from an init image ------------------------------------------------


def test_generation_records_its_init_image_and_depends_on_its_bytes(sim):
    body = {"prompt": "a red square, repainted", "seed": 77, "width": 64, "height": 64, "num_images": 1}
    with client(sim) as c:
        red, red_again, blue = uploaded_slot(c), uploaded_slot(c), uploaded_slot(c, OTHER_PICTURE)
        generation_id = create(c, **body, init_image_id=red["id"], init_strength=0.5)
        generation = wait_done(c, generation_id)
        from_red = httpx.get(generation["generated_images"][0]["url"]).content
        from_red_again = first_image(c, **body, init_image_id=red_again["id"], init_strength=0.5)
        from_blue = first_image(c, **body, init_image_id=blue["id"], init_strength=0.5)
        stronger = first_image(c, **body, init_image_id=red["id"], init_strength=0.8)
        text_only = first_image(c, **body)
    assert generation["status"] == "COMPLETE" and generation["initStrength"] == 0.5
    assert sim.generations[generation_id].init_image_id == red["id"]
    assert from_red == from_red_again  # same bytes in, same picture out, whatever the id
    assert len({from_red, from_blue, stronger, text_only}) == 4


def test_seedless_image_to_image_is_deterministic_too(start_sim):
    def picture() -> bytes:
        with client(start_sim()) as c:
            slot = uploaded_slot(c)
            return first_image(c, prompt="a lake", width=64, height=64, init_image_id=slot["id"])

    assert picture() == picture()


@pytest.mark.parametrize("state", ["unknown", "not uploaded", "deleted"])
def test_generation_needs_an_uploaded_init_image(sim, state):
    with client(sim) as c:
        if state == "unknown":
            init_image_id = UNKNOWN_ID
        elif state == "not uploaded":
            init_image_id = request_slot(c)["id"]
        else:
            init_image_id = uploaded_slot(c)["id"]
            c.delete(f"/init-image/{init_image_id}")
        response = c.post("/generations", json={"prompt": "x", "init_image_id": init_image_id})
        balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    error = assert_error_shape(response, 400, "validation-failed")
    assert error["path"] == "$.init_image_id" and init_image_id in error["error"]
    assert balance == sim.config.starting_credits
    assert sim.stats()["generations_created"] == 0


# -- canvas, faults, admin ---------------------------------------------------------


def test_canvas_init_image_hands_out_two_slots(sim):
    with client(sim) as c:
        response = c.post("/canvas-init-image", json={"initExtension": "png", "maskExtension": "jpg"})
        assert response.status_code == 200
        slots = response.json()["uploadCanvasInitImage"]
        for prefix, extension in (("init", "png"), ("mask", "jpg")):
            slot = {
                "id": slots[f"{prefix}ImageId"],
                "url": slots[f"{prefix}Url"],
                "key": slots[f"{prefix}Key"],
                "fields": json.loads(slots[f"{prefix}Fields"]),
            }
            assert slot["key"].endswith(f"{slot['id']}.{extension}")
            assert upload(slot, PICTURE).status_code == 204
        bad = c.post("/canvas-init-image", json={"initExtension": "png"})
    assert_error_shape(bad, 400, "validation-failed")
    assert sim.stats()["init_images_uploaded"] == 2


def test_injected_faults_hit_the_init_image_routes_but_not_s3_or_the_cdn(sim):
    with client(sim) as c:
        slot = request_slot(c)
        sim.set_faults(FaultConfig(http_429_rate=1.0, http_5xx_rate=1.0))
        assert c.post("/init-image", json={"extension": "png"}).status_code == 429
        assert c.get(f"/init-image/{slot['id']}").status_code == 429
        sim.set_faults(FaultConfig(http_5xx_rate=1.0))
        assert c.delete(f"/init-image/{slot['id']}").status_code == 500
        assert c.post("/canvas-init-image", json={}).status_code == 500
        assert upload(slot, PICTURE).status_code == 204  # S3 is not Leonardo
        assert httpx.get(sim.init_images[slot["id"]].url).content == PICTURE
        sim.set_faults(FaultConfig(malformed_json_rate=1.0))
        with pytest.raises(ValueError):
            c.post("/init-image", json={"extension": "png"}).json()
    stats = sim.stats()
    assert (stats["injected_429"], stats["injected_5xx"], stats["injected_malformed_json"]) == (2, 2, 1)
    assert stats["requests"]["POST /_s3/init-images"] == 1


def test_reset_forgets_init_images(sim):
    with client(sim) as c:
        uploaded_slot(c)
    assert httpx.post(f"{sim.origin}/_admin/reset").status_code == 200
    assert sim.init_images == {}
    assert sim.stats()["init_images_uploaded"] == 0


def test_upload_knobs_from_environment():
    cfg = SimulatorConfig.from_env(
        {"LEONARDO_SIM_UPLOAD_MAX_BYTES": "2048", "LEONARDO_SIM_UPLOAD_EXPIRY_SECONDS": "5"}
    )
    assert (cfg.upload_max_bytes, cfg.upload_expiry_seconds) == (2048, 5.0)
    with pytest.raises(ValueError, match="upload_max_bytes"):
        SimulatorConfig(upload_max_bytes=0)
