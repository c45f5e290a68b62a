"""Neither key leaks, end to end: the whole stack runs with recognisable canary keys
(`LEOKEY-canary-<hex>`, `HOOKKEY-canary-<hex>`, see conftest.py), the simulator's callbacks echo both
(the `apiKey` block of Leonardo's published sample), and afterwards every place a key could end
up is searched:

- every log line of the session: the Powertools JSON handlers ("leonardo-backend", "gencore"),
  the runner, the simulator and uvicorn (conftest's `session_logs`), plus this test's stdout/stderr;
- every response body this test provoked, errors included;
- every item of every DynamoDB table of the stack, every S3 object key and its metadata;
- every SQS message left in every queue of the stack (dead-letter queues included).

The raw callback body must not appear either: its tell-tale fields (`webhookCallbackApiKey`,
`webhookCallbackUrl`, `apiKeyId`, the key snapshot's id) are searched for too.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from leonardo_simulator import FaultConfig
from leonardo_simulator.views import uuid4_from
from tests.support.jobs import wait_for_status
from tests.support.uploads import png_bytes, post_form

pytestmark = pytest.mark.fuzz

REQUEST = {"prompt": "a lighthouse keeping secrets", "width": 64, "height": 64, "num_images": 2}


def stored_state(stack) -> dict[str, str]:
    """Every table item, S3 key + metadata and leftover queue message of this stack, as text."""
    name = stack.config.stack_name
    ddb, s3, sqs = (stack.boto3_client(s) for s in ("dynamodb", "s3", "sqs"))
    items = []
    tables = [t for t in ddb.list_tables()["TableNames"] if t.startswith(name)]
    assert len(tables) >= 2, tables
    for table in tables:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
    objects = []
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith(name.lower())):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                head = s3.head_object(Bucket=bucket, Key=entry["Key"])
                objects.append([bucket, entry["Key"], head.get("Metadata"), head.get("ContentType")])
    messages = []
    queues = sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", [])
    assert len(queues) >= 4, queues
    for queue in queues:
        seen: set[str] = set()
        for _ in range(20):  # bounded; VisibilityTimeout=0 peeks without hiding from the pollers
            batch = sqs.receive_message(
                QueueUrl=queue,
                MaxNumberOfMessages=10,
                VisibilityTimeout=0,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update(m["MessageId"] for m in fresh)
            messages += [[queue, m["Body"], m.get("MessageAttributes")] for m in fresh]
    return {
        "DynamoDB items": json.dumps(items, default=str),
        "S3 keys and metadata": json.dumps(objects, default=str),
        "SQS messages": json.dumps(messages, default=str),
    }


def test_a_full_run_leaks_neither_key(api, stack, user, session_logs, capfd):
    name, headers = user
    leonardo_key, webhook_key = stack.config.leonardo_api_key, stack.config.webhook_key
    assert leonardo_key.startswith("LEOKEY-canary-") and webhook_key.startswith("HOOKKEY-canary-")
    answers: list[tuple[int, str]] = []

    def record(response):
        answers.append((response.status_code, response.text))
        return response

    # The happy path: Leonardo's callbacks (echoing both keys) complete it, twice over.
    stack.simulator.set_faults(FaultConfig(seed=31, duplicate_callback_rate=1.0))
    job = record(api.post("/v1/generations", json=REQUEST, headers=headers)).json()
    assert wait_for_status(api, headers, job["id"])["status"] == "COMPLETE"
    # A lost callback: the reconciler asks Leonardo (with the API key) instead.
    stack.simulator.set_faults(FaultConfig(seed=32, drop_callback_rate=1.0))
    job = record(api.post("/v1/generations", json=REQUEST | {"seed": 1}, headers=headers)).json()
    assert wait_for_status(api, headers, job["id"])["status"] == "COMPLETE"
    # A failed generation, and Leonardo rate limiting then failing the submitter's calls.
    stack.simulator.set_faults(FaultConfig(seed=33, failed_generation_rate=1.0))
    job = record(api.post("/v1/generations", json=REQUEST | {"seed": 2}, headers=headers)).json()
    assert wait_for_status(api, headers, job["id"])["status"] == "FAILED"
    stack.simulator.set_faults(FaultConfig(seed=34, http_429_rate=0.5, http_5xx_rate=0.3))
    job = record(api.post("/v1/generations", json=REQUEST | {"seed": 3}, headers=headers)).json()
    time.sleep(2)
    stack.simulator.set_faults(FaultConfig())
    assert wait_for_status(api, headers, job["id"], timeout=60)["status"] == "COMPLETE"
    record(api.get(f"/v1/generations/{job['id']}", headers=headers))
    record(api.get("/v1/generations", headers=headers))
    # Image-to-image: the upload reaches Leonardo as an init image (the key on POST /init-image,
    # never on the presigned S3 POST), with a first answer of 429 on the way.
    upload = record(api.post("/v1/uploads", json={"content_type": "image/png"}, headers=headers)).json()
    post_form(upload["upload"], png_bytes())
    record(api.post(f"/v1/uploads/{upload['id']}/complete", headers=headers))
    stack.simulator.set_faults(FaultConfig(seed=35, http_429_rate=0.5))
    job = record(
        api.post("/v1/generations", json=REQUEST | {"init_upload_id": upload["id"]}, headers=headers)
    )
    time.sleep(1)
    stack.simulator.set_faults(FaultConfig())
    assert wait_for_status(api, headers, job.json()["id"], timeout=60)["status"] == "COMPLETE"
    assert stack.simulator.stats()["init_images_uploaded"] >= 1

    # Error paths, API and webhook, some of them carrying a key where it does not belong.
    hook = "/webhooks/leonardo"
    echo = {"apiKey": {"key": leonardo_key, "webhookCallbackApiKey": webhook_key}}
    callback = {
        "type": "image_generation.complete",
        "object": "generation",
        "timestamp": 1,
        "api_version": "v1",
        "data": {"object": {"id": str(uuid.uuid4()), "status": "COMPLETE", "images": []} | echo},
    }
    json_type = {"content-type": "application/json"}
    for token in (f"{webhook_key}x", leonardo_key, webhook_key.lower()):
        record(api.post(hook, json=callback, headers={"authorization": f"Bearer {token}"}))
    good = {"authorization": f"Bearer {webhook_key}"} | json_type
    record(api.post(hook, content=json.dumps(callback)[:-40], headers=good))
    record(api.post(hook, json=callback | {"object": "nope"}, headers=good))
    record(api.post(hook, json={"pad": leonardo_key * 30_000}, headers=good))
    record(api.post(hook, json=callback, headers=good))  # unknown generation: accepted, never stored
    record(api.get("/v1/generations", headers={"authorization": f"Bearer {leonardo_key}"}))
    record(api.get(f"/v1/generations/{uuid.uuid4()}", headers=headers))
    record(api.post("/v1/generations", content=b"prompt=x", headers=headers | {"content-type": "text/plain"}))
    # Caller input is not a secret (a path parameter is logged as job_id on purpose), but error
    # bodies must not echo it back: a probe string stands in for it.
    probe = f"ECHOPROBE-{uuid.uuid4().hex[:8]}"
    echoes = [
        api.post("/v1/generations", json=REQUEST | {"prompt": probe, "width": 7}, headers=headers),
        api.post("/v1/generations", content=b"{" + probe.encode(), headers=headers | json_type),
        api.post("/v1/generations", json=REQUEST | {"apiKey": probe}, headers=headers),
        api.post("/v1/generations", json=REQUEST | {"seed": probe}, headers=headers),
        api.get("/v1/generations", params={"cursor": probe}, headers=headers),
        api.get("/v1/generations", params={"limit": probe}, headers=headers),
        api.post(hook, json=callback | {"object": probe}, headers=good),
        api.post(hook, content=probe, headers=good),
    ]
    for response in echoes:
        assert response.status_code in (400, 422) and probe not in response.text, response.text
    answers += [(r.status_code, r.text) for r in echoes]
    statuses = sorted({status for status, _ in answers})
    assert {200, 202, 400, 401, 404, 413, 415, 422} <= set(statuses), statuses
    time.sleep(2)  # let the processor and the reconciler finish what they picked up

    captured = capfd.readouterr()
    haystacks = {
        "logs": session_logs.getvalue() + captured.out + captured.err,
        "responses": json.dumps(answers),
        **stored_state(stack),
    }
    assert '"level"' in haystacks["logs"] and "stackrunner" in haystacks["logs"]  # it did capture
    assert name in haystacks["DynamoDB items"] and "outputs/" in haystacks["S3 keys and metadata"]
    raw_callback_tells = [
        "webhookCallbackApiKey",
        "webhookCallbackUrl",
        "apiKeyId",
        uuid4_from(f"api-key:{leonardo_key}"),
    ]
    for where, text in haystacks.items():
        for secret in (leonardo_key, webhook_key, "canary-" + leonardo_key.rsplit("-", 1)[1]):
            assert secret.lower() not in text.lower(), f"a key leaked into {where}"
        for tell in raw_callback_tells:
            assert tell not in text, f"a raw callback body reached {where} ({tell})"
