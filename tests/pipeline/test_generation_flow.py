"""The generation pipeline, function by function, against moto and the Leonardo simulator."""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest
from PIL import Image

from gencore.adapters.account import ACCOUNT_KEY
from leonardo_simulator import FaultConfig
from tests.support.fakes import image_pool

from .conftest import WEBHOOK_KEY, load_event

pytestmark = pytest.mark.integration

PROMPT = {
    "prompt": "A lighthouse on a cliff at dawn",
    "width": 256,
    "height": 192,
    "num_images": 2,
    "seed": 7,
}


def callback_for(pipeline, generation_id: str) -> dict:
    """Leonardo's callback envelope for a generation the simulator has finished (sample shape)."""
    record = pipeline.stack.simulator.generations[generation_id]
    body = load_event("webhook-callback.json")["body"]
    import json

    envelope = json.loads(body)
    envelope["data"]["object"] |= {
        "id": generation_id,
        "status": record.status,
        "images": [
            {"id": image.id, "url": image.url, "nsfw": False, "generationId": generation_id, "likeCount": 0}
            for image in record.images
        ],
    }
    return envelope


def submit_one(pipeline, body=PROMPT, user="alice") -> dict:
    status, job = pipeline.api("POST", "/v1/generations", user=user, body=body)
    assert status == 202, job
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED"
    pipeline.wait_for_leonardo(item["generation_id"])
    return item


def test_health_needs_no_token(pipeline):
    status, body = pipeline.api("GET", "/health", user=None)
    assert (status, body) == (200, {"status": "ok"})


def test_create_answers_202_with_the_normalized_job(pipeline):
    status, job = pipeline.api("POST", "/v1/generations", body={"prompt": "  a cat  "})
    assert status == 202
    assert job["status"] == "QUEUED"
    assert job["request"]["prompt"] == "a cat"
    assert job["request"]["width"] == 1024 and job["request"]["num_images"] == 1
    assert job["created_at"] and job["id"]


@pytest.mark.parametrize(
    ("body", "code", "status"),
    [
        ({"prompt": ""}, "validation_error", 422),
        ({"prompt": "x", "width": 33}, "validation_error", 422),
        ({"prompt": "x", "num_images": 9}, "validation_error", 422),
        ({"prompt": "x", "width": 1024, "num_images": 5}, "validation_error", 422),
        ({"prompt": "x", "surprise": 1}, "validation_error", 422),
        ("{not json", "malformed_json", 400),
    ],
)
def test_invalid_create_requests_get_a_stable_code_and_store_nothing(pipeline, body, code, status):
    got_status, answer = pipeline.api("POST", "/v1/generations", body=body)
    assert got_status == status
    assert answer["error"]["code"] == code
    assert pipeline.receive("SubmitQueue") == []


def test_double_click_returns_the_same_job(pipeline):
    _, first = pipeline.api("POST", "/v1/generations", body=PROMPT)
    status, second = pipeline.api("POST", "/v1/generations", body=dict(PROMPT))
    assert status == 200
    assert second["id"] == first["id"]


def test_idempotency_key_returns_the_same_job_and_rejects_other_parameters(pipeline):
    headers = {"idempotency-key": "click-1"}
    _, first = pipeline.api("POST", "/v1/generations", body=PROMPT, headers=headers)
    _, again = pipeline.api("POST", "/v1/generations", body=PROMPT, headers=headers)
    assert again["id"] == first["id"]
    status, error = pipeline.api("POST", "/v1/generations", body=PROMPT | {"seed": 8}, headers=headers)
    assert status == 422 and error["error"]["code"] == "idempotency_key_reused"


def test_an_idempotency_key_names_its_job_even_after_it_failed(pipeline, monkeypatch):
    """Stripe's semantics: a repeated key answers the original job whatever its state; a new
    attempt takes a new key (a replay after FAILED used to start a second paid job)."""
    from gencore.leonardo import LeonardoClient, PermanentError

    def reject(self, request):
        raise PermanentError("400 from Leonardo", status=400, body={"error": "no"})

    monkeypatch.setattr(LeonardoClient, "create_generation", reject)
    headers = {"idempotency-key": "order-17"}
    _, first = pipeline.api("POST", "/v1/generations", body=PROMPT, headers=headers)
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    status, again = pipeline.api("POST", "/v1/generations", body=PROMPT, headers=headers)
    assert status == 200 and again["id"] == first["id"] and again["status"] == "FAILED"
    assert pipeline.receive("SubmitQueue") == []
    status, fresh = pipeline.api(
        "POST", "/v1/generations", body=PROMPT, headers={"idempotency-key": "order-18"}
    )
    assert status == 202 and fresh["id"] != first["id"]


def test_other_users_do_not_share_dedupe(pipeline):
    _, alice = pipeline.api("POST", "/v1/generations", body=PROMPT, user="alice")
    _, bob = pipeline.api("POST", "/v1/generations", body=PROMPT, user="bob")
    assert alice["id"] != bob["id"]


def test_webhook_completion_copies_outputs_and_completes(pipeline):
    item = submit_one(pipeline)
    assert pipeline.in_flight() == 1
    status, _ = pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    assert status == 202
    pipeline.drain("EventsQueue", "ProcessorFunction")

    status, job = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert status == 200 and job["status"] == "COMPLETE", job
    assert len(job["images"]) == 2
    assert job["cost"]["unit"] == "CREDITS" and float(job["cost"]["amount"]) > 0
    assert job["cost"]["source"] == "leonardo"
    for image in job["images"]:
        png = Image.open(io.BytesIO(httpx.get(image["url"]).content))
        assert png.size == (256, 192) == (image["width"], image["height"])
    assert sorted(pipeline.outputs()) == [
        f"outputs/alice/{item['id']}/0.png",
        f"outputs/alice/{item['id']}/1.png",
    ]
    assert pipeline.in_flight() == 0


def test_the_processor_logs_tie_the_generation_to_its_job(pipeline):
    import logging

    from gencore.observability import logger

    class Lines(logging.Handler):
        """Renders each record as the function's log line (Powertools' formatter, appended keys)."""

        def __init__(self) -> None:
            super().__init__()
            self.rendered: list[dict] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.rendered.append(json.loads(logger.registered_formatter.format(record)))

    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    lines, domain = Lines(), logging.getLogger("gencore")
    domain.addHandler(lines)
    try:
        pipeline.drain("EventsQueue", "ProcessorFunction")
    finally:
        domain.removeHandler(lines)
    processor = [
        line for line in lines.rendered if line.get("function_name", "").endswith("ProcessorFunction")
    ]
    assert any(
        line.get("job_id") == item["id"] and line.get("generation_id") == item["generation_id"]
        for line in processor
    ), processor


def test_duplicate_webhook_gives_one_copy(pipeline):
    item = submit_one(pipeline)
    callback = callback_for(pipeline, item["generation_id"])
    pipeline.webhook(callback)
    pipeline.webhook(callback)
    responses = pipeline.drain("EventsQueue", "ProcessorFunction")
    assert all(not r["batchItemFailures"] for r in responses)
    assert len(pipeline.outputs()) == 2
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
    assert pipeline.in_flight() == 0


def test_dropped_webhook_is_recovered_by_the_reconciler(pipeline, monkeypatch):
    item = submit_one(pipeline)
    monkeypatch.setenv("POLL_FIRST_SECONDS", "1")
    # Nothing arrives; the job becomes due, the reconciler polls Leonardo and feeds the same queue.
    _make_due(pipeline, item["id"])
    result = pipeline.reconcile()
    assert result["outcomes"].get("recovered") == 1
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
    assert len(pipeline.outputs()) == 2


def _generation_gets(pipeline) -> int:
    return pipeline.stack.simulator.stats()["requests"].get("GET /api/rest/v1/generations/{id}", 0)


def _queued_events(pipeline) -> dict[str, dict]:
    """The events queue's messages by their event's source (one of each expected)."""
    messages = pipeline.receive("EventsQueue")
    by_source = {json.loads(m["Body"])["source"]: m for m in messages}
    assert len(by_source) == len(messages)
    return by_source


def test_a_callback_held_in_the_queue_past_the_first_poll_reads_nothing_more(pipeline, monkeypatch):
    # The callback arrives, but a backlog holds it in the queue until after the job's first poll:
    # the reconciler reads the finished generation and sends an event of its own.
    item = submit_one(pipeline)
    assert pipeline.webhook(callback_for(pipeline, item["generation_id"]))[0] == 202
    monkeypatch.setenv("POLL_FIRST_SECONDS", "1")
    _make_due(pipeline, item["id"])
    gets, downloads = _generation_gets(pipeline), pipeline.stack.simulator.stats()["cdn_downloads"]
    assert pipeline.reconcile()["outcomes"] == {"recovered": 1}
    assert pipeline.job_item(item["id"])["recovered_at"]
    events = _queued_events(pipeline)
    # The callback first: it reads nothing from Leonardo, and keeps nothing under its dedupe key,
    # which the reconciler's event shares.
    response = pipeline.deliver("EventsQueue", "ProcessorFunction", [events["webhook"]])
    assert response["batchItemFailures"] == []
    assert pipeline.job_item(item["id"])["status"] == "SUBMITTED"
    pipeline.deliver("EventsQueue", "ProcessorFunction", [events["reconciler"]])
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
    assert _generation_gets(pipeline) - gets == 1  # the reconciler's poll, nothing more
    assert pipeline.stack.simulator.stats()["cdn_downloads"] - downloads == 2  # each output once
    assert len(pipeline.outputs()) == 2 and pipeline.in_flight() == 0


def test_a_recovered_job_whose_event_is_lost_is_polled_again(pipeline, monkeypatch):
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    monkeypatch.setenv("POLL_FIRST_SECONDS", "1")
    _make_due(pipeline, item["id"])
    pipeline.reconcile()
    events = _queued_events(pipeline)  # the reconciler's event is received and never processed
    pipeline.deliver("EventsQueue", "ProcessorFunction", [events["webhook"]])
    assert pipeline.job_item(item["id"])["status"] == "SUBMITTED"
    # The job is due again after the finalize check; its next poll sends the record again.
    _make_due(pipeline, item["id"])
    assert pipeline.reconcile()["outcomes"] == {"recovered": 1}
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
    assert len(pipeline.outputs()) == 2 and pipeline.in_flight() == 0


def test_bad_webhook_token_is_401_and_enqueues_nothing(pipeline):
    item = submit_one(pipeline)
    callback = callback_for(pipeline, item["generation_id"])
    for token in (None, "wrong", WEBHOOK_KEY.upper(), WEBHOOK_KEY + "x"):
        status, body = pipeline.webhook(callback, token=token)
        assert status == 401 and body["error"]["code"] == "unauthorized"
    assert pipeline.receive("EventsQueue") == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{truncated", 400, "malformed_json"),
        ({"type": "image_generation.complete"}, 400, "invalid_payload"),
        ("x" * (300 * 1024), 413, "payload_too_large"),
    ],
)
def test_bad_webhook_bodies_are_rejected(pipeline, body, status, code):
    got, answer = pipeline.webhook(body)
    assert got == status and answer["error"]["code"] == code
    assert pipeline.receive("EventsQueue") == []


def test_webhook_strips_secrets_before_enqueueing(pipeline):
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    [message] = pipeline.receive("EventsQueue")
    assert "SAMPLE-API-KEY-DO-NOT-STORE" not in message["Body"]
    assert "SAMPLE-WEBHOOK-KEY" not in message["Body"]
    assert "apiKey" not in message["Body"]


def test_user_b_cannot_read_user_a_job(pipeline):
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT, user="alice")
    status, body = pipeline.api("GET", f"/v1/generations/{job['id']}", user="bob")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _ = pipeline.api("GET", "/v1/generations/does-not-exist", user="alice")
    assert status == 404


def test_history_is_newest_first_and_paginated_with_an_opaque_cursor(pipeline):
    ids = [pipeline.api("POST", "/v1/generations", body={"prompt": f"p{i}"})[1]["id"] for i in range(5)]
    pipeline.api("POST", "/v1/generations", body={"prompt": "other"}, user="bob")
    seen, cursor = [], None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, page = pipeline.api("GET", "/v1/generations", query=query)
        assert status == 200
        seen += [j["id"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_a_cursor_is_bound_to_its_user(pipeline):
    for i in range(3):
        pipeline.api("POST", "/v1/generations", body={"prompt": f"p{i}"})
    _, page = pipeline.api("GET", "/v1/generations", query={"limit": "1"})
    status, body = pipeline.api("GET", "/v1/generations", query={"cursor": page["next_cursor"]}, user="bob")
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    status, body = pipeline.api("GET", "/v1/generations", query={"cursor": "garbage!"})
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


def _cursor(**values: str) -> str:
    import base64

    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "tampered",
    [
        {"pk": "", "sk": "JOB", "gsi1pk": "USER#alice", "gsi1sk": ""},  # empty key values: a 400 at DynamoDB
        {"pk": "JOB#" + "x" * 1200, "sk": "JOB", "gsi1pk": "USER#alice", "gsi1sk": "a#b"},  # oversized
        {"pk": "JOB#0e6b1c1e-2f45-4d2b-9a55-4c1b8f0e9d11", "sk": "GEN", "gsi1pk": "USER#alice",
         "gsi1sk": "2026-12-01T10:00:00Z#0e6b1c1e-2f45-4d2b-9a55-4c1b8f0e9d11"},  # another item kind
        {"pk": "JOB#0e6b1c1e-2f45-4d2b-9a55-4c1b8f0e9d11", "sk": "JOB", "gsi1pk": "USER#alice",
         "gsi1sk": "2026-12-01T10:00:00Z#11111111-2f45-4d2b-9a55-4c1b8f0e9d11"},  # two different jobs
        {"pk": "JOB#../../x", "sk": "JOB", "gsi1pk": "USER#alice", "gsi1sk": "yesterday#../../x"},
    ],
)  # fmt: skip
def test_tampered_cursors_are_refused_before_dynamodb_sees_them(pipeline, tampered):
    status, body = pipeline.api("GET", "/v1/generations", query={"cursor": _cursor(**tampered)})
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


def test_an_oversized_cursor_is_refused(pipeline):
    status, body = pipeline.api("GET", "/v1/generations", query={"cursor": "A" * 1500})
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    status, body = pipeline.api("GET", "/v1/generations", query={"cursor": "A" * 5000})
    assert status == 422 and body["error"]["code"] == "validation_error"  # past the documented maxLength


def test_concurrency_cap_keeps_extra_jobs_queued(pipeline):
    # LeonardoMaxConcurrency is 2 in these tests.
    for i in range(3):
        pipeline.api("POST", "/v1/generations", body={"prompt": f"cap {i}"})
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    statuses = sorted(
        pipeline.api("GET", f"/v1/generations/{j['id']}")[1]["status"]
        for j in pipeline.api("GET", "/v1/generations")[1]["items"]
    )
    assert statuses == ["QUEUED", "SUBMITTED", "SUBMITTED"]
    assert pipeline.in_flight() == 2
    assert pipeline.stack.simulator.stats()["generations_created"] == 2


def test_rate_limited_submission_keeps_the_job_and_still_completes(pipeline):
    pipeline.stack.simulator.set_faults(FaultConfig(seed=3, http_429_rate=1.0))
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    item = pipeline.job_item(job["id"])
    assert item["status"] == "QUEUED" and "slot_held" not in item
    assert pipeline.in_flight() == 0
    pipeline.stack.simulator.set_faults(FaultConfig())
    # Every create waited for Leonardo's Retry-After (the account's pause); then the delayed retry
    # message (or the reconciler) brings it back: deliver it then.
    account = pipeline.ddb.get_item(TableName=pipeline.stack.env["JOBS_TABLE"], Key=ACCOUNT_KEY)["Item"]
    time.sleep(max(0.0, float(account["paused_until"]["N"]) - time.time()))
    pipeline.runtime.invoke("SubmitterFunction", _submit_event(job["id"]))
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED"
    pipeline.wait_for_leonardo(item["generation_id"])
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(job["id"])["status"] == "COMPLETE"


def test_permanent_leonardo_error_fails_the_job_with_the_reason(pipeline, monkeypatch):
    from gencore.leonardo import LeonardoClient, PermanentError

    def reject(self, request):
        raise PermanentError("400 from Leonardo", status=400, body={"error": "modelId is not a valid model"})

    monkeypatch.setattr(LeonardoClient, "create_generation", reject)
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    _, view = pipeline.api("GET", f"/v1/generations/{job['id']}")
    assert view["status"] == "FAILED"
    assert view["error"] == {"code": "leonardo_rejected", "message": "modelId is not a valid model"}
    assert pipeline.in_flight() == 0


def test_failed_generation_fails_the_job_and_frees_the_slot(pipeline):
    pipeline.stack.simulator.set_faults(FaultConfig(seed=1, failed_generation_rate=1.0))
    item = submit_one(pipeline)
    pipeline.stack.simulator.set_faults(FaultConfig())
    _make_due(pipeline, item["id"])
    pipeline.reconcile()
    pipeline.drain("EventsQueue", "ProcessorFunction")
    _, view = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert view["status"] == "FAILED" and view["error"]["code"] == "generation_failed"
    assert pipeline.in_flight() == 0
    # A failed job no longer blocks a retry of the same parameters.
    status, retry = pipeline.api("POST", "/v1/generations", body=PROMPT)
    assert status == 202 and retry["id"] != item["id"]


def test_crash_between_copy_and_status_update_neither_duplicates_nor_loses(pipeline, monkeypatch):
    item = submit_one(pipeline)
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    from gencore.adapters.dynamo import DynamoJobStore

    original = DynamoJobStore.transition

    def crash_on_complete(self, job, to, **kwargs):
        if to == "COMPLETE":
            raise RuntimeError("crash after copy, before the status write")
        return original(self, job, to, **kwargs)

    monkeypatch.setattr(DynamoJobStore, "transition", crash_on_complete)
    responses = pipeline.drain("EventsQueue", "ProcessorFunction", rounds=1)
    assert responses[0]["batchItemFailures"]
    assert len(pipeline.outputs()) == 2
    assert pipeline.job_item(item["id"])["status"] == "FINALIZING"

    monkeypatch.setattr(DynamoJobStore, "transition", original)
    pipeline.expire_visibility("EventsQueue")
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"
    assert len(pipeline.outputs()) == 2


def test_a_callback_is_checked_against_leonardo_before_anything_is_fetched(pipeline):
    item = submit_one(pipeline)
    callback = callback_for(pipeline, item["generation_id"])
    for image in callback["data"]["object"]["images"]:
        image["url"] = "http://169.254.169.254/latest/meta-data/iam"
    callback["data"]["object"]["apiCreditCost"] = 999
    pipeline.webhook(callback)
    responses = pipeline.drain("EventsQueue", "ProcessorFunction")
    assert all(not r["batchItemFailures"] for r in responses)
    _, view = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert view["status"] == "COMPLETE"
    record = pipeline.stack.simulator.generations[item["generation_id"]]
    for image, original in zip(view["images"], record.images, strict=True):
        assert httpx.get(image["url"]).content == httpx.get(original.url).content  # Leonardo's bytes
    assert view["cost"] == item["cost"] and item["cost"]["amount"] != "999"  # the callback's claim is ignored


def test_a_forged_failure_callback_does_not_fail_a_good_job(pipeline):
    item = submit_one(pipeline)
    callback = callback_for(pipeline, item["generation_id"])
    callback["data"]["object"] |= {"status": "FAILED", "images": []}
    pipeline.webhook(callback)
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"


def test_a_callback_ahead_of_leonardo_leaves_the_job_to_the_reconciler(pipeline, monkeypatch):
    from gencore.adapters.leonardo import LeonardoGateway
    from gencore.domain.ports import RemoteGeneration

    item = submit_one(pipeline)
    real = LeonardoGateway.generation
    monkeypatch.setattr(LeonardoGateway, "generation", lambda self, gid: RemoteGeneration("PENDING", []))
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    responses = pipeline.drain("EventsQueue", "ProcessorFunction")
    assert all(not r["batchItemFailures"] for r in responses)
    assert pipeline.job_item(item["id"])["status"] == "SUBMITTED"
    monkeypatch.setattr(LeonardoGateway, "generation", real)
    # The genuine callback for the same generation is not swallowed by the earlier one's dedupe key.
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.job_item(item["id"])["status"] == "COMPLETE"


def test_a_lost_submission_goes_to_the_line_and_a_free_slot_wakes_it(pipeline):
    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    pipeline.receive("SubmitQueue")  # the message vanishes (received, never processed or deleted)
    _make_due(pipeline, job["id"])
    assert pipeline.reconcile()["outcomes"] == {"parked": 1, "woken": 1}
    pipeline.drain("SubmitQueue", "SubmitterFunction")  # the wake's message
    assert pipeline.job_item(job["id"])["status"] == "SUBMITTED"


def test_reconciler_times_out_old_jobs_and_frees_their_slots(pipeline, monkeypatch):
    item = submit_one(pipeline)
    from gencore import wiring

    policy = wiring.settings().policy()
    monkeypatch.setattr(
        type(wiring.settings()), "policy", lambda self: policy.__class__(max_job_age_seconds=0)
    )
    wiring.reset()
    _make_due(pipeline, item["id"])
    assert pipeline.reconcile()["outcomes"] == {"timed_out": 1}
    _, view = pipeline.api("GET", f"/v1/generations/{item['id']}")
    assert view["status"] == "FAILED" and view["error"]["code"] == "timeout"
    assert pipeline.in_flight() == 0


def test_poison_message_is_reported_as_a_batch_item_failure(pipeline):
    pipeline.sqs.send_message(QueueUrl=pipeline.queues["EventsQueue"], MessageBody='{"nope": true}')
    [response] = pipeline.drain("EventsQueue", "ProcessorFunction", rounds=1)
    assert len(response["batchItemFailures"]) == 1


# --- helpers -----------------------------------------------------------------------------------


def _make_due(pipeline, job_id: str) -> None:
    from gencore.adapters.job_keys import job_key

    pipeline.ddb.update_item(
        TableName=pipeline.stack.env["JOBS_TABLE"],
        Key=job_key(job_id),
        UpdateExpression="SET due_at = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )


def _submit_event(job_id: str) -> dict:
    import json

    event = load_event("submitter-sqs.json")
    event["Records"][0]["body"] = json.dumps({"job_id": job_id, "attempt": 1})
    return event


def test_pending_generations_are_polled_again_later_and_later(pipeline, monkeypatch):
    from gencore.adapters.leonardo import LeonardoGateway
    from gencore.domain.ports import RemoteGeneration

    item = submit_one(pipeline)
    monkeypatch.setattr(LeonardoGateway, "generation", lambda self, gid: RemoteGeneration("PENDING", []))
    gaps = []
    for _ in range(3):
        _make_due(pipeline, item["id"])
        import time

        before = int(time.time())
        assert pipeline.reconcile()["outcomes"] == {"pending": 1}
        gaps.append(pipeline.job_item(item["id"])["due_at"] - before)
    assert gaps[0] < gaps[1] < gaps[2]  # adaptive: 30 s, 60 s, 120 s by default
    assert pipeline.job_item(item["id"])["checks"] == 3
    assert pipeline.receive("EventsQueue") == []


def test_reconciler_reads_the_due_index_never_scans(pipeline, monkeypatch):
    from gencore import wiring

    ids = [pipeline.api("POST", "/v1/generations", body={"prompt": f"due {i}"})[1]["id"] for i in range(3)]
    for job_id in ids:
        _make_due(pipeline, job_id)
    db = wiring.store()._db
    calls = []
    for operation in ("scan", "query"):
        original = getattr(db, operation)
        monkeypatch.setattr(
            db, operation, lambda _op=operation, _f=original, **kw: calls.append(_op) or _f(**kw)
        )
    assert pipeline.reconcile()["outcomes"] == {"parked": 3, "woken": 2}  # two free slots
    assert "query" in calls and "scan" not in calls


def test_jobs_to_poll_come_before_queued_jobs_and_shards_merge_by_age(pipeline):
    from gencore import wiring
    from gencore.adapters.job_keys import job_key

    polled = submit_one(pipeline)  # SUBMITTED: holds a slot until its completion is seen
    queued = [
        pipeline.api("POST", "/v1/generations", body={"prompt": f"wait {i}"})[1]["id"] for i in range(6)
    ]
    for age, job_id in enumerate(queued):  # all far more overdue than the polled job
        pipeline.ddb.update_item(
            TableName=pipeline.stack.env["JOBS_TABLE"], Key=job_key(job_id),
            UpdateExpression="SET due_at = :d", ExpressionAttributeValues={":d": {"N": str(100 + age)}},
        )  # fmt: skip
    _make_due(pipeline, polled["id"])
    store = wiring.store()
    import time

    assert store.due_job_ids(now=int(time.time()), limit=1) == [polled["id"]]
    assert store.due_job_ids(now=int(time.time()), limit=4)[1:] == queued[:3]  # oldest first, any shard


def test_resending_to_a_silent_slot_holder_backs_off(pipeline):
    import time
    from datetime import UTC, datetime

    from gencore import wiring

    _, job = pipeline.api("POST", "/v1/generations", body=PROMPT)
    pipeline.receive("SubmitQueue")  # a submitter took the message and the slot, then went quiet
    claim = wiring.store().claim_slot(
        job["id"], pools=image_pool(2), now=datetime.now(UTC), lease_seconds=120
    )
    assert claim.granted
    gaps = []
    for _ in range(3):
        _make_due(pipeline, job["id"])
        before = int(time.time())
        assert pipeline.reconcile()["outcomes"] == {"resubmitted": 1}
        gaps.append(pipeline.job_item(job["id"])["due_at"] - before)
    assert gaps[0] < gaps[1] < gaps[2]


def _queue_past_the_cap(pipeline, count: int) -> list[str]:
    """Create `count` jobs (the cap is 2) and deliver their first submit messages: the rest wait."""
    ids = [
        pipeline.api("POST", "/v1/generations", body={"prompt": f"line {i}"})[1]["id"] for i in range(count)
    ]
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=1)
    return ids


def _waiting(pipeline, ids: list[str]) -> list[str]:
    return [i for i in ids if pipeline.job_item(i)["status"] == "QUEUED"]


def test_a_job_that_finds_every_slot_taken_waits_in_line_without_messages(pipeline):
    ids = _queue_past_the_cap(pipeline, 4)
    waiting = _waiting(pipeline, ids)
    assert len(waiting) == 2
    for job_id in waiting:
        assert pipeline.job_item(job_id)["due_pk"].startswith("DUE#L")  # in the line, not due
    assert pipeline.receive("SubmitQueue") == []  # nothing cycles while they wait
    assert pipeline.reconcile()["outcomes"] == {}  # not due, and no slot is free
    assert _waiting(pipeline, ids) == waiting


def test_a_released_slot_wakes_the_longest_waiting_job(pipeline):
    ids = _queue_past_the_cap(pipeline, 4)
    first_waiting = _waiting(pipeline, ids)
    running = [i for i in ids if i not in first_waiting]
    line = sorted(first_waiting, key=lambda i: (pipeline.job_item(i)["due_at"], i))
    generation = pipeline.job_item(running[0])["generation_id"]
    pipeline.wait_for_leonardo(generation)
    pipeline.webhook(callback_for(pipeline, generation))
    pipeline.drain("EventsQueue", "ProcessorFunction")  # completes a job: its slot goes to the line's head

    messages = pipeline.receive("SubmitQueue")
    assert [json.loads(m["Body"])["job_id"] for m in messages] == [line[0]]
    pipeline.expire_visibility_of(messages, "SubmitQueue")
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert pipeline.job_item(line[0])["status"] == "SUBMITTED"
    assert pipeline.job_item(line[1])["status"] == "QUEUED"
    assert pipeline.in_flight() == 2


def test_the_reconciler_hands_free_slots_to_the_line_when_a_wake_was_lost(pipeline, monkeypatch):
    from gencore.domain.waiting import Waker

    ids = _queue_past_the_cap(pipeline, 3)
    [waiting] = _waiting(pipeline, ids)
    monkeypatch.setattr(Waker, "after_release", lambda self: None)  # the wake is lost
    generation = pipeline.job_item(next(i for i in ids if i != waiting))["generation_id"]
    pipeline.wait_for_leonardo(generation)
    pipeline.webhook(callback_for(pipeline, generation))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    assert pipeline.receive("SubmitQueue") == [] and pipeline.in_flight() == 1

    assert pipeline.reconcile()["outcomes"] == {"woken": 1}
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert pipeline.job_item(waiting)["status"] == "SUBMITTED"


def test_a_waiting_job_is_woken_once_and_older_messages_stop(pipeline):
    from gencore import wiring

    ids = _queue_past_the_cap(pipeline, 3)
    [waiting] = _waiting(pipeline, ids)
    store = wiring.store()
    assert store.leave_line(waiting, due_at=0).submit_token == 1  # a wake: new live token
    assert store.leave_line(waiting, due_at=0) is None  # a second waker finds it gone from the line
    submitter = wiring.submitter()
    assert submitter.submit(waiting, token=0).outcome == "superseded"  # an old copy stops here
    assert submitter.submit(waiting, token=1).outcome == "waiting"  # the live one waits in line again
    assert pipeline.job_item(waiting)["due_pk"].startswith("DUE#L")


def test_waiting_in_line_never_times_a_job_out(pipeline, monkeypatch):
    from gencore import wiring

    ids = _queue_past_the_cap(pipeline, 3)
    [waiting] = _waiting(pipeline, ids)
    policy = wiring.settings().policy()
    monkeypatch.setattr(
        type(wiring.settings()), "policy", lambda self: policy.__class__(max_job_age_seconds=0)
    )
    wiring.reset()
    assert wiring.reconciler().check(waiting) != "timed_out"
    assert pipeline.job_item(waiting)["status"] == "QUEUED"
