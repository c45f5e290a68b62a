"""The prompt tools through the API function, against moto and the Leonardo simulator: answered at
once, limited per user before anything is paid, each call sent once, usage recorded per day."""

from __future__ import annotations

import pytest

from leonardo_simulator import FaultConfig

pytestmark = pytest.mark.integration


def prompt_calls(pipeline) -> int:
    return pipeline.stack.simulator.stats()["prompt_calls"]


def usage(pipeline, user: str) -> list[dict]:
    from gencore.adapters.ddb import plain_item

    answer = pipeline.ddb.query(
        TableName=pipeline.stack.env["JOBS_TABLE"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"USAGE#{user}"}},
    )
    return [plain_item(item) for item in answer["Items"]]


def test_an_improved_prompt_is_answered_and_the_call_counted_in_the_users_usage(pipeline):
    status, body = pipeline.api(
        "POST", "/v1/prompts/improve", body={"prompt": "a fox", "instructions": "in snow"}
    )
    assert status == 200 and body["prompt"].startswith("a fox, ") and body["prompt"].endswith("in snow")
    status, body = pipeline.api("POST", "/v1/prompts/random", body={})
    assert status == 200 and body["prompt"]
    [day] = usage(pipeline, "alice")
    assert (day["calls_prompt_improve"], day["calls_prompt_random"], day["credits"]) == (1, 1, 8)
    assert prompt_calls(pipeline) == 2


def test_past_the_per_user_limit_the_answer_is_429_with_retry_after_and_nothing_is_paid(
    pipeline, monkeypatch
):
    monkeypatch.setenv("PROMPT_RATE_BURST", "2")
    monkeypatch.setenv("PROMPT_RATE_PER_MINUTE", "1")
    for _ in range(2):
        assert pipeline.api("POST", "/v1/prompts/random", body={})[0] == 200
    status, body = pipeline.api("POST", "/v1/prompts/random", body={})
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert pipeline.last_headers["retry-after"] == "60"
    assert prompt_calls(pipeline) == 2
    assert pipeline.api("POST", "/v1/prompts/random", body={}, user="bob")[0] == 200  # a bucket per user


@pytest.mark.parametrize(
    "faults",
    [FaultConfig(seed=1, http_5xx_after_create_rate=1.0), FaultConfig(seed=1, malformed_create_rate=1.0)],
    ids=["5xx after the call", "unreadable answer"],
)
def test_an_answer_that_does_not_say_what_happened_is_a_502_and_is_not_resent(pipeline, faults):
    pipeline.stack.simulator.set_faults(faults)
    status, body = pipeline.api("POST", "/v1/prompts/improve", body={"prompt": "a fox"})
    assert status == 502 and body["error"]["code"] == "leonardo_outcome_unknown"
    assert prompt_calls(pipeline) == 1
    [day] = usage(pipeline, "alice")
    assert day["calls_prompt_improve"] == 1 and "credits" not in day  # counted; its cost unknown


def test_a_prompt_outside_the_limits_is_refused_before_anything_is_paid(pipeline):
    for body in ({"prompt": ""}, {"prompt": "x" * 1501}, {"prompt": "x", "extra": 1}):
        status, answer = pipeline.api("POST", "/v1/prompts/improve", body=body)
        assert status == 422 and answer["error"]["code"] == "validation_error"
    assert prompt_calls(pipeline) == 0
