"""Sending an init image (or a canvas mask) to the presigned S3 URL Leonardo hands out.

A separate HTTP client with no auth hook and no default headers (S3 answers 403 to
Leonardo's Authorization header), that follows no redirects and posts only to hosts in
``upload_hosts`` over https (plain http on loopback only, for the simulator). Same timeouts
and retry policy as the API calls: posting the same bytes to the same key again is harmless.
"""

import ipaddress
import re
from typing import Any

import httpx

from .errors import BadResponseError, LeonardoError, RetryableError, UploadRefusedError, UploadRejectedError
from .models import InitImageUpload
from .retry import Retrier, parse_retry_after
from .transport import LazyHttp

# Leonardo's presigned init-image uploads go to S3 (e.g. <bucket>.s3-accelerate.amazonaws.com).
DEFAULT_UPLOAD_HOSTS: tuple[str, ...] = ("*.amazonaws.com",)
_HOST_NAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
_S3_CODE = re.compile(r"<Code>\s*([A-Za-z0-9.]{1,64})\s*</Code>")


def check_host_pattern(pattern: str) -> str:
    """An exact host (name or IP) or ``*.suffix``, lower-cased; anything broader is a mistake."""
    lowered = pattern.strip().lower().rstrip(".").removeprefix("[").removesuffix("]")
    name = lowered.removeprefix("*.")
    wildcard = name != lowered
    if wildcard and "." not in name:
        raise ValueError(f"upload_hosts: {pattern!r} would match a whole top-level domain")
    if not (_HOST_NAME.fullmatch(name) or (not wildcard and _is_ip(name))):
        raise ValueError(f"upload_hosts: {pattern!r} is not a host or a '*.suffix' pattern")
    return lowered


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
                return True
        elif host == pattern:
            return True
    return False


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _s3_code(response: httpx.Response) -> str | None:
    """S3's error ``<Code>``: the one part of its XML safe to keep (some answers echo the policy)."""
    found = _S3_CODE.search(response.text[:4096])
    return found.group(1) if found else None


class PresignedUploader(LazyHttp):
    """Posts files to presigned S3 slots."""

    def __init__(
        self,
        upload_hosts: tuple[str, ...],
        timeout: httpx.Timeout,
        retrier: Retrier,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if isinstance(upload_hosts, str):  # type: ignore[unreachable]  # for untyped callers
            raise ValueError("upload_hosts must be a tuple of hosts, not one string")
        super().__init__()
        self._upload_hosts = tuple(check_host_pattern(p) for p in upload_hosts)
        self._timeout = timeout
        self._retrier = retrier
        self._transport = transport

    def send(self, upload: InitImageUpload, content: bytes, content_type: str) -> None:
        """Post ``upload.fields`` then the file (last, named ``file``: S3 ignores anything after
        it). Transport failures and 5xx are retried; a 4xx raises :class:`UploadRejectedError`,
        a URL outside ``upload_hosts`` :class:`UploadRefusedError` before connecting."""
        url = self.checked_url(upload.url)
        target = f"//{url.host}{url.path}"  # for logs and messages: no query, no fields
        filename = upload.key.rsplit("/", 1)[-1] or "init-image"
        files = {"file": (filename, content, content_type)}
        self._retrier.run("POST", target, lambda: self._attempt(url, target, upload.fields, files), "upload")

    def checked_url(self, raw: str) -> httpx.URL:
        try:
            url = httpx.URL(raw)
        except httpx.InvalidURL:
            raise UploadRefusedError("the init-image upload URL is not a valid URL") from None
        host = url.host.lower().rstrip(".")
        if url.userinfo:
            raise UploadRefusedError(f"the init-image upload URL for {host!r} carries credentials")
        if url.scheme != "https" and not (url.scheme == "http" and _is_loopback(host)):
            raise UploadRefusedError(f"the init-image upload URL for {host!r} is not https")
        if not host_allowed(host, self._upload_hosts):
            raise UploadRefusedError(f"init-image upload host {host!r} is not in upload_hosts")
        return url

    def _build(self) -> httpx.Client:
        # No auth hook and no default headers: S3 refuses Leonardo's Authorization header.
        return httpx.Client(timeout=self._timeout, transport=self._transport, follow_redirects=False)

    def _attempt(
        self, url: httpx.URL, target: str, fields: dict[str, str], files: dict[str, Any]
    ) -> LeonardoError | None:
        try:
            # httpx writes `data` fields before `files`: the file goes last, as S3 requires.
            response = self._client().post(url, data=fields, files=files)
        except httpx.TransportError as exc:
            error = RetryableError(f"init-image upload POST {target} failed: {type(exc).__name__}")
            error.__cause__ = exc
            return error
        if response.is_success:
            return None
        status = response.status_code
        s3_code = _s3_code(response)
        message = f"init-image upload POST {target} answered {status}" + (f" ({s3_code})" if s3_code else "")
        body = {"Code": s3_code} if s3_code else None
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            return RetryableError(message, status=status, body=body, retry_after=retry_after)
        if 400 <= status < 500:
            return UploadRejectedError(message, status=status, body=body, s3_code=s3_code)
        return BadResponseError(message, status=status, body=body)  # redirects are not followed


__all__ = ["DEFAULT_UPLOAD_HOSTS", "PresignedUploader", "check_host_pattern", "host_allowed"]
