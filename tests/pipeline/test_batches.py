"""Batches through the real handlers on moto and the simulator: accept, fan-out, items through the same
machinery as jobs, counters, results in manifest order, the ledger, cancel, deadline, idempotency."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from gencore import wiring
from gencore.adapters.job_keys import batch_key
from tests.pipeline.test_generation_flow import callback_for

PROMPT = {"prompt": "a lighthouse at dusk", "width": 256, "height": 192, "num_images": 1}


def items(n: int, **extra) -> list[dict]:
    return [{"custom_id": f"item-{i:03d}", **PROMPT, "prompt": f"lighthouse {i}", **extra} for i in range(n)]


def create(pipeline, body: dict, **kwargs) -> dict:
    status, batch = pipeline.api("POST", "/v1/batches", body=body, **kwargs)
    assert status == 202, batch
    return batch


def get(pipeline, batch_id: str, user: str = "alice") -> dict:
    status, batch = pipeline.api("GET", f"/v1/batches/{batch_id}", user=user)
    assert status == 200, batch
    return batch


def results(pipeline, batch_id: str, *, limit: int = 500) -> list[dict]:
    lines, cursor = [], None
    while True:
        query = {"limit": str(limit)} | ({"cursor": cursor} if cursor else {})
        status, body = pipeline.api_raw("GET", f"/v1/batches/{batch_id}/results", query=query)
        assert status == 200, body
        assert pipeline.last_headers["content-type"] == "application/jsonl"
        lines += [json.loads(line) for line in body.splitlines()]
        cursor = pipeline.last_headers.get("x-next-cursor")
        if not cursor:
            return lines


def finish_submitted(pipeline) -> int:
    """Leonardo's callbacks for every generation it finished, processed: how many."""
    done = 0
    for generation_id in list(pipeline.stack.simulator.generations):
        owner = wiring.store().job_for_generation(generation_id)
        if owner is None or owner.status.value != "SUBMITTED":
            continue
        pipeline.wait_for_leonardo(generation_id)
        pipeline.webhook(callback_for(pipeline, generation_id))
        done += 1
    pipeline.drain("EventsQueue", "ProcessorFunction", rounds=50)
    return done


def run(pipeline, batch_id: str, *, rounds: int = 60) -> dict:
    """Drive the functions as their event sources would until the batch has ended."""
    for _ in range(rounds):
        pipeline.drain("BatchQueue", "BatchFunction")
        pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=50)
        finish_submitted(pipeline)
        batch = get(pipeline, batch_id)
        if batch["status"] in ("COMPLETE", "CANCELLED"):
            return batch
    raise AssertionError(f"batch did not end: {get(pipeline, batch_id)}")


def usage(pipeline, user: str = "alice") -> dict:
    status, body = pipeline.api("GET", "/v1/usage", user=user)
    assert status == 200, body
    return body


def test_a_batch_makes_one_job_per_line_and_completes_in_manifest_order(pipeline):
    batch = create(pipeline, {"items": items(7), "name": "lighthouses"})
    assert (batch["status"], batch["items"], batch["created"], batch["name"]) == (
        "RUNNING",
        7,
        0,
        "lighthouses",
    )
    ended = run(pipeline, batch["id"])
    assert ended["status"] == "COMPLETE"
    assert ended["counts"]["COMPLETE"] == 7 and ended["created"] == 7
    assert ended["finished_at"] and ended["started_at"]
    lines = results(pipeline, batch["id"], limit=3)  # three pages
    assert [line["custom_id"] for line in lines] == [f"item-{i:03d}" for i in range(7)]
    assert [line["line"] for line in lines] == list(range(1, 8))
    for line in lines:
        assert line["status"] == "COMPLETE" and line["error"] is None
        (image,) = line["images"]
        assert image["url"] and image["size"] > 0 and len(image["sha256"]) == 64
    # Each item is a job of its own, readable by its owner, marked with its batch.
    status, job = pipeline.api("GET", f"/v1/generations/{lines[0]['job_id']}")
    assert status == 200 and job["batch"] == {"batch_id": batch["id"], "custom_id": "item-000", "line": 1}
    # Items stay out of the user's history (they are the batch's results).
    status, history = pipeline.api("GET", "/v1/generations")
    assert history["items"] == []


def test_identical_lines_are_separate_jobs_not_double_clicks(pipeline):
    same = [{"custom_id": f"same-{i}", **PROMPT, "seed": 5} for i in range(3)]
    batch = create(pipeline, {"items": same})
    ended = run(pipeline, batch["id"])
    assert ended["counts"]["COMPLETE"] == 3
    assert len({line["job_id"] for line in results(pipeline, batch["id"])}) == 3


def test_the_whole_estimate_is_reserved_at_accept_and_settled_per_item(pipeline):
    batch = create(pipeline, {"items": items(4)}, plan="unlimited")
    reserved = Decimal(batch["credits"]["reserved"])
    assert reserved > 0 and batch["credits"]["spent"] == "0"
    day = usage(pipeline)["day"]
    assert Decimal(day["reserved"]) == reserved
    ended = run(pipeline, batch["id"])
    assert Decimal(ended["credits"]["reserved"]) == 0
    assert Decimal(ended["credits"]["spent"]) > 0
    day = usage(pipeline)["day"]
    assert Decimal(day["reserved"]) == 0
    assert Decimal(day["spent"]) == Decimal(ended["credits"]["spent"])


def test_invalid_lines_refuse_the_batch_with_a_report_and_store_nothing(pipeline):
    lines = items(3)
    lines[1] = {"custom_id": "bad-size", **PROMPT, "width": 100}
    lines.append({"custom_id": "item-000", **PROMPT})  # a duplicate custom_id
    lines.append({**PROMPT})  # no custom_id
    status, body = pipeline.api("POST", "/v1/batches", body={"items": lines})
    assert status == 422 and body["error"]["code"] == "batch_invalid"
    report = [(d["line"], d["custom_id"], d["code"]) for d in body["error"]["details"]]
    assert report == [
        (2, "bad-size", "validation_error"),
        (4, "item-000", "duplicate_custom_id"),
        (5, None, "missing_custom_id"),
    ]
    status, page = pipeline.api("GET", "/v1/batches")
    assert page["batches"] == []
    assert pipeline.outputs("batches/") == []
    assert Decimal(usage(pipeline)["day"]["reserved"]) == 0


def test_skip_invalid_accepts_the_valid_lines_only(pipeline):
    lines = items(3)
    lines[1] = {"custom_id": "bad-size", **PROMPT, "width": 100}
    batch = create(pipeline, {"items": lines, "skip_invalid": True})
    assert (batch["items"], batch["skipped"]) == (2, 1)
    ended = run(pipeline, batch["id"])
    assert [line["custom_id"] for line in results(pipeline, ended["id"])] == ["item-000", "item-002"]


def test_an_idempotency_key_returns_the_original_batch(pipeline):
    first = create(pipeline, {"items": items(2)}, headers={"idempotency-key": "k-1"})
    status, again = pipeline.api(
        "POST", "/v1/batches", body={"items": items(2)}, headers={"idempotency-key": "k-1"}
    )
    assert status == 200 and again["id"] == first["id"]
    status, page = pipeline.api("GET", "/v1/batches")
    assert [b["id"] for b in page["batches"]] == [first["id"]]
    assert Decimal(usage(pipeline)["day"]["reserved"]) == Decimal(first["credits"]["reserved"])


def test_an_idempotency_key_reused_with_another_batch_is_refused(pipeline):
    create(pipeline, {"items": items(2)}, headers={"idempotency-key": "k-2"})
    status, body = pipeline.api(
        "POST", "/v1/batches", body={"items": items(3)}, headers={"idempotency-key": "k-2"}
    )
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"


def test_the_batch_list_pages_newest_first_with_a_cursor_of_its_own(pipeline):
    ids = [create(pipeline, {"items": items(2)})["id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        query = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        status, page = pipeline.api("GET", "/v1/batches", query=query)
        assert status == 200, page
        seen += [batch["id"] for batch in page["batches"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == list(reversed(ids))

    _, page = pipeline.api("GET", "/v1/batches", query={"limit": "1"})
    for user, path in (("bob", "/v1/batches"), ("alice", "/v1/generations")):
        status, body = pipeline.api("GET", path, query={"cursor": page["next_cursor"]}, user=user)
        assert status == 400 and body["error"]["code"] == "invalid_cursor", (user, path)


def test_a_results_cursor_pages_only_its_own_batch(pipeline):
    first, second = (create(pipeline, {"items": items(2)})["id"] for _ in range(2))
    pipeline.drain("BatchQueue", "BatchFunction")
    status, _ = pipeline.api_raw("GET", f"/v1/batches/{first}/results", query={"limit": "1"})
    cursor = pipeline.last_headers.get("x-next-cursor")
    assert status == 200 and cursor
    status, body = pipeline.api_raw("GET", f"/v1/batches/{second}/results", query={"cursor": cursor})
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_cursor"
    status, body = pipeline.api_raw("GET", "/v1/batches", query={"cursor": cursor})
    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_cursor"
    status, body = pipeline.api_raw("GET", f"/v1/batches/{first}/results", query={"cursor": cursor})
    assert status == 200 and len(body.splitlines()) == 1


def test_another_users_batch_is_not_found(pipeline):
    batch = create(pipeline, {"items": items(1)})
    for method, path in (
        ("GET", f"/v1/batches/{batch['id']}"),
        ("GET", f"/v1/batches/{batch['id']}/results"),
        ("POST", f"/v1/batches/{batch['id']}/cancel"),
    ):
        status, body = pipeline.api_raw(method, path, user="mallory")
        assert status == 404 and json.loads(body)["error"]["code"] == "not_found"


def test_cancel_releases_waiting_items_and_lets_items_at_leonardo_finish(pipeline):
    batch = create(pipeline, {"items": items(6)})
    pipeline.drain("BatchQueue", "BatchFunction")
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=50)  # two slots: two items at Leonardo
    assert get(pipeline, batch["id"])["counts"]["SUBMITTED"] == 2
    status, cancelling = pipeline.api("POST", f"/v1/batches/{batch['id']}/cancel")
    assert status == 200 and cancelling["status"] == "CANCELLING"
    ended = run(pipeline, batch["id"])
    assert ended["status"] == "CANCELLED"
    assert (ended["counts"]["COMPLETE"], ended["counts"]["CANCELLED"]) == (2, 4)
    assert Decimal(ended["credits"]["reserved"]) == 0
    assert Decimal(usage(pipeline)["day"]["reserved"]) == 0
    status, body = pipeline.api("POST", f"/v1/batches/{batch['id']}/cancel")
    assert status == 200 and body["status"] == "CANCELLED"  # a repeat answers the same


def test_cancel_before_the_fan_out_makes_no_items_and_releases_everything(pipeline):
    batch = create(pipeline, {"items": items(5)})
    assert pipeline.api("POST", f"/v1/batches/{batch['id']}/cancel")[0] == 200
    ended = run(pipeline, batch["id"])
    assert (ended["status"], ended["created"]) == ("CANCELLED", 0)
    assert Decimal(usage(pipeline)["day"]["reserved"]) == 0


def test_items_still_waiting_at_the_deadline_fail_batch_deadline_exceeded(pipeline):
    batch = create(pipeline, {"items": items(4), "complete_within_hours": 1})
    pipeline.drain("BatchQueue", "BatchFunction")
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=50)
    table = pipeline.stack.env["JOBS_TABLE"]
    pipeline.ddb.update_item(  # the deadline passes (as if an hour went by)
        TableName=table, Key=batch_key(batch["id"]),
        UpdateExpression="SET deadline_at = :past, due_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 5)}},
    )  # fmt: skip
    pipeline.reconcile()
    pipeline.drain("BatchQueue", "BatchFunction")
    ended = run(pipeline, batch["id"])
    lines = results(pipeline, batch["id"])
    failed = [line for line in lines if line["status"] == "FAILED"]
    assert len(failed) == 2 and {f["error"]["code"] for f in failed} == {"batch_deadline_exceeded"}
    assert ended["status"] == "COMPLETE" and ended["counts"]["COMPLETE"] == 2


def test_a_finished_batch_publishes_batch_completed_through_the_outbox(pipeline):
    batch = create(pipeline, {"items": items(2)})
    run(pipeline, batch["id"])
    table = pipeline.stack.env["JOBS_TABLE"]
    item = pipeline.ddb.get_item(
        TableName=table, Key={"pk": {"S": f"OUTBOX#batch-{batch['id']}:COMPLETE"}, "sk": {"S": "OUTBOX"}}
    )["Item"]
    assert item["detail_type"]["S"] == "Batch Completed"
    detail = json.loads(item["detail"]["S"])
    assert detail["batch_id"] == batch["id"] and detail["counts"]["COMPLETE"] == 2


@pytest.mark.parametrize("body", [{}, {"items": []}, {"items": items(1), "manifest_upload_id": "x"}])
def test_a_batch_takes_items_or_a_manifest(pipeline, body):
    status, answer = pipeline.api("POST", "/v1/batches", body=body)
    assert status == 422 and answer["error"]["code"] == "validation_error"


def manifest_upload(pipeline, content: bytes) -> tuple[int, dict]:
    from tests.support.uploads import post_form

    body = {"content_type": "application/jsonl", "purpose": "batch_manifest"}
    status, upload = pipeline.api("POST", "/v1/uploads", body=body)
    assert status == 201, upload
    assert post_form(upload["upload"], content, "application/jsonl").status_code in (200, 204)
    return pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")


def test_a_batch_from_an_uploaded_jsonl_manifest(pipeline):
    lines = [json.dumps(item) for item in items(5)]
    lines.insert(2, "")  # a blank line is skipped (line numbers still count it)
    status, upload = manifest_upload(pipeline, ("\n".join(lines) + "\n").encode())
    assert status == 200 and upload["status"] == "READY", upload
    batch = create(pipeline, {"manifest_upload_id": upload["id"], "name": "from a file"})
    ended = run(pipeline, batch["id"])
    assert ended["counts"]["COMPLETE"] == 5
    assert [line["line"] for line in results(pipeline, batch["id"])] == [1, 2, 4, 5, 6]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"\xff\xfe not utf-8\n", "manifest_not_utf8"),
        (b'[1, 2]\n{"custom_id": "a"}\n', "manifest_not_jsonl"),
        (b'{"custom_id": "a"\n', "manifest_not_jsonl"),
        (b"sku,prompt\n1,a red sneaker\n", "manifest_not_jsonl"),
        (b'{"custom_id": "a"}\n' + b"x" * 70_000 + b"\n", "manifest_line_too_long"),
        (b"\n\n", "manifest_empty"),
    ],
)
def test_a_manifest_that_is_not_json_lines_is_rejected(pipeline, content, code):
    status, body = manifest_upload(pipeline, content)
    assert status == 422 and body["error"]["code"] == code


def test_a_manifest_is_application_jsonl_and_an_image_upload_is_not(pipeline):
    for body in (
        {"content_type": "application/jsonl"},
        {"content_type": "image/png", "purpose": "batch_manifest"},
    ):
        status, answer = pipeline.api("POST", "/v1/uploads", body=body)
        assert status == 422 and answer["error"]["code"] == "invalid_combination"


def test_an_image_upload_cannot_be_a_manifest(pipeline):
    from tests.pipeline.test_uploads import ready_upload

    image = ready_upload(pipeline)
    status, body = pipeline.api("POST", "/v1/batches", body={"manifest_upload_id": image["id"]})
    assert status == 422 and body["error"]["code"] == "upload_wrong_purpose"


def test_a_big_batch_does_not_starve_another_users_single_job(pipeline):
    batch = create(pipeline, {"items": items(30)})
    pipeline.drain("BatchQueue", "BatchFunction")  # 30 items in the line; the two slots taken
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=50)
    assert get(pipeline, batch["id"])["counts"]["SUBMITTED"] == 2
    status, single = pipeline.api("POST", "/v1/generations", user="bob", body=PROMPT)
    assert status == 202
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=50)  # no slot: bob's job waits in line
    assert pipeline.job_item(single["id"])["status"] == "QUEUED"
    finish_submitted(pipeline)  # the two items end: their slots go to the line's next turns
    pipeline.drain("SubmitQueue", "SubmitterFunction", rounds=50)
    # Bob's job took one of the first two turns after the batch's first two, not the 31st.
    assert pipeline.job_item(single["id"])["status"] == "SUBMITTED"
    assert get(pipeline, batch["id"])["counts"]["SUBMITTED"] == 1
