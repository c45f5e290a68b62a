"""Batches: many jobs from one request, each line of a manifest one job (issue 14).

This module holds what a batch *is* before any storage: the request (`BatchRequest`: up to 1,000
items inline, or an uploaded JSONL manifest of up to 10,000 lines), the check of every line
(`check_lines`: the same request model and rules as a single job, a `custom_id` unique in the
batch), and the identity of an item's job (`item_job_id`: derived from the batch and the item's
`custom_id`, so creating an item twice, after a crash mid fan-out, is a no-op).

Lines are read one at a time (an iterator of text lines), and what is kept per line is its
custom_id (to refuse duplicates) and, for a refused line, a short problem: memory stays bounded by
the manifest's line limit, never by its size.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UploadRejected
from .requests import ImageGenerationRequest

MAX_INLINE_ITEMS = 1_000
MAX_MANIFEST_LINES = 10_000
MAX_LINE_BYTES = 64 * 1024
MANIFEST_MAX_BYTES = 32 * 1024 * 1024  # an uploaded manifest (about 3 KiB a line at 10,000 lines)
MAX_REPORTED_PROBLEMS = 100  # a report names at most this many lines (and counts the rest)
CUSTOM_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Refusals a line keeps its own code for, as the API does for a single job (functions/api/app.py).
NAMED_REFUSALS = frozenset({"invalid_combination", "foreign_leonardo_id", "leonardo_field_unsupported"})
# Item job ids are UUIDs derived from the batch id and the custom_id (uuid5 in our own namespace).
ITEM_NAMESPACE = uuid.UUID("5d0b9d2e-9a8c-4c38-9a3e-6c1f0e7b2a41")


def item_job_id(batch_id: str, custom_id: str) -> str:
    """The job id of a batch item: the same every time the item is created (fan-out is resumable)."""
    return str(uuid.uuid5(ITEM_NAMESPACE, f"{batch_id}/{custom_id}"))


class BatchRequest(BaseModel):
    """The body of POST /v1/batches: the items inline, or an uploaded JSONL manifest."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[dict[str, Any]] | None = Field(default=None, min_length=1, max_length=MAX_INLINE_ITEMS)
    manifest_upload_id: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$"
    )
    name: str | None = Field(default=None, min_length=1, max_length=200)
    skip_invalid: bool = False
    complete_within_hours: int | None = Field(default=None, ge=1, le=7 * 24)

    @model_validator(mode="after")
    def _one_source_of_items(self) -> BatchRequest:
        if (self.items is None) == (self.manifest_upload_id is None):
            raise ValueError("a batch takes either `items` or `manifest_upload_id`")
        return self


@dataclass(frozen=True)
class LineProblem:
    """Why one line of a batch was refused (1-based line number, as an editor shows it)."""

    line: int
    custom_id: str | None
    code: str  # malformed_json | missing_custom_id | invalid_custom_id | duplicate_custom_id | line_too_long
    # | validation_error | invalid_combination | foreign_leonardo_id | ...
    message: str


@dataclass(frozen=True)
class CheckedLine:
    """A line that passed: its custom_id, the request as a single job would store it, and its kind."""

    line: int
    custom_id: str
    kind: str
    request: dict[str, Any]
    model: ImageGenerationRequest  # what the accept checks further (its sources, the plan)


@dataclass
class LinesReport:
    """What checking a batch's lines found."""

    valid: int = 0
    invalid: int = 0
    problems: list[LineProblem] = field(default_factory=list)  # the first MAX_REPORTED_PROBLEMS
    too_many_lines: bool = False

    def add(self, problem: LineProblem | None) -> None:
        """Count one line: valid (None), or refused for `problem`."""
        if problem is None:
            self.valid += 1
            return
        self.too_many_lines |= problem.code == "too_many_lines"
        self.refuse(problem)

    def refuse(self, problem: LineProblem) -> None:
        self.invalid += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)

    def as_details(self) -> list[dict[str, Any]]:
        return [
            {"line": p.line, "custom_id": p.custom_id, "code": p.code, "message": p.message}
            for p in self.problems
        ]


def check_manifest(data: bytes, *, max_lines: int = MAX_MANIFEST_LINES) -> int:
    """Check an uploaded manifest as JSON lines: UTF-8 text of at most `max_lines` non-blank lines,
    each at most MAX_LINE_BYTES, the first of them a JSON object (a file of another kind is refused
    here, at its first line). Returns the count. Raises UploadRejected naming the problem.

    A later line that is not a JSON object is not refused here: the batch that names the manifest
    reports every bad line at once (`malformed_json` with its line number), with the other lines'
    problems, which is more use than refusing the file at its first one."""
    if not data.strip():
        raise UploadRejected("The manifest has no lines", code="manifest_empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UploadRejected("The manifest is not UTF-8 text", code="manifest_not_utf8") from error
    count, first = 0, None
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        count += 1
        if count > max_lines:
            raise UploadRejected(f"A manifest has at most {max_lines} lines", code="manifest_too_many_lines")
        if len(raw.encode()) > MAX_LINE_BYTES:
            raise UploadRejected(
                f"Line {number} is over {MAX_LINE_BYTES} bytes", code="manifest_line_too_long"
            )
        first = first or raw
    try:
        item = json.loads(first or "")
    except ValueError:
        item = None
    if not isinstance(item, dict):
        raise UploadRejected("The manifest's first line is not a JSON object", code="manifest_not_jsonl")
    return count


def check_lines(
    lines: Iterable[str | dict[str, Any]], *, max_lines: int = MAX_MANIFEST_LINES
) -> Iterator[CheckedLine | LineProblem]:
    """Check each line in order (a JSON text or, for inline items, the object itself): yields a
    CheckedLine or the LineProblem that refuses it. Stops after `max_lines` with a problem of code
    `too_many_lines`. Duplicate custom_ids are refused on their second and later lines."""
    seen: set[str] = set()
    count = 0
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, str) and not raw.strip():
            continue  # a blank line of a manifest (its number still counts)
        count += 1
        if count > max_lines:
            yield LineProblem(number, None, "too_many_lines", f"a batch has at most {max_lines} lines")
            return
        yield _check_line(number, raw, seen)


def report_of(checked: Iterable[CheckedLine | LineProblem]) -> LinesReport:
    """Count and collect what `check_lines` yields (without keeping the valid lines)."""
    report = LinesReport()
    for outcome in checked:
        report.add(None if isinstance(outcome, CheckedLine) else outcome)
    return report


def _check_line(number: int, raw: str | dict[str, Any], seen: set[str]) -> CheckedLine | LineProblem:
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_LINE_BYTES:
            return LineProblem(number, None, "line_too_long", f"a line is at most {MAX_LINE_BYTES} bytes")
        try:
            item = json.loads(raw)
        except ValueError:
            return LineProblem(number, None, "malformed_json", "the line is not valid JSON")
    else:
        item = raw
    if not isinstance(item, dict):
        return LineProblem(number, None, "malformed_json", "the line is not a JSON object")
    custom_id = item.get("custom_id")
    if custom_id is None:
        return LineProblem(number, None, "missing_custom_id", "each line names its custom_id")
    if not isinstance(custom_id, str) or not CUSTOM_ID.fullmatch(custom_id):
        return LineProblem(number, None, "invalid_custom_id", "custom_id is 1-64 letters, digits or . _ : -")
    if custom_id in seen:
        return LineProblem(number, custom_id, "duplicate_custom_id", "an earlier line has this custom_id")
    seen.add(custom_id)
    fields = {k: v for k, v in item.items() if k != "custom_id"}
    try:
        request = ImageGenerationRequest.model_validate(fields)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        code = first["type"] if first["type"] in NAMED_REFUSALS else "validation_error"
        where = ".".join(str(part) for part in first.get("loc", ()))
        return LineProblem(number, custom_id, code, f"{where}: {first['msg']}" if where else first["msg"])
    return CheckedLine(number, custom_id, request.kind, request.normalized(), request)
