"""Faults that spoil the answer to a create after the generation exists, and the
generation log (GET /_admin/generations) that lets a checker account for them.

Whatever the answer, the generation was created: it is listed, gettable, charged,
completes and calls back. That is the point: the caller cannot tell whether it paid.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
import time
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest

from leonardo_simulator import FaultConfig, SimulatorConfig, SimulatorHandle, create_app, serve_in_thread
from leonardo_simulator.faults import FaultInjector
from leonardo_simulator.jobs import GenerationStore

from .helpers import AUTH, WebhookReceiver, client, create, wait_done, wait_for

pytestmark = pytest.mark.integration

BODY = {"prompt": "the same prompt every time", "width": 64, "height": 64, "num_images": 1}
COST = 7  # 64x64, one image, the default model (Lightning XL): pricing.py, priced as 4 images
ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def only_generation(sim: SimulatorHandle) -> dict[str, Any]:
    [entry] = sim.generation_log()
    return entry


def assert_created_charged_completed_called_back(
    sim: SimulatorHandle, receiver: WebhookReceiver, generation_id: str
) -> None:
    """The generation behind a spoiled answer is as real as any other."""
    with client(sim) as c:
        listed = c.get(f"/generations/user/{sim.config.user_id}").json()["generations"]
        assert [g["id"] for g in listed] == [generation_id]
        assert c.get(f"/generations/{generation_id}").status_code == 200
        assert wait_done(c, generation_id)["status"] == "COMPLETE"
        balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    assert balance == sim.config.starting_credits - COST
    [delivery] = receiver.wait_for_successful(1)
    assert delivery.body["data"]["object"]["id"] == generation_id
    stats = sim.stats()
    assert (stats["generations_created"], stats["credits_spent"]) == (1, COST)


def test_5xx_after_create(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url, faults=FaultConfig(http_5xx_after_create_rate=1.0))
        with client(sim) as c:
            response = c.post("/generations", json=BODY)
        assert response.status_code in {500, 502, 504}
        body = response.json()
        assert set(body) == {"error", "path", "code"} and body["code"] == "unexpected"
        entry = only_generation(sim)
        assert (entry["answer"], entry["answerStatus"]) == ("5xx_after_create", response.status_code)
        assert_created_charged_completed_called_back(sim, receiver, entry["id"])
    assert sim.stats()["injected_5xx_after_create"] == 1
    assert sim.stats()["injected_5xx"] == 0


def test_5xx_after_create_covers_the_gateways_and_follows_the_seed(start_sim):
    """Each create rolls the knob; a hit then picks 500/502/504 from the same generator."""
    seed, rate, n = 4, 0.7, 16
    sim = start_sim(faults=FaultConfig(seed=seed, http_5xx_after_create_rate=rate), pending_seconds=0.02)
    with client(sim) as c:
        statuses = [c.post("/generations", json=BODY).status_code for _ in range(n)]
    rng = random.Random(f"{seed}:http_5xx_after_create")
    expected = [rng.choice([500, 502, 504]) if rng.random() < rate else 200 for _ in range(n)]
    assert statuses == expected
    assert {200, 500, 502, 504} <= set(statuses)
    assert [e["answerStatus"] for e in sim.generation_log()] == statuses
    assert sim.stats()["generations_created"] == n


def test_slow_answer_after_create_times_the_client_out(start_sim):
    with WebhookReceiver() as receiver:
        faults = FaultConfig(slow_answer_after_create_rate=1.0, slow_answer_seconds=0.5)
        sim = start_sim(webhook_url=receiver.url, faults=faults)
        with (
            httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=httpx.Timeout(5, read=0.2)) as c,
            pytest.raises(httpx.ReadTimeout),
        ):
            c.post("/generations", json=BODY)
        entry = only_generation(sim)
        assert entry["answer"] == "slow"
        assert_created_charged_completed_called_back(sim, receiver, entry["id"])
    assert sim.stats()["injected_slow_answers"] == 1


def test_slow_answer_arrives_late_and_whole(start_sim):
    sim = start_sim(faults=FaultConfig(slow_answer_after_create_rate=1.0, slow_answer_seconds=0.5))
    with client(sim) as c:
        started = time.monotonic()
        response = c.post("/generations", json=BODY)
        elapsed = time.monotonic() - started
        # Other routes are not slowed down.
        assert c.get("/me").status_code == 200
    assert response.status_code == 200 and elapsed >= 0.5
    entry = only_generation(sim)
    assert response.json()["sdGenerationJob"]["generationId"] == entry["id"]
    held = datetime.fromisoformat(entry["answeredAt"]) - datetime.fromisoformat(entry["receivedAt"])
    assert held.total_seconds() >= 0.5


def test_slow_answer_stops_waiting_when_the_caller_hangs_up(start_sim):
    """With the default 30 s the server does not hold the answer once the client is gone."""
    sim = start_sim(faults=FaultConfig(slow_answer_after_create_rate=1.0))
    assert sim.faults.slow_answer_seconds == 30
    with (
        httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=0.2) as c,
        pytest.raises(httpx.ReadTimeout),
    ):
        c.post("/generations", json=BODY)
    entry = wait_for(lambda: (e := only_generation(sim))["answeredAt"] and e, timeout=3)
    held = datetime.fromisoformat(entry["answeredAt"]) - datetime.fromisoformat(entry["receivedAt"])
    assert held.total_seconds() < 3


def test_a_held_answer_does_not_hold_back_shutdown():
    faults = FaultConfig(slow_answer_after_create_rate=1.0, slow_answer_seconds=30)
    answers: list[int] = []
    with serve_in_thread(SimulatorConfig(pending_seconds=0.05, faults=faults)) as sim:

        def post() -> None:
            with client(sim) as c:  # read timeout 10 s: still waiting at shutdown
                answers.append(c.post("/generations", json=BODY).status_code)

        caller = threading.Thread(target=post)
        caller.start()
        wait_for(lambda: sim.generation_log())
        started = time.monotonic()
    assert time.monotonic() - started < 1.5
    caller.join(timeout=5)
    assert answers == [200]  # released: the answer went out before the server stopped


def test_malformed_create_cuts_only_the_create(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url, faults=FaultConfig(malformed_create_rate=1.0))
        with client(sim) as c:
            response = c.post("/generations", json=BODY)
            assert response.status_code == 200
            with pytest.raises(ValueError):
                response.json()
            assert response.text.startswith('{"sdGenerationJob":{"generationId":')
            # Every other route answers whole.
            assert c.get("/me").json()["user_details"]
            assert c.post("/init-image", json={"extension": "png"}).json()["uploadInitImage"]
        entry = only_generation(sim)
        assert entry["answer"] == "malformed_create"
        assert_created_charged_completed_called_back(sim, receiver, entry["id"])
    stats = sim.stats()
    assert (stats["injected_malformed_create"], stats["injected_malformed_json"]) == (1, 0)


def test_after_create_knobs_leave_other_routes_and_refusals_alone(start_sim):
    faults = FaultConfig(
        http_5xx_after_create_rate=1.0, slow_answer_after_create_rate=1.0, malformed_create_rate=1.0
    )
    sim = start_sim(faults=faults)
    with client(sim) as c:
        assert c.get("/me").status_code == 200
        assert c.get("/platformModels").json()["custom_models"]
        assert c.post("/init-image", json={"extension": "png"}).status_code == 200
        refused = c.post("/generations", json={"prompt": "x", "width": 7})
        assert refused.status_code == 400 and refused.json()["code"] == "validation-failed"
    assert sim.generation_log() == []
    assert sim.stats()["injected_5xx_after_create"] == 0


def test_knobs_at_zero_draw_nothing(start_sim):
    """Creates roll malformed_json once each, exactly as before the new knobs; the new
    knobs at 0 consume none of their own generators (nor anyone else's)."""
    seed, n = 9, 12
    sim = start_sim(faults=FaultConfig(seed=seed, malformed_json_rate=0.5), pending_seconds=0.02)
    with client(sim) as c:
        cut = []
        for _ in range(n):
            response = c.post("/generations", json=BODY)
            try:
                response.json()
                cut.append(False)
            except ValueError:
                cut.append(True)
    rng = random.Random(f"{seed}:malformed_json")
    assert cut == [rng.random() < 0.5 for _ in range(n)]
    assert [e["answer"] == "malformed" for e in sim.generation_log()] == cut

    injector = FaultInjector(FaultConfig(seed=seed))
    for kind in ("http_5xx_after_create", "slow_answer_after_create", "malformed_create"):
        assert not any(injector.roll(kind) for _ in range(50))
    assert set(injector.draws().values()) == {0}


def predicted_answers(faults: FaultConfig, n: int) -> list[str]:
    """Every create rolls each after-create kind (and malformed_json) from its own
    generator; the first that fired, in this order, decides the answer."""
    kinds = ("http_5xx_after_create", "slow_answer_after_create", "malformed_create", "malformed_json")
    rngs = {kind: random.Random(f"{faults.seed}:{kind}") for kind in kinds}
    labels = ("5xx_after_create", "slow", "malformed_create", "malformed")
    answers = []
    for _ in range(n):
        fired = [rngs[kind].random() < getattr(faults, f"{kind}_rate") for kind in kinds]
        if fired[0]:
            rngs[kinds[0]].choice([500, 502, 504])
        answers.append(next((label for label, hit in zip(labels, fired, strict=True) if hit), "ok"))
    return answers


def test_generation_log_attributes_identical_requests(start_sim):
    """Identical requests, mixed faults: each log entry says how its own request was answered."""
    faults = FaultConfig(
        seed=29,
        http_5xx_after_create_rate=0.25,
        slow_answer_after_create_rate=0.2,
        slow_answer_seconds=0.2,
        malformed_create_rate=0.25,
        malformed_json_rate=0.2,
    )
    n = 20
    sim = start_sim(faults=faults, pending_seconds=0.02)
    observed: list[tuple[str, int, str | None]] = []
    with client(sim) as c:
        for number in range(n):
            started = time.monotonic()
            response = c.post("/generations", json=BODY, headers={"x-request-number": str(number)})
            elapsed = time.monotonic() - started
            try:
                generation_id = response.json().get("sdGenerationJob", {}).get("generationId")
                kind = "5xx" if response.status_code >= 500 else ("slow" if elapsed >= 0.2 else "ok")
            except ValueError:
                generation_id, kind = None, "cut"
            observed.append((kind, response.status_code, generation_id))
    log = sim.generation_log()
    assert [entry["answer"] for entry in log] == predicted_answers(faults, n)
    assert {entry["answer"] for entry in log} == {
        "ok",
        "slow",
        "5xx_after_create",
        "malformed",
        "malformed_create",
    }
    as_seen = {
        "ok": "ok",
        "slow": "slow",
        "5xx_after_create": "5xx",
        "malformed": "cut",
        "malformed_create": "cut",
    }
    for number, (entry, (kind, status, generation_id)) in enumerate(zip(log, observed, strict=True)):
        assert entry["sequence"] == number + 1
        assert entry["requestHeaders"]["x-request-number"] == str(number)
        assert "authorization" not in entry["requestHeaders"]
        assert (as_seen[entry["answer"]], entry["answerStatus"]) == (kind, status)
        if generation_id is not None:
            assert entry["id"] == generation_id
        assert (entry["request"], entry["cost"]) == (BODY, COST)
    stats = sim.stats()
    for counter, answer in (
        ("injected_5xx_after_create", "5xx_after_create"),
        ("injected_slow_answers", "slow"),
        ("injected_malformed_create", "malformed_create"),
        ("injected_malformed_json", "malformed"),
    ):
        assert stats[counter] == sum(entry["answer"] == answer for entry in log), counter
    assert stats["generations_created"] == n


def test_generation_log_route_shape_deletes_and_reset(start_sim):
    sim = start_sim()
    admin = httpx.Client(base_url=sim.origin)
    with admin, client(sim) as c:
        kept = create(c, prompt="kept", seed=5)
        gone = create(c, prompt="gone")
        assert c.delete(f"/generations/{gone}").status_code == 200
        wait_done(c, kept)
        log = admin.get("/_admin/generations").json()
        assert log == sim.generation_log()
        first, second = log
        assert first["id"] == kept and second["id"] == gone
        assert set(first) == {
            "id",
            "sequence",
            "createdAt",
            "updatedAt",
            "status",
            "deleted",
            "userId",
            "request",
            "seed",
            "initImageId",
            "initGenerationImageId",
            "cost",
            "answer",
            "answerStatus",
            "receivedAt",
            "answeredAt",
            "client",
            "requestHeaders",
            "video",
            "readAt",
            "downloadedAt",
        }
        assert first["video"] is None  # a picture, not a video
        assert first["request"] == {"prompt": "kept", "seed": 5, "width": 64, "height": 64, "num_images": 1}
        assert (first["status"], first["deleted"], first["answer"]) == ("COMPLETE", False, "ok")
        assert first["seed"] == 5
        assert (second["deleted"], second["sequence"]) == (True, 2)
        assert second["client"].startswith("127.0.0.1:")
        for entry in log:
            for key in ("createdAt", "updatedAt", "receivedAt", "answeredAt"):
                assert ISO_MICROS.match(entry[key]), entry[key]
        # The snapshot is a copy: changing it changes nothing.
        sim.generation_log()[0]["request"]["prompt"] = "edited"
        assert sim.generation_log()[0]["request"]["prompt"] == "kept"
        admin.post("/_admin/reset").raise_for_status()
        assert admin.get("/_admin/generations").json() == []
        create(c)
        assert [e["sequence"] for e in sim.generation_log()] == [1]


def test_the_log_says_when_each_generation_was_read_and_its_files_served(start_sim):
    """`readAt` and `downloadedAt`: the times of each answered GET of the generation and of each
    of its CDN files served, so a bench can name the generations read or fetched more than once."""
    sim = start_sim()
    with client(sim) as c, httpx.Client() as cdn:
        generation_id = create(c)
        entry = wait_for(lambda: (e := only_generation(sim))["status"] == "COMPLETE" and e, timeout=5)
        assert (entry["readAt"], entry["downloadedAt"]) == ([], [])
        first = c.get(f"/generations/{generation_id}").json()["generations_by_pk"]
        c.get(f"/generations/{generation_id}").raise_for_status()
        assert c.get("/generations/not-a-generation").status_code == 404
        [image] = first["generated_images"]
        cdn.get(image["url"]).raise_for_status()
        assert cdn.get(image["url"].replace(".png", ".webp")).status_code == 404  # not served
        entry = only_generation(sim)
    reads, downloads = entry["readAt"], entry["downloadedAt"]
    assert len(reads) == 2 and len(downloads) == 1
    assert entry["createdAt"] <= reads[0] <= reads[1] <= downloads[0]
    assert all(ISO_MICROS.match(t) for t in reads + downloads)


def test_admin_routes_refuse_non_loopback_clients():
    async def ask(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(SimulatorConfig()), client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as far:
            return await far.get(path)

    for path in ("/_admin/generations", "/_admin/faults", "/_admin/stats"):
        response = asyncio.run(ask(path))
        assert response.status_code == 403 and response.json()["code"] == "forbidden"


@pytest.mark.parametrize(
    "changes",
    [
        {"http_5xx_after_create_rate": 1.5},
        {"slow_answer_after_create_rate": -0.1},
        {"malformed_create_rate": "0.5"},
        {"slow_answer_seconds": -1},
        {"malformed_create": 0.5},
        {"slow_answer_rate": 0.5},
    ],
)
def test_admin_refuses_invalid_create_fault_settings(sim, changes):
    with httpx.Client(base_url=sim.origin) as admin:
        response = admin.post("/_admin/faults", json=changes)
    assert response.status_code == 400 and response.json()["code"] == "validation-failed"
    assert sim.faults == FaultConfig()


@pytest.mark.parametrize("raw", ['{"slow_answer_seconds": NaN}', '{"slow_answer_seconds": Infinity}'])
def test_admin_refuses_non_finite_seconds(sim, raw):
    with httpx.Client(base_url=sim.origin) as admin:
        response = admin.post("/_admin/faults", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_admin_and_environment_accept_the_new_knobs(sim):
    new = {
        "http_5xx_after_create_rate": 0.25,
        "slow_answer_after_create_rate": 0.5,
        "slow_answer_seconds": 2,
        "malformed_create_rate": 0.75,
    }
    with httpx.Client(base_url=sim.origin) as admin:
        answer = admin.post("/_admin/faults", json=new)
        assert answer.status_code == 200
        assert {k: answer.json()[k] for k in new} == new
        assert admin.get("/_admin/faults").json() == sim.faults.to_dict()
    assert sim.faults == FaultConfig(**new)
    env = {f"LEONARDO_SIM_{name.upper()}": str(value) for name, value in new.items()}
    assert SimulatorConfig.from_env(env).faults == FaultConfig(**new)


def test_created_at_is_strictly_increasing_on_a_frozen_clock(start_sim, monkeypatch):
    from leonardo_simulator import views

    frozen = views.now()
    sim = start_sim(pending_seconds=5)
    monkeypatch.setattr(views, "now", lambda: frozen)
    with client(sim) as c:
        ids = [create(c) for _ in range(5)]
        listed = c.get(f"/generations/user/{sim.config.user_id}").json()["generations"]
    assert [g["id"] for g in listed] == ids[::-1]
    stamps = [datetime.fromisoformat(g["createdAt"]) for g in reversed(listed)]
    assert [b - a for a, b in pairwise(stamps)] == [timedelta(microseconds=1)] * 4
    assert all(ISO_MICROS.match(g["createdAt"]) for g in listed)


def test_store_keeps_created_at_monotonic_through_clock_steps_and_clears():
    from leonardo_simulator import views
    from leonardo_simulator.jobs import GenerationRecord

    def record(name: str, moment: datetime) -> GenerationRecord:
        text = dict.fromkeys(("prompt", "model_id", "sd_version", "origin", "user_id"), "x")
        numbers = {"width": 64, "height": 64, "num_images": 1, "seed": 1, "cost": 1}
        flags = dict.fromkeys(("public", "alchemy", "photo_real"), False)
        return GenerationRecord(
            id=name, request={}, negative_prompt=None, created_at=moment, updated_at=moment,
            **text, **numbers, **flags,
        )  # fmt: skip

    store = GenerationStore()
    now = views.now()
    a_year_ago = now - timedelta(days=365)
    for name, moment in (("a", now), ("b", now), ("c", a_year_ago)):  # a tie, then the clock steps back
        store.add(record(name, moment))
    tick = timedelta(microseconds=1)
    assert [store.get(n).created_at for n in "abc"] == [now, now + tick, now + 2 * tick]
    assert [r.id for r in store.by_user("x")] == ["c", "b", "a"]
    store.clear()
    store.add(record("d", a_year_ago))  # a reset does not let createdAt go back either
    assert (store.get("d").created_at, store.get("d").sequence) == (now + 3 * tick, 1)
