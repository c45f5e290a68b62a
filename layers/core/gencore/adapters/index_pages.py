"""Pages of the UserJobs index, and their cursors: a Query's LastEvaluatedKey, opaque to the caller.

A cursor comes back from outside, so it is checked before DynamoDB sees it: DynamoDB answers an
empty or oversized key value with a 400 (which moto does not), and a key of another partition
would page through somebody else's items. Three kinds of page share the index, each with its own
key shape (adapters/job_keys.py, `index_keys`; adapters/batch_store.py):

- a user's history:  gsi1pk USER#<user>,    gsi1sk <created>#<job>,  pk JOB#<job> / JOB
- a user's batches:  gsi1pk BATCHES#<user>, gsi1sk <created>#<batch>, pk BATCH#<batch> / BATCH
- a batch's items:   gsi1pk BATCH#<batch>,  gsi1sk <line:06d>#<job>,  pk JOB#<job> / JOB
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, NamedTuple

from gencore.domain.errors import InvalidCursor

MAX_CURSOR_CHARS = 1024
_UUID = r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
_ISO_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"
_KEY_NAMES = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


class KeyShape(NamedTuple):
    """What a page's keys look like: the item's pk (the id in group 1), its sk, and the index's sort
    key (the same id in group 1)."""

    pk: re.Pattern[str]
    sk: str
    sort: re.Pattern[str]


USER_JOBS = KeyShape(re.compile(rf"JOB#({_UUID})"), "JOB", re.compile(rf"{_ISO_TIME}#({_UUID})"))
USER_BATCHES = KeyShape(re.compile(rf"BATCH#({_UUID})"), "BATCH", re.compile(rf"{_ISO_TIME}#({_UUID})"))
BATCH_ITEMS = KeyShape(re.compile(rf"JOB#({_UUID})"), "JOB", re.compile(rf"\d{{6}}#({_UUID})"))


def read_page(
    db: Any,
    table: str,
    partition: str,
    shape: KeyShape,
    *,
    limit: int,
    cursor: str | None,
    newest_first: bool,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a UserJobs partition (the items as DynamoDB gives them) and the next page's cursor."""
    query: dict[str, Any] = {
        "TableName": table,
        "IndexName": "UserJobs",
        "KeyConditionExpression": "gsi1pk = :p",
        "ExpressionAttributeValues": {":p": {"S": partition}},
        "ScanIndexForward": not newest_first,
        "Limit": limit,
    }
    if cursor:
        query["ExclusiveStartKey"] = decode_cursor(cursor, partition=partition, shape=shape)
    result = db.query(**query)
    return result["Items"], encode_cursor(result.get("LastEvaluatedKey"))


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """A Query's LastEvaluatedKey (string attributes) as an opaque cursor; None on the last page."""
    if not last_key:
        return None
    plain = {k: v["S"] for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, partition: str, shape: KeyShape) -> dict[str, Any]:
    """The ExclusiveStartKey a cursor of ours stands for, or InvalidCursor.

    Every value is checked, not only its type: the index partition must be the one being paged (a
    cursor only pages through the items it was made for), and the item's key and the sort key must
    both be of the page's shape and name the same item.
    """
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("The cursor is not valid")
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor("The cursor is not valid") from error
    if (
        not isinstance(plain, dict)
        or set(plain) != _KEY_NAMES
        or not all(isinstance(v, str) for v in plain.values())
        or plain["gsi1pk"] != partition
        or plain["sk"] != shape.sk
    ):
        raise InvalidCursor("The cursor is not valid")
    item, order = shape.pk.fullmatch(plain["pk"]), shape.sort.fullmatch(plain["gsi1sk"])
    if not item or not order or item.group(1) != order.group(1):
        raise InvalidCursor("The cursor is not valid")
    return {k: {"S": v} for k, v in plain.items()}
