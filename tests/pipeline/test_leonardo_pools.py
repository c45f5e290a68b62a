"""Video's own Leonardo pool through the real handlers on moto and the simulator: with
LEONARDO_VIDEO_MAX_CONCURRENCY set, video jobs count in a semaphore and wait in a line of their own
(image jobs keep the image pool's), and the video's completion wakes the next video."""

from __future__ import annotations

import pytest

from gencore import wiring
from gencore.adapters.job_keys import line_partition, semaphore_key
from tests.pipeline.test_videos import finish_by_polling

pytestmark = pytest.mark.integration

VIDEO = {"mode": "text_to_video", "prompt": "waves at dusk", "model": "MOTION2"}


def counts(pipeline) -> tuple[int, int]:
    table = pipeline.stack.env["JOBS_TABLE"]

    def held(pool: str) -> int:
        item = pipeline.ddb.get_item(TableName=table, Key=semaphore_key(pool), ConsistentRead=True).get(
            "Item"
        )
        return int(item["in_flight"]["N"]) if item else 0

    return held("image"), held("video")


def test_video_waits_in_its_own_pool_and_line_and_its_end_wakes_the_next_video(pipeline, monkeypatch):
    monkeypatch.setenv("LEONARDO_VIDEO_MAX_CONCURRENCY", "1")  # the image pool's cap is 2 here
    wiring.reset()
    videos = [pipeline.api("POST", "/v1/videos", body=VIDEO | {"prompt": f"waves {n}"}, plan="unlimited")[1]
              for n in range(2)]  # fmt: skip
    images = [pipeline.api("POST", "/v1/generations", body={"prompt": f"fox {n}"})[1] for n in range(2)]
    pipeline.drain("SubmitQueue", "SubmitterFunction")

    status = {job["id"]: pipeline.job_item(job["id"])["status"] for job in videos + images}
    assert [status[job["id"]] for job in images] == ["SUBMITTED", "SUBMITTED"]
    assert sorted(status[job["id"]] for job in videos) == ["QUEUED", "SUBMITTED"]
    assert counts(pipeline) == (2, 1)
    [running] = [job for job in videos if status[job["id"]] == "SUBMITTED"]
    [waiting] = [job for job in videos if status[job["id"]] == "QUEUED"]
    assert pipeline.job_item(running["id"])["slot_pool"] == "video"
    assert pipeline.job_item(waiting["id"])["due_pk"] == line_partition("video")

    assert finish_by_polling(pipeline, running["id"])["status"] == "COMPLETE"
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    assert pipeline.job_item(waiting["id"])["status"] == "SUBMITTED"
    assert counts(pipeline) == (2, 1)
