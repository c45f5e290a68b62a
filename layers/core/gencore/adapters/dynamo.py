"""DynamoDB single-table job store. Every state change is a conditional write (through `Writer`).

The paid POST's writes (slot claim, durable uncertainty, request lock, the generation's record)
are in `submission.py`, the waiting line's in `waiting_line.py`, what rides in a job write's own
transaction (the ledger, the waiting count, the completion outbox) in `job_side_items.py`; item keys
and due-index partitions in `job_keys.py`; pages of the UserJobs index and their cursors in
`index_pages.py`.

Items (pk / sk):
- JOB#<id> / JOB           the job; UserJobs index (gsi1pk=USER#<sub>, gsi1sk=<created>#<id>);
                           DueJobs index (due_pk, due_at) only while not terminal (sparse), in one of
                           three kinds of partition: DUE#P<n> (poll at due_at), DUE#Q<n> (re-send the
                           submit at due_at) and DUE#L, DUE#L#video (the waiting line of each of
                           Leonardo's pools: no message, no recheck, due_at = the job's turn; woken
                           lowest turn first when a slot of that pool frees up)
- LINE#HEAD / LINE, LINE#USER#<user> / LINE   the image line's turns (adapters/waiting_line.py);
                           LINE#HEAD#video / LINE, LINE#USER#<user> / LINE#video the video line's
                           A batch's items are indexed by batch instead (gsi1pk=BATCH#<id>, gsi1sk=its
                           line): results in manifest order, and no flood of items in the user's history
- BATCH#<id> / BATCH       a batch (adapters/batch_store.py); its counters move in its items' writes
- GEN#<generation> / GEN   Leonardo generation id -> job id (for webhooks and polling)
- DEDUPE#<key> / DEDUPE    double-click / Idempotency-Key entry, expires_at = TTL
- SEMAPHORE#leonardo / SEMAPHORE   in_flight counter: generations holding a Leonardo slot (the
                           image pool; SEMAPHORE#leonardo#video a video pool of its own, if configured)
- REQLOCK#<fingerprint> / REQLOCK  the one job whose paid POST of that request (as Leonardo echoes
                           it) may have gone out unanswered: two such POSTs could not be told apart
- LEDGER#<user> / DAY#<day>, MONTH#<month>  the credit ledger (adapters/ledger.py): every write that
                           changes a job's charge (domain/ledger.py) updates them in the same transaction
- OUTBOX#<event_id> / OUTBOX   a job's completion event (adapters/outbox.py), put in the transaction of
                           the write that ends the job; pending while in DueJobs under OUTBOX#<n>
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gencore.adapters.ddb import (
    ConditionFailed,
    Writer,
    ddb_value,
    plain_item,
    update_clauses,
    update_expression,
)
from gencore.adapters.ddb import is_condition_failure as is_condition_failure  # re-exported for uploads
from gencore.adapters.ddb import values as _values
from gencore.adapters.due_index import oldest_due
from gencore.adapters.index_pages import USER_JOBS, read_page
from gencore.adapters.job_keys import (
    SEMAPHORE_KEY,
    due_shard,
    index_keys,
    job_key,
    partitions,
    semaphore_key,
    user_jobs_partition,
)
from gencore.adapters.job_side_items import ChargeObserver, SideItems
from gencore.adapters.ledger import PERIODS, reservation_updates
from gencore.adapters.submission import SubmissionWrites
from gencore.adapters.waiting_line import LineWrites
from gencore.domain.errors import TooManyWaiting, TransitionConflict
from gencore.domain.events import SAFETY_NET_DELAY_SECONDS, CompletionEvent
from gencore.domain.ledger import Pricing
from gencore.domain.models import TRANSITIONS, Job, JobStatus
from gencore.domain.plans import Budget
from gencore.domain.policy import IMAGE
from gencore.domain.ports import Page

_JOB_FIELDS = set(Job.model_fields)
_ddb, _plain = ddb_value, plain_item
__all__ = ["SEMAPHORE_KEY", "ChargeObserver", "DynamoJobStore", "is_condition_failure", "plain_item"]

log = logging.getLogger(__name__)


class DynamoJobStore(SideItems, LineWrites, SubmissionWrites):  # the mixins before the stubs they fill
    def __init__(
        self, client: Any, table: str, *, writer: Writer | None = None, pricing: Pricing | None = None,
        on_charge: ChargeObserver | None = None, on_event: Callable[[CompletionEvent], None] | None = None,
        event_delay_seconds: int = SAFETY_NET_DELAY_SECONDS,
        on_item_ended: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self._db = client
        self._table = table
        self._writer = writer or Writer(client)
        self._pricing = pricing or Pricing()
        self._on_charge = on_charge  # the cost log line and metrics (gencore/spend_log.py)
        self._on_event = on_event  # publishes a completion event once its write committed (the fast path)
        self._event_delay = event_delay_seconds  # the fast path's head start over the safety net
        self._on_item_ended = on_item_ended  # a batch item ended: its batch may be finished (by id)

    # --- reads -------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        item = self._db.get_item(TableName=self._table, Key=job_key(job_id), ConsistentRead=True).get("Item")
        return self._to_job(item) if item else None

    def job_for_generation(self, generation_id: str) -> Job | None:
        key = {"pk": {"S": f"GEN#{generation_id}"}, "sk": {"S": "GEN"}}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return self.get(item["job_id"]["S"]) if item else None

    def list_for_user(self, user_id: str, *, limit: int, cursor: str | None) -> Page:
        partition = user_jobs_partition(user_id)
        items, last = read_page(
            self._db, self._table, partition, USER_JOBS, limit=limit, cursor=cursor, newest_first=True
        )
        return Page(jobs=[self._to_job(item) for item in items], next_cursor=last)

    def due_job_ids(self, *, now: int, limit: int) -> list[str]:
        """Up to `limit` overdue jobs, most overdue first: jobs to poll before jobs to re-submit."""
        ids: list[str] = []
        for kind in ("P", "Q"):
            ids.extend(self._oldest(partitions(kind), limit=limit - len(ids), until=now))
            if len(ids) >= limit:
                break
        return ids

    def _oldest(self, parts: list[str], *, limit: int, until: int | None = None) -> list[str]:
        """The ids of the jobs with the `limit` lowest due_at in some DueJobs partitions (at most
        `until`), lowest first (adapters/due_index.py)."""
        entries = oldest_due(self._db, self._table, parts, limit=limit, until=until)
        return [entry["pk"]["S"].removeprefix("JOB#") for entry in entries]

    def in_flight(self, pool: str = IMAGE) -> int:
        item = self._db.get_item(TableName=self._table, Key=semaphore_key(pool), ConsistentRead=True).get(
            "Item"
        )
        return int(item["in_flight"]["N"]) if item and "in_flight" in item else 0

    # --- writes ------------------------------------------------------------------------------
    def create(
        self,
        job: Job,
        *,
        dedupe_key: str,
        dedupe_expires_at: int,
        replace_job_id: str | None = None,
        budget: Budget | None = None,
        max_waiting: int | None = None,
    ) -> Job | None:
        dedupe_item_key = {"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "DEDUPE"}}
        now = int(job.created_at.timestamp())
        charge = job.charge
        reservation = (
            reservation_updates(self._table, job.user_id, charge, budget, plan=job.plan) if charge else []
        )
        counting = [self._count_waiting(job.user_id, +1, cap=max_waiting)] if job.waiting_counted else []
        for _ in range(4):
            condition = "attribute_not_exists(pk) OR expires_at < :now"
            values = _values(now=now)
            if replace_job_id:
                condition += " OR job_id = :replace"
                values |= _values(replace=replace_job_id)
            dedupe_item = dedupe_item_key | {
                "job_id": {"S": job.id},
                "expires_at": {"N": str(dedupe_expires_at)},
            }
            try:
                self._writer.transact(
                    [
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": dedupe_item,
                                "ConditionExpression": condition,
                                "ExpressionAttributeValues": values,
                            }
                        },
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": self._to_item(job),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        *reservation,
                        *counting,
                    ]
                )
                if charge is not None:
                    self._charge_written(job, None, charge)
                return None
            except ConditionFailed as failed:
                if not failed.failed(0):
                    if over := [p for i, p in enumerate(PERIODS) if reservation and failed.failed(2 + i)]:
                        raise self._over_budget(job, over[0], budget) from failed
                    if counting and failed.failed(2 + len(reservation)):
                        raise TooManyWaiting(
                            f"You have {max_waiting} jobs waiting, as many as your plan allows; "
                            "send more when some have started"
                        ) from failed
                    raise
            holder = self._db.get_item(TableName=self._table, Key=dedupe_item_key, ConsistentRead=True)
            item = holder.get("Item")
            if item is None or int(item["expires_at"]["N"]) < now:
                continue  # the entry went away or expired since our write looked: try again
            existing = self.get(item["job_id"]["S"])
            if existing is not None:
                return existing
            replace_job_id = item["job_id"]["S"]  # an entry pointing at nothing: take it over
        raise TransitionConflict(f"dedupe entry {dedupe_key} kept changing")

    def transition(
        self,
        job: Job,
        to: JobStatus,
        *,
        now: datetime,
        release_slot: bool = False,
        due_at: int | None = None,
        **fields: object,
    ) -> Job:
        if to not in TRANSITIONS[job.status]:
            raise TransitionConflict(f"job {job.id} cannot move from {job.status} to {to}")
        unknown = set(fields) - _JOB_FIELDS
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        release = release_slot and job.slot_held
        updates: dict[str, Any] = {"status": to, "updated_at": now, "due_at": due_at, **fields}
        if release:
            updates |= {"slot_held": False, "slot_acquired_at": None, "slot_pool": None}
        updates = self._charged(job, updates)
        self._write(job, updates, release=release)
        if to.terminal:
            self.release_request_lock(job)
        return self._written(job, updates)

    def update(self, job: Job, *, now: datetime, **fields: object) -> Job:
        unknown = set(fields) - _JOB_FIELDS
        if unknown:
            raise ValueError(f"unknown job fields {sorted(unknown)}")
        updates: dict[str, Any] = self._charged(job, {"updated_at": now, **fields})
        self._write(job, updates, release=False)
        return self._written(job, updates)

    def cancel(self, job: Job, *, now: datetime, failure: tuple[str, str] | None = None) -> Job:
        updates: dict[str, Any] = {"status": JobStatus.CANCELLED, "updated_at": now, "due_at": None}
        if failure is not None:  # ended FAILED with this code and message, on the same terms
            updates |= {"status": JobStatus.FAILED, "error_code": failure[0], "error_message": failure[1]}
        updates = self._charged(job, updates)
        update = self._update_for(job, updates, release=False)
        # No submitter holds it and no POST of it may be unanswered: Leonardo cannot have it.
        update["ConditionExpression"] += (
            " AND attribute_not_exists(slot_held) AND attribute_not_exists(#uncertain)"
        )
        update["ExpressionAttributeNames"]["#uncertain"] = "submit_uncertain_since"
        event = self._completion(job, updates)
        try:
            self._writer.transact(
                [{"Update": update}, *self._ledger_updates(job, updates), *self._outbox(event)]
            )
        except ConditionFailed as failed:
            raise TransitionConflict(f"job {job.id} is held by a submitter or no longer QUEUED") from failed
        self._event_written(event)
        return self._written(job, updates)

    def release_slot(self, job: Job, *, now: datetime) -> Job:
        if not job.slot_held:
            return job
        released = {"slot_held": False, "slot_acquired_at": None, "slot_pool": None}
        updates = released | {"updated_at": now, "due_at": job.due_at}
        try:
            self._write(job, updates, release=True)
        except TransitionConflict:
            return self.get(job.id) or job
        return job.model_copy(update=updates)

    def reschedule(
        self,
        job: Job,
        *,
        due_at: int,
        checks: int | None = None,
        submit_token: int | None = None,
        recovered_at: datetime | None = None,
    ) -> None:
        names = {"#s": "status"}
        expression = "SET due_at = :due, due_pk = :shard"
        values = _values(due=due_at, shard=due_shard(job.id, job.status), status=str(job.status))
        if checks is not None:
            expression += ", checks = :checks"
            values |= _values(checks=checks)
        if submit_token is not None:
            expression += ", submit_token = :token"
            values |= _values(token=submit_token)
        if recovered_at is not None:
            expression += ", recovered_at = :recovered"
            values |= _values(recovered=recovered_at.isoformat())
        with contextlib.suppress(ConditionFailed):  # never put a job that moved on back in the index
            self._writer.update(
                TableName=self._table,
                Key=job_key(job.id),
                UpdateExpression=expression,
                ConditionExpression="#s = :status",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    # --- helpers -----------------------------------------------------------------------------
    def _write(self, job: Job, updates: dict[str, Any], *, release: bool) -> None:
        update = self._update_for(job, updates, release=release)
        items = [{"Update": update}, *self._ledger_updates(job, updates)]
        if release:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": semaphore_key(job.slot_pool or IMAGE),
                        "UpdateExpression": "ADD in_flight :minus",
                        "ConditionExpression": "in_flight > :zero",
                        "ExpressionAttributeValues": _values(minus=-1, zero=0),
                    }
                }
            )
        event = self._completion(job, updates)
        items += self._outbox(event)
        try:
            self._writer.transact(items)
        except ConditionFailed as failed:
            raise TransitionConflict(f"job {job.id} changed concurrently (expected {job.status})") from failed
        self._event_written(event)

    def _update_for(
        self, job: Job, updates: dict[str, Any], *, release: bool, fence: bool = False
    ) -> dict[str, Any]:
        """An Update conditioned on the job still being in the status (and slot state) we read.

        With `fence`, also on who may speak for the job's submission: the slot claim we hold (once a
        lease was taken over, the submitter that lost it can no longer write), or for a job without
        a slot, the unresolved POST we read (nobody resolved it meanwhile).
        """
        encoded = Job.model_validate(job.model_dump() | updates).model_dump(mode="json")
        if encoded.get("slot_held") is False:
            encoded["slot_held"] = None  # the flag exists only while a slot is held
        sets, removes, names, values = update_clauses(updates, encoded)
        names["#status"] = "status"
        values[":expected"] = _ddb(str(job.status))
        if "due_at" in updates:
            if updates["due_at"] is None:
                removes.append("due_pk")
            else:
                sets.append("due_pk = :shard")
                values[":shard"] = _ddb(due_shard(job.id, JobStatus(updates.get("status", job.status))))
        condition = "#status = :expected"
        if "charge" in updates and job.charge is not None:
            # The ledger moves with the charge: only the writer that saw its state may move it.
            names |= {"#charge": "charge", "#cstate": "state"}
            condition += " AND #charge.#cstate = :charge_state"
            values[":charge_state"] = _ddb(job.charge.state)
        if release:
            condition += " AND slot_held = :held"
            values[":held"] = _ddb(True)
        if fence and job.slot_held and job.slot_acquired_at:
            condition += " AND slot_acquired_at = :claim"
            values[":claim"] = _ddb(job.slot_acquired_at.isoformat())
        elif fence and not job.slot_held and job.submit_uncertain_since:
            names["#since"] = "submit_uncertain_since"
            condition += " AND attribute_not_exists(slot_held) AND #since = :since"
            values[":since"] = _ddb(job.model_dump(mode="json")["submit_uncertain_since"])
        elif fence:
            raise TransitionConflict(f"job {job.id} has neither a slot claim nor an unresolved POST")
        return {
            "TableName": self._table,
            "Key": job_key(job.id),
            "UpdateExpression": update_expression(sets, removes),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _to_item(self, job: Job) -> dict[str, Any]:
        data = job.model_dump(mode="json", exclude_none=True)
        if not job.slot_held:
            data.pop("slot_held", None)
        data |= {"pk": f"JOB#{job.id}", "sk": "JOB"} | index_keys(job, data["created_at"])
        if job.due_at is not None and not job.status.terminal:
            data["due_pk"] = due_shard(job.id, job.status)
        return {k: _ddb(v) for k, v in data.items()}

    @staticmethod
    def _to_job(item: dict[str, Any]) -> Job:
        data = _plain(item)
        return Job.model_validate({k: v for k, v in data.items() if k in _JOB_FIELDS})
