"""Batch use cases of the public API: accept a batch, read it, list them, read its results, cancel.

Accepting checks every line first, the way a single job's accept checks it (the request's rules,
the plan's caps, the content policy, the sources being the caller's) and estimates it. Nothing is
started unless the batch as a whole is accepted: with refused lines it is refused with a report of
each (unless `skip_invalid`), and its whole estimate is reserved against the caller's budget in
the write that stores it (402 `budget_exceeded` otherwise). The checked items go to the items file,
each with everything its job needs (its seed too), and the batch worker makes the jobs from it
(domain/fanout.py).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from .admission import Admission
from .batch_ports import BatchFiles, BatchQueue, BatchStore
from .batch_records import Batch, BatchStatus, item_line, items_key, new_batch_id
from .batches import (
    MANIFEST_MAX_BYTES,
    BatchRequest,
    CheckedLine,
    LineProblem,
    LinesReport,
    check_lines,
)
from .errors import (
    BatchInvalid,
    BatchNotFound,
    DomainError,
    InvalidRequest,
    NotCancellable,
    TransitionConflict,
)
from .ledger import decimal_text
from .models import Job
from .parameters import job_seed
from .plans import Plan
from .policy import IDEMPOTENCY_KEY_TTL_SECONDS, Clock, epoch
from .ports import UploadBucket
from .sources import Sources
from .uploads import Uploads

log = logging.getLogger(__name__)


class Batches:
    def __init__(
        self,
        store: BatchStore,
        files: BatchFiles,
        queue: BatchQueue,
        sources: Sources,
        uploads: Uploads,
        upload_bucket: UploadBucket,
        clock: Clock,
        *,
        admission: Admission | None = None,
        model_names: Callable[[str | None], str | None] = lambda model_id: None,
    ) -> None:
        self._store, self._files, self._queue = store, files, queue
        self._sources, self._uploads, self._bucket = sources, uploads, upload_bucket
        self._clock, self._admission, self._model_names = clock, admission, model_names

    # --- accept ----------------------------------------------------------------------------------
    def create(
        self, user_id: str, request: BatchRequest, *, idempotency_key: str | None = None,
        plan: str | None = None,
    ) -> tuple[Batch, bool]:  # fmt: skip
        """Accept a batch: (batch, True), or (the original batch, False) for a repeated key."""
        now = self._clock()
        dedupe_key = (
            "batch-idem:" + hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()
            if idempotency_key
            else None
        )
        plan_of = self._admission.admit_batch(user_id, plan) if self._admission else None
        batch_id = new_batch_id()
        key = items_key(user_id, batch_id)
        report, total = LinesReport(), Decimal(0)

        def checked_items() -> Iterator[str]:
            nonlocal total
            for outcome in check_lines(self._lines(user_id, request)):
                item = self._item(user_id, plan_of, outcome) if isinstance(outcome, CheckedLine) else outcome
                report.add(item if isinstance(item, LineProblem) else None)
                if isinstance(item, LineProblem):
                    continue
                total += Decimal(item["estimate"] or 0)
                yield json.dumps(item, separators=(",", ":"))

        self._files.write_lines(key, checked_items())
        try:
            self._refuse_if_invalid(report, request.skip_invalid)
        except BatchInvalid:
            self._files.delete(key)
            raise
        charge = self._admission.reserve(total, now) if self._admission and plan_of else None
        batch = Batch(
            id=batch_id, user_id=user_id, name=request.name, plan=plan_of.name if plan_of else None,
            items=report.valid, skipped=report.invalid, counts={}, items_key=key,
            charge=charge, unit=charge.unit if charge else "CREDITS",
            reserved=decimal_text(total), unassigned=decimal_text(total),
            deadline_at=epoch(now) + hours * 3600 if (hours := request.complete_within_hours) else None,
            created_at=now, updated_at=now, idempotency_key_hash=dedupe_key,
            request_hash=request_hash(request),
        )  # fmt: skip
        try:
            existing = self._store.create_batch(
                batch, dedupe_key=dedupe_key, dedupe_expires_at=epoch(now) + IDEMPOTENCY_KEY_TTL_SECONDS,
                budget=plan_of.budget if plan_of else None,
            )  # fmt: skip
        except DomainError:
            self._files.delete(key)  # refused (over budget): nothing of it stays
            raise
        if existing is not None:
            self._files.delete(key)
            if existing.request_hash != batch.request_hash:
                raise InvalidRequest(
                    "Idempotency-Key was already used with a different batch", code="idempotency_key_reused"
                )
            return existing, False
        try:
            self._queue.send(batch.id)
        except Exception:  # stored and due: the reconciler's batch check sends it again
            log.exception(
                "batch fan-out enqueue failed; the reconciler will resend", extra={"batch_id": batch.id}
            )
        log.info(
            "batch accepted", extra={"batch_id": batch.id, "items": batch.items, "skipped": batch.skipped}
        )
        return batch, True

    def _lines(self, user_id: str, request: BatchRequest) -> Iterable[str | dict[str, Any]]:
        if request.items is not None:
            return request.items
        assert request.manifest_upload_id is not None
        upload = self._uploads.usable(user_id, request.manifest_upload_id, purpose="batch_manifest")
        return self._bucket.lines(upload.key, max_bytes=MANIFEST_MAX_BYTES)  # streamed, line by line

    def _item(self, user_id: str, plan: Plan | None, line: CheckedLine) -> dict[str, Any] | LineProblem:
        """A checked line as the items file keeps it, or why a single job's accept would refuse it."""
        model = line.model
        try:
            source = self._sources.check_images(user_id, model)
            estimate = (
                self._admission.check_item(plan, line.kind, line.request)
                if self._admission and plan
                else None
            )
        except DomainError as refused:
            return LineProblem(line.line, line.custom_id, refused.code, refused.message)
        seed = job_seed(model.seed)
        return item_line(
            line=line.line, custom_id=line.custom_id, kind=line.kind, request=line.request, source=source,
            seed=seed, estimate=estimate, model_name=self._model_names(model.model_id),
        )  # fmt: skip

    @staticmethod
    def _refuse_if_invalid(report: LinesReport, skip_invalid: bool) -> None:
        if report.too_many_lines or (report.invalid and not skip_invalid) or report.valid == 0:
            listed = (
                ""
                if report.invalid <= len(report.problems)
                else f" (the first {len(report.problems)} listed)"
            )
            raise BatchInvalid(
                f"{report.invalid} of {report.valid + report.invalid} lines are refused{listed}"
                + ("" if report.valid else "; no line is valid"),
                lines=report.as_details(),
            )

    # --- read ------------------------------------------------------------------------------------
    def get(self, user_id: str, batch_id: str) -> Batch:
        batch = self._store.get_batch(batch_id)
        if batch is None or batch.user_id != user_id:
            raise BatchNotFound("No such batch")
        return batch

    def list(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[builtins.list[Batch], str | None]:
        return self._store.list_batches(user_id, limit=limit, cursor=cursor)

    def results(
        self, user_id: str, batch_id: str, *, limit: int, cursor: str | None
    ) -> tuple[Batch, builtins.list[Job], str | None]:
        """A page of the batch's items in line order (those made so far: partial while running)."""
        batch = self.get(user_id, batch_id)
        jobs, next_cursor = self._store.items(batch_id, limit=limit, cursor=cursor)
        return batch, jobs, next_cursor

    # --- cancel ----------------------------------------------------------------------------------
    def cancel(self, user_id: str, batch_id: str) -> Batch:
        """Stop the batch: no more items are made, waiting items are cancelled (their reservations
        released) by the batch worker; items already at Leonardo finish. Repeats answer the same;
        an ended batch is 409 `not_cancellable`."""
        batch = self.get(user_id, batch_id)
        if batch.status == BatchStatus.RUNNING:
            try:
                batch = self._store.set_status(batch, BatchStatus.CANCELLING, now=self._clock())
            except TransitionConflict:
                batch = self.get(user_id, batch_id)
        if batch.status == BatchStatus.COMPLETE:
            raise NotCancellable("The batch has ended")
        if batch.status == BatchStatus.CANCELLING:
            try:
                self._queue.send(batch.id, action="cancel")
            except Exception:  # the reconciler's batch check sends it again
                log.exception("batch cancel enqueue failed", extra={"batch_id": batch.id})
        return batch


def request_hash(request: BatchRequest) -> str:
    """What an Idempotency-Key's repeat must match: the request as sent (a manifest by its upload)."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
