"""One job: show its record, or run the reconciler's check on it now instead of at its due time."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from ops.redact import redact
from ops.stack import REPO_ROOT, Stack

_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_plain(v) for v in value]
    return value


def _item(ddb: Any, table: str, pk: str, sk: str) -> dict | None:
    key = {"pk": {"S": pk}, "sk": {"S": sk}}
    item = ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()} if item else None


def show(ddb: Any, table: str, job_or_generation_id: str) -> dict | None:
    """The job item as stored, redacted; a Leonardo generation id (from webhook logs) works too."""
    item = _item(ddb, table, f"JOB#{job_or_generation_id}", "JOB")
    if item is None:
        mapping = _item(ddb, table, f"GEN#{job_or_generation_id}", "GEN")
        if mapping is not None:
            item = _item(ddb, table, f"JOB#{mapping['job_id']}", "JOB")
    return redact(item) if item is not None else None


def reconcile(stack: Stack, job_id: str) -> str:
    """Run Reconciler.check(job_id) in this process with the functions' environment.

    Variables already set in the shell win over the stack's, so one can point at another Leonardo
    or change MAX_JOB_AGE_SECONDS for one run. Returns the outcome (pending, recovered, resubmitted,
    timed_out, missing, busy or gone), as the scheduled reconciler would count it.
    """
    for name, value in stack.function_environment("ReconcilerFunction").items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "leonardo-backend-ops")
    wiring = _wiring()
    wiring.reset()  # settings and clients are cached: build them from the environment just set
    return wiring.reconciler().check(job_id)


def _wiring() -> Any:
    try:
        from gencore import wiring
    except ImportError:  # run from the repository root without PYTHONPATH: use the layer's source
        sys.path.insert(0, str(REPO_ROOT / "layers" / "core"))
        from gencore import wiring
    return wiring
