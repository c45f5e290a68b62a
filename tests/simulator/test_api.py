"""REST routes of the simulator over real HTTP."""

from __future__ import annotations

import threading

import httpx
import pytest

from leonardo_simulator import FaultConfig, SimulatorConfig, serve_in_thread

from .helpers import client, create, wait_done

pytestmark = pytest.mark.integration

UNKNOWN_ID = "0b8e4f57-2c1d-4e8a-9b6f-3a2d1c0e9f87"


def assert_error_shape(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "path", "code"}
    assert isinstance(body["error"], str) and body["error"]
    if code:
        assert body["code"] == code
    return body


def test_create_then_pending_then_complete(start_sim):
    sim = start_sim(pending_seconds=0.3)
    with client(sim) as c:
        response = c.post(
            "/generations", json={"prompt": "a cat", "width": 512, "height": 256, "num_images": 2}
        )
        assert response.status_code == 200
        job = response.json()["sdGenerationJob"]
        assert isinstance(job["apiCreditCost"], int) and job["apiCreditCost"] > 0
        first = c.get(f"/generations/{job['generationId']}").json()["generations_by_pk"]
        assert first["status"] == "PENDING"
        assert first["generated_images"] == []
        done = wait_done(c, job["generationId"])
    assert done["status"] == "COMPLETE"
    assert (done["imageWidth"], done["imageHeight"], done["prompt"]) == (512, 256, "a cat")
    assert len(done["generated_images"]) == 2
    for image in done["generated_images"]:
        assert image["url"].startswith(f"{sim.origin}/cdn/users/{sim.config.user_id}/generations/")
        assert image["url"].endswith(f"/{done['id']}/{image['id']}.png")
        assert image["nsfw"] is False and image["likeCount"] == 0
    assert sim.generations[done["id"]].status == "COMPLETE"


def test_delete_generation(sim):
    with client(sim) as c:
        generation_id = create(c)
        response = c.delete(f"/generations/{generation_id}")
        assert response.status_code == 200
        assert response.json() == {"delete_generations_by_pk": {"id": generation_id}}
        assert_error_shape(c.get(f"/generations/{generation_id}"), 404, "not-found")
    assert generation_id not in sim.generations
    assert sim.stats()["generations_deleted"] == 1


def test_list_user_generations_pages_newest_first(sim):
    with client(sim) as c:
        ids = [create(c, prompt=f"prompt {i}") for i in range(3)]
        user_id = sim.config.user_id
        everything = c.get(f"/generations/user/{user_id}").json()["generations"]
        assert [g["id"] for g in everything] == ids[::-1]
        page = c.get(f"/generations/user/{user_id}", params={"offset": 1, "limit": 1}).json()
        assert [g["id"] for g in page["generations"]] == [ids[1]]
        other = c.get(f"/generations/user/{UNKNOWN_ID}").json()
        assert other == {"generations": []}
        assert_error_shape(c.get(f"/generations/user/{user_id}", params={"limit": "x"}), 400)


def test_me_reports_credits_going_down(start_sim):
    sim = start_sim(starting_credits=1000)
    with client(sim) as c:
        before = c.get("/me").json()["user_details"][0]
        assert before["user"] == {"id": sim.config.user_id, "username": sim.config.username}
        assert before["apiPaidTokens"] == 1000
        assert before["apiConcurrencySlots"] == 10
        cost = c.post("/generations", json={"prompt": "x", "width": 1024, "height": 1024, "num_images": 2})
        cost = cost.json()["sdGenerationJob"]["apiCreditCost"]
        after = c.get("/me").json()["user_details"][0]
    assert after["apiPaidTokens"] == 1000 - cost


def test_insufficient_credits(start_sim):
    sim = start_sim(starting_credits=1)
    with client(sim) as c:
        assert_error_shape(c.post("/generations", json={"prompt": "x"}), 400, "insufficient-credits")


def test_platform_models(sim):
    with client(sim) as c:
        models = c.get("/platformModels").json()["custom_models"]
        assert models and all({"id", "name", "description", "featured", "nsfw"} <= set(m) for m in models)
        preview = httpx.get(models[0]["generated_image"]["url"])
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer wrong"}, {"authorization": "sim-key"}, {"authorization": "Basic sim-key"}],
)
def test_auth_required(sim, headers):
    for method, path in [("GET", "/me"), ("POST", "/generations"), ("GET", f"/generations/{UNKNOWN_ID}")]:
        response = httpx.request(method, sim.base_url + path, headers=headers, json={"prompt": "x"})
        assert_error_shape(response, 401, "access-denied")
    assert sim.stats()["generations_created"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"width": 64}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x", "width": "512"}, "width"),
        ({"prompt": "x", "width": 512.5}, "width"),
        ({"prompt": "x", "height": 24}, "height"),
        ({"prompt": "x", "height": 1544}, "height"),
        ({"prompt": "x", "width": 500}, "width"),
        ({"prompt": "x", "num_images": 0}, "num_images"),
        ({"prompt": "x", "num_images": 9, "width": 512, "height": 512}, "num_images"),
        ({"prompt": "x", "num_images": 5, "width": 1024, "height": 512}, "num_images"),
        ({"prompt": "x", "seed": True}, "seed"),
        ({"prompt": "x", "seed": -1}, "seed"),
        ({"prompt": "x", "alchemy": "yes"}, "alchemy"),
        ({"prompt": "x", "guidance_scale": 21}, "guidance_scale"),
        ({"prompt": "x", "num_inference_steps": 5}, "num_inference_steps"),
        ({"prompt": "x", "init_strength": 0.95}, "init_strength"),
        ({"prompt": "x", "presetStyle": "NOT_A_STYLE"}, "presetStyle"),
        ({"prompt": "x", "modelId": "not-a-uuid"}, "modelId"),
        ({"prompt": "x", "elements": [{"weight": 1}]}, "elements[0].akUUID"),
        ({"prompt": "x", "numImages": 2}, "numImages"),
    ],
)
def test_validation_errors(sim, body, field):
    with client(sim) as c:
        error = assert_error_shape(c.post("/generations", json=body), 400, "validation-failed")
    assert error["path"] == f"$.{field}"
    assert sim.stats()["generations_created"] == 0


def test_malformed_request_json(sim):
    with client(sim) as c:
        response = c.post("/generations", content=b"{not json", headers={"content-type": "application/json"})
        assert_error_shape(response, 400, "invalid-json")
        assert_error_shape(c.post("/generations", json=["prompt"]), 400, "validation-failed")


def test_nulls_accepted_and_unknown_fields_allowed_when_not_strict(start_sim):
    sim = start_sim(strict=False)
    with client(sim) as c:
        generation_id = create(c, negative_prompt=None, seed=None, someFutureField=True)
    assert "someFutureField" not in sim.generations[generation_id].request


def test_unknown_ids_and_routes_are_404(sim):
    with client(sim) as c:
        assert_error_shape(c.get(f"/generations/{UNKNOWN_ID}"), 404, "not-found")
        assert_error_shape(c.get("/generations/not-even-a-uuid"), 404, "not-found")
        assert_error_shape(c.get("/no-such-route"), 404, "not-found")
        assert_error_shape(c.put("/me"), 405, "method-not-allowed")
    assert_error_shape(httpx.get(f"{sim.origin}/cdn/users/u/generations/{UNKNOWN_ID}/x.png"), 404)


def test_admin_faults_stats_and_reset(sim):
    admin = httpx.Client(base_url=sim.origin)
    with admin, client(sim) as c:
        assert admin.get("/_admin/faults").json() == FaultConfig().to_dict()
        updated = admin.post("/_admin/faults", json={"seed": 7, "http_5xx_rate": 0.25}).json()
        assert updated["seed"] == 7 and updated["http_5xx_rate"] == 0.25
        assert sim.faults.http_5xx_rate == 0.25
        assert_error_shape(admin.post("/_admin/faults", json={"nope": 1}), 400)
        assert_error_shape(admin.post("/_admin/faults", json={"http_5xx_rate": 2}), 400)
        assert_error_shape(admin.post("/_admin/faults", json={"http_5xx_rate": "x"}), 400)
        admin.post("/_admin/faults", json={"http_5xx_rate": 0})
        create(c)
        stats = admin.get("/_admin/stats").json()
        assert stats["generations_created"] == 1
        assert stats["requests"]["POST /api/rest/v1/generations"] == 1
        assert {"in_flight", "queued", "callbacks_sent", "callbacks_failed"} <= set(stats)
        assert stats == {**sim.stats(), "requests": {**sim.stats()["requests"], "GET /_admin/stats": 1}}
        assert admin.post("/_admin/reset").status_code == 200
        assert sim.generations == {}
        assert sim.stats()["generations_created"] == 0
        assert c.get("/me").json()["user_details"][0]["apiPaidTokens"] == sim.config.starting_credits


def test_from_env_reads_documented_variables():
    cfg = SimulatorConfig.from_env(
        {
            "LEONARDO_API_KEY": "k",
            "LEONARDO_WEBHOOK_URL": "http://127.0.0.1:3000/webhooks/leonardo",
            "LEONARDO_WEBHOOK_KEY": "w",
            "LEONARDO_SIM_PENDING_SECONDS": "0.5",
            "LEONARDO_SIM_STRICT": "false",
            "LEONARDO_SIM_SEED": "9",
            "LEONARDO_SIM_DROP_CALLBACK_RATE": "0.5",
            "LEONARDO_SIM_CDN_DELAY_SECONDS": "1.5",
        }
    )
    assert (cfg.host, cfg.port, cfg.api_key, cfg.webhook_key) == ("127.0.0.1", 8090, "k", "w")
    assert cfg.webhook_url == "http://127.0.0.1:3000/webhooks/leonardo"
    assert cfg.pending_seconds == 0.5 and cfg.strict is False
    assert cfg.faults == FaultConfig(seed=9, drop_callback_rate=0.5, cdn_delay_seconds=1.5)
    with pytest.raises(ValueError, match="LEONARDO_SIM_STRICT"):
        SimulatorConfig.from_env({"LEONARDO_SIM_STRICT": "maybe"})


def test_context_manager_leaves_no_threads_behind():
    before = set(threading.enumerate())
    with serve_in_thread(SimulatorConfig(pending_seconds=5)) as sim, client(sim) as c:
        create(c)  # a job still pending at shutdown must not block it
    assert set(threading.enumerate()) - before == set()
