"""SQS event source mappings: poll, batch, invoke, and delete like Lambda's pollers do.

Failure handling is left to SQS itself (moto): a message that is not deleted
becomes visible again after the visibility timeout, and the queue's
RedrivePolicy moves it to the DLQ after maxReceiveCount receives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stackrunner.template import REGION, SqsSource

log = logging.getLogger("stackrunner.pollers")


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A Lambda SQS event record from a ReceiveMessage result."""
    attributes = {k: str(v) for k, v in message.get("Attributes", {}).items()}
    message_attributes = {}
    for name, attr in message.get("MessageAttributes", {}).items():
        shaped: dict[str, Any] = {
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": attr["DataType"],
        }
        if "StringValue" in attr:
            shaped["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            import base64

            shaped["binaryValue"] = base64.b64encode(attr["BinaryValue"]).decode()
        message_attributes[name] = shaped
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def failed_ids(response: Any, batch_ids: list[str]) -> set[str]:
    """Which records to keep, per Lambda's ReportBatchItemFailures rules.

    No response, no list or an empty list means all succeeded; an identifier
    that is empty, malformed or not in the batch fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        return set(batch_ids)
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(batch_ids)
    keep = set()
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in batch_ids:
            return set(batch_ids)
        keep.add(ident)
    return keep


class SqsPoller:
    """One SQS event source: a receiver that builds batches, MaximumConcurrency invokers.

    As in Lambda, receiving and invoking are separate: a single receiver per queue
    (moto's ReceiveMessage is not atomic under concurrent callers, real SQS is) hands
    batches to at most MaximumConcurrency concurrent invocations, and receives no
    more while they are all busy, so no message waits out its visibility timeout here.
    """

    def __init__(
        self,
        source: SqsSource,
        queue_url: str,
        queue_arn: str,
        client_factory: Callable[[], Any],
        invoke: Callable[[str, Any], Any],
        visibility_timeout: float | None = None,
    ) -> None:
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self._client_factory = client_factory
        self._invoke = invoke
        # A scaled-down visibility timeout can be shorter than the batching window, and then
        # messages would reappear while the batch is still filling: keep the window below half of it.
        window = source.batching_window
        self.batching_window = min(window, visibility_timeout / 2) if visibility_timeout else window
        self._stop = threading.Event()
        self._slots = threading.Semaphore(max(1, source.max_concurrency))
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, source.max_concurrency), thread_name_prefix=f"sqs-{source.function}"
        )
        self._receiver = threading.Thread(
            target=self._run, name=f"sqs-{source.function}-receiver", daemon=True
        )

    def start(self) -> None:
        self._receiver.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 10) -> None:
        self._receiver.join(timeout=timeout)
        self._executor.shutdown(wait=True)

    def _run(self) -> None:
        sqs = self._client_factory()
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.2):
                continue  # every invoker is busy: receive nothing we could not start on
            try:
                batch = self._receive_batch(sqs)
            except Exception:
                self._slots.release()
                if not self._stop.is_set():
                    log.exception("receiving for %s failed; retrying", self.source.function)
                    self._stop.wait(1)
                continue
            if not batch:
                self._slots.release()
                continue
            self._executor.submit(self._process, sqs, batch)

    def _receive_batch(self, sqs: Any) -> list[dict[str, Any]]:
        """Fill a batch up to BatchSize or until the batching window has passed."""
        batch: list[dict[str, Any]] = []
        deadline = None
        while not self._stop.is_set() and len(batch) < self.source.batch_size:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            messages = sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(batch)),
                WaitTimeSeconds=1 if remaining is None else 0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch.extend(messages)
            if deadline is None:
                if not batch or self.batching_window <= 0:
                    break
                deadline = time.monotonic() + self.batching_window
            elif not messages:
                time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        return batch

    def _process(self, sqs: Any, batch: list[dict[str, Any]]) -> None:
        try:
            self._handle(sqs, batch)
        except Exception:
            log.exception("handling a batch for %s failed", self.source.function)
        finally:
            self._slots.release()

    def _handle(self, sqs: Any, batch: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(m, self.queue_arn) for m in batch]}
        ids = [m["MessageId"] for m in batch]
        try:
            response = self._invoke(self.source.function, event)
        except Exception as exc:
            # The whole batch returns to the queue after the visibility timeout.
            log.warning("%s raised on a batch of %d: %s", self.source.function, len(batch), exc)
            return
        keep = failed_ids(response, ids) if self.source.report_batch_item_failures else set()
        done = [m for m in batch if m["MessageId"] not in keep]
        for i in range(0, len(done), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(done[i : i + 10])
            ]
            result = sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in result.get("Failed", []):
                log.warning("delete failed for %s: %s", self.source.function, failure)
        if keep:
            log.info("%s: %d of %d records reported as failed", self.source.function, len(keep), len(batch))
