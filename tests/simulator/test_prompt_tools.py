"""The simulator's prompt tools: an improved prompt or a random one, answered at once and billed
per call (counted, so tests can prove one call per request)."""

from __future__ import annotations

import pytest

from .helpers import client

pytestmark = pytest.mark.integration


def test_an_improved_prompt_keeps_the_prompt_and_adds_detail_and_instructions(sim):
    with client(sim) as c:
        answer = c.post("/prompt/improve", json={"prompt": "a fox", "promptInstructions": "in winter"})
    assert answer.status_code == 200
    generation = answer.json()["promptGeneration"]
    assert generation["prompt"].startswith("a fox, ") and generation["prompt"].endswith("in winter")
    assert generation["apiCreditCost"] == 4 and sim.stats()["prompt_calls"] == 1


def test_a_random_prompt_is_a_prompt(sim):
    with client(sim) as c:
        first = c.post("/prompt/random").json()["promptGeneration"]["prompt"]
        second = c.post("/prompt/random").json()["promptGeneration"]["prompt"]
    assert first and second and first != second and sim.stats()["prompt_calls"] == 2


def test_an_improve_request_without_a_prompt_is_refused(sim):
    with client(sim) as c:
        assert c.post("/prompt/improve", json={"promptInstructions": "x"}).status_code == 400
    assert sim.stats()["prompt_calls"] == 0
