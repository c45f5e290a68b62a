"""A webhook receiver on loopback for the outbound webhook tests: records every request it gets and
answers what it is told to (200 by default; `fail_next(n, status)` answers `status` n times first).

    with WebhookReceiver() as receiver:
        url = receiver.url            # http://127.0.0.1:<port>/hooks
        receiver.fail_next(1, 500)
        ...
        receiver.wait_for(2)          # the recorded requests, once there are at least two
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    answered: int
    at: float


class WebhookReceiver:
    def __init__(self, path: str = "/hooks") -> None:
        self.path = path
        self.requests: list[Received] = []
        self._answers: list[int] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver._answers.pop(0) if receiver._answers else 200
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append(Received(self.path, headers, body, status, time.time()))
                    receiver._lock.notify_all()
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._answers.extend([status] * count)

    def answer_always(self, status: int, count: int = 1000) -> None:
        self.fail_next(count, status)

    def recover(self) -> None:
        with self._lock:
            self._answers.clear()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self.requests)} of {count} webhook requests after {timeout} s"
                    )
                self._lock.wait(left)
            return list(self.requests)
