"""Knobs for what varies between Leonardo accounts and what the documents leave open: the unit
costs are answered in, whether a 429 says when to retry, and how many images are flagged NSFW."""

from __future__ import annotations

import pytest

from leonardo_simulator import FaultConfig

from .helpers import client, create, wait_done

pytestmark = pytest.mark.integration


def test_an_account_billed_in_dollars_answers_cost_in_dollars_and_no_credits(start_sim):
    sim = start_sim(cost_unit="DOLLARS")
    with client(sim) as c:
        job = c.post("/generations", json={"prompt": "a fox", "width": 64, "height": 64}).json()[
            "sdGenerationJob"
        ]
        prompt = c.post("/prompt/random").json()["promptGeneration"]
    for answer in (job, prompt):
        assert answer["apiCreditCost"] is None and answer["cost"]["unit"] == "DOLLARS"
        assert float(answer["cost"]["amount"]) > 0


def test_credits_by_default(sim):
    with client(sim) as c:
        job = c.post("/generations", json={"prompt": "a fox", "width": 64, "height": 64}).json()[
            "sdGenerationJob"
        ]
    assert job["apiCreditCost"] > 0 and job["cost"] == {
        "amount": str(job["apiCreditCost"]),
        "unit": "CREDITS",
    }


@pytest.mark.parametrize(("send", "header"), [(True, "1"), (False, None)])
def test_a_429_carries_retry_after_only_when_the_knob_says_so(start_sim, send, header):
    sim = start_sim(send_retry_after=send, faults=FaultConfig(seed=1, http_429_rate=1.0))
    with client(sim) as c:
        answer = c.get("/me")
    assert answer.status_code == 429 and answer.headers.get("retry-after") == header


def test_a_share_of_images_is_flagged_nsfw(start_sim):
    sim = start_sim(faults=FaultConfig(seed=1, nsfw_rate=1.0))
    with client(sim) as c:
        generation = wait_done(c, create(c, num_images=2))
    assert [image["nsfw"] for image in generation["generated_images"]] == [True, True]


def test_an_account_billed_in_dollars_answers_its_balance_in_dollars(start_sim):
    # As the documented /me example of such an account (apiPaidTokens: 12.4567): 10,000 credits at
    # the simulator's $0.0012 a credit are $12.
    sim = start_sim(cost_unit="DOLLARS", starting_credits=10_000, starting_subscription_credits=1_001)
    with client(sim) as c:
        details = c.get("/me").json()["user_details"][0]
    assert details["apiPaidTokens"] == 12 and details["apiSubscriptionTokens"] == 1.2012


def test_an_account_billed_in_credits_answers_its_balance_in_credits(start_sim):
    sim = start_sim(starting_credits=10_000)
    with client(sim) as c:
        details = c.get("/me").json()["user_details"][0]
    assert details["apiPaidTokens"] == 10_000
