"""Secrets Manager through Powertools Parameters (cached, so a warm function does not refetch).

The provider is built on the function's shared boto3 client (gencore.clients): Powertools' default
provider starts a boto3 Session of its own, about 45 ms on a cold function's first read (the
webhook's first callback waits on it), against about 4 ms for a client from the default session.
It is registered as Powertools' default, so `parameters.clear_caches()` still resets it.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from gencore.clients import aws


class SecretMissing(Exception):
    """A required secret or field is absent: callers fail closed."""


def secret_field(secret_id: str, field: str, *, max_age: int, force: bool = False) -> str:
    """One field of a JSON secret; `force` reads it again past the cache (a key rotated meanwhile)."""
    try:
        value = _provider().get(secret_id, transform="json", max_age=max_age, force_fetch=force)
    except parameters.exceptions.GetParameterError as error:
        raise SecretMissing(f"secret {field} unavailable") from error
    text = value.get(field) if isinstance(value, dict) else None
    if not isinstance(text, str) or not text:
        raise SecretMissing(f"secret {field} unavailable")
    return text


def _provider() -> parameters.SecretsProvider:
    provider = DEFAULT_PROVIDERS.get("secrets")
    if provider is None:
        provider = DEFAULT_PROVIDERS["secrets"] = parameters.SecretsProvider(
            boto3_client=aws("secretsmanager")
        )
    return provider
