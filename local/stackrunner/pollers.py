"""SQS event source mappings: poll, batch, invoke, and delete like Lambda's pollers do.

Failure handling is left to SQS itself (moto): a message that is not deleted
becomes visible again after the visibility timeout, and the queue's
RedrivePolicy moves it to the DLQ after maxReceiveCount receives.

On AWS a queue's visibility timeout is at least its consumer's Timeout (the template's queues
keep six times it), so a message never comes back while the invocation that received it runs.
A test clock scales the visibility timeouts down (retries in seconds) but not the Timeouts; the
poller then keeps a running batch's messages hidden itself, up to the function's Timeout, so
that a slow invocation on a loaded machine is not delivered a second time beside itself.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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


@dataclass
class _Lease:
    """A running batch's messages: hidden again whenever a third of the visibility timeout has passed."""

    handles: list[str]
    hidden_at: float  # when the messages were last made invisible for the whole timeout
    ends_at: float  # the function's Timeout after the invocation began: Lambda would have ended it


class SqsPoller:
    """One SQS event source: a receiver that builds batches, MaximumConcurrency invokers.

    As in Lambda, receiving and invoking are separate: a single receiver per queue
    (moto's ReceiveMessage is not atomic under concurrent callers, real SQS is) hands
    batches to at most MaximumConcurrency concurrent invocations, and receives no
    more while they are all busy, so no message waits out its visibility timeout here.
    Where the visibility timeout is shorter than the function's Timeout (a test clock),
    a running batch's messages are kept hidden until it ends or its Timeout has passed.
    """

    def __init__(
        self,
        source: SqsSource,
        queue_url: str,
        queue_arn: str,
        client_factory: Callable[[], Any],
        invoke: Callable[[str, Any], Any],
        visibility_timeout: float | None = None,
        function_timeout: float | None = None,
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
        self._visibility = visibility_timeout
        self._function_timeout = function_timeout
        self._leases: dict[int, _Lease] = {}
        self._leases_lock = threading.Lock()
        self._keeper: threading.Thread | None = None
        if visibility_timeout and function_timeout and visibility_timeout < function_timeout:
            self._keeper = threading.Thread(
                target=self._keep_hidden, name=f"sqs-{source.function}-visibility", daemon=True
            )
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
        if self._keeper is not None:
            self._keeper.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 10) -> None:
        self._receiver.join(timeout=timeout)
        self._executor.shutdown(wait=True)
        if self._keeper is not None:
            self._keeper.join(timeout=timeout)

    def _run(self) -> None:
        sqs = self._client_factory()
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.2):
                continue  # every invoker is busy: receive nothing we could not start on
            try:
                batch, received_at = self._receive_batch(sqs)
            except Exception:
                self._slots.release()
                if not self._stop.is_set():
                    log.exception("receiving for %s failed; retrying", self.source.function)
                    self._stop.wait(1)
                continue
            if not batch:
                self._slots.release()
                continue
            self._executor.submit(self._process, sqs, batch, received_at)

    def _receive_batch(self, sqs: Any) -> tuple[list[dict[str, Any]], float]:
        """Fill a batch up to BatchSize or until the batching window has passed; when it began."""
        batch: list[dict[str, Any]] = []
        deadline = None
        received_at = time.monotonic()
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
        return batch, received_at

    def _process(self, sqs: Any, batch: list[dict[str, Any]], received_at: float) -> None:
        key = id(batch)
        if self._keeper is not None:
            assert self._function_timeout is not None
            handles = [m["ReceiptHandle"] for m in batch]
            lease = _Lease(handles, hidden_at=received_at, ends_at=time.monotonic() + self._function_timeout)
            with self._leases_lock:
                self._leases[key] = lease
        try:
            self._handle(sqs, batch)
        except Exception:
            log.exception("handling a batch for %s failed", self.source.function)
        finally:
            with self._leases_lock:
                self._leases.pop(key, None)
            self._slots.release()

    def _keep_hidden(self) -> None:
        """Hide each running batch's messages again before they come back, until its Timeout."""
        assert self._visibility is not None
        sqs = self._client_factory()
        seconds = math.ceil(self._visibility)
        while not self._stop.wait(min(0.5, self._visibility / 6)):
            now = time.monotonic()
            with self._leases_lock:
                leases = list(self._leases.values())
            for lease in leases:
                if now - lease.hidden_at < self._visibility / 3 or now >= lease.ends_at:
                    continue
                try:
                    self._hide(sqs, lease.handles, seconds)
                except Exception:
                    log.exception("keeping a running batch of %s hidden failed", self.source.function)
                lease.hidden_at = now

    def _hide(self, sqs: Any, handles: list[str], seconds: int) -> None:
        for i in range(0, len(handles), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
                for n, handle in enumerate(handles[i : i + 10])
            ]
            sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)

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
