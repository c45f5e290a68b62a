"""AWS clients, one per service per cold start, with the same retry and timeout settings everywhere.

Endpoints come from the standard AWS_ENDPOINT_URL* variables (moto locally, AWS in production).
Kept apart from wiring.py so the webhook can use it without loading the settings model.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

BOTO_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


@cache
def aws(service: str) -> Any:
    # The service is named at run time: boto3-stubs' overloads want a literal name.
    return boto3.client(service, config=BOTO_CONFIG)  # type: ignore[call-overload]
