"""A batch's lines, read as a specification (domain/batches.py): each line is checked like a single
job (the same request model and rules) plus a custom_id unique in the batch; a refused line is
reported with its number, custom_id and code; an item's job id is derived from the batch and its
custom_id, so creating it again is a no-op."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from pydantic import ValidationError

from gencore.domain.batches import (
    MAX_REPORTED_PROBLEMS,
    BatchRequest,
    CheckedLine,
    LineProblem,
    check_lines,
    item_job_id,
    report_of,
)

pytestmark = pytest.mark.unit
PHOENIX = "de7d3faf-762f-48e0-b3b7-9d0ac3a3fcf3"
UPLOAD = "0b0e7bd6-5f53-4b8e-9d43-8f7f1c1b5a11"


def line(custom_id: str | None = "a-1", **fields) -> str:
    item = {"prompt": "a fox", "width": 512, "height": 512} | fields
    if custom_id is not None:
        item["custom_id"] = custom_id
    return json.dumps(item)


def only(lines) -> CheckedLine | LineProblem:
    [outcome] = list(check_lines(lines))
    return outcome


def test_a_valid_line_is_stored_as_a_single_job_would_be():
    checked = only([line("cat-1", num_images=2)])
    assert isinstance(checked, CheckedLine)
    assert (checked.line, checked.custom_id, checked.kind) == (1, "cat-1", "text_to_image")
    assert checked.request["num_images"] == 2 and "custom_id" not in checked.request


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        (line(None), "missing_custom_id"),
        (line("has space"), "invalid_custom_id"),
        (line("x" * 65), "invalid_custom_id"),
        (line("a-1", width=1001), "validation_error"),  # not a multiple of 8
        (line("a-1", surprise=True), "validation_error"),  # unknown fields stay refused
        (line("a-1", contrast=1.8, model_id=PHOENIX), "invalid_combination"),  # alchemy by default
        ("x" * (64 * 1024 + 1), "line_too_long"),
    ],
)
def test_each_refused_line_says_why_with_a_stable_code(raw, code):
    problem = only([raw])
    assert isinstance(problem, LineProblem) and problem.code == code and problem.line == 1


def test_a_custom_id_used_twice_is_refused_on_its_later_lines():
    outcomes = list(check_lines([line("a"), line("b"), line("a", prompt="another")]))
    assert [type(o).__name__ for o in outcomes] == ["CheckedLine", "CheckedLine", "LineProblem"]
    assert (
        outcomes[2].code == "duplicate_custom_id" and outcomes[2].custom_id == "a" and outcomes[2].line == 3
    )


def test_identical_lines_with_their_own_custom_ids_are_intended_and_kept():
    assert all(isinstance(o, CheckedLine) for o in check_lines([line("one"), line("two")]))


def test_inline_items_are_checked_as_objects():
    checked = only([{"custom_id": "inline-1", "prompt": "a fox"}])
    assert isinstance(checked, CheckedLine) and checked.custom_id == "inline-1"


def test_a_manifest_past_its_line_limit_is_refused_at_the_first_extra_line():
    report = report_of(check_lines((line(f"l{n}") for n in range(6)), max_lines=5))
    assert report.too_many_lines and report.valid == 5 and report.problems[-1].line == 6


def test_the_report_counts_every_refusal_and_names_the_first_hundred():
    lines = [line(f"ok-{n}") for n in range(10)] + ["{bad"] * (MAX_REPORTED_PROBLEMS + 20)
    report = report_of(check_lines(lines))
    assert (report.valid, report.invalid, len(report.problems)) == (10, MAX_REPORTED_PROBLEMS + 20, 100)
    assert report.as_details()[0] == {"line": 11, "custom_id": None, "code": "malformed_json",
                                      "message": "the line is not valid JSON"}  # fmt: skip


def test_checking_10000_lines_keeps_memory_bounded_by_the_ids_not_the_manifest():
    def manifest():
        for n in range(10_000):
            yield line(f"item-{n}", prompt="a long prompt " * 60)

    tracemalloc.start()
    report = report_of(check_lines(manifest()))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert report.valid == 10_000
    assert peak < 8 * 1024 * 1024  # the manifest itself is about 8.5 MB of text


def test_an_items_job_id_is_the_same_every_time_and_differs_between_batches_and_items():
    assert item_job_id("b-1", "x") == item_job_id("b-1", "x")
    assert len({item_job_id("b-1", "x"), item_job_id("b-1", "y"), item_job_id("b-2", "x")}) == 3


@pytest.mark.parametrize(
    "body",
    [{}, {"items": [], "name": "x"}, {"items": [{}], "manifest_upload_id": UPLOAD}, {"items": [{}] * 1001},
     {"manifest_upload_id": "not-a-uuid"}, {"items": [{}], "complete_within_hours": 0}],
)  # fmt: skip
def test_a_batch_names_its_items_one_way_within_the_limits(body):
    with pytest.raises(ValidationError):
        BatchRequest.model_validate(body)


def test_a_batch_of_inline_items_or_of_a_manifest_is_accepted():
    assert BatchRequest(items=[{"custom_id": "a", "prompt": "x"}], skip_invalid=True).skip_invalid
    assert BatchRequest(manifest_upload_id=UPLOAD, complete_within_hours=24)
