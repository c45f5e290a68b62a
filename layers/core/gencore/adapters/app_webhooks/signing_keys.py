"""Each endpoint's signing secrets, read from Secrets Manager and cached per secret version."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gencore.domain.app_webhooks.records import Endpoint
from gencore.domain.app_webhooks.signing import SecretDocument


class SecretsManagerKeys:
    """The SigningKeys port: each endpoint's SecretDocument, cached per (secret, version).

    A rotation bumps the endpoint's secret_version, which every delivery reads with the endpoint, so a
    warm function signs with the new secret from the next delivery on; `max_age` bounds the rest.
    """

    def __init__(
        self, client: Any, *, max_age: float = 300, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._sm, self._max_age, self._clock = client, max_age, clock
        self._cache: dict[str, tuple[int, float, SecretDocument]] = {}
        self._lock = threading.Lock()

    def document(self, endpoint: Endpoint) -> SecretDocument:
        with self._lock:
            cached = self._cache.get(endpoint.secret_ref)
        if cached and cached[0] == endpoint.secret_version and self._clock() - cached[1] < self._max_age:
            return cached[2]
        text = self._sm.get_secret_value(SecretId=endpoint.secret_ref)["SecretString"]
        document = SecretDocument.from_json(text)
        with self._lock:
            self._cache[endpoint.secret_ref] = (endpoint.secret_version, self._clock(), document)
        return document

    def active(self, endpoint: Endpoint, now: datetime) -> list[str]:
        return self.document(endpoint).active(now)
