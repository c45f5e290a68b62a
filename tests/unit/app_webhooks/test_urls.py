"""Where outbound webhooks may be sent: the SSRF rules on addresses and endpoint URLs."""

from __future__ import annotations

import pytest

from gencore.domain.app_webhooks.urls import UrlRefused, address_refusal, check_url

pytestmark = pytest.mark.unit


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
