"""Keys of the jobs table's items and partitions of its due index (one place for every name)."""

from __future__ import annotations

import zlib
from typing import Any

from gencore.domain.models import Job, JobStatus
from gencore.domain.policy import IMAGE

DUE_SHARDS = 4  # spreads the sparse due index over a few partitions; the reconciler reads them all
SEMAPHORE_KEY = {"pk": {"S": "SEMAPHORE#leonardo"}, "sk": {"S": "SEMAPHORE"}}  # the image pool's


def semaphore_key(pool: str = IMAGE) -> dict[str, Any]:
    """A Leonardo pool's count of generations holding a slot (domain/policy.py, Policy.pools)."""
    return (
        SEMAPHORE_KEY
        if pool == IMAGE
        else {"pk": {"S": f"SEMAPHORE#leonardo#{pool}"}, "sk": {"S": "SEMAPHORE"}}
    )


def job_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}


def lock_key(fingerprint: str) -> dict[str, Any]:
    return {"pk": {"S": f"REQLOCK#{fingerprint}"}, "sk": {"S": "REQLOCK"}}


def due_shard(job_id: str, status: JobStatus) -> str:
    """DUE#Q<n> for QUEUED jobs (a submit to re-send), DUE#P<n> for jobs to poll at Leonardo.

    Kept apart so a backlog of waiting jobs can never crowd the polls out of a reconciler batch:
    a job to poll may hold a Leonardo slot that only its completion gives back.
    """
    return due_partition("Q" if status == JobStatus.QUEUED else "P", job_id)


def due_partition(kind: str, item_id: str) -> str:
    """The shard of one kind of DueJobs partition an item is due in."""
    return _shard(kind, zlib.crc32(item_id.encode()) % DUE_SHARDS)


def _shard(kind: str, n: int) -> str:
    return f"DUE#{kind}{n}"


CALL_DUE = "C"  # the DueJobs partitions of open realtime calls (adapters/ledger.py, DynamoCallLedger)


def call_key(call_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"CALL#{call_id}"}, "sk": {"S": "CALL"}}


# The waiting line: one partition per Leonardo pool, read (Limit a few) on every wake. Not sharded:
# it is written at most once per submit attempt, and Leonardo's concurrency cap keeps that far below
# what one partition takes. The reconciler never reads it; only a freed slot wakes a job.
LINE_PARTITION = "DUE#L"  # the image pool's


def line_partition(pool: str = IMAGE) -> str:
    return LINE_PARTITION if pool == IMAGE else f"{LINE_PARTITION}#{pool}"


def waiting_key(user_id: str) -> dict[str, Any]:
    """A user's count of QUEUED jobs counted against their plan's cap (`waiting`)."""
    return {"pk": {"S": f"WAITING#{user_id}"}, "sk": {"S": "WAITING"}}


# Each line's turns (domain/waiting.py): the head (the last woken job's turn) and each user's last turn.
def line_head_key(pool: str = IMAGE) -> dict[str, Any]:
    return {"pk": {"S": "LINE#HEAD" if pool == IMAGE else f"LINE#HEAD#{pool}"}, "sk": {"S": "LINE"}}


def line_user_key(user_id: str, pool: str = IMAGE) -> dict[str, Any]:
    line = "LINE" if pool == IMAGE else f"LINE#{pool}"
    return {"pk": {"S": f"LINE#USER#{user_id}"}, "sk": {"S": line}}


def partitions(kind: str) -> list[str]:
    """Every shard of one kind of DueJobs partition (`DUE#<kind><n>`), for the reconciler to query."""
    return [_shard(kind, n) for n in range(DUE_SHARDS)]


def index_keys(job: Job, created_at: str) -> dict[str, str]:
    """The UserJobs index's keys of a job: its user's history by time, or for a batch's item, its
    batch by line (the batch's results in manifest order; items stay out of the user's history)."""
    if job.batch is not None:
        return {
            "gsi1pk": batch_items_partition(job.batch.batch_id),
            "gsi1sk": f"{job.batch.line:06d}#{job.id}",
        }
    return {"gsi1pk": user_jobs_partition(job.user_id), "gsi1sk": f"{created_at}#{job.id}"}


def user_jobs_partition(user_id: str) -> str:
    """A user's history in the UserJobs index (their jobs outside batches)."""
    return f"USER#{user_id}"


def user_batches_partition(user_id: str) -> str:
    """A user's batches in the UserJobs index."""
    return f"BATCHES#{user_id}"


def batch_key(batch_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"BATCH#{batch_id}"}, "sk": {"S": "BATCH"}}


def batch_items_partition(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


BATCH_DUE_PARTITION = "DUE#B"  # batches not ended, due_at = their next check by the reconciler
