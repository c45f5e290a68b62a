"""DynamoDB plumbing shared by the stores: value encoding, update expressions, conditional writes.

A cancelled transaction means one of two different things, and they must never be confused:
- a **failed condition** (`ConditionalCheckFailed` among the cancellation reasons): the state is
  not what the caller expected, an answer the caller acts on (a duplicate, a lost race);
- a **conflict** (`TransactionConflict`: another transaction touched one of the items at the same
  moment) or a throttle: nothing was decided, and the same write is simply tried again.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, cast

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

# Reasons that decide nothing: the write is repeated. (Single-item writes answer a conflict with
# TransactionConflictException, transactions with TransactionCanceledException + a reason.)
_TRANSIENT_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
_TRANSIENT_CODES = frozenset({"TransactionConflictException"})
WRITE_ATTEMPTS = 6


def ddb_value(value: Any) -> dict[str, Any]:
    """Python value -> DynamoDB attribute value (floats become Decimals via a JSON round trip)."""
    return cast(dict[str, Any], _serializer.serialize(json.loads(json.dumps(value), parse_float=Decimal)))


def decimal_value(amount: Decimal) -> dict[str, Any]:
    """An exact amount (credits, dollars) as a DynamoDB number: plain digits, never a float."""
    return {"N": format(amount.normalize(), "f")}


def values(**named: Any) -> dict[str, Any]:
    return {f":{k}": ddb_value(v) for k, v in named.items()}


def plain_item(item: dict[str, Any]) -> dict[str, Any]:
    def norm(v: Any) -> Any:
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() else float(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return {k: norm(_deserializer.deserialize(v)) for k, v in item.items()}


def update_clauses(
    fields: Iterable[str], encoded: dict[str, Any]
) -> tuple[list[str], list[str], dict[str, Any], dict[str, Any]]:
    """SET `#f<i> = :v<i>` for each field with a value in `encoded`, REMOVE `#f<i>` for each None.

    Returns (set clauses, remove clauses, attribute names, attribute values) for the caller to extend.
    """
    sets, removes, names, vals = [], [], {}, {}
    for i, field in enumerate(fields):
        names[f"#f{i}"] = field
        if encoded.get(field) is None:
            removes.append(f"#f{i}")
        else:
            sets.append(f"#f{i} = :v{i}")
            vals[f":v{i}"] = ddb_value(encoded[field])
    return sets, removes, names, vals


def update_expression(sets: list[str], removes: list[str]) -> str:
    parts = []
    if sets:
        parts.append("SET " + ", ".join(sets))
    if removes:
        parts.append("REMOVE " + ", ".join(removes))
    return " ".join(parts)


class ConditionFailed(Exception):
    """A conditional write found the state other than expected.

    `reasons[i]` is the cancellation code of the i-th item of a transaction (one entry for a
    single-item write), so a caller can tell which condition failed.
    """

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"condition failed: {reasons}")
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def cancellation_reasons(error: ClientError) -> list[str]:
    return [r.get("Code") or "None" for r in error.response.get("CancellationReasons", [])]


def is_condition_failure(error: ClientError) -> bool:
    """True only for a failed condition, never for a conflict or a throttle (those decide nothing)."""
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    return code == "TransactionCanceledException" and "ConditionalCheckFailed" in cancellation_reasons(error)


def _transient(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code in _TRANSIENT_CODES:
        return True
    if code != "TransactionCanceledException":
        return False
    reasons = set(cancellation_reasons(error)) - {"None"}
    return bool(reasons) and reasons <= _TRANSIENT_REASONS


class Writer:
    """Runs conditional writes: failed conditions become ConditionFailed, conflicts are retried."""

    def __init__(
        self,
        client: Any,
        *,
        attempts: int = WRITE_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        # SystemRandom: stateless, so copies restored from one SnapStart snapshot do not retry in step.
        self._attempts, self._sleep, self._rng = attempts, sleep, rng or random.SystemRandom()

    def transact(self, items: list[dict[str, Any]]) -> None:
        self._run(lambda: self.client.transact_write_items(TransactItems=items))

    def update(self, **request: Any) -> dict[str, Any]:
        return self._run(lambda: self.client.update_item(**request))

    def put(self, **request: Any) -> dict[str, Any]:
        return self._run(lambda: self.client.put_item(**request))

    def delete(self, **request: Any) -> dict[str, Any]:
        return self._run(lambda: self.client.delete_item(**request))

    def _run(self, write: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        for attempt in range(self._attempts):
            try:
                return write()
            except ClientError as error:
                if is_condition_failure(error):
                    reasons = cancellation_reasons(error) or ["ConditionalCheckFailed"]
                    raise ConditionFailed(reasons) from error
                if not _transient(error) or attempt == self._attempts - 1:
                    raise
                # Full jitter: two writers that collided must not collide again in step.
                self._sleep(self._rng.uniform(0, min(0.5, 0.02 * 2**attempt)))
        raise AssertionError("unreachable")  # pragma: no cover
