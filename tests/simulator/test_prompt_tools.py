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


def test_each_prompt_tool_call_is_billed_once(start_sim):
    sim = start_sim(starting_credits=10)
    with client(sim) as c:
        c.post("/prompt/improve", json={"prompt": "a fox"})
        c.post("/prompt/random")
        broke = c.post("/prompt/random")  # 2 credits left: not enough for a third
        balance = c.get("/me").json()["user_details"][0]["apiPaidTokens"]
    assert broke.status_code == 400 and broke.json()["code"] == "insufficient-credits"
    stats = sim.stats()
    assert (stats["prompt_calls"], stats["credits_spent"], balance) == (2, 8, 2)


def test_the_answers_are_deterministic(start_sim):
    answers = []
    for _ in range(2):
        sim = start_sim()
        with client(sim) as c:
            answers.append(
                [c.post("/prompt/improve", json={"prompt": "a fox", "isVideo": True}).json(),
                 c.post("/prompt/random").json()]
            )  # fmt: skip
    assert answers[0] == answers[1]


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "a fox", "isVideo": "yes"},
        {"prompt": "a fox", "promptInstructions": 3},
        {"prompt": "a", "x": 1},
    ],
)
def test_fields_outside_the_document_are_refused_and_cost_nothing(sim, body):
    with client(sim) as c:
        assert c.post("/prompt/improve", json=body).status_code == 400
    assert sim.stats()["prompt_calls"] == 0 and sim.stats()["credits_spent"] == 0
