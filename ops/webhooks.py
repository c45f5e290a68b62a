"""Apps' webhook endpoints (docs/webhooks.md): add, list, enable/disable, rotate, remove, the delivery
log, and replay. Endpoint records and logs are the delivery function's own items in the jobs table
(gencore.adapters.app_webhooks.items); each endpoint's secret is one Secrets Manager secret named
<stack>/app-webhooks/<endpoint id>, which the function's role may read and nothing else may list.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from typing import Any

from ops.stack import REPO_ROOT, Stack

DEFAULT_OVERLAP_HOURS = 24


def _gencore() -> None:
    """Make gencore importable; each command then imports the modules it uses."""
    try:
        import gencore  # noqa: F401
    except ImportError:  # run from the repository root without PYTHONPATH: use the layer's source
        sys.path.insert(0, str(REPO_ROOT / "layers" / "core"))


def store(stack: Stack) -> Any:
    _gencore()
    from gencore.adapters.app_webhooks.store import DynamoAppWebhookStore

    return DynamoAppWebhookStore(stack.client("dynamodb"), stack.physical_id("JobsTable"))


def secret_name(stack: Stack, endpoint_id: str) -> str:
    return f"{stack.name}/app-webhooks/{endpoint_id}"


def parse_events(text: str) -> tuple[str, ...]:
    _gencore()
    from gencore.domain.app_webhooks.bus_events import EVENT_TYPES

    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [n for n in names if n not in EVENT_TYPES]
    if not names or unknown:
        raise ValueError(
            f"events must be among {', '.join(EVENT_TYPES)} (got {', '.join(unknown) or 'none'})"
        )
    return names


def check_endpoint_url(url: str, *, allow_loopback: bool) -> None:
    """The rules the delivery function applies, checked now too, so a bad URL is refused at once."""
    _gencore()
    from gencore.adapters.app_webhooks.http_sender import system_resolve
    from gencore.domain.app_webhooks.urls import UrlRefused, check_addresses, check_url

    target = check_url(url, allow_loopback=allow_loopback)
    if not target.is_ip:
        try:
            addresses = system_resolve(target.host, target.port)
        except OSError as error:
            raise UrlRefused(f"{target.host} does not resolve: {error}", code="dns_failed") from error
        check_addresses(addresses, allow_loopback=allow_loopback)


def add(stack: Stack, url: str, events: tuple[str, ...], app: str) -> tuple[Any, str]:
    """Register an endpoint; returns it and its secret, which is shown once and never again."""
    _gencore()
    from gencore.domain.app_webhooks.records import Endpoint
    from gencore.domain.app_webhooks.signing import SecretDocument, new_secret

    check_endpoint_url(url, allow_loopback=stack.local)
    endpoint_id = "ep_" + secrets.token_hex(8)
    document = SecretDocument(new_secret())
    created = stack.client("secretsmanager").create_secret(
        Name=secret_name(stack, endpoint_id),
        Description=f"Signing secret of the {app} app's webhook endpoint {endpoint_id}",
        SecretString=document.to_json(),
    )
    endpoint = Endpoint(
        endpoint_id=endpoint_id, app=app, url=url, events=events, secret_ref=created["ARN"],
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    store(stack).add_endpoint(endpoint)
    return endpoint, document.current


def endpoints(stack: Stack) -> list[Any]:
    return sorted(store(stack).endpoints(), key=lambda e: (e.app, e.created_at))


def _existing(stack: Stack, endpoint_id: str) -> Any:
    found = store(stack).endpoint(endpoint_id)
    if found is None:
        raise LookupError(f"no webhook endpoint {endpoint_id}")
    return found


def set_enabled(stack: Stack, endpoint_id: str, enabled: bool) -> bool:
    _existing(stack, endpoint_id)
    return store(stack).set_enabled(endpoint_id, enabled, now=datetime.now(UTC), reason="operator")


def rotate(stack: Stack, endpoint_id: str, *, overlap_hours: float) -> tuple[str, datetime | None]:
    """A new secret; the old one keeps signing too for `overlap_hours`. Returns the new secret (shown
    once) and when the old one stops signing."""
    _gencore()
    from gencore.domain.app_webhooks.signing import SecretDocument

    endpoint = _existing(stack, endpoint_id)
    sm = stack.client("secretsmanager")
    current = SecretDocument.from_json(sm.get_secret_value(SecretId=endpoint.secret_ref)["SecretString"])
    now = datetime.now(UTC)
    rotated = current.rotated(now, int(overlap_hours * 3600))
    sm.put_secret_value(SecretId=endpoint.secret_ref, SecretString=rotated.to_json())
    store(stack).bump_secret_version(endpoint_id)  # warm functions re-read it at the next delivery
    until = datetime.fromtimestamp(rotated.previous_until, tz=UTC) if rotated.previous_until else None
    return rotated.current, until


def remove(stack: Stack, endpoint_id: str) -> None:
    endpoint = _existing(stack, endpoint_id)
    store(stack).remove_endpoint(endpoint_id)
    stack.client("secretsmanager").delete_secret(SecretId=endpoint.secret_ref, RecoveryWindowInDays=7)


def deliveries(stack: Stack, *, event_id: str | None = None, endpoint_id: str | None = None) -> list[Any]:
    if event_id:
        return store(stack).deliveries_of_event(event_id)
    assert endpoint_id is not None
    return store(stack).deliveries_of_endpoint(endpoint_id)


def _use_case(stack: Stack) -> Any:
    _gencore()
    from gencore.adapters.app_webhooks.queue import SqsDeliveryQueue
    from gencore.domain.app_webhooks.delivery import AppWebhooks

    queue = SqsDeliveryQueue(stack.client("sqs"), stack.physical_id("AppWebhookQueue"))
    # A replay only stores and enqueues: the delivery function signs and sends.
    return AppWebhooks(store(stack), queue, keys=None, sender=None, clock=lambda: datetime.now(UTC))


def replay(stack: Stack, event_id: str, *, endpoint_id: str | None = None) -> list[str]:
    return _use_case(stack).replay(event_id, endpoint_id=endpoint_id)


def replay_range(
    stack: Stack, since: datetime, until: datetime, *, endpoint_id: str | None = None
) -> dict[str, list[str]]:
    use_case = _use_case(stack)
    return {
        event.event_id: use_case.replay(event.event_id, endpoint_id=endpoint_id)
        for event in store(stack).events_between(since, until)
    }
