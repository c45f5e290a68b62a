"""One accepted job pays for one Leonardo generation, and it is the job's own.

Each way the outcome of the paid POST can be unknown (no answer in time, a 5xx after creating, an
unreadable 2xx, a crash between the POST and its record) is driven through the real handlers,
moto and the simulator; the simulator's own count of created generations is the judge.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from gencore import wiring
from leonardo_simulator import FaultConfig
from tests.support.fakes import image_pool

from .conftest import load_event

pytestmark = pytest.mark.integration

REQUEST = {"prompt": "A lighthouse on a cliff at dawn", "width": 256, "height": 192, "num_images": 1}


def created(pipeline) -> int:
    return pipeline.stack.simulator.stats()["generations_created"]


def accept(pipeline, body=REQUEST, user="alice") -> str:
    status, job = pipeline.api("POST", "/v1/generations", user=user, body=body)
    assert status == 202, job
    return job["id"]


def submit_event(job_id: str, token: int = 0) -> dict:
    event = load_event("submitter-sqs.json")
    event["Records"][0]["body"] = json.dumps({"job_id": job_id, "attempt": 1, "token": token})
    return event


def set_env(monkeypatch, **values: str) -> None:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    wiring.reset()


def backdate(pipeline, job_id: str, field: str) -> None:
    """Stand-in for time passing: the job's `field` an hour ago, and the job due now."""
    from gencore.adapters.job_keys import job_key

    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    pipeline.ddb.update_item(
        TableName=pipeline.stack.env["JOBS_TABLE"],
        Key=job_key(job_id),
        UpdateExpression=f"SET {field} = :old, due_at = :past",
        ExpressionAttributeValues={":old": {"S": old}, ":past": {"N": "0"}},
    )


def generation_of(pipeline, job_id: str):
    item = pipeline.job_item(job_id)
    assert item["status"] == "SUBMITTED", item
    return pipeline.stack.simulator.generations[item["generation_id"]]


# --- answers that do not say what happened ------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        FaultConfig(seed=1, http_5xx_after_create_rate=1.0),
        FaultConfig(seed=1, malformed_create_rate=1.0),
        FaultConfig(seed=1, slow_answer_after_create_rate=1.0, slow_answer_seconds=1.5),
    ],
    ids=["5xx-after-create", "unreadable-2xx", "answer-slower-than-the-read-timeout"],
)
def test_an_answer_that_hides_a_created_generation_adopts_it_at_once(pipeline, monkeypatch, faults):
    set_env(monkeypatch, LEONARDO_READ_TIMEOUT_SECONDS="0.5")
    pipeline.stack.simulator.set_faults(faults)
    job_id = accept(pipeline)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    pipeline.stack.simulator.set_faults(FaultConfig())

    record = generation_of(pipeline, job_id)  # found in Leonardo's list within the same attempt
    item = pipeline.job_item(job_id)
    assert record.seed == item["leonardo_seed"]
    assert "submit_uncertain_since" not in item and "post_fingerprint" not in item
    assert created(pipeline) == 1
    # Nothing else goes out for it, however the rest of the queue is drained.
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    pipeline.reconcile()
    assert created(pipeline) == 1


def test_an_unanswered_post_that_created_nothing_is_sent_again_only_after_the_settle_window(
    pipeline, monkeypatch
):
    from gencore.leonardo import LeonardoClient, OutcomeUnknownError

    set_env(monkeypatch, SUBMIT_SETTLE_SECONDS="2")
    original = LeonardoClient.create_generation

    def lost_on_the_way(self, request):
        raise OutcomeUnknownError("connection dropped after sending")

    monkeypatch.setattr(LeonardoClient, "create_generation", lost_on_the_way)
    job_id = accept(pipeline)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    monkeypatch.setattr(LeonardoClient, "create_generation", original)
    item = pipeline.job_item(job_id)
    assert item["status"] == "QUEUED" and item["submit_uncertain_since"]
    assert pipeline.in_flight() == 0  # waiting for Leonardo's list, not holding a slot

    pipeline.runtime.invoke("SubmitterFunction", submit_event(job_id))  # too early: look, do not send
    assert pipeline.job_item(job_id)["status"] == "QUEUED" and created(pipeline) == 0

    import time

    time.sleep(2.1)
    pipeline.runtime.invoke("SubmitterFunction", submit_event(job_id))
    assert generation_of(pipeline, job_id) and created(pipeline) == 1


def test_a_definite_refusal_clears_the_uncertainty(pipeline):
    pipeline.stack.simulator.set_faults(FaultConfig(seed=1, http_429_rate=1.0))
    job_id = accept(pipeline)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    item = pipeline.job_item(job_id)
    assert item["status"] == "QUEUED" and "submit_uncertain_since" not in item
    assert created(pipeline) == 0


# --- crashes ---------------------------------------------------------------------------------------


def crash_after_post(pipeline, monkeypatch) -> str:
    """A job whose submitter dies after Leonardo answered its POST, before recording it."""
    from gencore.adapters.dynamo import DynamoJobStore

    def database_down(self, job, **kwargs):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "TransactWriteItems")

    with monkeypatch.context() as patch:
        patch.setattr(DynamoJobStore, "mark_submitted", database_down)
        job_id = accept(pipeline)
        [response] = pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    assert len(response["batchItemFailures"]) == 1  # the invocation died after Leonardo said yes
    return job_id


def test_a_crash_between_the_post_and_its_record_is_adopted_by_the_next_holder(pipeline, monkeypatch):
    job_id = crash_after_post(pipeline, monkeypatch)
    assert created(pipeline) == 1
    item = pipeline.job_item(job_id)
    assert item["status"] == "QUEUED" and item["slot_held"] and item["submit_uncertain_since"]

    backdate(pipeline, job_id, "slot_acquired_at")  # the lease ran out: its holder is long dead
    assert pipeline.reconcile()["outcomes"].get("resubmitted") == 1
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    record = generation_of(pipeline, job_id)
    assert created(pipeline) == 1 and record.seed == pipeline.job_item(job_id)["leonardo_seed"]
    assert pipeline.in_flight() == 1  # the slot was taken over, never counted twice


def test_a_crash_between_the_post_and_its_record_is_adopted_before_the_lease_runs_out(pipeline, monkeypatch):
    job_id = crash_after_post(pipeline, monkeypatch)
    item = pipeline.job_item(job_id)
    claim, noted = item["slot_acquired_at"], datetime.fromisoformat(item["submit_uncertain_since"])
    # Due again once the POST has had its settle time, long before the lease runs out.
    settle = int(pipeline.stack.env.get("SUBMIT_SETTLE_SECONDS", "60"))
    assert int(item["due_at"]) == int(noted.timestamp()) + settle

    backdate(pipeline, job_id, "submit_uncertain_since")  # the POST has had its settle time
    assert pipeline.reconcile()["outcomes"].get("resubmitted") == 1
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    generation_of(pipeline, job_id)
    assert created(pipeline) == 1 and pipeline.in_flight() == 1
    assert pipeline.job_item(job_id)["slot_acquired_at"] == claim  # adopted under the dead holder's claim


def test_a_submitter_whose_lease_was_taken_over_cannot_record_anything(pipeline):
    from gencore.domain.errors import TransitionConflict
    from gencore.domain.models import Cost

    job_id = accept(pipeline)
    store = wiring.store()
    now = datetime.now(UTC)
    mine = store.claim_slot(job_id, pools=image_pool(2), now=now, lease_seconds=1).job
    later = now + timedelta(seconds=5)
    theirs = store.claim_slot(job_id, pools=image_pool(2), now=later, lease_seconds=1)
    assert theirs.granted
    with pytest.raises(TransitionConflict):
        store.mark_submitted(
            mine, generation_id="g-1", cost=Cost(amount="1", unit="CREDITS"), now=later, due_at=0
        )
    with pytest.raises(TransitionConflict):
        store.begin_post(mine, now=later, fingerprint="f", lock_expires_at=0)
    assert pipeline.job_item(job_id)["status"] == "QUEUED" and pipeline.in_flight() == 1


def test_no_post_starts_without_time_for_its_worst_case(pipeline, monkeypatch):
    from stackrunner.runtime import LambdaContext

    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: 5_000)
    job_id = accept(pipeline)
    [response] = pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    assert response["batchItemFailures"] == []
    assert created(pipeline) == 0 and pipeline.in_flight() == 0
    assert len(pipeline.receive("SubmitQueue")) == 1  # handed to a fresh invocation
    item = pipeline.job_item(job_id)
    assert item["status"] == "QUEUED" and "submit_uncertain_since" not in item


# --- whose generation ------------------------------------------------------------------------------


def test_identical_requests_of_two_users_each_adopt_their_own_generation(pipeline, monkeypatch):
    from gencore.leonardo import LeonardoClient, OutcomeUnknownError

    original = LeonardoClient.create_generation

    def created_but_unanswered(self, request):
        original(self, request)
        raise OutcomeUnknownError("read timeout after sending")

    monkeypatch.setattr(LeonardoClient, "create_generation", created_but_unanswered)
    alice, bob = accept(pipeline, user="alice"), accept(pipeline, user="bob")
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert created(pipeline) == 2
    for job_id in (alice, bob):
        record = generation_of(pipeline, job_id)
        assert record.seed == pipeline.job_item(job_id)["leonardo_seed"]
    assert pipeline.job_item(alice)["generation_id"] != pipeline.job_item(bob)["generation_id"]


def test_a_callers_seed_shared_by_another_unanswered_job_waits_for_it(pipeline, monkeypatch):
    """With the same explicit seed two users' requests look identical in Leonardo's list: the second
    POST waits until the first is resolved, so neither can adopt the other's generation."""
    from gencore.leonardo import LeonardoClient, OutcomeUnknownError

    seeded = REQUEST | {"seed": 42}
    original = LeonardoClient.create_generation

    def lost_on_the_way(self, request):
        raise OutcomeUnknownError("connection dropped after sending")

    monkeypatch.setattr(LeonardoClient, "create_generation", lost_on_the_way)
    alice = accept(pipeline, body=seeded, user="alice")
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    monkeypatch.setattr(LeonardoClient, "create_generation", original)
    bob = accept(pipeline, body=seeded, user="bob")
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    assert created(pipeline) == 0  # bob's POST did not go out while alice's is unresolved
    assert pipeline.job_item(alice)["submit_uncertain_since"]
    assert pipeline.job_item(bob)["status"] == "QUEUED"
    assert "submit_uncertain_since" not in pipeline.job_item(bob)


def test_ambiguous_candidates_fail_the_job_rather_than_guess(pipeline, monkeypatch):
    """With the caller's seed, two generations echoing the request could be anyone's: fail the job
    with submit_outcome_unknown rather than adopt a stranger's or pay again."""
    from gencore.leonardo import LeonardoClient, OutcomeUnknownError

    original = LeonardoClient.create_generation

    def created_twice_unanswered(self, request):
        original(self, request)
        original(self, request)
        raise OutcomeUnknownError("read timeout after sending")

    monkeypatch.setattr(LeonardoClient, "create_generation", created_twice_unanswered)
    job_id = accept(pipeline, body=REQUEST | {"seed": 5})
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    _, view = pipeline.api("GET", f"/v1/generations/{job_id}")
    assert view["status"] == "FAILED" and view["error"]["code"] == "submit_outcome_unknown"
    assert pipeline.in_flight() == 0 and created(pipeline) == 2


def test_a_generation_recorded_by_another_job_is_never_adopted(pipeline, monkeypatch):
    from gencore.leonardo import LeonardoClient, OutcomeUnknownError

    original = LeonardoClient.create_generation
    job_id = accept(pipeline)
    stolen: list[str] = []

    def created_and_taken(self, request):
        answer = original(self, request)
        # Another job records this generation first (the GEN item exists already).
        wiring.store()._db.put_item(
            TableName=pipeline.stack.env["JOBS_TABLE"],
            Item={
                "pk": {"S": f"GEN#{answer.generation_id}"},
                "sk": {"S": "GEN"},
                "job_id": {"S": "another-job"},
            },
        )
        stolen.append(answer.generation_id)
        raise OutcomeUnknownError("read timeout after sending")

    monkeypatch.setattr(LeonardoClient, "create_generation", created_and_taken)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    item = pipeline.job_item(job_id)
    assert item["status"] == "QUEUED" and item.get("generation_id") is None
    assert stolen and created(pipeline) == 1


def test_an_unresolved_post_is_resolved_without_waiting_for_a_slot(pipeline, monkeypatch):
    """All slots taken (the cap is 2 here): the job whose POST went unanswered still looks at once,
    adopts its generation, and counts it against the cap (it runs at Leonardo)."""
    from gencore.adapters.leonardo import LeonardoGateway
    from gencore.domain.errors import LeonardoBusy
    from gencore.leonardo import LeonardoClient, OutcomeUnknownError

    original_create, original_find = LeonardoClient.create_generation, LeonardoGateway.find_generations

    def created_but_unanswered(self, request):
        original_create(self, request)
        raise OutcomeUnknownError("read timeout after sending")

    def list_down(self, *args, **kwargs):
        raise LeonardoBusy("the list answers 503 just now")

    monkeypatch.setattr(LeonardoClient, "create_generation", created_but_unanswered)
    monkeypatch.setattr(LeonardoGateway, "find_generations", list_down)
    job_id = accept(pipeline)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    monkeypatch.setattr(LeonardoClient, "create_generation", original_create)
    monkeypatch.setattr(LeonardoGateway, "find_generations", original_find)
    assert pipeline.job_item(job_id)["status"] == "QUEUED" and pipeline.in_flight() == 0

    for prompt in ("a fox", "a tram"):
        accept(pipeline, body=REQUEST | {"prompt": prompt})
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    assert pipeline.in_flight() == 2
    pipeline.runtime.invoke("SubmitterFunction", submit_event(job_id))
    assert generation_of(pipeline, job_id) and created(pipeline) == 3
    assert pipeline.in_flight() == 3
