"""What varies between Leonardo accounts, through the functions against moto and the simulator: an
account billed in dollars records its jobs' cost in dollars (and the spend alarm's metric gets it),
a 429 without Retry-After pauses every create for the configured pause and is then waited out, and
images Leonardo flags NSFW say so."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from gencore import wiring
from leonardo_simulator import FaultConfig

from .test_edits import complete
from .test_generation_flow import PROMPT, _submit_event, submit_one

pytestmark = pytest.mark.integration


@pytest.fixture
def reconfigure(pipeline):
    """Change the running simulator's account settings for one test (restored afterwards)."""
    simulator = pipeline.stack.simulator
    original = {
        "cost_unit": simulator.config.cost_unit,
        "send_retry_after": simulator.config.send_retry_after,
    }
    yield simulator.configure
    simulator.configure(**original)


def test_an_account_billed_in_dollars_records_its_cost_in_dollars(pipeline, reconfigure, capsys):
    reconfigure(cost_unit="DOLLARS")
    job = complete(pipeline, submit_one(pipeline))
    assert job["cost"]["unit"] == "DOLLARS" and job["cost"]["source"] == "leonardo"
    assert float(job["cost"]["amount"]) > 0
    assert '"DollarsSpent"' in capsys.readouterr().out  # the DollarSpendAlarm's metric


def test_a_429_without_retry_after_is_waited_out_and_nothing_is_paid_twice(
    pipeline, reconfigure, monkeypatch
):
    reconfigure(send_retry_after=False)
    monkeypatch.setenv("LEONARDO_RATE_PAUSE_SECONDS", "1")  # every create's pause without a Retry-After
    wiring.reset()
    pipeline.stack.simulator.set_faults(FaultConfig(seed=2, http_429_rate=1.0))
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    assert pipeline.job_item(job["id"])["status"] == "QUEUED"
    item = pipeline.job_item(job["id"])
    assert (
        "submit_uncertain_since" not in item and "slot_held" not in item
    )  # refused for sure: nothing to find
    assert pipeline.stack.simulator.generation_log() == []
    pipeline.stack.simulator.set_faults(FaultConfig(seed=2))
    paused_until = wiring.account_state().paused_until()
    assert paused_until is not None and (paused_until - datetime.now(UTC)).total_seconds() <= 1
    time.sleep(max(0.0, (paused_until - datetime.now(UTC)).total_seconds()))
    pipeline.runtime.invoke("SubmitterFunction", _submit_event(job["id"]))  # its delayed message, then
    assert pipeline.job_item(job["id"])["status"] == "SUBMITTED"
    assert len(pipeline.stack.simulator.generation_log()) == 1


def test_images_leonardo_flags_nsfw_say_so_in_the_view(pipeline):
    pipeline.stack.simulator.set_faults(FaultConfig(seed=4, nsfw_rate=1.0))
    job = complete(pipeline, submit_one(pipeline))
    assert [image["nsfw"] for image in job["images"]] == [True, True]
