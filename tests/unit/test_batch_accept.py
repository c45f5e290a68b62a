"""Accepting a batch, read as a specification (domain/batch_service.py, `Batches`): every line is
checked as a single job's accept checks it (the request's rules, its sources, the plan's caps and
content policy) before anything starts; refused lines refuse the batch with a report of each, unless
`skip_invalid` leaves them out; the whole estimate is reserved with the batch or nothing stays; an
Idempotency-Key answers the original batch; the fan-out is asked for, and a lost message does not
lose the batch. Then reading, listing, results and cancel, each the owner's only.

The use case runs on in-memory fakes of its ports (tests/support/batch_fakes.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gencore.domain.admission import Admission
from gencore.domain.batch_records import Batch, BatchStatus, items_key
from gencore.domain.batch_service import Batches
from gencore.domain.batches import MANIFEST_MAX_BYTES, BatchRequest
from gencore.domain.errors import (
    BatchInvalid,
    BatchNotFound,
    ContentPolicyViolation,
    InvalidRequest,
    NotCancellable,
)
from gencore.domain.estimates import Estimate
from gencore.domain.ledger import BudgetExceeded
from gencore.domain.models import JobStatus, Upload, UploadStatus
from gencore.domain.plans import PlansDocument
from gencore.domain.policy import epoch
from gencore.domain.sources import Sources
from gencore.domain.uploads import Uploads
from tests.support.batch_fakes import (
    FakeBatchFiles,
    FakeBatchQueue,
    FakeBatchStore,
    FakeManifestBucket,
    FakeUploadStore,
)
from tests.support.fakes import FakeClock, FakeJobStore, completed_job, make_job
from tests.support.plans import GENEROUS_CAPS, plan

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
DAY, MONTH = "2026-12-04", "2026-12"
MANIFEST = "6f1c5a0e-2b7d-4c1e-9f3a-0d2e4b6a8c10"
IMAGE = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"
# "small" caps images per request at 2; both plans have the same budget.
PLANS = PlansDocument.model_validate_json(
    json.dumps({
        "version": 1, "budget_unit": "CREDITS", "default_plan": "free",
        "plans": {
            "free": plan({"per_day": 100, "per_month": 1000}),
            "small": plan({"per_day": 100, "per_month": 1000},
                          caps=GENEROUS_CAPS | {"max_images_per_request": 2}),
        },
    })
)  # fmt: skip


def estimate(request, kind) -> Estimate:
    """1.5 credits an image: a line's estimate says which line it is."""
    return Estimate(Decimal("1.5") * request.get("num_images", 1), "CREDITS", "table")


class NoWolves:
    """The content policy: a prompt naming a wolf is refused."""

    def check(self, plan_name, request) -> None:
        if "wolf" in request.get("prompt", ""):
            raise ContentPolicyViolation("animals", "prompt")


class World:
    def __init__(self, *, admission: bool = True) -> None:
        self.clock = FakeClock(NOW)
        self.jobs = FakeJobStore()
        self.store = FakeBatchStore(self.jobs)
        self.files, self.queue = FakeBatchFiles(), FakeBatchQueue()
        self.upload_store, self.bucket = FakeUploadStore(), FakeManifestBucket()
        uploads = Uploads(self.upload_store, self.bucket, None, None, self.clock, None)  # type: ignore[arg-type]
        self.admission = Admission(PLANS, estimate, content=NoWolves()) if admission else None
        self.batches = Batches(
            self.store, self.files, self.queue, Sources(self.jobs, uploads), uploads, self.bucket,  # type: ignore[arg-type]
            self.clock, admission=self.admission, model_names=lambda model: model and f"model {model}",
        )  # fmt: skip

    def upload(self, upload_id: str, *, user: str = "alice", purpose: str = "init", text: str = "") -> Upload:
        upload = Upload(
            id=upload_id, user_id=user, status=UploadStatus.READY, created_at=NOW, updated_at=NOW,
            content_type="application/jsonl" if purpose == "batch_manifest" else "image/png",
            key=f"uploads/{user}/{upload_id}", purpose=purpose, width=64, height=64,
        )  # fmt: skip
        self.upload_store.uploads[upload_id] = upload
        self.bucket.objects[upload.key] = text
        return upload

    def accept(self, items=None, *, user="alice", plan="free", key=None, **fields) -> Batch:
        batch, created = self.create(items, user=user, plan=plan, key=key, **fields)
        assert created
        return batch

    def create(self, items=None, *, user="alice", plan="free", key=None, **fields) -> tuple[Batch, bool]:
        request = BatchRequest(items=items, **fields) if items is not None else BatchRequest(**fields)
        return self.batches.create(user, request, idempotency_key=key, plan=plan)

    def items_file(self, batch: Batch) -> list[dict]:
        return [json.loads(raw) for raw in self.files.files[batch.items_key]]

    def reserved(self, user: str = "alice") -> tuple[Decimal, Decimal]:
        return self.jobs.spent(user, "day", DAY).reserved, self.jobs.spent(user, "month", MONTH).reserved


@pytest.fixture
def world() -> World:
    return World()


def item(custom_id: str, prompt: str = "a fox", **fields) -> dict:
    return {"custom_id": custom_id, "prompt": prompt} | fields


def refused(world: World, items=None, **fields) -> BatchInvalid:
    with pytest.raises(BatchInvalid) as caught:
        world.create(items, **fields)
    return caught.value


# --- accepted --------------------------------------------------------------------------------------


def test_a_batch_of_valid_items_is_stored_running_and_its_fan_out_asked_for(world):
    batch = world.accept([item("a"), item("b", num_images=2)], name="foxes")
    stored = world.store.get_batch(batch.id)
    assert stored == batch
    assert (batch.status, batch.items, batch.skipped, batch.created, batch.name, batch.plan) == (
        BatchStatus.RUNNING, 2, 0, 0, "foxes", "free",
    )  # fmt: skip
    assert batch.items_key == items_key("alice", batch.id) and batch.user_id == "alice"
    assert world.queue.sent == [(batch.id, "fan_out")]


def test_the_items_file_keeps_each_checked_line_in_order_with_what_its_job_needs(world):
    batch = world.accept([item("a", model_id=None), item("b", num_images=2, seed=7)])
    first, second = world.items_file(batch)
    assert (first["line"], first["custom_id"], first["kind"]) == (1, "a", "text_to_image")
    assert first["request"]["prompt"] == "a fox" and "custom_id" not in first["request"]
    assert (first["source"], first["estimate"], second["estimate"]) == (None, "1.5", "3")
    assert (second["line"], second["custom_id"], second["seed"]) == (2, "b", 7)  # the line's own seed kept


def test_each_item_without_a_seed_gets_one_at_accept_so_a_remade_item_is_the_same_job(world):
    batch = world.accept([item("a"), item("b")])
    seeds = [line["seed"] for line in world.items_file(batch)]
    assert all(isinstance(seed, int) for seed in seeds)


def test_an_item_names_its_model_as_the_model_names_cache_has_it(world):
    batch = world.accept([item("a", model_id="de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3")])
    assert world.items_file(batch)[0]["model_name"] == "model de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"


def test_an_item_with_a_source_of_the_callers_keeps_it_as_the_job_will(world):
    world.upload(IMAGE)
    original = world.jobs.add(completed_job(user_id="alice"))
    batch = world.accept([
        item("up", source={"upload_id": IMAGE}, init_strength=0.4),
        item("img", source={"job_id": original.id, "index": 1}, init_strength=0.4),
    ])  # fmt: skip
    sources = [line["source"] for line in world.items_file(batch)]
    assert sources == [{"upload_id": IMAGE}, {"job_id": original.id, "index": 1}]


def test_a_deadline_is_the_accept_time_plus_the_hours_asked(world):
    assert world.accept([item("a")], complete_within_hours=6).deadline_at == epoch(NOW) + 6 * 3600
    assert world.accept([item("b")]).deadline_at is None


# --- a manifest ------------------------------------------------------------------------------------


def test_a_manifest_is_read_from_its_upload_streamed_and_its_blank_lines_keep_their_numbers(world):
    text = "\n".join([json.dumps(item("a")), "", json.dumps(item("c")), ""])
    world.upload(MANIFEST, purpose="batch_manifest", text=text)
    batch = world.accept(manifest_upload_id=MANIFEST)
    assert [(line["line"], line["custom_id"]) for line in world.items_file(batch)] == [(1, "a"), (3, "c")]
    assert world.bucket.read_with == [MANIFEST_MAX_BYTES]


def test_the_manifests_bad_lines_are_reported_by_their_line_numbers(world):
    text = "\n".join([json.dumps(item("a")), "{oops", json.dumps(item("a"))])
    world.upload(MANIFEST, purpose="batch_manifest", text=text)
    report = refused(world, manifest_upload_id=MANIFEST)
    codes = [(d["line"], d["code"]) for d in report.details]
    assert codes == [(2, "malformed_json"), (3, "duplicate_custom_id")]


@pytest.mark.parametrize(
    ("owner", "purpose", "code"),
    [("bob", "batch_manifest", "upload_not_found"), ("alice", "init", "upload_wrong_purpose")],
)
def test_a_manifest_must_be_one_of_the_callers_manifest_uploads(world, owner, purpose, code):
    world.upload(MANIFEST, user=owner, purpose=purpose, text=json.dumps(item("a")))
    with pytest.raises(InvalidRequest) as caught:
        world.create(manifest_upload_id=MANIFEST)
    assert caught.value.code == code
    assert world.store.batches == {} and world.queue.sent == []


def test_a_manifest_over_the_line_limit_is_refused_even_with_skip_invalid(world):
    # The upload's own check refuses such a file first (test_batch_manifest); the accept does not rely on it.
    text = "\n".join(json.dumps(item(f"c{n}")) for n in range(10_001))
    world.upload(MANIFEST, purpose="batch_manifest", text=text)
    report = refused(world, manifest_upload_id=MANIFEST, skip_invalid=True)
    assert [(d["line"], d["code"]) for d in report.details] == [(10_001, "too_many_lines")]
    assert world.store.batches == {} and world.files.files == {}


# --- refused lines ---------------------------------------------------------------------------------


def test_refused_lines_refuse_the_batch_with_a_report_of_each_and_nothing_stays(world):
    world.upload(IMAGE, user="bob")
    strangers = world.jobs.add(completed_job(user_id="bob"))
    items = [
        item("ok"),
        item("big", num_images=4),
        item("wolf", prompt="a wolf"),
        item("theirs", source={"job_id": strangers.id, "index": 0}, init_strength=0.4),
        item("upload", source={"upload_id": IMAGE}, init_strength=0.4),
        {"prompt": "no id"},
        item("ok"),
    ]
    report = refused(world, items, plan="small")
    assert report.code == "batch_invalid"
    assert [(d["line"], d["custom_id"], d["code"]) for d in report.details] == [
        (2, "big", "plan_limit"),
        (3, "wolf", "content_policy"),
        (4, "theirs", "source_not_usable"),
        (5, "upload", "upload_not_found"),
        (6, None, "missing_custom_id"),
        (7, "ok", "duplicate_custom_id"),
    ]
    assert all(d["message"] for d in report.details)
    assert report.details[4] == {
        "line": 6, "custom_id": None, "code": "missing_custom_id", "message": "each line names its custom_id",
    }  # fmt: skip
    assert str(report) == "6 of 7 lines are refused"
    assert world.store.batches == {} and world.queue.sent == []
    assert world.files.files == {} and len(world.files.deleted) == 1
    assert world.reserved() == (0, 0)


def test_with_skip_invalid_the_valid_lines_make_the_batch_and_the_rest_are_counted(world):
    batch = world.accept([item("a"), item("wolf", prompt="a wolf"), item("c")], skip_invalid=True)
    assert (batch.items, batch.skipped) == (2, 1)
    assert [line["custom_id"] for line in world.items_file(batch)] == ["a", "c"]
    assert world.queue.sent == [(batch.id, "fan_out")]


def test_a_batch_with_no_valid_line_is_refused_even_with_skip_invalid(world):
    report = refused(world, [item("wolf", prompt="a wolf"), {"prompt": "no id"}], skip_invalid=True)
    assert str(report) == "2 of 2 lines are refused; no line is valid"
    assert len(report.details) == 2 and world.store.batches == {} and world.files.files == {}


def test_the_report_lists_the_first_hundred_refused_lines_and_counts_the_rest(world):
    report = refused(world, [{"prompt": "no id"} for _ in range(150)])
    assert len(report.details) == 100 and report.details[-1]["line"] == 100
    assert str(report) == "150 of 150 lines are refused (the first 100 listed); no line is valid"


# --- money -----------------------------------------------------------------------------------------


def test_the_whole_estimate_is_reserved_with_the_batch_in_todays_and_this_months_budget(world):
    batch = world.accept([item("a"), item("b", num_images=2), item("c", num_images=3)])
    assert batch.charge is not None and batch.charge.state == "reserved"
    assert (batch.charge.estimate, batch.charge.day, batch.charge.month) == ("9", DAY, MONTH)
    assert (batch.reserved, batch.unassigned, batch.unit) == ("9", "9", "CREDITS")
    assert world.reserved() == (Decimal(9), Decimal(9))


def test_over_budget_the_batch_is_refused_and_nothing_of_it_stays(world):
    world.accept([item(f"c{n}", num_images=4) for n in range(16)])  # 96 of the day's 100
    with pytest.raises(BudgetExceeded) as caught:
        world.create([item("a", num_images=2), item("b", num_images=2)])  # 6 more
    assert caught.value.period == "day" and caught.value.remaining == Decimal(4)
    assert len(world.store.batches) == 1 and len(world.queue.sent) == 1
    assert len(world.files.files) == 1 and len(world.files.deleted) == 1
    assert world.reserved() == (Decimal(96), Decimal(96))


def test_a_refused_line_reserves_nothing_and_a_skipped_one_is_not_in_the_estimate(world):
    batch = world.accept([item("a"), item("wolf", prompt="a wolf", num_images=4)], skip_invalid=True)
    assert batch.reserved == "1.5" and world.reserved() == (Decimal("1.5"), Decimal("1.5"))


def test_without_plans_a_batch_reserves_nothing_and_its_items_have_no_estimate():
    world = World(admission=False)
    batch = world.accept([item("a")])
    assert (batch.charge, batch.plan, batch.reserved) == (None, None, "0")
    assert world.items_file(batch)[0]["estimate"] is None


# --- Idempotency-Key --------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_answers_the_original_batch_and_starts_nothing_more(world):
    first = world.accept([item("a")], key="k-1")
    again, created = world.create([item("a")], key="k-1")
    assert not created and again == world.store.get_batch(first.id)
    assert len(world.store.batches) == 1 and world.queue.sent == [(first.id, "fan_out")]
    assert list(world.files.files) == [first.items_key] and len(world.files.deleted) == 1
    assert world.reserved() == (Decimal("1.5"), Decimal("1.5"))


def test_an_idempotency_key_sent_again_with_another_batch_is_refused(world):
    world.accept([item("a")], key="k-1")
    with pytest.raises(InvalidRequest) as caught:
        world.create([item("b")], key="k-1")
    assert caught.value.code == "idempotency_key_reused"
    assert len(world.store.batches) == 1 and len(world.files.files) == 1


def test_a_refused_batch_does_not_take_its_idempotency_key(world):
    with pytest.raises(BatchInvalid):
        world.create([item("wolf", prompt="a wolf")], key="k-1")
    batch = world.accept([item("fox")], key="k-1")
    assert world.store.get_batch(batch.id).items == 1


def test_a_batch_refused_over_budget_does_not_take_its_idempotency_key(world):
    with pytest.raises(BudgetExceeded):
        world.create([item(f"c{n}", num_images=4) for n in range(17)], key="k-1")  # 102 of 100
    assert world.accept([item("a")], key="k-1").items == 1


def test_an_idempotency_key_is_free_again_a_day_later(world):
    first = world.accept([item("a")], key="k-1")
    world.clock.advance(24 * 3600 + 1)
    again = world.accept([item("a")], key="k-1")
    assert again.id != first.id and len(world.store.batches) == 2


def test_an_idempotency_key_is_the_callers_own(world):
    mine = world.accept([item("a")], key="k-1")
    theirs = world.accept([item("a")], key="k-1", user="bob")
    assert theirs.id != mine.id and theirs.user_id == "bob"


# --- the fan-out message ---------------------------------------------------------------------------


def test_a_batch_whose_fan_out_message_is_lost_is_still_accepted_and_due_for_its_check(world):
    world.queue.down = True
    batch = world.accept([item("a")])
    assert world.store.get_batch(batch.id) == batch and batch.items_key in world.files.files
    assert world.store.due_batch_ids(now=epoch(NOW) + 60, limit=10) == [batch.id]


# --- reading ---------------------------------------------------------------------------------------


def test_a_batch_is_read_by_its_owner_only(world):
    batch = world.accept([item("a")])
    assert world.batches.get("alice", batch.id) == batch
    for user, batch_id in (("bob", batch.id), ("alice", "no-such-batch")):
        with pytest.raises(BatchNotFound):
            world.batches.get(user, batch_id)


def test_the_list_is_the_callers_batches_newest_first(world):
    first = world.accept([item("a")])
    world.clock.advance(1)
    second = world.accept([item("a")])
    world.accept([item("a")], user="bob")
    page, cursor = world.batches.list("alice", limit=10, cursor=None)
    assert [b.id for b in page] == [second.id, first.id] and cursor is None


def test_results_are_the_items_made_so_far_in_line_order_a_page_at_a_time(world):
    batch = world.accept([item("a")])
    made = [
        world.jobs.add(make_job(JobStatus.QUEUED, batch={"batch_id": batch.id, "custom_id": c, "line": n}))
        for n, c in ((3, "c"), (1, "a"), (2, "b"))
    ]
    read, page, cursor = world.batches.results("alice", batch.id, limit=2, cursor=None)
    assert read.id == batch.id and [j.batch.line for j in page] == [1, 2] and cursor is not None
    _, rest, cursor = world.batches.results("alice", batch.id, limit=2, cursor=cursor)
    assert [j.id for j in rest] == [made[0].id] and cursor is None


def test_another_users_results_are_not_found(world):
    batch = world.accept([item("a")])
    with pytest.raises(BatchNotFound):
        world.batches.results("bob", batch.id, limit=10, cursor=None)


# --- cancel ----------------------------------------------------------------------------------------


def test_cancelling_a_running_batch_marks_it_cancelling_and_asks_the_worker_to_cancel(world):
    batch = world.accept([item("a")])
    cancelled = world.batches.cancel("alice", batch.id)
    assert cancelled.status == BatchStatus.CANCELLING == world.store.get_batch(batch.id).status
    assert world.queue.sent[-1] == (batch.id, "cancel")


def test_a_repeated_cancel_answers_the_same(world):
    batch = world.accept([item("a")])
    first = world.batches.cancel("alice", batch.id)
    again = world.batches.cancel("alice", batch.id)
    assert again.status == first.status == BatchStatus.CANCELLING
    assert world.queue.sent[1:] == [(batch.id, "cancel"), (batch.id, "cancel")]


def test_a_completed_batch_is_not_cancellable(world):
    batch = world.accept([item("a")])
    world.store.put(batch.model_copy(update={"status": BatchStatus.COMPLETE}))
    with pytest.raises(NotCancellable):
        world.batches.cancel("alice", batch.id)
    assert world.queue.sent == [(batch.id, "fan_out")]


def test_a_cancel_after_the_batch_ended_cancelled_answers_it_as_it_is(world):
    batch = world.accept([item("a")])
    world.store.put(batch.model_copy(update={"status": BatchStatus.CANCELLED}))
    assert world.batches.cancel("alice", batch.id).status == BatchStatus.CANCELLED
    assert world.queue.sent == [(batch.id, "fan_out")]


def test_a_batch_that_completes_while_it_is_being_cancelled_is_not_cancellable(world):
    batch = world.accept([item("a")])

    def completes(name, read):
        world.store.batches[read.id] = read.model_copy(update={"status": BatchStatus.COMPLETE})

    world.store.before_write = completes
    with pytest.raises(NotCancellable):
        world.batches.cancel("alice", batch.id)


def test_a_cancel_whose_message_is_lost_still_answers_cancelling(world):
    batch = world.accept([item("a")])
    world.queue.down = True
    assert world.batches.cancel("alice", batch.id).status == BatchStatus.CANCELLING


def test_another_users_batch_cannot_be_cancelled(world):
    batch = world.accept([item("a")])
    with pytest.raises(BatchNotFound):
        world.batches.cancel("bob", batch.id)
    assert world.store.get_batch(batch.id).status == BatchStatus.RUNNING
