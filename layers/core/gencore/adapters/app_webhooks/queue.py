"""The delivery queue: each attempt is one SQS message, delayed up to SQS's 15 minutes."""

from __future__ import annotations

from typing import Any

from gencore.domain.app_webhooks.records import DeliveryMessage


class SqsDeliveryQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs, self._url = sqs, queue_url

    def send(self, message: DeliveryMessage, *, delay_seconds: int) -> None:
        self._sqs.send_message(
            QueueUrl=self._url,
            MessageBody=message.to_json(),
            DelaySeconds=max(0, min(900, int(delay_seconds))),
        )
