"""Uploads and image-to-image, function by function: presigned POST to moto, completion, then a job
whose source travels to the Leonardo simulator as an init image."""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable

import httpx
import pytest

from gencore import wiring
from gencore.adapters.images import PillowInspector
from gencore.domain.errors import UploadNotReady
from gencore.domain.models import Upload, UploadStatus
from gencore.domain.uploads import InitImages, Uploads
from gencore.views import status_for
from leonardo_simulator import FaultConfig
from tests.support.uploads import png_bytes, post_form

from .test_generation_flow import callback_for

pytestmark = pytest.mark.integration


def create_upload(pipeline, content_type="image/png", user="alice", purpose="init") -> dict:
    body = {"content_type": content_type, "purpose": purpose}
    status, body = pipeline.api("POST", "/v1/uploads", user=user, body=body)
    assert status == 201, body
    return body


def ready_upload(pipeline, content: bytes | None = None, user="alice", purpose="init") -> dict:
    upload = create_upload(pipeline, user=user, purpose=purpose)
    assert post_form(upload["upload"], content or png_bytes()).status_code in (200, 204)
    status, body = pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete", user=user)
    assert status == 200, body
    return body


def test_an_upload_is_a_presigned_post_to_our_bucket_then_checked(pipeline):
    upload = create_upload(pipeline)
    assert upload["status"] == "PENDING" and upload["url"] is None
    form = upload["upload"]
    assert form["method"] == "POST" and form["max_bytes"] == 10 * 1024 * 1024
    assert form["fields"]["key"] == f"incoming/alice/{upload['id']}.png"
    assert form["fields"]["Content-Type"] == "image/png" and "policy" in form["fields"]

    content = png_bytes((96, 64))
    assert post_form(form, content).status_code in (200, 204)
    status, done = pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")
    assert status == 200, done
    assert (done["status"], done["width"], done["height"], done["size"]) == ("READY", 96, 64, len(content))
    assert "upload" not in done or done["upload"] is None  # the form is handed out once
    assert httpx.get(done["url"]).content == content
    # The checked bytes moved where the form cannot write; the incoming file is gone.
    assert pipeline.outputs("incoming/") == [] and pipeline.outputs("uploads/") == [
        f"uploads/alice/{upload['id']}.png"
    ]

    # Completing again answers the same; reading it back too.
    assert pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")[1]["status"] == "READY"
    status, read = pipeline.api("GET", f"/v1/uploads/{upload['id']}")
    assert status == 200 and read["status"] == "READY"


def test_completing_before_the_file_arrived_is_a_409_and_changes_nothing(pipeline):
    upload = create_upload(pipeline)
    status, body = pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")
    assert status == 409 and body["error"]["code"] == "upload_missing"
    assert pipeline.api("GET", f"/v1/uploads/{upload['id']}")[1]["status"] == "PENDING"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"content_type": "image/gif"}, "validation_error"),
        ({"content_type": "text/html"}, "validation_error"),
        ({}, "validation_error"),
        ({"content_type": "image/png", "key": "uploads/bob/x.png"}, "validation_error"),
    ],
)
def test_only_png_jpeg_and_webp_uploads_are_offered(pipeline, body, code):
    status, answer = pipeline.api("POST", "/v1/uploads", body=body)
    assert status == 422 and answer["error"]["code"] == code


def test_an_upload_guides_an_image_to_image_job_and_reaches_leonardo_once(pipeline):
    content = png_bytes(colour=(10, 120, 240))
    upload = ready_upload(pipeline, content)

    status, job = pipeline.api(
        "POST", "/v1/generations", body={"prompt": "the same, at night", "init_upload_id": upload["id"],
                                         "init_strength": 0.4, "width": 512, "height": 512},
    )  # fmt: skip
    assert status == 202, job
    # init_upload_id is the older name of source.upload_id: stored and shown as the source.
    assert job["kind"] == "image_to_image" and job["source"] == {"upload_id": upload["id"]}
    assert job["request"]["source"] == {"upload_id": upload["id"]} and "init_upload_id" not in job["request"]
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(job["id"])
    assert item["status"] == "SUBMITTED"

    # Leonardo received exactly our bytes as an init image, and the generation used it.
    init_id = _upload_item(pipeline, upload["id"])["leonardo_init_image_id"]
    init = pipeline.stack.simulator.init_images[init_id]
    assert init.sha256 == hashlib.sha256(content).hexdigest()
    generation = pipeline.stack.simulator.generations[item["generation_id"]]
    assert generation.request["init_image_id"] == init_id and generation.request["init_strength"] == 0.4

    pipeline.wait_for_leonardo(item["generation_id"])
    pipeline.webhook(callback_for(pipeline, item["generation_id"]))
    pipeline.drain("EventsQueue", "ProcessorFunction")
    _, done = pipeline.api("GET", f"/v1/generations/{job['id']}")
    assert done["status"] == "COMPLETE" and done["source"] == {"upload_id": upload["id"]}

    # A second job from the same upload reuses Leonardo's init image: the file is sent once.
    pipeline.api("POST", "/v1/generations", body={"prompt": "again", "init_upload_id": upload["id"]})
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert len(pipeline.stack.simulator.init_images) == 1


@pytest.mark.parametrize("state", ["pending", "other_user", "unknown"])
def test_a_job_may_only_name_a_ready_upload_of_the_caller(pipeline, state):
    if state == "pending":
        upload_id, code = create_upload(pipeline)["id"], "upload_not_ready"
    elif state == "other_user":
        upload_id, code = ready_upload(pipeline, user="bob")["id"], "upload_not_found"
    else:
        upload_id, code = "0b7d5e1c-2f3a-4c5d-9e8f-1a2b3c4d5e6f", "upload_not_found"
    status, body = pipeline.api("POST", "/v1/generations", body={"prompt": "x", "init_upload_id": upload_id})
    assert status == 422 and body["error"]["code"] == code
    assert pipeline.receive("SubmitQueue") == []


def test_init_strength_without_an_upload_is_refused(pipeline):
    status, body = pipeline.api("POST", "/v1/generations", body={"prompt": "x", "init_strength": 0.5})
    assert status == 422 and body["error"]["code"] == "invalid_combination"
    assert body["error"]["details"][0]["rule"] == "init_strength_needs_source"


def test_another_users_upload_does_not_exist_for_the_caller(pipeline):
    upload = ready_upload(pipeline)
    for method, path in (
        ("GET", f"/v1/uploads/{upload['id']}"),
        ("POST", f"/v1/uploads/{upload['id']}/complete"),
    ):
        status, body = pipeline.api(method, path, user="mallory")
        assert status == 404 and body["error"]["code"] == "not_found"


def test_reusing_the_form_after_completion_changes_nothing_that_was_checked(pipeline):
    """The form stays valid for minutes; posting a bomb with it after READY must not reach anyone."""
    content = png_bytes(colour=(1, 2, 3))
    upload = create_upload(pipeline)
    assert post_form(upload["upload"], content).status_code in (200, 204)
    assert pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")[0] == 200
    assert post_form(upload["upload"], b"<html>not an image</html>").status_code in (200, 204)

    _, ready = pipeline.api("GET", f"/v1/uploads/{upload['id']}")
    assert ready["status"] == "READY" and httpx.get(ready["url"]).content == content
    pipeline.api("POST", "/v1/generations", body={"prompt": "swap", "init_upload_id": upload["id"]})
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    [init] = pipeline.stack.simulator.init_images.values()
    assert init.content == content


def _upload_item(pipeline, upload_id: str) -> dict:
    from gencore.adapters.dynamo import plain_item

    item = pipeline.ddb.get_item(
        TableName=pipeline.stack.env["JOBS_TABLE"],
        Key={"pk": {"S": f"UPLOAD#{upload_id}"}, "sk": {"S": "UPLOAD"}},
    )["Item"]
    return plain_item(item)


def test_deleting_an_upload_removes_its_files_and_every_later_use(pipeline):
    upload = ready_upload(pipeline)
    status, deleted = pipeline.api("DELETE", f"/v1/uploads/{upload['id']}")
    assert status == 200 and deleted["status"] == "DELETED" and deleted["url"] is None
    assert pipeline.outputs("uploads/") == [] and pipeline.outputs("incoming/") == []
    assert pipeline.api("GET", f"/v1/uploads/{upload['id']}")[1]["status"] == "DELETED"
    status, body = pipeline.api("POST", f"/v1/uploads/{upload['id']}/complete")
    assert status == 409 and body["error"]["code"] == "upload_deleted"
    status, body = pipeline.api(
        "POST", "/v1/generations", body={"prompt": "x", "init_upload_id": upload["id"]}
    )
    assert status == 422 and body["error"]["code"] == "upload_not_ready"
    assert pipeline.api("DELETE", f"/v1/uploads/{upload['id']}")[0] == 200  # repeatable
    assert "expires_at" not in _upload_item(pipeline, upload["id"])  # the record stays for lineage


def test_deleting_a_used_upload_deletes_leonardos_copy_and_keeps_the_jobs_lineage(pipeline):
    upload = ready_upload(pipeline)
    _, job = pipeline.api(
        "POST", "/v1/generations", body={"prompt": "lineage", "init_upload_id": upload["id"]}
    )
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    init_id = _upload_item(pipeline, upload["id"])["leonardo_init_image_id"]
    assert init_id in pipeline.stack.simulator.init_images

    # Leonardo is unavailable: our files go at once, the answer says to come back.
    pipeline.stack.simulator.set_faults(FaultConfig(seed=1, http_429_rate=1.0))
    status, body = pipeline.api("DELETE", f"/v1/uploads/{upload['id']}")
    assert status == 503 and body["error"]["code"] == "leonardo_busy"
    assert pipeline.outputs("uploads/") == [] and init_id in pipeline.stack.simulator.init_images

    pipeline.stack.simulator.set_faults(FaultConfig())
    status, deleted = pipeline.api("DELETE", f"/v1/uploads/{upload['id']}")
    assert status == 200 and deleted["status"] == "DELETED"
    assert init_id not in pipeline.stack.simulator.init_images
    assert "leonardo_init_image_id" not in _upload_item(pipeline, upload["id"])
    _, still = pipeline.api("GET", f"/v1/generations/{job['id']}")
    assert still["source"] == {"upload_id": upload["id"]}


def test_a_queued_job_whose_upload_was_deleted_fails_without_reaching_leonardo(pipeline):
    upload = ready_upload(pipeline)
    _, job = pipeline.api("POST", "/v1/generations", body={"prompt": "gone", "init_upload_id": upload["id"]})
    assert pipeline.api("DELETE", f"/v1/uploads/{upload['id']}")[0] == 200
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    _, failed = pipeline.api("GET", f"/v1/generations/{job['id']}")
    assert failed["status"] == "FAILED" and failed["error"]["code"] == "upload_unavailable"
    assert pipeline.stack.simulator.init_images == {} and pipeline.in_flight() == 0


# ----- complete and DELETE commute (races run below the gateway, which serialises HTTP calls) -----


def _use_cases(store, bucket) -> Uploads:
    """The API's upload use cases over the given store and bucket (wrapped to steer a race)."""
    return Uploads(
        store, bucket, PillowInspector(), wiring.leonardo(), wiring.clock, wiring.settings().upload_policy()
    )


def _files_of(pipeline, upload_id: str) -> list[str]:
    return [
        key for prefix in ("uploads/", "incoming/") for key in pipeline.outputs(prefix) if upload_id in key
    ]


def _posted_upload(pipeline) -> dict:
    upload = create_upload(pipeline)
    assert post_form(upload["upload"], png_bytes()).status_code in (200, 204)
    return upload


class _Hooked:
    """The real bucket, running `hook` once just before (or after) the first call of `method`."""

    def __init__(self, bucket, method: str, hook: Callable[[], object], *, after: bool = False) -> None:
        self._bucket, self._method, self._hook, self._after = bucket, method, hook, after

    def __getattr__(self, name: str):
        target = getattr(self._bucket, name)
        if name != self._method or self._hook is None:
            return target

        def hooked(*args, **kwargs):
            hook, self._hook = self._hook, None
            if not self._after:
                hook()
            result = target(*args, **kwargs)
            if self._after:
                hook()
            return result

        return hooked


@pytest.mark.parametrize("after", [False, True], ids=["delete_before_the_put", "delete_after_the_put"])
def test_a_delete_during_completion_leaves_no_file_and_completion_answers_upload_deleted(pipeline, after):
    """The race of issue 9 item 11: DELETE runs while complete holds the checked bytes.

    Before the fix, a DELETE between complete's read and its write of uploads/ left the checked
    file there for good, and complete answered 200 with the DELETED upload.
    """
    upload = _posted_upload(pipeline)
    deleter = _use_cases(wiring.upload_store(), wiring.upload_bucket())
    deleted = []
    bucket = _Hooked(
        wiring.upload_bucket(),
        "put",
        lambda: deleted.append(deleter.delete("alice", upload["id"])),
        after=after,
    )
    completer = _use_cases(wiring.upload_store(), bucket)

    with pytest.raises(UploadNotReady) as answer:
        completer.complete("alice", upload["id"])

    assert [d.status for d in deleted] == [UploadStatus.DELETED]
    assert answer.value.code == "upload_deleted" and status_for(answer.value) == 409
    assert _files_of(pipeline, upload["id"]) == []
    assert pipeline.api("GET", f"/v1/uploads/{upload['id']}")[1]["status"] == "DELETED"


def test_a_delete_while_a_submitter_reads_the_source_makes_it_unavailable_not_a_crash(pipeline):
    """The submitter read the READY record, then a DELETE took the file before the submitter's GET:
    the job's source is unavailable (the job then fails at once), and nothing reaches Leonardo."""
    upload = ready_upload(pipeline)
    deleter = _use_cases(wiring.upload_store(), wiring.upload_bucket())
    bucket = _Hooked(wiring.upload_bucket(), "read", lambda: deleter.delete("alice", upload["id"]))
    init_images = InitImages(
        wiring.upload_store(), bucket, wiring.leonardo(), wiring.settings().upload_policy()
    )

    with pytest.raises(UploadNotReady) as answer:
        init_images.leonardo_id(upload["id"])

    assert answer.value.code == "upload_unavailable"
    assert pipeline.stack.simulator.init_images == {} and _files_of(pipeline, upload["id"]) == []


class _Lockstep:
    """Runs two actors' storage calls one at a time, in the order a schedule names the actors.

    A slot of an actor that has returned is skipped; once the schedule is used up, calls run as
    they come (still one at a time). Every call is logged as (actor, method).
    """

    def __init__(self, schedule: str) -> None:
        self.schedule, self.position = schedule, 0
        self.finished: set[str] = set()
        self.log: list[tuple[str, str]] = []
        self._turns = threading.Condition()

    def _next(self) -> str | None:
        while self.position < len(self.schedule) and self.schedule[self.position] in self.finished:
            self.position += 1
        return self.schedule[self.position] if self.position < len(self.schedule) else None

    def call(self, actor: str, name: str, target: Callable, *args, **kwargs):
        with self._turns:
            if not self._turns.wait_for(lambda: self._next() in (actor, None), timeout=20):
                raise TimeoutError(f"{actor} never got its turn for {name} in {self.schedule}")
            self.log.append((actor, name))
            try:
                return target(*args, **kwargs)
            finally:
                self.position += 1
                self._turns.notify_all()

    def finish(self, actor: str) -> None:
        with self._turns:
            self.finished.add(actor)
            self._turns.notify_all()


class _Gated:
    """A store or bucket whose calls wait for `actor`'s turn (except the methods in `free`)."""

    def __init__(self, target, lockstep: _Lockstep, actor: str, free: frozenset[str] = frozenset()) -> None:
        self._target, self._lockstep, self._actor, self._free = target, lockstep, actor, free

    def __getattr__(self, name: str):
        attr = getattr(self._target, name)
        if name in self._free:
            return attr
        return lambda *args, **kwargs: self._lockstep.call(self._actor, name, attr, *args, **kwargs)


# complete's calls on the way to READY: get_upload, head, read, put, finish_upload, delete (incoming).
# DELETE's that matter: mark_deleted, delete, delete (its get_upload only finds the key: left free).
_COMPLETE_CALLS, _DELETE_CALLS = 6, 3
_SCHEDULES = [
    "".join("D" if i in slots else "C" for i in range(_COMPLETE_CALLS + _DELETE_CALLS))
    for slots in itertools.combinations(range(_COMPLETE_CALLS + _DELETE_CALLS), _DELETE_CALLS)
]


def _race(upload_id: str, schedule: str) -> tuple[object, object, list[tuple[str, str]]]:
    """complete (C) and DELETE (D) in two threads, their storage calls in the schedule's order:
    (complete's answer, DELETE's answer, the calls as they ran)."""
    steps = _Lockstep(schedule)
    completer = _use_cases(
        _Gated(wiring.upload_store(), steps, "C"), _Gated(wiring.upload_bucket(), steps, "C")
    )
    deleter = _use_cases(
        _Gated(wiring.upload_store(), steps, "D", free=frozenset({"get_upload"})),
        _Gated(wiring.upload_bucket(), steps, "D"),
    )
    answers: dict[str, object] = {}

    def run(actor: str, use_case: Callable[[str, str], Upload]) -> None:
        try:
            answers[actor] = use_case("alice", upload_id)
        except Exception as error:  # a domain answer, or a crash: judged with the schedule below
            answers[actor] = error
        finally:
            steps.finish(actor)

    threads = [
        threading.Thread(target=run, args=("C", completer.complete)),
        threading.Thread(target=run, args=("D", deleter.delete)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads), schedule
    return answers.get("C"), answers.get("D"), steps.log


def test_complete_and_delete_commute_in_every_interleaving(pipeline):
    """All 84 orders of complete's and DELETE's storage calls: after both, no file of the deleted
    upload is left, DELETE answered DELETED, and complete answered either 409 upload_deleted or
    READY, the latter only when its READY was recorded before the DELETE marked the upload."""
    problems = []
    for schedule in _SCHEDULES:
        upload_id = _posted_upload(pipeline)["id"]
        completed, deleted, log = _race(upload_id, schedule)
        left = _files_of(pipeline, upload_id)
        ready_first = ("C", "finish_upload") in log and log.index(("C", "finish_upload")) < log.index(
            ("D", "mark_deleted")
        )
        if not (isinstance(deleted, Upload) and deleted.status == UploadStatus.DELETED):
            problems.append(f"{schedule}: DELETE answered {deleted!r}")
        if left:
            problems.append(f"{schedule}: files left {left} ({log})")
        if isinstance(completed, Upload):
            if completed.status != UploadStatus.READY or not ready_first:
                problems.append(f"{schedule}: complete answered 200 {completed.status} ({log})")
        elif not (isinstance(completed, UploadNotReady) and completed.code == "upload_deleted"):
            problems.append(f"{schedule}: complete answered {completed!r} ({log})")
    assert problems == []
