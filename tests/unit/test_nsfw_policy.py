"""NSFW images by plan, read as a specification (domain/processing.py, docs/plans.md "NSFW images"):
a plan keeps Leonardo's NSFW-flagged images, keeps and flags them, or withholds them: never copied
to our bucket, no URL, the job saying so. The processor learns the policy from a callable wiring
passes (the plans document's `nsfw_policy`), by the plan the job was accepted under."""

from __future__ import annotations

import pytest

from gencore.domain.errors import SourceNotUsable, SourceUnavailable
from gencore.domain.models import GenerationEvent, JobStatus, LeonardoImage, OutputImage
from gencore.domain.plans import default_plans
from gencore.domain.policy import Policy
from gencore.domain.processing import Processor
from gencore.domain.removal import Removal
from gencore.domain.requests import Source
from gencore.domain.sources import Sources
from gencore.domain.waiting import Waker
from gencore.views import job_view
from tests.support.fakes import (
    FakeClock,
    FakeJobStore,
    FakeLeonardo,
    FakeOutputStore,
    FakeSubmitQueue,
    RemovingLeonardo,
    make_job,
)

pytestmark = pytest.mark.unit

CDN = "https://cdn.leonardo.example"


@pytest.fixture
def store() -> FakeJobStore:
    return FakeJobStore()


@pytest.fixture
def outputs() -> FakeOutputStore:
    return FakeOutputStore()


def processor(store, outputs, policy: str, asked: list | None = None) -> Processor:
    def policy_of(plan):
        if asked is not None:
            asked.append(plan)
        return policy

    clock = FakeClock()
    waker = Waker(store, FakeSubmitQueue(), clock, Policy())
    return Processor(store, outputs, FakeLeonardo(), waker, clock, Policy(), nsfw_policy=policy_of)


def finish(store, outputs, policy: str, flags: list[bool | None], plan: str | None = "free"):
    """Given a SUBMITTED job of `plan`, when Leonardo completes it with images flagged `flags`."""
    job = store.add(make_job(JobStatus.SUBMITTED, plan=plan))
    images = [
        LeonardoImage(id=f"img-{n}", url=f"{CDN}/{job.generation_id}/{n}.png", nsfw=flag)
        for n, flag in enumerate(flags)
    ]
    event = GenerationEvent(
        source="reconciler", generation_id=job.generation_id, status="COMPLETE", images=images
    )
    outcome = processor(store, outputs, policy).handle(event)
    return outcome, store.get(job.id)


def view_of(job):
    return job_view(job, lambda key: f"https://bucket.example/{key}").model_dump(mode="json")


@pytest.mark.parametrize("policy", ["keep", "flag"])
def test_keep_and_flag_copy_a_flagged_image_and_the_view_marks_it(store, outputs, policy):
    outcome, job = finish(store, outputs, policy, [True, False])
    assert outcome == "completed" and job.status == JobStatus.COMPLETE
    assert len(outputs.fetched) == 2 and len(outputs.keys) == 2
    view = view_of(job)
    assert [(i["nsfw"], i["withheld"]) for i in view["images"]] == [(True, False), (False, False)]
    assert all(i["url"].startswith("https://bucket.example/outputs/") for i in view["images"])
    assert view["nsfw_policy"] == policy


def test_withhold_does_not_copy_a_flagged_image_and_the_view_says_withheld(store, outputs):
    outcome, job = finish(store, outputs, "withhold", [False, True])
    assert outcome == "completed" and job.status == JobStatus.COMPLETE
    # Then: only the unflagged image was fetched and stored; Leonardo's URL of the other is not kept.
    assert outputs.fetched == [f"{CDN}/{job.generation_id}/0.png"]
    assert outputs.keys == {f"outputs/alice/{job.id}/0.png"}
    withheld = job.images[1]
    assert (withheld.index, withheld.withheld, withheld.nsfw, withheld.key) == (1, True, True, None)
    assert withheld.leonardo_image_id == "img-1"  # the record keeps which image it was
    view = view_of(job)
    assert view["nsfw_policy"] == "withhold"
    assert view["images"][1] == {
        "index": 1, "url": None, "content_type": None, "width": None, "height": None, "size": None,
        "sha256": None, "leonardo_image_id": "img-1", "nsfw": True, "withheld": True,
    }  # fmt: skip
    assert view["images"][0]["url"] and view["images"][0]["withheld"] is False
    assert CDN not in str(view)


def test_withhold_with_every_image_flagged_still_completes_the_paid_job(store, outputs):
    outcome, job = finish(store, outputs, "withhold", [True, True])
    assert outcome == "completed" and job.status == JobStatus.COMPLETE
    assert outputs.fetched == [] and outputs.keys == set()
    assert [image.withheld for image in job.images] == [True, True]


def test_withhold_copies_an_image_leonardo_did_not_flag_either_way(store, outputs):
    _, job = finish(store, outputs, "withhold", [None])
    assert len(outputs.fetched) == 1 and job.images[0].withheld is False and job.images[0].nsfw is None


def test_keep_records_leonardos_flag_on_the_job(store, outputs):
    _, job = finish(store, outputs, "keep", [True])
    assert job.images[0].nsfw is True and job.images[0].withheld is False and job.nsfw_policy == "keep"


def test_the_processor_asks_the_policy_of_the_plan_the_job_was_accepted_under(store, outputs):
    job = store.add(make_job(JobStatus.SUBMITTED, plan="pro"))
    asked: list = []
    event = GenerationEvent(
        source="reconciler", generation_id=job.generation_id, status="COMPLETE",
        images=[LeonardoImage(id="i", url=f"{CDN}/i.png", nsfw=True)],
    )  # fmt: skip
    processor(store, outputs, "flag", asked).handle(event)
    assert asked == ["pro"]


@pytest.mark.parametrize(
    ("plan", "policy"),
    [("free", "withhold"), ("pro", "flag"), (None, "keep"), ("gone", "withhold")],
)
def test_the_shipped_plans_decide_the_policy_and_a_job_of_no_plan_keeps(plan, policy):
    # A plan the document no longer has falls to the default plan (free), as at accept.
    assert default_plans().nsfw_policy(plan) == policy


def test_a_withheld_image_is_not_usable_as_a_source(store):
    job = store.add(make_job(JobStatus.COMPLETE, plan="free", images=[
        OutputImage(index=0, key="outputs/alice/j/0.png", content_type="image/png", size=1,
                    leonardo_image_id="a"),
        OutputImage(index=1, leonardo_image_id="b", nsfw=True, withheld=True),
    ]))  # fmt: skip
    sources = Sources(store)
    usable = sources.check("alice", Source(job_id=job.id, index=0), kind="edit")
    assert usable == {"job_id": job.id, "index": 0}
    with pytest.raises(SourceNotUsable):
        sources.check("alice", Source(job_id=job.id, index=1), kind="edit")
    edit = make_job(JobStatus.QUEUED, kind="edit", source={"job_id": job.id, "index": 1})
    with pytest.raises(SourceUnavailable):
        sources.refs(edit)


def test_deleting_a_job_deletes_only_the_images_that_were_copied(store, outputs):
    job = store.add(make_job(JobStatus.COMPLETE, generation_id="gen-1", images=[
        OutputImage(index=0, key="outputs/alice/j/0.png", content_type="image/png", size=1,
                    leonardo_image_id="a"),
        OutputImage(index=1, leonardo_image_id="b", nsfw=True, withheld=True),
    ]))  # fmt: skip
    leonardo = RemovingLeonardo()
    Removal(store, outputs, leonardo, FakeClock()).delete("alice", job.id)
    assert outputs.deleted == ["outputs/alice/j/0.png"] and leonardo.deleted == ["gen-1"]
