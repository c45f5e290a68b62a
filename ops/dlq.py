"""Dead-letter queues: look at what is parked, and move it back once the cause is fixed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from ops.redact import preview

DLQS = ("SubmitDLQ", "EventsDLQ", "BatchDLQ")
# Errors meaning "this account or endpoint cannot run a move task": fall back to moving by hand.
_MOVE_TASK_UNAVAILABLE = {
    "AccessDenied",
    "AccessDeniedException",
    "UnsupportedOperation",
    "AWS.SimpleQueueService.UnsupportedOperation",
    "InvalidAction",
    "UnknownOperationException",
    "NotImplemented",
    "500",
    "501",
}


@dataclass(frozen=True)
class ParkedMessage:
    message_id: str
    receive_count: int
    sent_at: str
    preview: str


@dataclass
class RedriveReport:
    method: str  # "move-task", "manual", "dry-run" or "none"
    source: str
    destination: str
    moved: int = 0
    failed: int = 0
    remaining: int | None = None
    task_handle: str | None = None
    notes: list[str] = field(default_factory=list)


def counts(sqs: Any, queue_url: str) -> dict[str, int]:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return {"visible": int(attrs[names[0]]), "in_flight": int(attrs[names[1]])}


def source_queue(sqs: Any, dlq_url: str) -> str:
    """The queue whose redrive policy points at this DLQ (where its messages came from)."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise LookupError(f"expected one source queue for {dlq_url}, found {sources}; pass --to")
    return sources[0]


def _sent_at(attributes: dict[str, str]) -> str:
    stamp = attributes.get("SentTimestamp")
    if not stamp:
        return "?"
    return datetime.fromtimestamp(int(stamp) / 1000, UTC).isoformat(timespec="seconds")


def inspect(
    sqs: Any, dlq_url: str, *, limit: int = 50, preview_chars: int = 400, wait_seconds: int = 1
) -> list[ParkedMessage]:
    """Read up to `limit` messages without consuming them.

    Messages are held invisible only while they are read, then released at once. Each read still
    adds one to their receive count (SQS has no true peek); a DLQ has no redrive policy of its own,
    so that count is information only.
    """
    seen: dict[str, dict] = {}
    handles: list[str] = []
    try:
        while len(seen) < limit:
            batch = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=min(10, limit - len(seen)),
                VisibilityTimeout=30,
                WaitTimeSeconds=wait_seconds,
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            for message in batch:
                handles.append(message["ReceiptHandle"])
                seen.setdefault(message["MessageId"], message)
    finally:
        _release(sqs, dlq_url, handles)
    return [
        ParkedMessage(
            message_id=m["MessageId"],
            receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
            sent_at=_sent_at(m.get("Attributes", {})),
            preview=preview(m["Body"], preview_chars),
        )
        for m in seen.values()
    ]


def _release(sqs: Any, queue_url: str, handles: list[str]) -> None:
    for start in range(0, len(handles), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
            for i, h in enumerate(handles[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


def redrive(
    sqs: Any,
    dlq_url: str,
    destination_url: str,
    *,
    max_messages: int | None = None,
    dry_run: bool = False,
    wait_for_task: float = 60.0,
    sleep: Callable[[float], None] | None = None,
) -> RedriveReport:
    """Move parked messages back to their source queue.

    Without --max, SQS's own StartMessageMoveTask does it (server side, keeps message attributes).
    With --max, or where a move task is unavailable, messages move one batch at a time: send to the
    source queue first, delete from the DLQ only what was sent. A crash between the two can leave a
    copy in both queues, never in neither; the consumers are idempotent, so a duplicate is harmless.
    """
    before = counts(sqs, dlq_url)["visible"]
    if dry_run:
        method = "batches" if max_messages is not None else "a move task (batches where unavailable)"
        would = before if max_messages is None else min(before, max_messages)
        report = RedriveReport("dry-run", dlq_url, destination_url, moved=0, remaining=before)
        report.notes.append(f"would move {would} message(s) with {method}; nothing was changed")
        return report
    if before == 0:
        report = RedriveReport("none", dlq_url, destination_url, remaining=0)
        report.notes.append("the DLQ has no visible messages; nothing to move")
        return report
    if max_messages is None:
        try:
            return _move_task(sqs, dlq_url, destination_url, wait_for_task, sleep)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _MOVE_TASK_UNAVAILABLE:
                raise
            report = _move_by_hand(sqs, dlq_url, destination_url, limit=before)
            report.notes.insert(0, f"StartMessageMoveTask unavailable ({code}); moved message by message")
            return report
    return _move_by_hand(sqs, dlq_url, destination_url, limit=max_messages)


def _move_task(
    sqs: Any, dlq_url: str, destination_url: str, wait: float, sleep: Callable[[float], None] | None
) -> RedriveReport:
    sleep = sleep or time.sleep
    dlq_arn = _arn(sqs, dlq_url)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=_arn(sqs, destination_url))[
        "TaskHandle"
    ]
    report = RedriveReport("move-task", dlq_url, destination_url, task_handle=handle)
    waited = 0.0
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        task = tasks[0] if tasks else {}
        report.moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        status = task.get("Status", "UNKNOWN")
        if status in ("COMPLETED", "FAILED", "CANCELLED") or waited >= wait:
            reason = f": {task['FailureReason']}" if "FailureReason" in task else ""
            report.notes.append(f"move task {status}{reason}")
            if status == "FAILED":
                report.failed = max(0, int(task.get("ApproximateNumberOfMessagesToMove", 0)) - report.moved)
            break
        sleep(2.0)
        waited += 2.0
    report.remaining = counts(sqs, dlq_url)["visible"]
    return report


def _move_by_hand(sqs: Any, dlq_url: str, destination_url: str, *, limit: int) -> RedriveReport:
    report = RedriveReport("manual", dlq_url, destination_url)
    while report.moved + report.failed < limit:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - report.moved - report.failed),
            VisibilityTimeout=60,  # long enough to send and delete; a crash makes them visible again
            WaitTimeSeconds=1,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        entries = []
        for index, message in enumerate(batch):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            attributes = _sendable_attributes(message.get("MessageAttributes", {}))
            if attributes:
                entry["MessageAttributes"] = attributes
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
        sent_ids = {s["Id"] for s in sent.get("Successful", [])}
        for failure in sent.get("Failed", []):
            report.failed += 1
            message_id = batch[int(failure["Id"])]["MessageId"]
            report.notes.append(f"send failed for {message_id}: {failure.get('Code')}")
        # Only what the source queue accepted leaves the DLQ; the rest reappears after the timeout.
        deletes = [{"Id": i, "ReceiptHandle": batch[int(i)]["ReceiptHandle"]} for i in sorted(sent_ids)]
        if deletes:
            deleted = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=deletes)
            for failure in deleted.get("Failed", []):
                report.notes.append(
                    f"{batch[int(failure['Id'])]['MessageId']} was re-sent but not deleted from the DLQ"
                    " (now in both; consumers are idempotent)"
                )
        report.moved += len(sent_ids)
        if sent.get("Failed"):
            break  # the source queue refuses sends: stop rather than cycle through the rest
    report.remaining = counts(sqs, dlq_url)["visible"]
    return report


def _sendable_attributes(attributes: dict[str, dict]) -> dict[str, dict]:
    keep = ("DataType", "StringValue", "BinaryValue")
    return {name: {k: v[k] for k in keep if k in v} for name, v in attributes.items()}


def _arn(sqs: Any, queue_url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]
