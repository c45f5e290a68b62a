"""NSFW images by plan through the functions (moto + the simulator, its `nsfw_rate` knob): the shipped
`free` plan withholds the images Leonardo flags (not in our bucket, no URL, the job says withheld,
not usable as a source), `pro` keeps and flags them (docs/plans.md, "NSFW images")."""

from __future__ import annotations

import pytest

from leonardo_simulator import FaultConfig

from .test_edits import complete
from .test_generation_flow import PROMPT

pytestmark = pytest.mark.integration


def generated_with_flags(pipeline, plan: str) -> tuple[dict, list[bool]]:
    """Given a job of `plan` whose two images Leonardo generated, one of them flagged NSFW (seed 0
    of the knob at 0.5 draws [False, True]): the submitted job's record and the flags."""
    pipeline.stack.simulator.set_faults(FaultConfig(seed=0, nsfw_rate=0.5))
    status, accepted = pipeline.api("POST", "/v1/generations", body=PROMPT, plan=plan)
    assert status == 202, accepted
    pipeline.drain("SubmitQueue", "SubmitterFunction")
    item = pipeline.job_item(accepted["id"])
    pipeline.wait_for_leonardo(item["generation_id"])
    flags = [image.nsfw for image in pipeline.stack.simulator.generations[item["generation_id"]].images]
    assert sorted(flags) == [False, True]
    return item, flags


def stored_indexes(pipeline, job_id: str) -> list[int]:
    keys = pipeline.outputs(f"outputs/alice/{job_id}/")
    return sorted(int(key.rsplit("/", 1)[1].split(".")[0]) for key in keys)


def test_a_free_users_flagged_image_is_not_copied_and_the_view_says_withheld(pipeline):
    item, flags = generated_with_flags(pipeline, "free")
    job = complete(pipeline, item)
    assert job["nsfw_policy"] == "withhold"
    assert [(image["nsfw"], image["withheld"]) for image in job["images"]] == [(f, f) for f in flags]
    for image, flagged in zip(job["images"], flags, strict=True):
        assert (image["url"] is None) == flagged
    # Then: only the unflagged image is in the bucket; the record keeps what was withheld.
    assert stored_indexes(pipeline, job["id"]) == [i for i, flagged in enumerate(flags) if not flagged]
    record = pipeline.job_item(job["id"])
    withheld = [image for image in record["images"] if image.get("withheld")]
    assert [(image["index"], image["nsfw"], image.get("key")) for image in withheld] == [
        (flags.index(True), True, None)
    ]


def test_a_free_users_withheld_image_cannot_be_edited(pipeline):
    item, flags = generated_with_flags(pipeline, "free")
    job = complete(pipeline, item)
    body = {"prompt": "the same, at night", "width": 256, "height": 192, "num_images": 1,
            "source": {"job_id": job["id"], "index": flags.index(True)}}  # fmt: skip
    status, refused = pipeline.api("POST", "/v1/generations", body=body, plan="free")
    assert status == 422 and refused["error"]["code"] == "source_not_usable"


def test_a_pro_users_flagged_image_is_copied_and_flagged(pipeline):
    item, flags = generated_with_flags(pipeline, "pro")
    job = complete(pipeline, item)
    assert job["nsfw_policy"] == "flag"
    assert [(image["nsfw"], image["withheld"]) for image in job["images"]] == [(f, False) for f in flags]
    assert all(image["url"] for image in job["images"])
    assert stored_indexes(pipeline, job["id"]) == [0, 1]
