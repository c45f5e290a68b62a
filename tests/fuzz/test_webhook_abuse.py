"""Abuse of Leonardo's callback route, over real HTTP on the local stack.

- authorization: missing, malformed, wrong and wrong-case bearer tokens are 401 `unauthorized`;
- bodies: oversized (> 256 KiB) is 413 `payload_too_large`; truncated, non-JSON and non-UTF-8 are
  400 `malformed_json`; JSON that is not a callback is 400 `invalid_payload`;
- unknown and foreign generation ids: accepted (202), but nothing is fetched or stored and no job
  changes;
- SSRF: forged callbacks for a real job in flight that point outputs at the metadata address,
  localhost, other loopback ports, other domains, and an allow-listed origin that redirects to a
  forbidden one. Nothing is fetched from any of them (a counting receiver on loopback sees zero
  requests, the egress guard sees no lookup or connect off loopback), and the job still completes
  through the reconciler from Leonardo's own answer.
"""

from __future__ import annotations

import base64
import json
import socket
import time
import uuid

import httpx
import pytest

from leonardo_simulator import FaultConfig
from tests.support.jobs import wait_for_status

pytestmark = pytest.mark.fuzz

HOOK = "/webhooks/leonardo"
MAX_BODY = 256 * 1024
REQUEST = {"prompt": "a lighthouse under attack", "width": 64, "height": 64, "num_images": 2}


@pytest.fixture(autouse=True)
def clean_faults(stack):
    stack.simulator.set_faults(FaultConfig())
    yield
    stack.simulator.set_faults(FaultConfig())


def envelope(
    generation_id: str, urls: list[str], *, status: str = "COMPLETE", kind: str | None = None
) -> dict:
    """A well-formed `image_generation.complete` callback (the fields parse_callback requires)."""
    return {
        "type": kind or "image_generation.complete",
        "object": "generation",
        "timestamp": int(time.time() * 1000),
        "api_version": "v1",
        "data": {
            "object": {
                "id": generation_id,
                "status": status,
                "images": [{"id": f"forged-{i}", "url": url, "nsfw": False} for i, url in enumerate(urls)],
                "apiCreditCost": 999,
            }
        },
    }


def hook_headers(stack) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.config.webhook_key}", "content-type": "application/json"}


def job_item(stack, job_id: str) -> dict:
    return stack.boto3_client("dynamodb").get_item(
        TableName=stack.physical_ids["JobsTable"],
        Key={"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}},
        ConsistentRead=True,
    )["Item"]


def everything_stored(stack) -> str:
    """Every DynamoDB item of both tables and every S3 key with its metadata, as one text."""
    ddb, s3 = stack.boto3_client("dynamodb"), stack.boto3_client("s3")
    items = []
    for table in (stack.physical_ids["JobsTable"], stack.physical_ids["IdempotencyTable"]):
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
    bucket = stack.physical_ids["OutputBucket"]
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            objects.append([entry["Key"], s3.head_object(Bucket=bucket, Key=entry["Key"]).get("Metadata")])
    return json.dumps([items, objects], default=str)


# ----- authorization ---------------------------------------------------------------------------------


def bad_authorizations(key: str) -> dict[str, dict[str, str]]:
    cases = {
        "missing": {},
        "empty": {"authorization": ""},
        "scheme only": {"authorization": "Bearer"},
        "basic": {"authorization": "Basic x"},
        "basic with the key": {
            "authorization": "Basic " + base64.b64encode(f"leonardo:{key}".encode()).decode()
        },
        "basic scheme, right key": {"authorization": f"Basic {key}"},
        "two spaces, two words": {"authorization": "Bearer  two spaces"},
        "trailing garbage": {"authorization": f"Bearer {key} garbage"},
        "glued garbage": {"authorization": f"Bearer {key}x"},
        "truncated key": {"authorization": f"Bearer {key[:-1]}"},
        "key prefix only": {"authorization": f"Bearer {key[:8]}"},
        "wrong token": {"authorization": "Bearer not-the-webhook-key"},
        "wrong case, lower": {"authorization": f"Bearer {key.lower()}"},
        "wrong case, upper": {"authorization": f"Bearer {key.upper()}"},
        "no scheme": {"authorization": key},
        "scheme glued": {"authorization": f"Bearer{key}"},
        "other scheme": {"authorization": f"Token {key}"},
        "the Leonardo API key": {"authorization": "Bearer LEOKEY-canary-wrong"},
        "a JWT-looking token": {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."},
        # sent as UTF-8 bytes (httpx would refuse a str header that is not ASCII)
        "non-ASCII lookalike": {"authorization": f"Bearer {key.replace('-', '\u2010')}".encode()},
        "key twice": {"authorization": f"Bearer {key}, Bearer {key}"},
        "long token": {"authorization": "Bearer " + "A" * 6000},
        "key in another header": {"x-api-key": key},
    }
    return cases


@pytest.mark.parametrize("case", list(bad_authorizations("k")))
def test_bad_authorization_is_401(api, stack, case):
    headers = bad_authorizations(stack.config.webhook_key)[case]
    body = envelope(str(uuid.uuid4()), [])
    response = api.post(HOOK, json=body, headers=headers | {"content-type": "application/json"})
    assert response.status_code == 401, (case, response.status_code, response.text)
    assert response.json()["error"]["code"] == "unauthorized"


def test_the_key_in_the_query_string_is_401(api, stack):
    response = api.post(HOOK, params={"token": stack.config.webhook_key}, json={})
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_the_right_key_is_accepted_whatever_the_scheme_case(api, stack):
    """RFC 7235: the scheme is case-insensitive; a PENDING callback is a harmless 202."""
    body = envelope(str(uuid.uuid4()), [], status="PENDING")
    for scheme in ("Bearer", "bearer", "BEARER"):
        headers = {"authorization": f"{scheme} {stack.config.webhook_key}"}
        response = api.post(HOOK, json=body, headers=headers)
        assert response.status_code == 202, (scheme, response.text)


# ----- bodies ----------------------------------------------------------------------------------------


def test_oversized_bodies_are_413(api, stack):
    padding = "x" * (MAX_BODY + 1)
    for body in (json.dumps({"pad": padding}).encode(), padding.encode(), b"{" * (MAX_BODY + 1)):
        response = api.post(HOOK, content=body, headers=hook_headers(stack))
        assert response.status_code == 413, response.text[:200]
        assert response.json()["error"]["code"] == "payload_too_large"


def test_the_size_limit_is_exact(api, stack):
    callback = json.dumps(envelope(str(uuid.uuid4()), [], status="PENDING"))
    at_limit = callback[:-1] + " " * (MAX_BODY - len(callback)) + "}"
    assert len(at_limit.encode()) == MAX_BODY
    assert api.post(HOOK, content=at_limit, headers=hook_headers(stack)).status_code == 202
    over = callback[:-1] + " " * (MAX_BODY + 1 - len(callback)) + "}"
    assert api.post(HOOK, content=over, headers=hook_headers(stack)).status_code == 413


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        (b"", "application/json", "malformed_json"),
        (b"{", "application/json", "malformed_json"),
        (json.dumps(envelope("g", ["http://x/1.png"])).encode()[:57], "application/json", "malformed_json"),
        (json.dumps(envelope("g", ["http://x/1.png"])).encode()[:-1], "application/json", "malformed_json"),
        (b"{'type': 'x'}", "application/json", "malformed_json"),
        (b"<xml/>", "application/xml", "malformed_json"),
        (b"type=x&object=generation", "application/x-www-form-urlencoded", "malformed_json"),
        (b"\xff\xfe\x00{", "application/octet-stream", "malformed_json"),
        (b"\xff\xfe\x00{", "application/json", "malformed_json"),
        (b"\x89PNG\r\n\x1a\n", "image/png", "malformed_json"),
        (b"NaN", "application/json", "invalid_payload"),
        (b"null", "application/json", "invalid_payload"),
        (b"[]", "application/json", "invalid_payload"),
        (b"42", "application/json", "invalid_payload"),
        (b'"image_generation.complete"', "application/json", "invalid_payload"),
        (b"{}", "application/json", "invalid_payload"),
        (b'{"type": "x", "object": "generation"}', "application/json", "invalid_payload"),
        (json.dumps(envelope("", [])).encode(), "application/json", "invalid_payload"),
        (json.dumps(envelope("g", [], status="DONE")).encode(), "application/json", "invalid_payload"),
        (json.dumps(envelope("g" * 65, [])).encode(), "application/json", "invalid_payload"),
        (json.dumps(envelope("g", ["http://x/"] * 17)).encode(), "application/json", "invalid_payload"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json", "invalid_payload"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", None),  # 195 KiB of nesting
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_bodies_are_400_with_stable_codes(api, stack, body, content_type, code):
    headers = hook_headers(stack) | {"content-type": content_type}
    response = api.post(HOOK, content=body, headers=headers)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] in ((code,) if code else ("malformed_json", "invalid_payload"))
    assert body.decode("latin-1")[:20] not in error["message"] or len(body) < 3  # the input is not echoed


# ----- unknown and foreign generations --------------------------------------------------------------


def test_unknown_and_foreign_generation_ids_are_accepted_and_change_nothing(
    api, stack, user, redirector, receiver, egress_guard
):
    name, headers = user
    job_id = api.post("/v1/generations", json=REQUEST, headers=headers).json()["id"]
    job = wait_for_status(api, headers, job_id, {"COMPLETE"})
    before = job_item(stack, job["id"])
    # A foreign generation: real at Leonardo (another app on the same account), unknown here.
    foreign = httpx.post(
        f"{stack.simulator.base_url}/generations",
        json={"prompt": "someone else's", "width": 64, "height": 64, "num_images": 1},
        headers={"authorization": f"Bearer {stack.config.leonardo_api_key}"},
        timeout=10,
    ).json()["sdGenerationJob"]["generationId"]
    unknown = [str(uuid.uuid4()), "not-a-uuid", foreign, "0" * 64]
    fetched_before, redirector_before = receiver.count(), redirector.count()
    blocked_before = len(egress_guard.blocked)
    for generation_id in unknown:
        urls = [f"{redirector.origin}/{generation_id}.png", f"{receiver.origin}/{generation_id}.png"]
        for status in ("COMPLETE", "FAILED"):
            body = envelope(generation_id, urls if status == "COMPLETE" else [], status=status)
            response = api.post(HOOK, json=body, headers=hook_headers(stack))
            assert response.status_code == 202, response.text
            assert response.json() == {"status": "accepted"}
    time.sleep(4)  # the processor receives them at once; unknown ids are retried every few seconds
    assert receiver.count() == fetched_before and redirector.count() == redirector_before
    assert len(egress_guard.blocked) == blocked_before
    assert job_item(stack, job["id"]) == before
    stored = everything_stored(stack)
    for generation_id in unknown:
        assert f"GEN#{generation_id}" not in stored and f'"{generation_id}"' not in stored
    assert "forged-" not in stored
    assert name in stored  # (the scan did see this user's real job)


# ----- SSRF ------------------------------------------------------------------------------------------


def ssrf_urls(stack, receiver, redirector) -> list[str]:
    port = receiver.port
    sim_port = stack.simulator.origin.rsplit(":", 1)[1]
    return [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://localhost/admin",
        f"http://localhost:{port}/localhost.png",
        f"http://127.0.0.1:{port}/other-port.png",
        f"http://127.1:{port}/short-form.png",
        f"http://2130706433:{port}/decimal.png",
        f"http://0x7f000001:{port}/hex.png",
        f"http://[::1]:{port}/ipv6.png",
        f"http://[::ffff:127.0.0.1]:{port}/mapped.png",
        f"HTTP://127.0.0.1:{port}/upper-scheme.png",
        f"http://127.0.0.1:{sim_port}@127.0.0.1:{port}/userinfo.png",
        f"http://127.0.0.1:{port}\\@127.0.0.1:{sim_port}/backslash.png",
        f"http://127.0.0.1:{sim_port}.evil.example/suffix.png",
        f"http://127.0.0.1.:{port}/trailing-dot.png",
        f"//127.0.0.1:{port}/scheme-relative.png",
        f"https://127.0.0.1:{sim_port}/other-scheme.png",
        "https://cdn.leonardo.ai.evil.example/x.png",
        "https://evil.example/x.png",
        "file:///etc/passwd",
        f"gopher://127.0.0.1:{port}/_GET",
        f"ftp://127.0.0.1:{port}/x.png",
        f"{redirector.origin}/redirects-to-the-receiver.png",  # allow-listed, answers 302
    ]


def test_forged_callbacks_fetch_nothing_and_the_job_completes_from_leonardo(
    api, stack, user, receiver, redirector, egress_guard
):
    name, headers = user
    # Leonardo's own callback is lost, so only its polled answer can finish the job.
    stack.simulator.set_faults(FaultConfig(seed=21, drop_callback_rate=1.0))
    job_id = api.post("/v1/generations", json=REQUEST, headers=headers).json()["id"]
    wait_for_status(api, headers, job_id, {"SUBMITTED", "FINALIZING", "COMPLETE"})
    generation_id = job_item(stack, job_id)["generation_id"]["S"]
    assert job_item(stack, job_id)["status"]["S"] == "SUBMITTED", "the job finished before the attack"
    fetched_before, redirector_before = receiver.count(), redirector.count()
    blocked_before = len(egress_guard.blocked)
    urls = ssrf_urls(stack, receiver, redirector)
    answers = []
    for index, url in enumerate(urls):  # one callback per URL (distinct types: distinct events) ...
        body = envelope(generation_id, [url], kind=f"image_generation.complete.{index}")
        answers.append(api.post(HOOK, json=body, headers=hook_headers(stack)).status_code)
    body = envelope(generation_id, urls[:16])  # ... and one with many at once
    answers.append(api.post(HOOK, json=body, headers=hook_headers(stack)).status_code)
    assert set(answers) <= {202}, answers

    job = wait_for_status(api, headers, job_id, {"COMPLETE", "FAILED"})
    assert job["status"] == "COMPLETE", job
    remote = stack.simulator.generations[generation_id]
    assert [i["leonardo_image_id"] for i in job["images"]] == [image.id for image in remote.images]
    # The processor acts on Leonardo's own record, never on a callback's claims: the forged URLs
    # were not even looked at (the allow-listed redirector saw nothing; that redirects are never
    # followed is proven in tests/integration/test_output_fetch.py), and the cost is Leonardo's.
    assert float(job["cost"]["amount"]) == remote.cost and job["cost"]["unit"] == "CREDITS"
    assert redirector.count() == redirector_before
    assert receiver.count() == fetched_before, receiver.requests
    assert egress_guard.blocked[blocked_before:] == []
    assert not egress_guard.connects_to_port(receiver.port)
    stored = everything_stored(stack)
    assert "forged-" not in stored
    assert all(url not in stored for url in urls)
    s3 = stack.boto3_client("s3")
    listing = s3.list_objects_v2(
        Bucket=stack.physical_ids["OutputBucket"], Prefix=f"outputs/{name}/{job_id}/"
    )
    assert sorted(o["Key"] for o in listing["Contents"]) == [
        f"outputs/{name}/{job_id}/0.png",
        f"outputs/{name}/{job_id}/1.png",
    ]


def test_the_egress_guard_is_armed(stack, egress_guard):
    """The SSRF assertions lean on the guard: prove it refuses and records off-loopback traffic."""
    before = len(egress_guard.blocked)
    with pytest.raises(httpx.ConnectError):
        httpx.get("http://169.254.169.254/latest/meta-data/", timeout=2)
    with pytest.raises(httpx.ConnectError):
        httpx.get("https://evil.example/x.png", timeout=2)
    with socket.socket() as raw, pytest.raises(ConnectionRefusedError):
        raw.connect(("10.0.0.1", 80))
    assert [target for _, target in egress_guard.blocked[before:]] == [
        "169.254.169.254",
        "evil.example",
        ("10.0.0.1", 80),
    ]
    del egress_guard.blocked[before:]
