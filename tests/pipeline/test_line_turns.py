"""The waiting line's turns in DynamoDB (the job store on moto): users alternate, the head moves
with each wake, and a job parked again keeps its place."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from gencore import wiring
from gencore.adapters.dynamo import DynamoJobStore
from gencore.domain.models import Job, JobStatus

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


@pytest.fixture
def store(stack) -> DynamoJobStore:
    return DynamoJobStore(wiring.aws("dynamodb"), stack.env["JOBS_TABLE"])


def parked(store: DynamoJobStore, user: str) -> str:
    job = Job(id=str(uuid.uuid4()), user_id=user, status=JobStatus.QUEUED, request={"prompt": user},
              created_at=NOW, updated_at=NOW)  # fmt: skip
    assert store.create(job, dedupe_key=f"k-{job.id}", dedupe_expires_at=2**40) is None
    assert store.park(job)
    return job.id


def test_a_users_backlog_does_not_push_another_users_job_back(store):
    alice = [parked(store, "alice") for _ in range(6)]
    bob = parked(store, "bob")
    head = store.waiting_job_ids(limit=2)
    assert bob in head and alice[0] in head  # bob's one job shares the first turn
    assert store.get(bob).line_turn == store.get(alice[0]).line_turn


def test_a_wake_moves_the_head_and_later_arrivals_start_from_it(store):
    alice = [parked(store, "alice") for _ in range(4)]
    for job_id in alice[:2]:
        assert store.leave_line(job_id, due_at=0) is not None
    carol = parked(store, "carol")
    assert store.get(carol).line_turn == store.get(alice[1]).line_turn + 1
    assert store.waiting_job_ids(limit=2)[0] in (carol, alice[2])


def test_a_job_parked_again_keeps_its_turn(store):
    first = parked(store, "dave")
    turn = store.get(first).line_turn
    token = store.leave_line(first, due_at=0)
    assert token is not None and store.park(store.get(first))
    assert store.get(first).line_turn == turn and store.waiting_job_ids(limit=1) == [first]
