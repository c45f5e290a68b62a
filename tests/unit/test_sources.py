"""A job's source, read as a specification: accepted only when it is the caller's and usable, the
same answer for every reason it is not; resolved to Leonardo's ids when the job is submitted."""

from __future__ import annotations

import pytest

from gencore.domain.errors import SourceNotUsable, SourceUnavailable
from gencore.domain.generations import Generations
from gencore.domain.models import JobStatus
from gencore.domain.policy import Policy
from gencore.domain.requests import ImageGenerationRequest, Source, VariationRequest
from gencore.domain.sources import Sources
from tests.support.fakes import FakeClock, FakeJobStore, FakeSubmitQueue, completed_job, make_job

pytestmark = pytest.mark.unit


@pytest.fixture
def store() -> FakeJobStore:
    return FakeJobStore()


@pytest.fixture
def generations(store) -> Generations:
    return Generations(store, FakeSubmitQueue(), Sources(store), FakeClock(), Policy())


def test_an_edit_of_one_of_our_images_is_accepted_with_its_lineage(store, generations):
    original = store.add(completed_job())
    request = ImageGenerationRequest(prompt="the same, in snow", source={"job_id": original.id, "index": 1},
                                     init_strength=0.3)  # fmt: skip
    job, created = generations.create("alice", request)
    assert created and job.kind == "edit" and job.status == JobStatus.QUEUED
    assert job.source == {"job_id": original.id, "index": 1} == job.request["source"]
    assert job.leonardo_seed is not None  # an edit is a generation: recognisable in Leonardo's list


@pytest.mark.parametrize(
    "case",
    ["unknown job", "another user's job", "a job not COMPLETE", "an index out of range", "a deleted job"],
)
def test_a_source_the_caller_cannot_use_is_refused_the_same_way_whatever_the_reason(store, generations, case):
    job_id, index = "no-such-job", 0
    if case != "unknown job":
        job = {
            "another user's job": lambda: completed_job(user_id="bob"),
            "a job not COMPLETE": lambda: make_job(JobStatus.SUBMITTED),
            "an index out of range": lambda: completed_job(images=1),
            "a deleted job": lambda: completed_job(status=JobStatus.DELETED),
        }[case]()
        store.add(job)
        job_id, index = job.id, (1 if case == "an index out of range" else 0)
    with pytest.raises(SourceNotUsable) as refused:
        generations.create(
            "alice", ImageGenerationRequest(prompt="x", source={"job_id": job_id, "index": index})
        )
    assert (refused.value.code, refused.value.message) == (
        "source_not_usable",
        "No such image among your finished generations",
    )
    assert store.jobs.keys() <= {job_id}  # nothing accepted


def test_a_variation_is_a_new_job_on_one_image_and_deduplicates_a_double_click(store, generations):
    original = store.add(completed_job())
    first, created = generations.create_variation("alice", original.id, 0, VariationRequest(type="upscale"))
    again, created_again = generations.create_variation(
        "alice", original.id, 0, VariationRequest(type="upscale")
    )
    other, _ = generations.create_variation("alice", original.id, 1, VariationRequest(type="upscale"))
    assert created and not created_again and again.id == first.id and other.id != first.id
    assert first.kind == "upscale" and first.source == {"job_id": original.id, "index": 0}
    assert first.request == {"type": "upscale", "source": {"job_id": original.id, "index": 0}}
    assert first.leonardo_seed is None  # a variation has no seed


def test_a_variations_output_can_be_worked_on_only_by_kinds_leonardo_lets_name_it(store, generations):
    upscaled = store.add(completed_job(kind="upscale", images=1))
    job, _ = generations.create_variation("alice", upscaled.id, 0, VariationRequest(type="no_background"))
    assert job.kind == "no_background"
    with pytest.raises(SourceNotUsable):  # Leonardo's init_generation_image_id names generated images only
        generations.create(
            "alice", ImageGenerationRequest(prompt="x", source={"job_id": upscaled.id, "index": 0})
        )
    with pytest.raises(SourceNotUsable):
        generations.create_variation("alice", upscaled.id, 0, VariationRequest(type="upscale"))


def test_at_submit_an_image_of_ours_is_named_by_the_id_leonardo_gave_it(store):
    original = store.add(completed_job())
    edit = store.add(make_job(JobStatus.QUEUED, kind="edit", source={"job_id": original.id, "index": 1}))
    refs = Sources(store).refs(edit)
    assert refs.generated_image_id == original.images[1].leonardo_image_id and not refs.from_variation


def test_at_submit_a_source_deleted_since_the_accept_is_unavailable(store):
    original = store.add(completed_job(status=JobStatus.DELETED))
    edit = store.add(make_job(JobStatus.QUEUED, kind="edit", source={"job_id": original.id, "index": 0}))
    with pytest.raises(SourceUnavailable):
        Sources(store).refs(edit)


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ({"upload_id": "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11", "job_id": "j"}, "source_one_of"),
        ({"job_id": "j"}, "source_image_index"),
        ({}, "source_one_of"),
    ],
)
def test_a_source_names_one_thing(source, rule):
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as invalid:
        Source(**source)
    assert invalid.value.errors()[0]["ctx"]["rule"] == rule


def test_a_variation_of_a_job_the_caller_cannot_see_is_not_found(store, generations):
    """The job is named by the route: like any id in a path, unknown or another user's is 404."""
    from gencore.domain.errors import JobNotFound

    others = store.add(completed_job(user_id="bob"))
    for job_id in (others.id, "no-such-job"):
        with pytest.raises(JobNotFound):
            generations.create_variation("alice", job_id, 0, VariationRequest(type="upscale"))
