"""An uploaded batch manifest's check, read as a specification (domain/batches.py, `check_manifest`):
UTF-8 text of at most 10,000 non-blank lines, each at most 64 KiB, the first of them a JSON object;
anything else is refused at the upload with a code naming the problem. A later line that is not a
JSON object passes here: the batch that names the manifest reports every bad line at once."""

from __future__ import annotations

import json

import pytest

from gencore.domain.batches import MAX_LINE_BYTES, MAX_MANIFEST_LINES, check_manifest
from gencore.domain.errors import UploadRejected

pytestmark = pytest.mark.unit


def line(custom_id: str = "a") -> str:
    return json.dumps({"custom_id": custom_id, "prompt": "a fox"})


def rejection(data: bytes, **limits) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        check_manifest(data, **limits)
    return caught.value


def test_a_manifest_of_json_lines_passes_and_its_lines_are_counted():
    assert check_manifest("\n".join([line("a"), line("b"), line("c")]).encode()) == 3


def test_blank_lines_are_not_counted_and_windows_line_ends_are_text_too():
    assert check_manifest(f"\n{line('a')}\r\n\r\n  \n{line('b')}\r\n".encode()) == 2


@pytest.mark.parametrize("data", [b"", b"\n\n", b"  \r\n\t\n"], ids=["empty", "newlines", "whitespace"])
def test_a_manifest_without_a_line_is_refused_as_empty(data):
    assert rejection(data).code == "manifest_empty"


def test_a_manifest_that_is_not_utf8_text_is_refused():
    assert rejection(line().encode() + b"\n\xff\xfe{}").code == "manifest_not_utf8"


def test_a_manifest_of_the_line_limit_passes_and_one_line_more_is_refused():
    assert check_manifest("\n".join(["{}"] * 3).encode(), max_lines=3) == 3
    assert rejection("\n".join(["{}"] * 4).encode(), max_lines=3).code == "manifest_too_many_lines"


def test_the_line_limit_is_ten_thousand_by_default():
    assert check_manifest("\n".join(["{}"] * MAX_MANIFEST_LINES).encode()) == 10_000
    refused = rejection("\n".join(["{}"] * (MAX_MANIFEST_LINES + 1)).encode())
    assert refused.code == "manifest_too_many_lines" and "10000" in refused.message


def test_a_line_over_64_kib_is_refused_naming_its_line_number_blank_lines_included():
    long_line = json.dumps({"custom_id": "a", "prompt": "x" * MAX_LINE_BYTES})
    refused = rejection(f"{line('a')}\n\n{long_line}".encode())
    assert refused.code == "manifest_line_too_long" and refused.message.startswith("Line 3 ")


def test_a_lines_length_is_counted_in_bytes_not_characters():
    at_limit = '"' + "x" * (MAX_LINE_BYTES - 2) + '"'
    assert check_manifest(f"{line()}\n{at_limit}".encode()) == 2
    wide = "é" * (MAX_LINE_BYTES // 2 + 1)  # fewer characters than the limit, more bytes
    assert rejection(f"{line()}\n{wide}".encode()).code == "manifest_line_too_long"


@pytest.mark.parametrize(
    "first",
    ["not json", "[1, 2]", '"a string"', "42", "{truncated"],
    ids=["text", "array", "string", "number", "broken"],
)
def test_a_manifest_whose_first_line_is_not_a_json_object_is_refused_as_another_kind_of_file(first):
    assert rejection(f"{first}\n{line()}".encode()).code == "manifest_not_jsonl"


def test_the_first_line_is_the_first_that_is_not_blank():
    assert check_manifest(f"\n\n{line()}".encode()) == 1
    assert rejection(f"\n\nnot json\n{line()}".encode()).code == "manifest_not_jsonl"


def test_a_later_line_that_is_not_a_json_object_passes_for_the_batch_to_report():
    assert check_manifest(f"{line('a')}\n{{oops\n[1]\n{line('b')}".encode()) == 4
