"""Settings and factories of the outbound webhooks (AppWebhookFunction and `python -m ops webhooks`).

Kept beside wiring.py, as webhook_intake.py is: the shared Settings gives the table and the secret
cache; what only this function reads is its own small model, read once per cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from gencore import wiring
from gencore.clients import aws
from gencore.domain.app_webhooks.retry_policy import DEFAULT_SCHEDULE, DeliveryPolicy, parse_schedule

if TYPE_CHECKING:
    from gencore.adapters.app_webhooks.store import DynamoAppWebhookStore
    from gencore.domain.app_webhooks.delivery import AppWebhooks


class OutboundSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    app_webhook_queue_url: str
    # Seconds to wait after each failed attempt (attempts = delays + 1); Standard Webhooks' example.
    app_webhook_retry_schedule: str = ",".join(str(s) for s in DEFAULT_SCHEDULE)
    app_webhook_disable_after_failed_events: int = Field(default=5, ge=1)
    app_webhook_disable_after_seconds: int = Field(default=3 * 86400, ge=60)
    app_webhook_retention_days: int = Field(default=30, ge=1, le=365)
    app_webhook_connect_timeout_seconds: float = Field(default=3.0, gt=0, le=10)
    app_webhook_read_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # Set only by the local stack (local/stackrunner): lets http://127.0.0.1 through for its test
    # receiver. Never set in the template: on AWS every endpoint is https on a public address.
    app_webhooks_allow_loopback: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OutboundSettings:
        values = {name: environ[name.upper()] for name in cls.model_fields if name.upper() in environ}
        return cls.model_validate(values)

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            schedule=parse_schedule(self.app_webhook_retry_schedule),
            disable_after_failed_events=self.app_webhook_disable_after_failed_events,
            disable_after_seconds=self.app_webhook_disable_after_seconds,
            event_retention_seconds=self.app_webhook_retention_days * 86400,
        )


@cache
def settings() -> OutboundSettings:
    return OutboundSettings.from_env(os.environ)


@cache
def store() -> DynamoAppWebhookStore:
    from gencore.adapters.app_webhooks.store import DynamoAppWebhookStore

    return DynamoAppWebhookStore(aws("dynamodb"), wiring.settings().jobs_table)


@cache
def app_webhooks() -> AppWebhooks:
    import httpx

    from gencore.adapters.app_webhooks.http_sender import HttpSender
    from gencore.adapters.app_webhooks.queue import SqsDeliveryQueue
    from gencore.adapters.app_webhooks.signing_keys import SecretsManagerKeys
    from gencore.domain.app_webhooks.delivery import AppWebhooks

    s = settings()
    sender = HttpSender(
        allow_loopback=s.app_webhooks_allow_loopback,
        timeout=httpx.Timeout(
            s.app_webhook_read_timeout_seconds,
            connect=s.app_webhook_connect_timeout_seconds,
            write=5.0,
            pool=2.0,
        ),
    )
    keys = SecretsManagerKeys(aws("secretsmanager"), max_age=wiring.settings().secret_cache_seconds)
    queue = SqsDeliveryQueue(aws("sqs"), s.app_webhook_queue_url)
    return AppWebhooks(store(), queue, keys, sender, wiring.clock, s.policy())


def worst_attempt_seconds() -> float:
    """One attempt's longest run (connect, write, read, pool) plus the writes around it."""
    s = settings()
    return s.app_webhook_connect_timeout_seconds + 5.0 + s.app_webhook_read_timeout_seconds + 2.0 + 3.0


def reset() -> None:
    for factory in (settings, store, app_webhooks):
        factory.cache_clear()
