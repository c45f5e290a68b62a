"""The HTTP sender: one signed POST per attempt, to an address checked against the SSRF rules."""

from __future__ import annotations

import email.utils
import socket
import time
from collections.abc import Callable

import httpx

from gencore.domain.app_webhooks.records import SendResult
from gencore.domain.app_webhooks.urls import UrlRefused, check_addresses, check_url


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


class HttpSender:
    """POSTs one signed delivery: never follows a redirect, never reads more than the status.

    The host is resolved here and every address checked (a name that now points at a private
    address is refused: DNS rebinding); the connection then goes to the checked address itself,
    with the name in the Host header and in TLS (SNI and certificate check), so a second
    resolution between the check and the connect cannot change where the request lands.
    """

    def __init__(
        self,
        *,
        allow_loopback: bool = False,
        timeout: httpx.Timeout | None = None,
        resolve: Callable[[str, int], list[str]] = system_resolve,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._allow_loopback = allow_loopback
        self._timeout = timeout or httpx.Timeout(10.0, connect=3.0, write=5.0, pool=2.0)
        self._resolve, self._transport = resolve, transport
        self._http: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(
                timeout=self._timeout, follow_redirects=False, transport=self._transport, trust_env=False
            )
        return self._http

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        try:
            target = check_url(url, allow_loopback=self._allow_loopback)
            addresses = [target.host] if target.is_ip else self._resolve(target.host, target.port)
            check_addresses(addresses, allow_loopback=self._allow_loopback)
        except UrlRefused as refused:
            return SendResult(error=refused.code)
        except OSError:
            return SendResult(error="dns_failed")
        request_url = httpx.URL(url).copy_with(host=addresses[0], fragment=None)
        netloc = httpx.URL(url).netloc.decode()
        extensions = {} if target.is_ip or target.scheme != "https" else {"sni_hostname": target.host}
        try:
            request = self._client().build_request(
                "POST", request_url, content=body, headers={**headers, "host": netloc}, extensions=extensions
            )
            response = self._client().send(request, stream=True)
            response.close()  # the status is all we keep: the body is not read
        except httpx.TimeoutException:
            return SendResult(error="timeout")
        except httpx.HTTPError:
            return SendResult(error="connection_failed")
        return SendResult(
            status_code=response.status_code, retry_after=_retry_after(response.headers.get("retry-after"))
        )
