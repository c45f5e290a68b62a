"""Fuzz and abuse suites: one local stack per pytest process, driven over real HTTP on loopback.

These suites share moto's in-process state with nothing else, so they run in their own pytest
process, selected with the `fuzz` marker:

    .venv/bin/python -m pytest -m fuzz -q tests/fuzz                   # CI size (FUZZ_EXAMPLES=30)
    FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest -m fuzz -q tests/fuzz -p no:timeout   # long run

The session stack differs from the e2e one in four ways, all for the abuse tests:
- recognisable canary keys (`LEOKEY-canary-...`, `HOOKKEY-canary-...`), so a leak anywhere is findable;
- `AllowedOutputOrigins` also lists a tiny redirecting server on loopback (an allow-listed origin
  whose every answer is a redirect to a forbidden one);
- an egress guard: every DNS lookup or connect to a non-loopback address from this process is
  refused and recorded (the handlers run in-process, so an SSRF attempt would show up here, and
  no fuzz case can send traffic off the machine);
- the simulator's rate limits and credits are raised so a long run is not throttled into noise.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from stackrunner import LocalStack, StackConfig
from stackrunner.stack import free_port

CANARY = uuid.uuid4().hex[:12]
LEONARDO_KEY = f"LEOKEY-canary-{CANARY}"
WEBHOOK_KEY = f"HOOKKEY-canary-{CANARY}"
# Per operation; the long form is FUZZ_EXAMPLES=10000.
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))


# ----- egress guard ---------------------------------------------------------------------------------


def _is_loopback(host: object) -> bool:
    if host in ("localhost", "localhost.", b"localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@dataclass
class EgressGuard:
    """Refuses and records every non-loopback DNS lookup and connect made by this process."""

    blocked: list[tuple[str, object]] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        guard = self

        def getaddrinfo(host, *args, **kwargs):
            if host is not None and not _is_loopback(host):
                guard._record("dns", host)
                raise socket.gaierror(socket.EAI_NONAME, f"egress guard: lookup of {host!r} refused")
            return real_getaddrinfo(host, *args, **kwargs)

        def check(sock, address) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host, port = address[0], address[1]
                with guard._lock:
                    guard.connects.append((str(host), int(port)))
                if not _is_loopback(host):
                    guard._record("connect", address)
                    raise ConnectionRefusedError(f"egress guard: connect to {address!r} refused")

        def connect(sock, address):
            check(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock, address):
            check(sock, address)
            return real_connect_ex(sock, address)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)

    def _record(self, kind: str, target: object) -> None:
        with self._lock:
            self.blocked.append((kind, target))

    def connects_to_port(self, port: int) -> list[tuple[str, int]]:
        with self._lock:
            return [c for c in self.connects if c[1] == port]


# ----- tiny loopback servers ------------------------------------------------------------------------


class LoopbackServer:
    """A counting HTTP server on 127.0.0.1. With `redirect_to`, every GET answers 302 to it."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                with owner._lock:
                    owner.requests.append((self.command, self.path))
                if owner.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("location", owner.redirect_to + self.path)
                    self.send_header("content-length", "0")
                    self.end_headers()
                    return
                body = b"\x89PNG\r\n\x1a\n" + b"\0" * 64  # would pass a magic-bytes check if ever fetched
                self.send_response(200)
                self.send_header("content-type", "image/png")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = _answer

            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

        self.redirect_to = redirect_to
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1})
        self._thread.daemon = True

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def count(self) -> int:
        with self._lock:
            return len(self.requests)


# ----- log capture ----------------------------------------------------------------------------------


class _Tee(io.TextIOBase):
    def __init__(self, *streams) -> None:
        self._streams = streams

    def write(self, text: str) -> int:
        for stream in self._streams:
            stream.write(text)
        return len(text)

    def flush(self) -> None:
        for stream in self._streams:
            stream.flush()


@pytest.fixture(scope="session")
def session_logs() -> Iterator[io.StringIO]:
    """Every line the handlers (Powertools JSON), gencore, the runner and the simulator log, all session.

    The Powertools handlers keep writing where they did (a tee), so failures still show the logs.
    """
    import gencore.observability  # noqa: F401  (creates the Powertools handlers before we tee them)

    buffer = io.StringIO()
    patched: list[tuple[logging.StreamHandler, object]] = []
    for name in ("leonardo-backend", "gencore"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, logging.StreamHandler):
                patched.append((handler, handler.stream))
                handler.setStream(_Tee(handler.stream, buffer))
    capture = logging.StreamHandler(buffer)
    capture.setLevel(logging.DEBUG)
    capture.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    levels = {}
    for name in ("stackrunner", "leonardo_simulator", "uvicorn", "uvicorn.error", "uvicorn.access"):
        noisy = logging.getLogger(name)
        levels[name] = noisy.level
        noisy.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(capture)
    try:
        yield buffer
    finally:
        logging.getLogger().removeHandler(capture)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for handler, stream in patched:
            handler.setStream(stream)


# ----- the stack ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def egress_guard() -> Iterator[EgressGuard]:
    guard = EgressGuard()
    with pytest.MonkeyPatch.context() as monkeypatch:
        guard.install(monkeypatch)
        yield guard


@pytest.fixture(scope="session")
def receiver() -> Iterator[LoopbackServer]:
    """A server no output may ever be fetched from: it must see zero requests."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture(scope="session")
def redirector(receiver: LoopbackServer) -> Iterator[LoopbackServer]:
    """An allow-listed origin whose every answer redirects to the receiver."""
    with LoopbackServer(redirect_to=receiver.origin) as server:
        yield server


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    egress_guard: EgressGuard,
    session_logs: io.StringIO,
    redirector: LoopbackServer,
) -> Iterator[LocalStack]:
    simulator_port = free_port()
    config = StackConfig.fast(
        simulator_port=simulator_port,
        leonardo_api_key=LEONARDO_KEY,
        webhook_key=WEBHOOK_KEY,
        parameters={"AllowedOutputOrigins": f"http://127.0.0.1:{simulator_port},{redirector.origin}"},
        simulator_config_overrides={
            "rate_limit_per_minute": 1_000_000,
            "create_rate_limit_per_minute": 1_000_000,
            "queue_limit": 100_000,
            "starting_credits": 10**12,
        },
        stack_name=f"fuzz-{uuid.uuid4().hex[:8]}",
        jwt_state_dir=tmp_path_factory.mktemp("jwt"),
    )
    with LocalStack(config) as running:
        assert running.simulator.origin == f"http://127.0.0.1:{simulator_port}"
        yield running


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client


@pytest.fixture
def user(stack: LocalStack) -> tuple[str, dict[str, str]]:
    """A fresh user with its authorization header."""
    name = f"user-{uuid.uuid4().hex[:8]}"
    return name, {"authorization": f"Bearer {stack.token(name)}"}
