"""Leonardo's motion routes (leonardo/motion.py), read as a specification: each video generation is
a paid POST sent once in Leonardo's own names; an answer that does not say what happened (a read
timeout after sending, a 5xx, an unreadable or incomplete 2xx) is OutcomeUnknownError, never
resent; a 429 is a refusal. Both spellings of the answer's key are read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gencore.leonardo import OutcomeUnknownError, RetryableError
from gencore.leonardo.models import GetGenerationEnvelope
from tests.support.scripted import Answer

pytestmark = pytest.mark.unit
IMAGE = "d3e4f5a6-b7c8-4d9e-8f01-234567890abc"
GENERATION = "e4f5a6b7-c8d9-4e0f-9123-456789abcdef"
JOB = {"generationId": GENERATION, "apiCreditCost": None, "cost": {"amount": "0.0147", "unit": "DOLLARS"}}

# name -> (route, body in Leonardo's names, the answer's key)
CALLS = {
    "text_to_video": (
        "/generations-text-to-video",
        {"prompt": "waves at dusk", "model": "VEO3", "duration": 6, "resolution": "RESOLUTION_720"},
        "motionVideoGenerationJob",
    ),
    "image_to_video": (
        "/generations-image-to-video",
        {"prompt": "the lighthouse, slowly", "imageId": IMAGE, "imageType": "GENERATED"},
        "motionVideoGenerationJob",
    ),
    "motion": ("/generations-motion-svd", {"imageId": IMAGE, "isInitImage": True, "motionStrength": 5},
               "motionSvdGenerationJob"),
}  # fmt: skip
UNKNOWN = {
    "read timeout after sending": lambda good: Answer(200, good, delay=1.0),
    "502 after sending": lambda good: Answer(502, {"error": "bad gateway"}),
    "500 after sending": lambda good: Answer(500, {"error": "boom"}),
    "truncated 200": lambda good: Answer(200, '{"motionVideoGenerationJob": {"generationId": "e4f5'),
    "200 without the answer": lambda good: Answer(200, {"unexpected": True}),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_video_generation_is_sent_once_to_its_route_in_leonardos_names(server, make_client, name):
    route, body, key = CALLS[name]
    server.add(Answer(200, {key: JOB}))
    job = make_client().create_video(route, body)
    assert len(server.received) == 1 and server.received[0].path.endswith(route)
    assert server.received[0].method == "POST" and server.received[0].json() == body
    assert job.generation_id == GENERATION and job.cost is not None and job.cost.unit == "DOLLARS"


@pytest.mark.parametrize("key", ["motionVideoGenerationJob", "motionSvdGenerationJob"])
def test_either_spelling_of_the_answer_is_read_on_every_route(server, make_client, key):
    # image-to-video's example answers motionSvdGenerationJob where its schema says
    # motionVideoGenerationJob: both are read.
    route, body, _ = CALLS["image_to_video"]
    server.add(Answer(200, {key: JOB}))
    assert make_client().create_video(route, body).generation_id == GENERATION


@pytest.mark.parametrize("outcome", sorted(UNKNOWN))
@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_answer_that_does_not_say_what_happened_is_never_resent(
    server, make_client, sleeps, name, outcome
):
    route, body, key = CALLS[name]
    server.add(UNKNOWN[outcome]({key: JOB}), Answer(200, {key: JOB}))
    with pytest.raises(OutcomeUnknownError):
        make_client(read_timeout=0.2).create_video(route, body)
    assert len(server.received) == 1 and sleeps.calls == []


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_429_is_a_refusal_nothing_was_done(server, make_client, name):
    route, body, key = CALLS[name]
    server.add(Answer(429, {"error": "slow down"}, headers={"Retry-After": "2"}), Answer(200, {key: JOB}))
    with pytest.raises(RetryableError) as refused:
        make_client().create_video(route, body)
    assert not isinstance(refused.value, OutcomeUnknownError) and refused.value.retry_after == 2.0
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/generations-text-to-video", {"prompt": "x", "model": "VEO_3"}),  # the example's spelling
        ("/generations-image-to-video", {"prompt": "x", "imageId": IMAGE, "imageType": "VARIATION"}),
        ("/generations-motion-svd", {"imageId": IMAGE, "motionStrength": 11}),
        ("/generations-text-to-video", {"prompt": "x", "sneaky": True}),
    ],
)
def test_a_body_outside_the_documents_is_refused_before_anything_is_sent(server, make_client, route, body):
    with pytest.raises(ValidationError):
        make_client().create_video(route, body)
    assert server.received == []


def test_a_video_generations_record_carries_its_mp4_beside_the_still():
    record = GetGenerationEnvelope.model_validate(
        {
            "generations_by_pk": {
                "id": GENERATION, "status": "COMPLETE", "createdAt": "2026-12-04T09:00:00.000",
                "prompt": "waves", "imageWidth": 832, "imageHeight": 480,
                "generated_images": [{
                    "id": IMAGE, "url": "https://cdn.leonardo.ai/still.jpg", "nsfw": False,
                    "motionMP4URL": "https://cdn.leonardo.ai/clip.mp4",
                }],
            }
        }
    ).generations_by_pk  # fmt: skip
    assert record is not None
    (image,) = record.generated_images
    assert image.motion_mp4_url == "https://cdn.leonardo.ai/clip.mp4"
