"""SQS adapters for the submit queue and the events queue."""

from __future__ import annotations

import json
from typing import Any

from gencore.domain.models import GenerationEvent


class SqsSubmitQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._url = sqs, queue_url

    def send(self, job_id: str, *, delay_seconds: int = 0, attempt: int = 0, token: int = 0) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=json.dumps({"job_id": job_id, "attempt": attempt, "token": token}),
            DelaySeconds=max(0, min(900, int(delay_seconds))),
        )


class SqsEventQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._url = sqs, queue_url

    def send(self, event: GenerationEvent) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=event.model_dump_json())


class SqsBatchQueue:
    """The batch worker's messages: {"batch_id", "action"} (fan_out | cancel | expire)."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._url = sqs, queue_url

    def send(self, batch_id: str, *, action: str = "fan_out") -> None:
        self._sqs.send_message(
            QueueUrl=self._url, MessageBody=json.dumps({"batch_id": batch_id, "action": action})
        )
