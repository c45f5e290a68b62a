"""Each fault knob, observed through the receiver, the API and /_admin/stats."""

from __future__ import annotations

import httpx
import pytest

from leonardo_simulator import FaultConfig

from .helpers import WebhookReceiver, client, create, wait_done, wait_for

pytestmark = pytest.mark.integration


def test_drop_callback(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url, faults=FaultConfig(drop_callback_rate=1.0))
        with client(sim) as c:
            assert wait_done(c, create(c))["status"] == "COMPLETE"  # polling still sees it
        wait_for(lambda: sim.stats()["callbacks_dropped"] == 1)
    assert receiver.deliveries == []
    assert sim.stats()["callback_attempts"] == 0


def test_duplicate_callback(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url, faults=FaultConfig(duplicate_callback_rate=1.0))
        with client(sim) as c:
            create(c)
        first, second = receiver.wait_for_successful(2)
    assert first.body == second.body
    assert sim.stats()["callbacks_duplicated"] == 1
    assert sim.stats()["callbacks_sent"] == 2


def test_delayed_callback_arrives_after_a_later_one(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(
            webhook_url=receiver.url,
            faults=FaultConfig(delay_callback_rate=1.0, delay_callback_seconds=0.8),
        )
        with client(sim) as c:
            early = create(c, prompt="early")
            wait_done(c, early)
            sim.set_faults(FaultConfig())  # the next callback goes out at once
            late = create(c, prompt="late")
            wait_done(c, late)
        deliveries = receiver.wait_for_successful(2)
    assert [d.body["data"]["object"]["id"] for d in deliveries] == [late, early]
    assert sim.stats()["callbacks_delayed"] == 1


def test_injected_429_and_5xx(start_sim):
    sim = start_sim(faults=FaultConfig(http_429_rate=1.0))
    with client(sim) as c:
        for path in ("/me", "/platformModels"):
            response = c.get(path)
            assert response.status_code == 429
            assert response.headers["retry-after"] == "1"
            assert set(response.json()) == {"error", "path", "code"}
        sim.set_faults(FaultConfig(http_5xx_rate=1.0))
        response = c.post("/generations", json={"prompt": "x"})
        assert response.status_code == 500
        assert response.json()["code"] == "unexpected"
        # Faults only touch the API: the admin routes keep working.
        assert httpx.get(f"{sim.origin}/_admin/stats").status_code == 200
    stats = sim.stats()
    assert (stats["injected_429"], stats["injected_5xx"], stats["generations_created"]) == (2, 1, 0)


def test_failed_generation_is_reported_refunded_and_called_back(start_sim):
    with WebhookReceiver() as receiver:
        sim = start_sim(webhook_url=receiver.url, faults=FaultConfig(failed_generation_rate=1.0))
        with client(sim) as c:
            generation = wait_done(c, create(c))
            balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
        [delivery] = receiver.wait_for_successful(1)
    assert generation["status"] == "FAILED" and generation["generated_images"] == []
    assert balance == sim.config.starting_credits
    assert delivery.body["type"] == "image_generation.complete"
    assert delivery.body["data"]["object"]["status"] == "FAILED"
    assert delivery.body["data"]["object"]["images"] == []
    assert sim.stats()["generations_failed"] == 1


def test_malformed_json(start_sim):
    sim = start_sim(faults=FaultConfig(malformed_json_rate=1.0))
    with client(sim) as c:
        response = c.get("/me")
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert sim.stats()["injected_malformed_json"] == 1


def _statuses(sim, n: int = 30) -> list[int]:
    with client(sim) as c:
        return [c.get("/me").status_code for _ in range(n)]


def test_same_seed_same_faults(start_sim):
    faults = FaultConfig(seed=11, http_429_rate=0.3, http_5xx_rate=0.3)
    first = _statuses(start_sim(faults=faults))
    second = _statuses(start_sim(faults=faults))
    other = _statuses(start_sim(faults=FaultConfig(seed=12, http_429_rate=0.3, http_5xx_rate=0.3)))
    assert first == second
    assert {200, 429, 500} <= set(first)
    assert other != first


def test_same_seed_same_failed_generations(start_sim):
    def outcomes(seed: int) -> list[str]:
        sim = start_sim(faults=FaultConfig(seed=seed, failed_generation_rate=0.5), pending_seconds=0.05)
        with client(sim) as c:
            ids = []
            for i in range(8):
                ids.append(create(c, prompt=f"p{i}"))
                wait_done(c, ids[-1])  # sequential, so dice are rolled in a fixed order
        return [sim.generations[i].status for i in ids]

    first = outcomes(3)
    assert first == outcomes(3)
    assert {"COMPLETE", "FAILED"} == set(first)


def test_same_seed_same_callback_faults(start_sim):
    def delivered(seed: int) -> list[str]:
        with WebhookReceiver() as receiver:
            faults = FaultConfig(seed=seed, drop_callback_rate=0.5, duplicate_callback_rate=0.5)
            sim = start_sim(webhook_url=receiver.url, faults=faults, pending_seconds=0.02)
            prompts = [f"p{i}" for i in range(8)]
            with client(sim) as c:
                for prompt in prompts:
                    wait_done(c, create(c, prompt=prompt))
            stats = wait_for(
                lambda: (
                    (s := sim.stats())["callbacks_sent"] + s["callbacks_dropped"] - s["callbacks_duplicated"]
                    == len(prompts)
                    and s
                )
            )
            assert stats["callbacks_dropped"] and stats["callbacks_duplicated"]
            return sorted(d.body["data"]["object"]["prompt"] for d in receiver.successful())

    assert delivered(5) == delivered(5)


def test_faults_from_environment(monkeypatch, start_sim):
    from leonardo_simulator import SimulatorConfig

    monkeypatch.setenv("LEONARDO_SIM_SEED", "4")
    monkeypatch.setenv("LEONARDO_SIM_HTTP_5XX_RATE", "1")
    cfg = SimulatorConfig.from_env()
    sim = start_sim(faults=cfg.faults)
    with client(sim) as c:
        assert c.get("/me").status_code == 500
