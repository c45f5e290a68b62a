"""Page cursors of the UserJobs index: what comes back from a caller is our own key, or it is refused.

One checker for the three pages that share the index (a user's history, a user's batches, a batch's
items): the cursor must decode to the four key attributes, all strings, of the partition being paged,
in that page's key shape, naming one item twice over. Anything else is `invalid_cursor` before
DynamoDB sees it.
"""

from __future__ import annotations

import base64
import json

import pytest

from gencore.adapters.index_pages import (
    BATCH_ITEMS,
    MAX_CURSOR_CHARS,
    USER_BATCHES,
    USER_JOBS,
    decode_cursor,
    encode_cursor,
)
from gencore.domain.errors import InvalidCursor

JOB = "0e6b1c1e-2f45-4d2b-9a55-4c1b8f0e9d11"
OTHER_JOB = "11111111-2f45-4d2b-9a55-4c1b8f0e9d11"
BATCH = "7c0d9a4e-1b2f-4c3d-8e9f-0a1b2c3d4e5f"

HISTORY_KEY = {
    "pk": f"JOB#{JOB}", "sk": "JOB", "gsi1pk": "USER#alice", "gsi1sk": f"2026-12-01T10:00:00.5Z#{JOB}",
}  # fmt: skip
BATCHES_KEY = {
    "pk": f"BATCH#{BATCH}", "sk": "BATCH", "gsi1pk": "BATCHES#alice",
    "gsi1sk": f"2026-12-01T10:00:00+00:00#{BATCH}",
}  # fmt: skip
ITEMS_KEY = {"pk": f"JOB#{JOB}", "sk": "JOB", "gsi1pk": f"BATCH#{BATCH}", "gsi1sk": f"000042#{JOB}"}


def last_key(plain: dict[str, str]) -> dict[str, dict[str, str]]:
    return {k: {"S": v} for k, v in plain.items()}


def raw(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("key", "shape"), [(HISTORY_KEY, USER_JOBS), (BATCHES_KEY, USER_BATCHES), (ITEMS_KEY, BATCH_ITEMS)]
)
def test_a_cursor_we_gave_out_reads_back_as_the_same_key(key, shape):
    cursor = encode_cursor(last_key(key))
    assert cursor is not None and "=" not in cursor  # opaque, and safe in a query string
    assert decode_cursor(cursor, partition=key["gsi1pk"], shape=shape) == last_key(key)


def test_the_last_page_has_no_cursor():
    assert encode_cursor(None) is None
    assert encode_cursor({}) is None


def test_a_cursor_only_pages_through_the_partition_it_was_made_for():
    cursor = encode_cursor(last_key(HISTORY_KEY))
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, partition="USER#bob", shape=USER_JOBS)


@pytest.mark.parametrize(
    ("key", "partition", "shape"),
    [
        (HISTORY_KEY, "BATCHES#alice", USER_BATCHES),  # a history cursor on the batch list
        (BATCHES_KEY, "USER#alice", USER_JOBS),  # a batch-list cursor on the history
        (ITEMS_KEY, "USER#alice", USER_JOBS),  # a batch's results cursor on the history
        ({**ITEMS_KEY, "gsi1pk": "USER#alice"}, "USER#alice", USER_JOBS),  # an items key moved over
    ],
)
def test_a_cursor_of_another_kind_of_page_is_refused(key, partition, shape):
    cursor = encode_cursor(last_key(key))
    assert cursor is not None
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, partition=partition, shape=shape)


@pytest.mark.parametrize(
    "cursor",
    [
        "A" * (MAX_CURSOR_CHARS + 1),  # oversized, refused before decoding
        "garbage!",  # not base64
        raw("a string")[:-1] + "!",  # broken base64
        base64.urlsafe_b64encode(b"{not json").decode(),
        raw(["pk", "sk"]),  # JSON, not an object
        raw({k: v for k, v in HISTORY_KEY.items() if k != "gsi1sk"}),  # a key attribute missing
        raw(HISTORY_KEY | {"extra": "x"}),  # an attribute that is not a key
        raw(HISTORY_KEY | {"pk": 7}),  # not a string
        raw(HISTORY_KEY | {"pk": "", "gsi1sk": ""}),  # empty values: DynamoDB's 400
        raw(HISTORY_KEY | {"sk": "GEN"}),  # another item kind
        raw(HISTORY_KEY | {"gsi1sk": f"2026-12-01T10:00:00Z#{OTHER_JOB}"}),  # two different jobs
        raw(HISTORY_KEY | {"pk": "JOB#../../x", "gsi1sk": "yesterday#../../x"}),
        raw(HISTORY_KEY | {"gsi1sk": f"2026-12-01#{JOB}"}),  # not the index's time format
        raw(HISTORY_KEY | {"pk": f"JOB#{JOB.upper()}", "gsi1sk": f"2026-12-01T10:00:00Z#{JOB.upper()}"}),
    ],
)
def test_anything_but_our_own_key_is_refused(cursor):
    with pytest.raises(InvalidCursor, match="The cursor is not valid"):
        decode_cursor(cursor, partition="USER#alice", shape=USER_JOBS)


def test_a_results_cursor_keeps_the_line_order_key_shape():
    for sort in (f"42#{JOB}", f"0000042#{JOB}", f"2026-12-01T10:00:00Z#{JOB}"):
        cursor = raw(ITEMS_KEY | {"gsi1sk": sort})
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, partition=f"BATCH#{BATCH}", shape=BATCH_ITEMS)
