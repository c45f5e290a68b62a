"""Outbound webhooks, as a specification: signatures, the retry schedule, where we send, and the
delivery use case on in-memory fakes (the DynamoDB store is exercised in tests/pipeline)."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from gencore.adapters.app_webhooks import HttpSender
from gencore.domain.app_webhooks import (
    DEFAULT_SCHEDULE,
    EVENT_TYPES,
    AppWebhooks,
    Delivery,
    DeliveryMessage,
    DeliveryPolicy,
    DeliveryStatus,
    Endpoint,
    InvalidSecret,
    NotAnEvent,
    SecretDocument,
    SendResult,
    StoredEvent,
    UrlRefused,
    address_refusal,
    check_url,
    event_from_bus,
    new_secret,
    payload_type,
    sign,
    signature_header,
)
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)

# ----- signatures ------------------------------------------------------------------------------------


def test_signature_matches_the_specifications_test_vector():
    # The vector of the standard-webhooks reference libraries (Python and JavaScript test suites).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_generated_secret_signs_what_the_standardwebhooks_package_verifies():
    secret, body = new_secret(), b'{"type":"generation.completed"}'
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "webhook-id": "job-1:COMPLETE",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header([secret], "job-1:COMPLETE", timestamp, body),
    }
    assert Webhook(secret).verify(body, headers) == {"type": "generation.completed"}


def test_a_generated_secret_is_whsec_and_32_random_bytes():
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(__import__("base64").b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_during_a_rotations_overlap_both_secrets_sign_and_either_verifies():
    # Given a rotated secret document, inside its overlap window
    old = SecretDocument(new_secret())
    rotated = old.rotated(T0, overlap_seconds=3600)
    active = rotated.active(T0 + timedelta(minutes=59))
    assert active == [rotated.current, old.current]
    # When a delivery is signed with both
    now = int(datetime.now(UTC).timestamp())
    header = signature_header(active, "e1", now, b"{}")
    # Then the header carries two v1 signatures, and a receiver on either secret verifies it
    assert len(header.split(" ")) == 2 and all(part.startswith("v1,") for part in header.split(" "))
    for secret in (old.current, rotated.current):
        Webhook(secret).verify(
            b"{}", {"webhook-id": "e1", "webhook-timestamp": str(now), "webhook-signature": header}
        )
    # And after the overlap only the new one signs
    assert rotated.active(T0 + timedelta(hours=1, seconds=1)) == [rotated.current]


def test_a_rotation_without_overlap_drops_the_old_secret_at_once():
    rotated = SecretDocument(new_secret()).rotated(T0, overlap_seconds=0)
    assert rotated.previous is None and rotated.active(T0) == [rotated.current]


@pytest.mark.parametrize("bad", ["", "whsec_", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!"])
def test_a_secret_that_is_not_whsec_base64_is_refused(bad):
    with pytest.raises(InvalidSecret):
        sign(bad, "e1", 1, b"{}")


def test_no_secret_no_signature():
    with pytest.raises(InvalidSecret):
        signature_header([], "e1", 1, b"{}")


def test_a_secret_document_round_trips_through_json():
    doc = SecretDocument(new_secret()).rotated(T0, overlap_seconds=60)
    assert SecretDocument.from_json(doc.to_json()) == doc


# ----- the retry schedule ------------------------------------------------------------------------


def test_the_default_schedule_backs_off_exponentially_over_about_three_days():
    policy = DeliveryPolicy()
    assert policy.schedule == DEFAULT_SCHEDULE
    assert policy.max_attempts == 10
    assert all(later > earlier for earlier, later in itertools.pairwise(DEFAULT_SCHEDULE))
    assert 2.5 * 86400 < sum(DEFAULT_SCHEDULE) < 4 * 86400


def test_each_delay_stays_within_ten_percent_of_the_schedule_and_is_stable_per_delivery():
    policy = DeliveryPolicy()
    for attempt, base in enumerate(DEFAULT_SCHEDULE, start=1):
        delays = {policy.delay_after(attempt, key=f"e{n}|ep") for n in range(20)}
        assert all(0.9 * base - 1 <= d <= 1.1 * base + 1 for d in delays)
        assert policy.delay_after(attempt, key="e1|ep") == policy.delay_after(attempt, key="e1|ep")
    assert len({policy.delay_after(4, key=f"e{n}|ep") for n in range(20)}) > 1  # spread out


def test_a_receivers_retry_after_is_honoured_up_to_a_day():
    policy = DeliveryPolicy(schedule=(5,), jitter=0)
    assert policy.delay_after(1, key="k", retry_after=600) == 600
    assert policy.delay_after(1, key="k", retry_after=2) == 5  # never sooner than the schedule
    assert policy.delay_after(1, key="k", retry_after=10 * 86400) == 86400


# ----- where we send: the SSRF rules -------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1",  # noqa: S104 - an address refused, not bound "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.2.10", "198.18.0.1",
        "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1", "fd12:3456::1", "ff02::1", "fec0::1",
        "2001:db8::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:a00:1::", "64:ff9b::a9fe:a9fe",
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo carrying 10.0.0.1
    ],
)  # fmt: skip
def test_private_loopback_link_local_multicast_and_reserved_addresses_are_refused(address):
    assert address_refusal(address) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_unicast_addresses_pass(address):
    assert address_refusal(address) is None


def test_the_local_setting_lets_loopback_through_and_nothing_else():
    assert address_refusal("127.0.0.1", allow_loopback=True) is None
    assert address_refusal("::1", allow_loopback=True) is None
    assert address_refusal("10.0.0.1", allow_loopback=True) is not None
    assert address_refusal("169.254.169.254", allow_loopback=True) is not None


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/x", "url_not_https"),
        ("ftp://hooks.example.com/x", "url_not_https"),
        ("https://user:pw@hooks.example.com/x", "url_refused"),
        ("https:///nohost", "url_refused"),
        ("https://127.0.0.1/x", "address_refused"),
        ("https://[::1]/x", "address_refused"),
        ("https://[fe80::1]/x", "address_refused"),
        ("https://169.254.169.254/latest/meta-data", "address_refused"),
        ("https://localhost/x", "address_refused"),
        ("https://a.localhost/x", "address_refused"),
        ("https://hooks.example.com:99999/x", "url_refused"),
    ],
)
def test_endpoint_urls_must_be_https_on_a_public_host(url, code):
    with pytest.raises(UrlRefused) as refused:
        check_url(url)
    assert refused.value.code == code


def test_plain_http_is_allowed_only_to_loopback_and_only_with_the_local_setting():
    assert check_url("http://127.0.0.1:8080/hooks", allow_loopback=True).port == 8080
    with pytest.raises(UrlRefused):
        check_url("http://127.0.0.1:8080/hooks")
    with pytest.raises(UrlRefused):
        check_url("http://hooks.example.com/x", allow_loopback=True)


def test_a_public_https_url_passes():
    target = check_url("https://Hooks.Example.com/leonardo?app=1")
    assert (target.scheme, target.host, target.port, target.is_ip) == (
        "https",
        "hooks.example.com",
        443,
        False,
    )


class _Recorder(httpx.BaseTransport):
    def __init__(self, status: int = 200, headers: dict | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.status, self.headers = status, headers or {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers)


def test_dns_rebinding_a_name_that_now_resolves_to_a_private_address_is_refused_at_delivery():
    # Given a name that passed when it was added, now answering with the metadata address
    transport = _Recorder()
    sender = HttpSender(resolve=lambda host, port: ["93.184.215.14", "169.254.169.254"], transport=transport)
    # When a delivery is sent
    result = sender.post("https://hooks.example.com/x", b"{}", {})
    # Then nothing is sent
    assert result == SendResult(error="address_refused")
    assert transport.requests == []


def test_the_request_goes_to_the_checked_address_with_the_name_in_host_and_tls():
    transport = _Recorder()
    sender = HttpSender(resolve=lambda host, port: ["2606:4700:4700::1111"], transport=transport)
    result = sender.post("https://hooks.example.com:8443/x?a=1", b"{}", {"webhook-id": "e1"})
    assert result.status_code == 200
    (request,) = transport.requests
    assert request.url.host == "2606:4700:4700::1111" and request.url.port == 8443
    assert request.url.raw_path == b"/x?a=1"
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"  # certificate checked for the name
    assert request.headers["webhook-id"] == "e1"


def test_a_redirect_is_a_failure_and_is_not_followed():
    transport = _Recorder(status=302, headers={"location": "http://169.254.169.254/"})
    sender = HttpSender(resolve=lambda host, port: ["93.184.215.14"], transport=transport)
    result = sender.post("https://hooks.example.com/x", b"{}", {})
    assert result.status_code == 302 and not result.ok
    assert len(transport.requests) == 1


def test_retry_after_is_read_from_the_answer():
    transport = _Recorder(status=429, headers={"retry-after": "120"})
    sender = HttpSender(resolve=lambda host, port: ["93.184.215.14"], transport=transport)
    assert sender.post("https://hooks.example.com/x", b"{}", {}).retry_after == 120


# ----- events from the bus ---------------------------------------------------------------------------


def _bus_event(
    status: str = "COMPLETE", detail_type: str = "Generation Completed", job: str = "job-1"
) -> dict:
    return {
        "version": "0", "id": "bus-id", "source": "leonardo-backend", "detail-type": detail_type,
        "time": "2026-12-04T12:00:00Z",
        "detail": {"version": "1", "event_id": f"{job}:{status}", "job_id": job, "user_id": "alice",
                   "status": status, "outputs": []},
    }  # fmt: skip


def test_the_delivered_body_is_type_timestamp_and_the_events_detail():
    event = event_from_bus(_bus_event())
    body = json.loads(event.body)
    assert body == {
        "type": "generation.completed",
        "timestamp": "2026-12-04T12:00:00Z",
        "data": _bus_event()["detail"],
    }
    assert event.event_id == "job-1:COMPLETE"
    assert payload_type("Generation Cancelled") == "generation.cancelled"
    assert payload_type("Batch Completed") == "batch.completed"


@pytest.mark.parametrize("mutate", [lambda e: e.pop("detail"), lambda e: e["detail"].pop("event_id"),
                                    lambda e: e["detail"].update(event_id="a.b")])  # fmt: skip
def test_an_event_without_a_usable_id_is_refused(mutate):
    event = _bus_event()
    mutate(event)
    with pytest.raises(NotAnEvent):
        event_from_bus(event)


# ----- the use case on fakes --------------------------------------------------------------------------


class FakeStore:
    def __init__(self) -> None:
        self.endpoints_: dict[str, Endpoint] = {}
        self.events: dict[str, StoredEvent] = {}
        self.deliveries: dict[tuple[str, str], dict] = {}

    def endpoints(self):
        return list(self.endpoints_.values())

    def endpoint(self, endpoint_id):
        return self.endpoints_.get(endpoint_id)

    def save_event(self, event, *, expires_at):
        return self.events.setdefault(event.event_id, event)

    def mark_fanned_out(self, event_id):
        self.events[event_id] = replace(self.events[event_id], fanned_out=True)

    def event(self, event_id):
        return self.events.get(event_id)

    def _delivery(self, key) -> Delivery:
        d = self.deliveries[key]
        return Delivery(key[0], key[1], d["status"], d["round"], d["attempts"], d.get("code"), d.get("error"))

    def open_delivery(self, event_id, endpoint_id, *, now, expires_at):
        self.deliveries.setdefault((event_id, endpoint_id), {"status": "pending", "round": 0, "attempts": 0})
        return self._delivery((event_id, endpoint_id))

    def reopen(self, event_id, endpoint_id, *, now, expires_at):
        d = self.deliveries.setdefault((event_id, endpoint_id), {"round": -1})
        d.update(status="pending", round=d["round"] + 1, attempts=0)
        return self._delivery((event_id, endpoint_id))

    def claim(self, message, *, now, lease_until):
        d = self.deliveries[(message.event_id, message.endpoint_id)]
        fresh = d["attempts"] == message.attempt - 1 and d["status"] == "pending"
        taken_over = d["attempts"] == message.attempt and d["status"] == "delivering" and d["lease"] < now
        if d["round"] != message.round or not (fresh or taken_over):
            return False
        d.update(attempts=message.attempt, status="delivering", lease=lease_until)
        return True

    def record(self, message, *, status, now, status_code, error, next_attempt_at=None):
        d = self.deliveries[(message.event_id, message.endpoint_id)]
        if d["round"] == message.round and d["attempts"] == message.attempt:
            d.update(status=status, code=status_code, error=error, next=next_attempt_at)

    def endpoint_succeeded(self, endpoint_id):
        self.endpoints_[endpoint_id] = replace(
            self.endpoints_[endpoint_id], failing_since=None, failed_events=0
        )

    def endpoint_failed(self, endpoint_id, *, now, exhausted):
        e = self.endpoints_[endpoint_id]
        e = replace(
            e, failing_since=e.failing_since or now.timestamp(), failed_events=e.failed_events + exhausted
        )
        self.endpoints_[endpoint_id] = e
        return e

    def disable(self, endpoint_id, *, reason, now):
        e = self.endpoints_[endpoint_id]
        if not e.enabled:
            return False
        self.endpoints_[endpoint_id] = replace(e, enabled=False, disabled_reason=reason)
        return True


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[tuple[DeliveryMessage, int]] = []

    def send(self, message, *, delay_seconds):
        self.sent.append((message, delay_seconds))

    def take(self) -> DeliveryMessage:
        return self.sent.pop(0)[0]


class FakeKeys:
    def __init__(self, secret: str) -> None:
        self.secret = secret

    def active(self, endpoint, now):
        return [self.secret]


class ScriptedSender:
    def __init__(self) -> None:
        self.answers: list[SendResult] = []
        self.sent: list[tuple[str, bytes, dict]] = []

    def post(self, url, body, headers):
        self.sent.append((url, body, headers))
        return self.answers.pop(0) if self.answers else SendResult(status_code=200)


@pytest.fixture
def world():
    clock = FakeClock(T0)
    store, queue, sender = FakeStore(), FakeQueue(), ScriptedSender()
    secret = new_secret()
    store.endpoints_["ep1"] = Endpoint(
        "ep1", "app", "https://hooks.example.com/x", ("Generation Completed",), "arn:secret", T0.isoformat()
    )
    policy = DeliveryPolicy(
        schedule=(5, 300, 1800), disable_after_failed_events=2, disable_after_seconds=86400
    )
    hooks = AppWebhooks(store, queue, FakeKeys(secret), sender, clock, policy)
    return hooks, store, queue, sender, clock, secret


def test_a_published_event_is_delivered_once_signed_with_the_event_id(world):
    hooks, store, queue, sender, _, secret = world
    # Given a Generation Completed event on the bus
    assert hooks.publish(_bus_event()) == 1
    # When the delivery message is handled
    outcome = hooks.deliver(queue.take())
    # Then the endpoint got the body, signed, under the event id
    assert outcome.name == "delivered"
    ((url, body, headers),) = sender.sent
    assert url == "https://hooks.example.com/x" and headers["webhook-id"] == "job-1:COMPLETE"
    moment = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)  # the fake clock's
    assert headers["webhook-signature"] == Webhook(secret).sign("job-1:COMPLETE", moment, body.decode())
    assert store.deliveries[("job-1:COMPLETE", "ep1")]["status"] == DeliveryStatus.DELIVERED


def test_events_an_endpoint_did_not_subscribe_to_and_disabled_endpoints_get_nothing(world):
    hooks, store, queue, *_ = world
    assert hooks.publish(_bus_event("FAILED", "Generation Failed")) == 0
    store.endpoints_["ep1"] = replace(store.endpoints_["ep1"], enabled=False)
    assert hooks.publish(_bus_event()) == 0
    assert queue.sent == []


def test_a_repeated_bus_event_is_not_delivered_twice(world):
    hooks, _, queue, sender, *_ = world
    hooks.publish(_bus_event())
    hooks.publish(_bus_event())  # the bus delivers at least once; the outbox may publish again
    for message, _ in list(queue.sent):
        hooks.deliver(message)
    assert len(sender.sent) == 1


def test_a_500_is_retried_after_the_scheduled_delay_with_the_same_webhook_id(world):
    hooks, store, queue, sender, clock, _ = world
    sender.answers = [SendResult(status_code=500)]
    hooks.publish(_bus_event())
    assert hooks.deliver(queue.take()).name == "retry_scheduled"
    # The next attempt is enqueued with the schedule's first delay (jittered)
    following, delay = queue.sent[0]
    assert following.attempt == 2 and 4 <= delay <= 6
    log = store.deliveries[("job-1:COMPLETE", "ep1")]
    assert (log["status"], log["attempts"], log["code"]) == ("pending", 1, 500)
    clock.advance(delay)
    assert hooks.deliver(queue.take()).name == "delivered"
    assert [h["webhook-id"] for _, _, h in sender.sent] == ["job-1:COMPLETE", "job-1:COMPLETE"]
    assert store.endpoints_["ep1"].failing_since is None


def test_a_delay_beyond_sqs_fifteen_minutes_is_waited_out_by_re_enqueueing(world):
    hooks, _, queue, sender, clock, _ = world
    sender.answers = [SendResult(status_code=500)] * 3
    hooks.publish(_bus_event())
    hooks.deliver(queue.take())
    clock.advance(10)
    hooks.deliver(queue.take())  # attempt 2 fails: the next delay is ~300 s
    clock.advance(400)
    hooks.deliver(queue.take())  # attempt 3 fails: ~1800 s, more than SQS can delay
    message, delay = queue.sent[-1]
    assert delay == 900 and message.not_before - clock().timestamp() > 1600
    # Received after 900 s: too early, so it goes round again without an attempt
    clock.advance(900)
    assert hooks.deliver(queue.take()).name == "deferred"
    assert len(sender.sent) == 3


def test_a_repeat_of_an_event_fanned_out_before_reaches_no_endpoint_added_since(world):
    hooks, store, queue, sender, *_ = world
    hooks.publish(_bus_event())
    hooks.deliver(queue.take())
    store.endpoints_["ep2"] = replace(store.endpoints_["ep1"], endpoint_id="ep2")
    assert hooks.publish(_bus_event()) == 0
    assert queue.sent == [] and len(sender.sent) == 1


def test_a_fan_out_cut_short_is_finished_by_the_repeat(world):
    hooks, store, queue, *_ = world
    # Given a fan-out that stored the event and died before it was done
    store.save_event(event_from_bus(_bus_event()), expires_at=0)
    # When the queue delivers the bus event again
    assert hooks.publish(_bus_event()) == 1
    assert hooks.deliver(queue.take()).name == "delivered"


def test_a_repeated_or_stale_delivery_message_is_dropped(world):
    hooks, _, queue, sender, *_ = world
    hooks.publish(_bus_event())
    message = queue.take()
    assert hooks.deliver(message).name == "delivered"
    assert hooks.deliver(message).name == "stale"
    assert len(sender.sent) == 1


def test_an_attempt_that_crashed_is_taken_over_after_its_lease(world):
    hooks, store, queue, _, clock, _ = world
    hooks.publish(_bus_event())
    message = queue.take()
    # Given an attempt claimed by an invocation that died before recording anything
    assert store.claim(message, now=clock(), lease_until=clock() + timedelta(seconds=120))
    assert hooks.deliver(message).name == "stale"  # its lease still runs
    clock.advance(121)
    assert hooks.deliver(message).name == "delivered"


def test_after_the_last_attempt_the_delivery_failed_and_the_endpoint_is_disabled_after_two_such_events(world):
    hooks, store, queue, sender, clock, _ = world
    sender.answers = [SendResult(status_code=503)] * 8
    outcomes = []
    for job in ("job-1", "job-2"):
        hooks.publish(_bus_event(job=job))
        while queue.sent:
            message = queue.take()
            clock.advance(max(0.0, message.not_before - clock().timestamp()))
            outcomes.append(hooks.deliver(message))
    assert [o.name for o in outcomes] == ["retry_scheduled"] * 3 + ["failed"] + ["retry_scheduled"] * 3 + [
        "failed"
    ]
    assert outcomes[-1].disabled_endpoint == "ep1"
    assert not store.endpoints_["ep1"].enabled
    assert store.endpoints_["ep1"].disabled_reason == "2_events_failed"
    assert store.deliveries[("job-2:COMPLETE", "ep1")]["status"] == DeliveryStatus.FAILED


def test_an_endpoint_failing_for_longer_than_the_limit_is_disabled(world):
    hooks, store, queue, sender, *_ = world
    store.endpoints_["ep1"] = replace(
        store.endpoints_["ep1"], failing_since=(T0 - timedelta(days=2)).timestamp()
    )
    sender.answers = [SendResult(error="timeout")]
    hooks.publish(_bus_event())
    outcome = hooks.deliver(queue.take())
    assert outcome.name == "retry_scheduled" and outcome.disabled_endpoint == "ep1"
    assert store.endpoints_["ep1"].disabled_reason == "failing_too_long"


def test_410_gone_disables_the_endpoint_at_once(world):
    hooks, _, queue, sender, *_ = world
    sender.answers = [SendResult(status_code=410)]
    hooks.publish(_bus_event())
    outcome = hooks.deliver(queue.take())
    assert (outcome.name, outcome.disabled_endpoint) == ("disabled", "ep1")
    assert queue.sent == []


def test_a_delivery_for_an_endpoint_disabled_meanwhile_is_skipped(world):
    hooks, store, queue, sender, *_ = world
    hooks.publish(_bus_event())
    store.endpoints_["ep1"] = replace(store.endpoints_["ep1"], enabled=False)
    assert hooks.deliver(queue.take()).name == "skipped"
    assert sender.sent == []


def test_replay_delivers_again_in_a_new_round_with_the_same_id(world):
    hooks, _, queue, sender, *_ = world
    hooks.publish(_bus_event())
    first = queue.take()
    hooks.deliver(first)
    assert hooks.replay("job-1:COMPLETE") == ["ep1"]
    again = queue.take()
    assert (again.round, again.attempt) == (1, 1)
    assert hooks.deliver(again).name == "delivered"
    assert hooks.deliver(first).name == "stale"  # the old round's message can never send again
    assert [h["webhook-id"] for _, _, h in sender.sent] == ["job-1:COMPLETE"] * 2


def test_replay_of_an_unknown_event_says_so(world):
    hooks, *_ = world
    with pytest.raises(LookupError):
        hooks.replay("nope")


# ----- the handler ----------------------------------------------------------------------------------


def test_the_handler_fans_out_bus_events_and_delivers_delivery_messages(monkeypatch):
    # Given the sample batch (events/app-webhook-sqs.json): one bus event, one delivery message
    import importlib.util
    from pathlib import Path

    from gencore import outbound_webhooks
    from gencore.domain.app_webhooks import Outcome

    spec = importlib.util.spec_from_file_location("app_webhook_app", Path("functions/app_webhook/app.py"))
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    calls = []

    class UseCase:
        def publish(self, envelope):
            calls.append(("publish", envelope["detail"]["event_id"]))
            return 1

        def deliver(self, message):
            calls.append(("deliver", message.attempt))
            return Outcome("disabled", disabled_endpoint=message.endpoint_id)

    monkeypatch.setenv("APP_WEBHOOK_QUEUE_URL", "https://sqs.example/q")
    outbound_webhooks.settings.cache_clear()
    monkeypatch.setattr(outbound_webhooks, "app_webhooks", lambda: UseCase())
    event = json.loads(Path("events/app-webhook-sqs.json").read_text())

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "AppWebhookFunction", 512, "r1"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:AppWebhookFunction"

        def get_remaining_time_in_millis(self):
            return 60_000

    # When the handler runs it
    response = app.lambda_handler(event, Context())
    outbound_webhooks.settings.cache_clear()
    # Then both records succeeded, each through its own use
    assert response == {"batchItemFailures": []}
    assert calls == [("publish", "9f1c2d3e-4b5a-6789-abcd-ef0123456789:COMPLETE"), ("deliver", 2)]


# ----- the verification snippets apps are given (docs/webhooks.md, README) ---------------------------


def _python_blocks(path: str) -> list[str]:
    from pathlib import Path

    text = Path(path).read_text()
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_the_documented_by_hand_verification_accepts_our_deliveries_and_refuses_tampering():
    # Given the by-hand snippet of docs/webhooks.md and a delivery signed during a rotation
    namespace: dict = {}
    exec(_python_blocks("docs/webhooks.md")[1], namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    old, new = new_secret(), new_secret()
    body, now = b'{"type":"generation.completed","data":{"job_id":"j1"}}', int(datetime.now(UTC).timestamp())
    headers = {"webhook-id": "j1:COMPLETE", "webhook-timestamp": str(now),
               "webhook-signature": signature_header([new, old], "j1:COMPLETE", now, body)}  # fmt: skip
    # Then either secret verifies it
    assert verify(new, headers, body)["data"]["job_id"] == "j1"
    assert verify(old, headers, body)["type"] == "generation.completed"
    # And a changed body, another secret or a stale timestamp do not
    with pytest.raises(ValueError):
        verify(new, headers, body.replace(b"j1", b"j2"))
    with pytest.raises(ValueError):
        verify(new_secret(), headers, body)
    stale = headers | {"webhook-timestamp": str(now - 600)}
    stale["webhook-signature"] = signature_header([new], "j1:COMPLETE", now - 600, body)
    with pytest.raises(ValueError):
        verify(new, stale, body)


def test_the_documented_package_verification_accepts_our_deliveries():
    secret, body, now = new_secret(), b'{"type":"generation.failed"}', int(datetime.now(UTC).timestamp())
    headers = {"webhook-id": "j1:FAILED", "webhook-timestamp": str(now),
               "webhook-signature": signature_header([secret], "j1:FAILED", now, body)}  # fmt: skip
    namespace = {"secret": secret, "raw_body": body, "headers": headers}
    exec(_python_blocks("docs/webhooks.md")[0], namespace)  # noqa: S102 - our own documentation
    assert namespace["event"] == {"type": "generation.failed"}


# ----- the template's wiring -------------------------------------------------------------------------


def test_the_bus_rule_sends_our_completion_types_to_the_delivery_queue_and_only_it_may():
    from tests.support.template import load_template

    resources = load_template()["Resources"]
    rule = resources["AppWebhookRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBus"}
    assert rule["EventPattern"] == {"source": ["leonardo-backend"], "detail-type": list(EVENT_TYPES)}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"GetAtt": "AppWebhookQueue.Arn"}
    assert target["DeadLetterConfig"] == {"Arn": {"GetAtt": "AppWebhookDLQ.Arn"}}
    (statement,) = resources["AppWebhookQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"GetAtt": "AppWebhookRule.Arn"}}}
    # The delivery function polls that queue, reporting failures per record
    source = resources["AppWebhookFunction"]["Properties"]["Events"]["Deliveries"]["Properties"]
    assert source["Queue"] == {"GetAtt": "AppWebhookQueue.Arn"}
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = resources["AppWebhookQueue"]["Properties"]
    timeout = resources["AppWebhookFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"GetAtt": "AppWebhookDLQ.Arn"}
    # And nothing in the template lets loopback through: only the local stack sets it
    assert "APP_WEBHOOKS_ALLOW_LOOPBACK" not in json.dumps(load_template())
