"""A video job's output is its clip (domain/processing.py): the processor copies the generation's
MP4 (`motionMP4URL`), never the still beside it, and a generation that reports no clip fails the
job `output_missing` instead of completing it without its video."""

from __future__ import annotations

import pytest

from gencore.domain.models import GenerationEvent, JobStatus, LeonardoImage
from gencore.domain.policy import Policy
from gencore.domain.processing import Processor
from gencore.domain.waiting import Waker
from tests.support.fakes import (
    FakeClock,
    FakeJobStore,
    FakeLeonardo,
    FakeOutputStore,
    FakeSubmitQueue,
    make_job,
)

pytestmark = pytest.mark.unit
CDN = "https://cdn.leonardo.example"


def complete(kind: str, image: LeonardoImage) -> tuple[str, FakeOutputStore, FakeJobStore, str]:
    store, outputs, clock = FakeJobStore(), FakeOutputStore(), FakeClock()
    job = store.add(make_job(JobStatus.SUBMITTED, kind=kind))
    processor = Processor(
        store, outputs, FakeLeonardo(), Waker(store, FakeSubmitQueue(), clock, Policy()), clock, Policy(),
        nsfw_policy=lambda plan: "keep",
    )  # fmt: skip
    event = GenerationEvent(
        source="reconciler", generation_id=job.generation_id, status="COMPLETE", images=[image]
    )
    return processor.handle(event), outputs, store, job.id


@pytest.mark.parametrize("kind", ["text_to_video", "image_to_video", "motion"])
def test_a_video_job_copies_the_clip_not_the_still(kind):
    image = LeonardoImage(id="img-0", url=f"{CDN}/still.jpg", video_url=f"{CDN}/clip.mp4")
    outcome, outputs, store, job_id = complete(kind, image)
    assert outcome == "completed" and outputs.fetched == [f"{CDN}/clip.mp4"]
    assert store.get(job_id).status == JobStatus.COMPLETE


def test_an_image_job_copies_the_image_even_if_a_clip_is_reported():
    image = LeonardoImage(id="img-0", url=f"{CDN}/0.png", video_url=f"{CDN}/clip.mp4")
    _, outputs, _, _ = complete("text_to_image", image)
    assert outputs.fetched == [f"{CDN}/0.png"]


def test_a_video_generation_without_its_clip_fails_the_job_output_missing():
    outcome, outputs, store, job_id = complete(
        "text_to_video", LeonardoImage(id="img-0", url=f"{CDN}/still.jpg")
    )
    job = store.get(job_id)
    assert outcome == "failed" and outputs.fetched == []
    assert (job.status, job.error_code, job.slot_held) == (JobStatus.FAILED, "output_missing", False)
