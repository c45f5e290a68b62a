"""Domain rules, read as a specification: requests, dedupe keys, lifecycle, backoff, views."""

import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gencore.domain.generations import dedupe_hash
from gencore.domain.models import (
    TERMINAL,
    TRANSITIONS,
    Cost,
    Job,
    JobStatus,
    OutputImage,
)
from gencore.domain.policy import Policy
from gencore.domain.requests import ImageGenerationRequest
from gencore.settings import Settings
from gencore.views import job_view

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 25, 19, 0, tzinfo=UTC)


def test_request_defaults_and_normalisation():
    request = ImageGenerationRequest(prompt="  a red fox  ", model_id="B24E16FF-06E3-43EB-8D33-4416C2D75876")
    assert request.prompt == "a red fox"
    assert request.model_id == "b24e16ff-06e3-43eb-8d33-4416c2d75876"
    assert (request.width, request.height, request.num_images) == (1024, 1024, 1)


@pytest.mark.parametrize(
    "fields",
    [
        {"prompt": ""},
        {"prompt": "x" * 1501},
        {"prompt": "x", "width": 1004},  # not a multiple of 8
        {"prompt": "x", "height": 1544},
        {"prompt": "x", "num_images": 0},
        {"prompt": "x", "width": 800, "num_images": 5},
        {"prompt": "x", "seed": -1},
        {"prompt": "x", "preset_style": "WATERCOLOR"},
        {"prompt": "x", "model_id": "../../etc"},
        {"prompt": "x", "unknown": True},
    ],
)
def test_requests_outside_leonardo_limits_are_refused(fields):
    with pytest.raises(ValidationError):
        ImageGenerationRequest(**fields)


def _hash(user: str, request: ImageGenerationRequest) -> str:
    return dedupe_hash(user, request.kind, request.normalized())


def test_dedupe_hash_is_the_same_for_equivalent_requests_and_per_user():
    a = ImageGenerationRequest(prompt="fox", width=512, height=512)
    b = ImageGenerationRequest(prompt=" fox ", height=512, width=512, num_images=1)
    assert _hash("alice", a) == _hash("alice", b)
    assert _hash("alice", a) != _hash("bob", a)
    assert _hash("alice", a) != _hash(
        "alice", ImageGenerationRequest(prompt="fox", width=512, height=512, seed=1)
    )


def test_lifecycle_only_moves_forward():
    # An ended job moves only to DELETED (its files gone, the record kept), and from there nowhere.
    assert all(TRANSITIONS[s] <= {JobStatus.DELETED} for s in TERMINAL)
    assert TRANSITIONS[JobStatus.DELETED] == frozenset()
    assert JobStatus.QUEUED not in set().union(*TRANSITIONS.values())
    assert JobStatus.COMPLETE in TRANSITIONS[JobStatus.FINALIZING]
    assert JobStatus.COMPLETE not in TRANSITIONS[JobStatus.SUBMITTED]  # outputs are copied first


def test_requeue_delay_is_jittered_capped_and_honours_retry_after():
    policy = Policy(requeue_base_seconds=2, requeue_max_seconds=60, rng=random.Random(1))
    delays = [policy.requeue_delay(attempt) for attempt in range(12) for _ in range(20)]
    assert min(delays) >= 1 and max(delays) <= 60
    assert len(set(delays)) > 5  # jitter, not a fixed schedule
    assert policy.requeue_delay(0, retry_after=30) >= 30
    assert policy.requeue_delay(3, retry_after=5000) == 900  # SQS DelaySeconds maximum


def test_poll_interval_backs_off_to_a_ceiling():
    policy = Policy(first_poll_seconds=30, max_poll_interval_seconds=300)
    assert [policy.poll_interval(n) for n in range(6)] == [30, 60, 120, 240, 300, 300]


def test_settings_come_from_the_environment_and_fail_loudly_when_missing():
    env = {
        "JOBS_TABLE": "jobs",
        "IDEMPOTENCY_TABLE": "idem",
        "OUTPUT_BUCKET": "out",
        "SUBMIT_QUEUE_URL": "q1",
        "EVENTS_QUEUE_URL": "q2",
        "LEONARDO_API_KEY_SECRET": "arn:secret:1",
        "WEBHOOK_SECRET": "arn:secret:2",
        "LEONARDO_MAX_CONCURRENCY": "7",
    }
    settings = Settings.from_env(env)
    assert settings.leonardo_max_concurrency == 7
    assert settings.policy().max_in_flight == 7
    with pytest.raises(ValidationError):
        Settings.from_env({k: v for k, v in env.items() if k != "JOBS_TABLE"})
    with pytest.raises(ValidationError):
        Settings.from_env(env | {"LEONARDO_MAX_CONCURRENCY": "0"})
    # Video shares the image pool unless given one of its own; the create pause stays within SQS's delay.
    assert settings.policy().pools == ("image",)
    apart = Settings.from_env(
        env | {"LEONARDO_VIDEO_MAX_CONCURRENCY": "3", "LEONARDO_RATE_PAUSE_SECONDS": "30"}
    )
    assert apart.policy().pools == ("image", "video") and apart.policy().cap("video") == 3
    assert apart.policy().rate_pause_seconds == 30
    bad_values = [
        {"LEONARDO_VIDEO_MAX_CONCURRENCY": "-1"},
        {"LEONARDO_VIDEO_MAX_CONCURRENCY": "many"},
        {"LEONARDO_RATE_PAUSE_SECONDS": "0"},
        {"LEONARDO_RATE_PAUSE_SECONDS": "901"},
    ]
    for bad in bad_values:
        with pytest.raises(ValidationError):
            Settings.from_env(env | bad)


def _job(status: JobStatus, **fields) -> Job:
    return Job(id="j1", user_id="alice", status=status, request={"width": 512, "height": 512},
               created_at=NOW, updated_at=NOW, **fields)  # fmt: skip


def test_views_show_images_only_when_complete_and_errors_when_failed():
    image = OutputImage(index=0, key="outputs/alice/j1/0.png", content_type="image/png", size=10,
                        leonardo_image_id="img")  # fmt: skip
    presign = lambda key: f"https://signed/{key}"  # noqa: E731
    cost = Cost(amount="0.0147", unit="DOLLARS")
    complete = job_view(_job(JobStatus.COMPLETE, images=[image], cost=cost), presign)
    assert complete.images[0].url == "https://signed/outputs/alice/j1/0.png"
    assert (complete.images[0].width, complete.images[0].height) == (512, 512)
    assert complete.cost == {"amount": "0.0147", "unit": "DOLLARS", "source": "leonardo"}
    # A record from before `cost` existed carried credits only.
    legacy = job_view(_job(JobStatus.COMPLETE, images=[image], api_credit_cost=12), presign)
    assert legacy.cost == {"amount": "12", "unit": "CREDITS", "source": "leonardo"}
    finalizing = job_view(_job(JobStatus.FINALIZING, images=[image]), presign)
    assert finalizing.images == []
    failed = job_view(_job(JobStatus.FAILED, error_code="timeout", error_message="late"), presign)
    assert failed.error.code == "timeout"
