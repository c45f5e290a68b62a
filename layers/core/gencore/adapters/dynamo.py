"""DynamoDB single-table job store. Every state change is a conditional write.

Items (pk / sk):
- JOB#<id> / JOB           the job; UserJobs index (gsi1pk=USER#<sub>, gsi1sk=<created>#<id>);
                           DueJobs index (due_pk, due_at) only while not terminal (sparse), in one of
                           three kinds of partition: DUE#P<n> (poll at due_at), DUE#Q<n> (re-send the
                           submit at due_at) and DUE#L (the waiting line: no message, no recheck,
                           due_at = arrival; woken oldest first when a slot frees up)
- GEN#<generation> / GEN   Leonardo generation id -> job id (for webhooks and polling)
- DEDUPE#<key> / DEDUPE    double-click / Idempotency-Key entry, expires_at = TTL
- SEMAPHORE#leonardo / SEMAPHORE   in_flight counter: generations holding a Leonardo slot
- REQLOCK#<fingerprint> / REQLOCK  the one job whose paid POST of that request (as Leonardo echoes
                           it) may have gone out unanswered: two such POSTs could not be told apart
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import zlib
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

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
from gencore.domain.errors import GenerationTaken, IdenticalRequestInFlight, InvalidCursor, TransitionConflict
from gencore.domain.models import TRANSITIONS, Job, JobStatus
from gencore.domain.ports import Page, SlotClaim

DUE_SHARDS = 4  # spreads the sparse due index over a few partitions; the reconciler reads them all
SEMAPHORE_KEY = {"pk": {"S": "SEMAPHORE#leonardo"}, "sk": {"S": "SEMAPHORE"}}
_JOB_FIELDS = set(Job.model_fields)
_ddb, _plain = ddb_value, plain_item

# A cursor is our own LastEvaluatedKey of the UserJobs index. Anything else is refused before
# DynamoDB sees it: it answers an empty or oversized key value with a 400 (which moto does not).
_MAX_CURSOR_CHARS = 1024
_UUID = r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
_CURSOR_PK = re.compile(rf"JOB#({_UUID})")
_CURSOR_SORT = re.compile(
    rf"\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{1,6}})?(?:Z|[+-]\d{{2}}:\d{{2}})#({_UUID})"
)


def _job_key(job_id: str) -> dict:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}


def _lock_key(fingerprint: str) -> dict:
    return {"pk": {"S": f"REQLOCK#{fingerprint}"}, "sk": {"S": "REQLOCK"}}


def _due_shard(job_id: str, status: JobStatus) -> str:
    """DUE#Q<n> for QUEUED jobs (a submit to re-send), DUE#P<n> for jobs to poll at Leonardo.

    Kept apart so a backlog of waiting jobs can never crowd the polls out of a reconciler batch:
    a job to poll may hold a Leonardo slot that only its completion gives back.
    """
    kind = "Q" if status == JobStatus.QUEUED else "P"
    return f"DUE#{kind}{zlib.crc32(job_id.encode()) % DUE_SHARDS}"


# The waiting line: one partition, read (Limit a few) on every wake. Not sharded: it is written at
# most once per submit attempt, and Leonardo's concurrency cap keeps that far below what one
# partition takes. The reconciler never reads it; only a freed slot wakes a job.
LINE_PARTITION = "DUE#L"


def _partitions(kind: str) -> list[str]:
    return [LINE_PARTITION] if kind == "L" else [f"DUE#{kind}{shard}" for shard in range(DUE_SHARDS)]


class DynamoJobStore:
    def __init__(self, client: Any, table: str, *, writer: Writer | None = None) -> None:
        self._db = client
        self._table = table
        self._writer = writer or Writer(client)

    # --- reads -------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        item = self._db.get_item(TableName=self._table, Key=_job_key(job_id), ConsistentRead=True).get("Item")
        return self._to_job(item) if item else None

    def job_for_generation(self, generation_id: str) -> Job | None:
        key = {"pk": {"S": f"GEN#{generation_id}"}, "sk": {"S": "GEN"}}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        return self.get(item["job_id"]["S"]) if item else None

    def list_for_user(self, user_id: str, *, limit: int, cursor: str | None) -> Page:
        partition = f"USER#{user_id}"
        query: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "UserJobs",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": {":p": {"S": partition}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            query["ExclusiveStartKey"] = self._decode_cursor(cursor, partition)
        result = self._db.query(**query)
        last = result.get("LastEvaluatedKey")
        return Page(jobs=[self._to_job(i) for i in result["Items"]], next_cursor=self._encode_cursor(last))

    def due_job_ids(self, *, now: int, limit: int) -> list[str]:
        """Up to `limit` overdue jobs, most overdue first: jobs to poll before jobs to re-submit."""
        ids: list[str] = []
        for kind in ("P", "Q"):
            ids.extend(self._oldest(kind, limit=limit - len(ids), until=now))
            if len(ids) >= limit:
                break
        return ids

    def waiting_job_ids(self, *, limit: int) -> list[str]:
        """The first `limit` jobs of the waiting line, longest waiting first."""
        return self._oldest("L", limit=limit)

    def _oldest(self, kind: str, *, limit: int, until: int | None = None) -> list[str]:
        """The `limit` lowest due_at of one kind of DueJobs partition (at most `until`).

        Each shard answers its oldest and the answers are merged by due_at, so one busy shard
        cannot fill every batch and starve the others.
        """
        condition, values = "due_pk = :p", {}
        if until is not None:
            condition, values = condition + " AND due_at <= :until", {":until": {"N": str(until)}}
        found: list[tuple[int, str]] = []
        for partition in _partitions(kind):
            result = self._db.query(
                TableName=self._table,
                IndexName="DueJobs",
                KeyConditionExpression=condition,
                ExpressionAttributeValues={":p": {"S": partition}} | values,
                Limit=limit,
            )
            found.extend(
                (int(item["due_at"]["N"]), item["pk"]["S"].removeprefix("JOB#")) for item in result["Items"]
            )
        found.sort()
        return [job_id for _, job_id in found[:limit]]

    def in_flight(self) -> int:
        item = self._db.get_item(TableName=self._table, Key=SEMAPHORE_KEY, ConsistentRead=True).get("Item")
        return int(item["in_flight"]["N"]) if item and "in_flight" in item else 0

    # --- writes ------------------------------------------------------------------------------
    def create(
        self, job: Job, *, dedupe_key: str, dedupe_expires_at: int, replace_job_id: str | None = None
    ) -> Job | None:
        dedupe_item_key = {"pk": {"S": f"DEDUPE#{dedupe_key}"}, "sk": {"S": "DEDUPE"}}
        now = int(job.created_at.timestamp())
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
                    ]
                )
                return None
            except ConditionFailed as failed:
                if not failed.failed(0):
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

    def claim_slot(self, job_id: str, *, max_in_flight: int, now: datetime, lease_seconds: int) -> SlotClaim:
        job = self.get(job_id)
        if job is None or job.status != JobStatus.QUEUED:
            return SlotClaim(granted=False, job=job)
        stamp = now.isoformat()
        # While a slot is held the job is looked at again once the lease has run out (a crashed
        # submitter), whichever partition it waited in.
        due_at, shard = int(now.timestamp()) + lease_seconds, _due_shard(job_id, JobStatus.QUEUED)
        held = {"slot_acquired_at": now, "due_at": due_at}
        if job.slot_held:
            held_since = job.slot_acquired_at
            if held_since and (now - held_since).total_seconds() <= lease_seconds:
                return SlotClaim(granted=False, job=job)
            # The previous submitter's lease expired (it crashed): take the slot over, keep the count.
            try:
                self._writer.update(
                    TableName=self._table,
                    Key=_job_key(job_id),
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
                            "Key": SEMAPHORE_KEY,
                            "UpdateExpression": "ADD in_flight :one",
                            "ConditionExpression": "attribute_not_exists(in_flight) OR in_flight < :max",
                            "ExpressionAttributeValues": _values(one=1, max=max_in_flight),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _job_key(job_id),
                            "UpdateExpression": "SET slot_held = :t, slot_acquired_at = :now, "
                            "submit_attempts = submit_attempts + :one, due_at = :due, due_pk = :shard",
                            "ConditionExpression": "#s = :queued AND attribute_not_exists(slot_held)",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": _values(
                                t=True, now=stamp, one=1, queued="QUEUED", due=due_at, shard=shard
                            ),
                        }
                    },
                ]
            )
        except ConditionFailed as failed:
            if failed.failed(0) and not failed.failed(1):
                return SlotClaim(granted=False, job=job)  # cap reached
            return SlotClaim(granted=False, job=self.get(job_id))
        return SlotClaim(granted=True, job=job.model_copy(update=held | {"slot_held": True}))

    def begin_post(self, job: Job, *, now: datetime, fingerprint: str, lock_expires_at: int) -> Job:
        """Record, before the paid POST leaves, that it may create a generation from now on.

        Fenced on the caller's own claim (a submitter whose lease was taken over cannot write), and
        in the same transaction the request lock: no other job may have an identical-looking POST
        unanswered at the same time, so whatever the later lookup finds is this job's own.
        """
        updates = {"submit_uncertain_since": now, "post_fingerprint": fingerprint}
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
                    "Item": _lock_key(fingerprint)
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
                Key=_lock_key(job.post_fingerprint),
                ConditionExpression="job_id = :me",
                ExpressionAttributeValues=_values(me=job.id),
            )

    def _lock_holder(self, fingerprint: str) -> str | None:
        item = self._db.get_item(TableName=self._table, Key=_lock_key(fingerprint), ConsistentRead=True)
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
        self, job: Job, *, generation_id: str, api_credit_cost: float | None, now: datetime, due_at: int
    ) -> Job:
        updates = {
            "status": JobStatus.SUBMITTED,
            "generation_id": generation_id,
            "api_credit_cost": api_credit_cost,
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
        if job.post_fingerprint:  # let go of the request lock in the same write (if still ours)
            items.append(
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _lock_key(job.post_fingerprint),
                        "ConditionExpression": "attribute_not_exists(pk) OR job_id = :job",
                        "ExpressionAttributeValues": {":job": {"S": job.id}},
                    }
                }
            )
        while True:
            try:
                self._writer.transact(items)
                return job.model_copy(update=updates)
            except ConditionFailed as failed:
                if failed.failed(0) or len(items) == 2:
                    message = f"job {job.id} is no longer {job.status} under this claim"
                    raise TransitionConflict(message) from failed
                if failed.failed(1):
                    raise GenerationTaken(f"generation {generation_id} belongs to another job") from failed
                # The lock was taken over (it had expired): record the submission without it.
                items = items[:2]

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
            updates |= {"slot_held": False, "slot_acquired_at": None}
        self._write(job, updates, release=release)
        if to.terminal:
            self.release_request_lock(job)
        return job.model_copy(update=updates)

    def release_slot(self, job: Job, *, now: datetime) -> Job:
        if not job.slot_held:
            return job
        updates = {"slot_held": False, "slot_acquired_at": None, "updated_at": now, "due_at": job.due_at}
        try:
            self._write(job, updates, release=True)
        except TransitionConflict:
            return self.get(job.id) or job
        return job.model_copy(update=updates)

    def reschedule(
        self, job: Job, *, due_at: int, checks: int | None = None, submit_token: int | None = None
    ) -> None:
        names = {"#s": "status"}
        expression = "SET due_at = :due, due_pk = :shard"
        values = _values(due=due_at, shard=_due_shard(job.id, job.status), status=str(job.status))
        if checks is not None:
            expression += ", checks = :checks"
            values |= _values(checks=checks)
        if submit_token is not None:
            expression += ", submit_token = :token"
            values |= _values(token=submit_token)
        with contextlib.suppress(ConditionFailed):  # never put a job that moved on back in the index
            self._writer.update(
                TableName=self._table,
                Key=_job_key(job.id),
                UpdateExpression=expression,
                ConditionExpression="#s = :status",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def park(self, job: Job) -> bool:
        """Put a QUEUED job without a slot in the waiting line, ordered by arrival.

        Only the holder of the live submit token may park it: a newer message (a re-send or a
        wake) keeps the job where it is. False when the job moved on meanwhile.
        """
        live = "submit_token = :token"
        if not job.submit_token:
            live = f"(attribute_not_exists(submit_token) OR {live})"
        condition = f"#s = :queued AND attribute_not_exists(slot_held) AND {live}"
        try:
            self._writer.update(
                TableName=self._table,
                Key=_job_key(job.id),
                UpdateExpression="SET due_at = :arrival, due_pk = :line",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    arrival=int(job.created_at.timestamp()),
                    line=LINE_PARTITION,
                    queued="QUEUED",
                    token=job.submit_token,
                ),
            )
        except ConditionFailed:
            return False
        return True

    def leave_line(self, job_id: str, *, due_at: int) -> int | None:
        """Take a job out of the waiting line with a new live submit token (returned).

        None if it is no longer waiting, e.g. another caller woke it first: a job is woken once.
        """
        try:
            result = self._writer.update(
                TableName=self._table,
                Key=_job_key(job_id),
                UpdateExpression="SET due_at = :due, due_pk = :shard, "
                "submit_token = if_not_exists(submit_token, :zero) + :one",
                ConditionExpression="#s = :queued AND due_pk = :line AND attribute_not_exists(slot_held)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    due=due_at,
                    shard=_due_shard(job_id, JobStatus.QUEUED),
                    zero=0,
                    one=1,
                    queued="QUEUED",
                    line="DUE#L",
                ),
                ReturnValues="UPDATED_NEW",
            )
        except ConditionFailed:
            return None
        return int(result["Attributes"]["submit_token"]["N"])

    # --- helpers -----------------------------------------------------------------------------
    def _write(self, job: Job, updates: dict[str, Any], *, release: bool) -> None:
        update = self._update_for(job, updates, release=release)
        items = [{"Update": update}]
        if release:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": SEMAPHORE_KEY,
                        "UpdateExpression": "ADD in_flight :minus",
                        "ConditionExpression": "in_flight > :zero",
                        "ExpressionAttributeValues": _values(minus=-1, zero=0),
                    }
                }
            )
        try:
            self._writer.transact(items)
        except ConditionFailed as failed:
            raise TransitionConflict(f"job {job.id} changed concurrently (expected {job.status})") from failed

    def _update_for(self, job: Job, updates: dict[str, Any], *, release: bool, fence: bool = False) -> dict:
        """An Update conditioned on the job still being in the status (and slot state) we read.

        With `fence`, also on the slot claim we hold: once a lease was taken over, the submitter
        that lost it can no longer write anything about the submission.
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
                values[":shard"] = _ddb(_due_shard(job.id, JobStatus(updates.get("status", job.status))))
        condition = "#status = :expected"
        if release:
            condition += " AND slot_held = :held"
            values[":held"] = _ddb(True)
        if fence:
            if not (job.slot_held and job.slot_acquired_at):
                raise TransitionConflict(f"job {job.id} holds no slot claim to fence on")
            condition += " AND slot_acquired_at = :claim"
            values[":claim"] = _ddb(job.slot_acquired_at.isoformat())
        return {
            "TableName": self._table,
            "Key": _job_key(job.id),
            "UpdateExpression": update_expression(sets, removes),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def _to_item(self, job: Job) -> dict:
        data = job.model_dump(mode="json", exclude_none=True)
        if not job.slot_held:
            data.pop("slot_held", None)
        data |= {
            "pk": f"JOB#{job.id}",
            "sk": "JOB",
            "gsi1pk": f"USER#{job.user_id}",
            "gsi1sk": f"{data['created_at']}#{job.id}",
        }
        if job.due_at is not None and not job.status.terminal:
            data["due_pk"] = _due_shard(job.id, job.status)
        return {k: _ddb(v) for k, v in data.items()}

    @staticmethod
    def _to_job(item: dict) -> Job:
        data = _plain(item)
        return Job.model_validate({k: v for k, v in data.items() if k in _JOB_FIELDS})

    @staticmethod
    def _encode_cursor(last_key: dict | None) -> str | None:
        if not last_key:
            return None
        plain = {k: v["S"] for k, v in last_key.items()}
        return (
            base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")
        )

    @staticmethod
    def _decode_cursor(cursor: str, partition: str) -> dict:
        """Our own LastEvaluatedKey back, or InvalidCursor: every value is checked, not only types."""
        if len(cursor) > _MAX_CURSOR_CHARS:
            raise InvalidCursor("The cursor is not valid")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            plain = json.loads(raw)
        except (binascii.Error, ValueError) as error:
            raise InvalidCursor("The cursor is not valid") from error
        expected = {"pk", "sk", "gsi1pk", "gsi1sk"}
        if (
            not isinstance(plain, dict)
            or set(plain) != expected
            or not all(isinstance(v, str) for v in plain.values())
            or plain["gsi1pk"] != partition  # a cursor only pages through its own user's jobs
            or plain["sk"] != "JOB"
        ):
            raise InvalidCursor("The cursor is not valid")
        job = _CURSOR_PK.fullmatch(plain["pk"])
        sort = _CURSOR_SORT.fullmatch(plain["gsi1sk"])
        if not job or not sort or job.group(1) != sort.group(1):
            raise InvalidCursor("The cursor is not valid")
        return {k: {"S": v} for k, v in plain.items()}
