"""The waiting line in the jobs table: a job without a Leonardo slot parks at its turn
(domain/waiting.py), and each freed slot wakes the lowest turns.

Mixed into DynamoJobStore. One line per Leonardo pool (Policy.pools; the image pool's keys below,
the video pool's suffixed `#video`). Items: the job in DueJobs under DUE#L with due_at = its turn
(sparse: only while it waits); LINE#HEAD / LINE (the last woken job's turn) and LINE#USER#<user> /
LINE (each user's last turn).
"""

from __future__ import annotations

import contextlib
from typing import Any

from gencore.adapters.ddb import ConditionFailed, Writer
from gencore.adapters.ddb import values as _values
from gencore.adapters.job_keys import due_shard, job_key, line_head_key, line_partition, line_user_key
from gencore.domain.errors import TransitionConflict
from gencore.domain.models import Job, JobStatus
from gencore.domain.policy import IMAGE
from gencore.domain.waiting import turn_of


class LineWrites:
    """Uses DynamoJobStore's client, table, writer and `_oldest`."""

    _db: Any
    _table: str
    _writer: Writer

    def _oldest(self, parts: list[str], *, limit: int, until: int | None = None) -> list[str]:
        raise NotImplementedError  # pragma: no cover - provided by DynamoJobStore

    @staticmethod
    def _to_job(item: dict[str, Any]) -> Job:
        raise NotImplementedError  # pragma: no cover - provided by DynamoJobStore

    def waiting_job_ids(self, *, limit: int, pool: str = IMAGE) -> list[str]:
        """The first `limit` jobs of a pool's waiting line, lowest turn first."""
        return self._oldest([line_partition(pool)], limit=limit)

    def park(self, job: Job, pool: str = IMAGE) -> bool:
        """Put a QUEUED job without a slot in the waiting line at its turn (domain/waiting.py):
        the one it was given when it first parked, else the next of its user's.

        Only the holder of the live submit token may park it: a newer message (a re-send or a
        wake) keeps the job where it is. False when the job moved on meanwhile.
        """
        turn = job.line_turn or self._next_turn(job, pool)
        live = "submit_token = :token"
        if not job.submit_token:
            live = f"(attribute_not_exists(submit_token) OR {live})"
        condition = f"#s = :queued AND attribute_not_exists(slot_held) AND {live}"
        try:
            self._writer.update(
                TableName=self._table,
                Key=job_key(job.id),
                UpdateExpression="SET due_at = :turn, line_turn = :turn, due_pk = :line",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    turn=turn, line=line_partition(pool), queued="QUEUED", token=job.submit_token
                ),
            )
        except ConditionFailed:
            return False  # the user's turn it took stays a gap: harmless
        return True

    def _next_turn(self, job: Job, pool: str) -> int:
        """Take the next turn of the job's user: one write, conditioned on the last turn we read."""
        head = self._db.get_item(TableName=self._table, Key=line_head_key(pool), ConsistentRead=True).get(
            "Item"
        )
        # Before the first wake the head is the arrival of this job (the line's old arrival order).
        line_head = int(head["turn"]["N"]) if head else int(job.created_at.timestamp())
        for _ in range(8):
            item = self._db.get_item(
                TableName=self._table, Key=line_user_key(job.user_id, pool), ConsistentRead=True
            ).get("Item")
            last = int(item["last_turn"]["N"]) if item else None
            turn = turn_of(line_head, last)
            seen = "attribute_not_exists(last_turn)" if last is None else "last_turn = :seen"
            values = _values(turn=turn) | ({} if last is None else _values(seen=last))
            try:
                self._writer.update(
                    TableName=self._table,
                    Key=line_user_key(job.user_id, pool),
                    UpdateExpression="SET last_turn = :turn",
                    ConditionExpression=seen,
                    ExpressionAttributeValues=values,
                )
                return turn
            except ConditionFailed:
                continue  # another job of the same user took a turn meanwhile: take the next
        raise TransitionConflict(f"the line turns of {job.user_id} kept changing")

    def leave_line(self, job_id: str, *, due_at: int, pool: str = IMAGE) -> Job | None:
        """Take a job out of the waiting line with a new live submit token; the job as left (the
        write's own answer: the waker reads nothing more).

        None if it is no longer waiting, e.g. another caller woke it first: a job is woken once.
        """
        try:
            result = self._writer.update(
                TableName=self._table,
                Key=job_key(job_id),
                UpdateExpression="SET due_at = :due, due_pk = :shard, "
                "submit_token = if_not_exists(submit_token, :zero) + :one",
                ConditionExpression="#s = :queued AND due_pk = :line AND attribute_not_exists(slot_held)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_values(
                    due=due_at,
                    shard=due_shard(job_id, JobStatus.QUEUED),
                    zero=0,
                    one=1,
                    queued="QUEUED",
                    line=line_partition(pool),
                ),
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed:
            return None
        woken = result["Attributes"]
        if "line_turn" in woken:
            self._advance_head(int(woken["line_turn"]["N"]), pool)
        return self._to_job(woken)

    def _advance_head(self, turn: int, pool: str) -> None:
        """The line's head moves to the turn just woken (never back): later arrivals start there."""
        with contextlib.suppress(ConditionFailed):
            self._writer.update(
                TableName=self._table,
                Key=line_head_key(pool),
                UpdateExpression="SET turn = :turn",
                ConditionExpression="attribute_not_exists(turn) OR turn < :turn",
                ExpressionAttributeValues=_values(turn=turn),
            )
