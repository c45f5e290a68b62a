"""The paid POST's writes on the job store: the concurrency slot, the durable note that a POST may
have created a generation (with the request lock), and the record of the generation it did create.

Each is fenced on the slot claim of the submitter that makes it (see docs/architecture.md, "The
paid POST"); DynamoJobStore mixes this in, so the store stays one object behind the JobStore port.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gencore.adapters.ddb import ConditionFailed, Writer
from gencore.adapters.ddb import values as _values
from gencore.adapters.job_keys import due_shard, job_key, lock_key, semaphore_key
from gencore.domain.errors import GenerationTaken, IdenticalRequestInFlight, TransitionConflict
from gencore.domain.models import Cost, Job, JobStatus
from gencore.domain.policy import IMAGE
from gencore.domain.ports import PoolOf, SlotClaim


class SubmissionWrites:
    """Mixed into DynamoJobStore: uses its client, table, writer, `get` and `_update_for`."""

    _db: Any
    _table: str
    _writer: Writer

    def get(self, job_id: str) -> Job | None:  # pragma: no cover - provided by DynamoJobStore
        raise NotImplementedError

    def _update_for(
        self, job: Job, updates: dict[str, Any], *, release: bool, fence: bool = False
    ) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - provided by DynamoJobStore

    def _charged(self, job: Job, updates: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError  # pragma: no cover - provided by DynamoJobStore

    def _ledger_updates(self, job: Job, updates: dict[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError  # pragma: no cover - provided by DynamoJobStore

    def _written(self, job: Job, updates: dict[str, Any]) -> Job:
        raise NotImplementedError  # pragma: no cover - provided by DynamoJobStore

    def claim_slot(self, job_id: str, *, pools: PoolOf, now: datetime, lease_seconds: int) -> SlotClaim:
        job = self.get(job_id)
        if job is None or job.status != JobStatus.QUEUED:
            return SlotClaim(granted=False, job=job)
        pool, cap = pools(job)
        stamp = now.isoformat()
        # While a slot is held the job is looked at again once the lease has run out (a crashed
        # submitter), whichever partition it waited in.
        due_at, shard = int(now.timestamp()) + lease_seconds, due_shard(job_id, JobStatus.QUEUED)
        held = {"slot_acquired_at": now, "due_at": due_at}
        if job.slot_held:
            held_since = job.slot_acquired_at
            if held_since and (now - held_since).total_seconds() <= lease_seconds:
                return SlotClaim(granted=False, job=job)
            # The previous submitter's lease expired (it crashed): take the slot over, keep the count.
            try:
                self._writer.update(
                    TableName=self._table,
                    Key=job_key(job_id),
                    UpdateExpression="SET slot_acquired_at = :now, submit_attempts = submit_attempts + :one, "
                    "due_at = :due, due_pk = :shard",
                    ConditionExpression="#s = :queued AND slot_acquired_at = :old",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=_values(
                        now=stamp,
                        one=1,
                        queued="QUEUED",
                        old=held_since.isoformat() if held_since else "",
                        due=due_at,
                        shard=shard,
                    ),
                )
            except ConditionFailed:
                return SlotClaim(granted=False, job=self.get(job_id))
            return SlotClaim(granted=True, job=job.model_copy(update=held))
        try:
            self._writer.transact(
                [
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": semaphore_key(pool),
                            "UpdateExpression": "ADD in_flight :one",
                            "ConditionExpression": "attribute_not_exists(in_flight) OR in_flight < :max",
                            "ExpressionAttributeValues": _values(one=1, max=cap),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": job_key(job_id),
                            "UpdateExpression": "SET slot_held = :t, slot_acquired_at = :now, "
                            "slot_pool = :pool, submit_attempts = submit_attempts + :one, due_at = :due, "
                            "due_pk = :shard",
                            "ConditionExpression": "#s = :queued AND attribute_not_exists(slot_held)",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": _values(
                                t=True, now=stamp, pool=pool, one=1, queued="QUEUED", due=due_at, shard=shard
                            ),
                        }
                    },
                ]
            )
        except ConditionFailed as failed:
            if failed.failed(0) and not failed.failed(1):
                return SlotClaim(granted=False, job=job)  # cap reached
            return SlotClaim(granted=False, job=self.get(job_id))
        return SlotClaim(
            granted=True, job=job.model_copy(update=held | {"slot_held": True, "slot_pool": pool})
        )

    def begin_post(
        self, job: Job, *, now: datetime, fingerprint: str, lock_expires_at: int, due_at: int | None = None
    ) -> Job:
        """Record, before the paid POST leaves, that it may create a generation from now on.

        Fenced on the caller's own claim (a submitter whose lease was taken over cannot write), and
        in the same transaction the request lock: no other job may have an identical-looking POST
        unanswered at the same time, so whatever the later lookup finds is this job's own.
        """
        updates: dict[str, Any] = {"submit_uncertain_since": now, "post_fingerprint": fingerprint}
        if due_at is not None:
            updates["due_at"] = due_at
        update = self._update_for(job, updates, release=False, fence=True)
        steal_from: str | None = None
        for _ in range(3):
            condition = "attribute_not_exists(pk) OR job_id = :me OR expires_at < :now"
            lock_values = _values(me=job.id, now=int(now.timestamp()))
            if steal_from:
                condition, lock_values = "job_id = :holder", _values(holder=steal_from)
            lock = {
                "Put": {
                    "TableName": self._table,
                    "Item": lock_key(fingerprint)
                    | {"job_id": {"S": job.id}, "expires_at": {"N": str(lock_expires_at)}},
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": lock_values,
                }
            }
            try:
                self._writer.transact([{"Update": update}, lock])
                return job.model_copy(update=updates)
            except ConditionFailed as failed:
                if failed.failed(0):
                    raise TransitionConflict(f"job {job.id} is no longer held by this submitter") from failed
            holder = self._lock_holder(fingerprint)
            if holder is None:
                steal_from = None
                continue
            if self._holds_request_lock(holder, fingerprint):
                raise IdenticalRequestInFlight(f"job {holder} has an identical request unanswered")
            steal_from = holder  # the holder resolved its POST without letting go (a crash): take it over
        raise IdenticalRequestInFlight(f"the request lock for job {job.id} kept changing")

    def end_uncertainty(self, job: Job) -> Job:
        """The POST was refused for sure (429, 4xx, never sent): nothing was created."""
        updates = {"submit_uncertain_since": None, "post_fingerprint": None}
        try:
            self._writer.update(**self._update_for(job, updates, release=False, fence=True))
        except ConditionFailed as failed:
            raise TransitionConflict(f"job {job.id} is no longer held by this submitter") from failed
        self.release_request_lock(job)
        return job.model_copy(update=updates)

    def release_request_lock(self, job: Job) -> None:
        """Best effort: a lock left behind is taken over once its job has moved on."""
        if not job.post_fingerprint:
            return
        # ClientError too: any failure leaves a lock that is taken over once its job has moved on.
        with contextlib.suppress(ConditionFailed, ClientError):
            self._writer.delete(
                TableName=self._table,
                Key=lock_key(job.post_fingerprint),
                ConditionExpression="job_id = :me",
                ExpressionAttributeValues=_values(me=job.id),
            )

    def _lock_holder(self, fingerprint: str) -> str | None:
        item = self._db.get_item(TableName=self._table, Key=lock_key(fingerprint), ConsistentRead=True)
        return item["Item"]["job_id"]["S"] if "Item" in item else None

    def _holds_request_lock(self, job_id: str, fingerprint: str) -> bool:
        """A lock is live while its job still waits to learn what its POST did."""
        holder = self.get(job_id)
        return bool(
            holder
            and holder.status == JobStatus.QUEUED
            and holder.submit_uncertain_since
            and holder.post_fingerprint == fingerprint
        )

    def generation_owner(self, generation_id: str) -> str | None:
        key = {"pk": {"S": f"GEN#{generation_id}"}, "sk": {"S": "GEN"}}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return item["job_id"]["S"] if item else None

    def mark_submitted(
        self,
        job: Job,
        *,
        generation_id: str,
        cost: Cost | None,
        now: datetime,
        due_at: int,
        pool: str = IMAGE,
    ) -> Job:
        updates = {
            "status": JobStatus.SUBMITTED,
            "generation_id": generation_id,
            "cost": cost,
            "updated_at": now,
            "due_at": due_at,
            "submitted_at": now,
            "checks": 0,  # the QUEUED re-send backoff is over; polling starts its own count
            "submit_uncertain_since": None,
            "post_fingerprint": None,
        }
        mapping = {
            "pk": {"S": f"GEN#{generation_id}"},
            "sk": {"S": "GEN"},
            "job_id": {"S": job.id},
            "user_id": {"S": job.user_id},
        }
        if not job.slot_held:
            # An unresolved POST found while waiting for a slot: its generation is running at
            # Leonardo, so it counts against the cap from now on, whatever the count says.
            updates |= {"slot_held": True, "slot_acquired_at": now, "slot_pool": pool}
        updates = self._charged(job, updates)  # settled at the cost Leonardo reported, if it did
        update = self._update_for(job, updates, release=False, fence=True)
        items = [
            {"Update": update},
            {
                "Put": {
                    "TableName": self._table,
                    "Item": mapping,
                    # one job per generation: never adopt a generation another job owns
                    "ConditionExpression": "attribute_not_exists(pk) OR job_id = :job",
                    "ExpressionAttributeValues": {":job": {"S": job.id}},
                }
            },
        ]
        if not job.slot_held:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": semaphore_key(pool),
                        "UpdateExpression": "ADD in_flight :one",
                        "ExpressionAttributeValues": _values(one=1),
                    }
                }
            )
        items += self._ledger_updates(job, updates)  # unconditional: they never cancel the write
        lock = None
        if job.post_fingerprint:  # let go of the request lock in the same write (if still ours)
            lock = {
                "Delete": {
                    "TableName": self._table,
                    "Key": lock_key(job.post_fingerprint),
                    "ConditionExpression": "attribute_not_exists(pk) OR job_id = :job",
                    "ExpressionAttributeValues": {":job": {"S": job.id}},
                }
            }
            items.append(lock)
        while True:
            try:
                self._writer.transact(items)
                return self._written(job, updates)
            except ConditionFailed as failed:
                if failed.failed(1) and not failed.failed(0):
                    raise GenerationTaken(f"generation {generation_id} belongs to another job") from failed
                if failed.failed(0) or lock is None or lock not in items:
                    message = f"job {job.id} is no longer {job.status} as read"
                    raise TransitionConflict(message) from failed
                # The lock was taken over (it had expired): record the submission without it.
                items.remove(lock)
