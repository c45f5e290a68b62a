"""What reading jobs costs in AWS calls, through the real API handler against moto: a get or a list
reads what it shows, once, and nothing that grows with the caller's history (no read per job, a
presigned URL per image shown and no more). The account block is read only for a QUEUED job, the
only kind that shows it (here uncached, as in a function's first request after an idle spell)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gencore import wiring
from gencore.domain.models import Job, JobStatus, OutputImage

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


@pytest.fixture
def aws_calls(stack, monkeypatch) -> Counter:
    """Every DynamoDB call the handler makes ("GetItem", "Query", ...) and every presigned URL."""
    monkeypatch.setenv("ACCOUNT_CACHE_SECONDS", "0")
    wiring.reset()
    counted: Counter = Counter()

    def call(model, **_) -> None:
        counted[model.name] += 1

    def signing(signature_version: str = "", **_) -> None:
        if signature_version.endswith("-query"):
            counted["presign"] += 1

    wiring.aws("dynamodb").meta.events.register("before-call", call)
    wiring.aws("s3").meta.events.register("before-sign", signing)
    return counted


def add_job(user: str, status: JobStatus, *, age_minutes: int, images: int = 0) -> Job:
    created = NOW - timedelta(minutes=age_minutes)
    job_id = str(uuid.uuid4())
    job = Job(
        id=job_id,
        user_id=user,
        status=status,
        request={"prompt": f"job {age_minutes}", "width": 512, "height": 512},
        created_at=created,
        updated_at=created,
        generation_id=None if status == JobStatus.QUEUED else f"gen-{job_id}",
        due_at=None if status.terminal else int(created.timestamp()) + 120,
        images=[
            OutputImage(
                index=n,
                key=f"outputs/{job_id}/{n}.png",
                content_type="image/png",
                size=100,
                leonardo_image_id=f"img-{n}",
            )
            for n in range(images)
        ],
    )
    wiring.store().create(job, dedupe_key=f"test:{job_id}", dedupe_expires_at=0)
    return job


def finished_history(user: str, count: int) -> list[Job]:
    """`count` finished jobs, newest first: COMPLETE with two images, then FAILED, alternating."""
    return [
        add_job(user, JobStatus.COMPLETE, age_minutes=i, images=2)
        if i % 2 == 0
        else add_job(user, JobStatus.FAILED, age_minutes=i)
        for i in range(count)
    ]


def request(pipeline, aws_calls: Counter, path: str, *, user: str, query=None) -> dict:
    aws_calls.clear()
    status, body = pipeline.api("GET", path, user=user, query=query)
    assert status == 200, body
    return body


def test_a_get_of_a_finished_job_is_one_read_of_that_job(pipeline, aws_calls):
    # Given a user with a long history, the newest job COMPLETE with two images
    newest = finished_history("alice", 40)[0]

    # When they read it
    body = request(pipeline, aws_calls, f"/v1/generations/{newest.id}", user="alice")

    # Then the handler read that job once, and presigned its two images
    assert len(body["images"]) == 2
    assert aws_calls == Counter({"GetItem": 1, "presign": 2})


def test_a_get_of_a_queued_job_also_reads_the_account_block_it_shows(pipeline, aws_calls):
    # Given a QUEUED job
    job = add_job("alice", JobStatus.QUEUED, age_minutes=0)

    # When its owner reads it
    body = request(pipeline, aws_calls, f"/v1/generations/{job.id}", user="alice")

    # Then the job and the account block (its hold) are read, once each
    assert body["status"] == "QUEUED" and body["hold"] is None
    assert aws_calls == Counter({"GetItem": 2})


@pytest.mark.parametrize("history", [6, 60])
def test_a_page_of_finished_jobs_is_one_query_whatever_the_history(pipeline, aws_calls, history):
    # Given a user with a short or a long history of finished jobs
    finished_history("alice", history)

    # When they list their newest six jobs
    body = request(pipeline, aws_calls, "/v1/generations", user="alice", query={"limit": "6"})

    # Then one Query answers the page, and only the images on it are presigned
    shown = sum(len(item["images"]) for item in body["items"])
    assert len(body["items"]) == 6 and shown == 6
    assert aws_calls == Counter({"Query": 1, "presign": shown})


def test_each_page_of_a_long_history_costs_the_same(pipeline, aws_calls):
    # Given a long history
    finished_history("alice", 30)

    # When it is read page by page, following the cursor
    costs, cursor = [], None
    for _ in range(3):
        body = request(
            pipeline,
            aws_calls,
            "/v1/generations",
            user="alice",
            query={"limit": "10"} | ({"cursor": cursor} if cursor else {}),
        )
        costs.append(Counter(aws_calls))
        cursor = body["next_cursor"]

    # Then every page is one Query and five presigned pairs, the last as much as the first
    assert costs == [Counter({"Query": 1, "presign": 10})] * 3


def test_a_page_with_queued_jobs_reads_the_account_block_once_for_all_of_them(pipeline, aws_calls):
    # Given a blocked account, and a history whose newest page holds three QUEUED jobs
    finished_history("alice", 10)
    for minutes in (1, 2, 3):
        add_job("alice", JobStatus.QUEUED, age_minutes=minutes)
    wiring.account_guard().trip("leonardo_auth")

    # When the page is listed
    body = request(pipeline, aws_calls, "/v1/generations", user="alice", query={"limit": "10"})

    # Then one Query and one read of the block, which shows on the QUEUED jobs and on no other
    holds = [(item["status"], (item["hold"] or {}).get("code")) for item in body["items"]]
    assert sorted(set(holds)) == [("COMPLETE", None), ("FAILED", None), ("QUEUED", "leonardo_auth")]
    assert sum(status == "QUEUED" for status, _ in holds) == 3
    assert aws_calls["Query"] == 1 and aws_calls["GetItem"] == 1
