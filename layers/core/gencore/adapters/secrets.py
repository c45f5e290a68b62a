"""Secrets Manager through Powertools Parameters (cached, so a warm function does not refetch)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters


class SecretMissing(Exception):
    """A required secret or field is absent: callers fail closed."""


def secret_field(secret_id: str, field: str, *, max_age: int, force: bool = False) -> str:
    """One field of a JSON secret; `force` reads it again past the cache (a key rotated meanwhile)."""
    try:
        value = parameters.get_secret(secret_id, transform="json", max_age=max_age, force_fetch=force)
    except parameters.exceptions.GetParameterError as error:
        raise SecretMissing(f"secret {field} unavailable") from error
    if not isinstance(value, dict) or not isinstance(value.get(field), str) or not value[field]:
        raise SecretMissing(f"secret {field} unavailable")
    return value[field]
