"""A cancelled transaction is either a failed condition (an answer) or a conflict (no answer yet).

moto never raises TransactionConflict, so conflicts are injected at the store's client: the real
store, on moto, sees the cancellation DynamoDB sends when two transactions touch an item at once.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from gencore import wiring
from gencore.adapters.ddb import Writer
from gencore.adapters.dynamo import DynamoJobStore
from gencore.domain.models import Cost, Job, JobStatus
from tests.support.fakes import image_pool

pytestmark = pytest.mark.integration
NOW = datetime.now(UTC)


class Conflicting:
    """A DynamoDB client whose next `count` transactions lose to a concurrent one."""

    def __init__(self, client, count: int = 1) -> None:
        self._client, self.count, self.cancelled = client, count, 0
        self._lock = threading.Lock()

    def transact_write_items(self, **request):
        with self._lock:
            conflict = self.count > 0
            self.count -= conflict
        if conflict:
            self.cancelled += 1
            reasons = [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * (
                len(request["TransactItems"]) - 1
            )
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
                    "CancellationReasons": reasons,
                },
                "TransactWriteItems",
            )
        return self._client.transact_write_items(**request)

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def conflicting(stack):
    client = Conflicting(wiring.aws("dynamodb"))
    store = DynamoJobStore(client, stack.env["JOBS_TABLE"], writer=Writer(client, sleep=lambda _: None))
    return client, store


def new_job(**fields) -> Job:
    return Job(
        id=str(uuid.uuid4()),
        user_id="alice",
        status=JobStatus.QUEUED,
        request={"prompt": "p"},
        created_at=NOW,
        updated_at=NOW,
        leonardo_seed=1,
        **fields,
    )


def test_a_conflicting_create_is_retried_not_answered_with_a_stranger(conflicting):
    client, store = conflicting
    job = new_job()
    assert store.create(job, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) + 60) is None
    assert client.cancelled == 1 and store.get(job.id) is not None


def test_an_expired_dedupe_entry_never_answers_for_a_new_request(conflicting):
    client, store = conflicting
    client.count = 0
    old = new_job()
    store.create(old, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) - 1)  # long expired
    client.count = 1
    job = new_job()
    assert store.create(job, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) + 60) is None
    assert store.get(job.id) is not None


def test_a_conflicting_slot_claim_is_retried_not_read_as_a_full_cap(conflicting):
    client, store = conflicting
    client.count = 0
    job = new_job()
    store.create(job, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) + 60)
    client.count = 1
    claim = store.claim_slot(job.id, pools=image_pool(2), now=NOW, lease_seconds=60)
    assert claim.granted and store.in_flight() == 1


def test_conflicting_submit_records_and_transitions_are_retried(conflicting):
    client, store = conflicting
    client.count = 0
    job = new_job()
    store.create(job, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) + 60)
    held = store.claim_slot(job.id, pools=image_pool(2), now=NOW, lease_seconds=60).job
    client.count = 1
    held = store.begin_post(held, now=NOW, fingerprint="fp", lock_expires_at=int(NOW.timestamp()) + 60)
    client.count = 1
    submitted = store.mark_submitted(
        held, generation_id="g", cost=Cost(amount="1", unit="CREDITS"), now=NOW, due_at=0
    )
    client.count = 1
    store.transition(submitted, JobStatus.FAILED, now=NOW + timedelta(seconds=1), release_slot=True)
    assert store.get(job.id).status == JobStatus.FAILED and store.in_flight() == 0
    assert client.cancelled == 3


def test_simultaneous_identical_requests_make_one_job(stack):
    """Two double clicks at the same moment, each of whose transactions first meets the other's."""
    from gencore.domain.requests import ImageGenerationRequest

    client = Conflicting(wiring.aws("dynamodb"), count=2)
    wiring.store.cache_clear()
    wiring.generations.cache_clear()
    store = DynamoJobStore(client, stack.env["JOBS_TABLE"], writer=Writer(client, sleep=lambda _: None))
    generations = wiring.generations()
    generations._store = store
    request = ImageGenerationRequest(prompt="a fox", width=512, height=512)
    answers, errors = [], []
    start = threading.Barrier(2)

    def click() -> None:
        start.wait()
        try:
            answers.append(generations.create("alice", request))
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({job.id for job, _ in answers}) == 1
    assert sorted(created for _, created in answers) == [False, True]


def test_recording_a_submission_lets_go_of_the_request_lock_in_the_same_write(stack):
    store = wiring.store()
    job = new_job()
    store.create(job, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) + 60)
    held = store.claim_slot(job.id, pools=image_pool(2), now=NOW, lease_seconds=60).job
    held = store.begin_post(held, now=NOW, fingerprint="fp-1", lock_expires_at=int(NOW.timestamp()) + 60)
    assert store._lock_holder("fp-1") == job.id
    store.mark_submitted(held, generation_id="g-1", cost=None, now=NOW, due_at=0)
    assert store._lock_holder("fp-1") is None and store.generation_owner("g-1") == job.id


def test_a_lock_taken_over_after_it_expired_does_not_stop_the_record(stack):
    store = wiring.store()
    job = new_job()
    store.create(job, dedupe_key="k", dedupe_expires_at=int(NOW.timestamp()) + 60)
    held = store.claim_slot(job.id, pools=image_pool(2), now=NOW, lease_seconds=60).job
    held = store.begin_post(held, now=NOW, fingerprint="fp-2", lock_expires_at=int(NOW.timestamp()) - 1)
    other = new_job()
    store.create(other, dedupe_key="k2", dedupe_expires_at=int(NOW.timestamp()) + 60)
    theirs = store.claim_slot(other.id, pools=image_pool(2), now=NOW, lease_seconds=60).job
    store.begin_post(theirs, now=NOW, fingerprint="fp-2", lock_expires_at=int(NOW.timestamp()) + 60)
    store.mark_submitted(held, generation_id="g-2", cost=None, now=NOW, due_at=0)
    assert store.get(job.id).status == JobStatus.SUBMITTED
    assert store._lock_holder("fp-2") == other.id  # not ours to drop
