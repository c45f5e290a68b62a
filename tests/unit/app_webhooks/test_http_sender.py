"""The HTTP sender: the SSRF rules again at delivery (DNS rebinding), no redirects, Retry-After."""

from __future__ import annotations

import httpx
import pytest

from gencore.adapters.app_webhooks.http_sender import HttpSender
from gencore.domain.app_webhooks.records import SendResult

pytestmark = pytest.mark.unit


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
