"""Test helpers shared by the simulator and contract suites: a webhook receiver
on loopback, polling, a client for the simulator, and init-image uploads."""

from __future__ import annotations

import io
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from PIL import Image

from leonardo_simulator import SimulatorHandle

API_KEY = "sim-key"
WEBHOOK_KEY = "hook-key"
AUTH = {"authorization": f"Bearer {API_KEY}"}


def wait_for[T](predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@dataclass
class Delivery:
    headers: dict[str, str]
    body: dict[str, Any]
    status: int  # what the receiver answered


class WebhookReceiver:
    """Records every POST; answers `fail_status` to the first `fail_first` ones."""

    def __init__(self, fail_first: int = 0, fail_status: int = 500) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver._lock:
                    status = receiver.fail_status if len(receiver.deliveries) < receiver.fail_first else 200
                    receiver.deliveries.append(
                        Delivery({k.lower(): v for k, v in self.headers.items()}, json.loads(raw), status)
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/leonardo"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def successful(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.status == 200]

    def wait_for_successful(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        return wait_for(lambda: len(self.successful()) >= count and self.successful(), timeout)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@contextmanager
def client(sim: SimulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url, headers=AUTH, timeout=10) as c:
        yield c


def create(c: httpx.Client, **body: Any) -> str:
    body.setdefault("prompt", "An oil painting of a cat")
    body.setdefault("width", 64)
    body.setdefault("height", 64)
    body.setdefault("num_images", 1)
    response = c.post("/generations", json=body)
    assert response.status_code == 200, response.text
    return response.json()["sdGenerationJob"]["generationId"]


def wait_done(c: httpx.Client, generation_id: str, timeout: float = 5.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        generation = c.get(f"/generations/{generation_id}").json()["generations_by_pk"]
        return generation if generation["status"] != "PENDING" else None

    return wait_for(done, timeout)


# -- init images ---------------------------------------------------------------

BOUNDARY = "sim-test-boundary-7c2f"


def tiny_png(colour: tuple[int, int, int] = (200, 40, 40), size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def multipart(*parts: tuple[str, bytes | str]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body with the parts in exactly the given order; the
    part named `file` gets a filename and an image type, like a browser form."""
    chunks = []
    for name, value in parts:
        data = value.encode() if isinstance(value, str) else value
        head = f'Content-Disposition: form-data; name="{name}"'
        if name == "file":
            head += '; filename="upload.png"\r\nContent-Type: image/png'
        chunks.append(f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + data + b"\r\n")
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks), {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}


def request_slot(c: httpx.Client, extension: str = "png") -> dict[str, Any]:
    """POST /init-image, with `fields` already parsed from its JSON string."""
    response = c.post("/init-image", json={"extension": extension})
    assert response.status_code == 200, response.text
    slot = response.json()["uploadInitImage"]
    return {**slot, "fields": json.loads(slot["fields"])}


def upload(
    slot: dict[str, Any], content: bytes, headers: dict[str, str] | None = None, **changed: str
) -> httpx.Response:
    """The presigned POST as S3 wants it: the fields (with any `changed`), then the file."""
    body, form_headers = multipart(*{**slot["fields"], **changed}.items(), ("file", content))
    return httpx.post(slot["url"], content=body, headers={**form_headers, **(headers or {})})


def s3_error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/xml"), response.text
    found = re.search(r"<Error><Code>([A-Za-z]+)</Code>", response.text)
    assert found, response.text
    return found.group(1)
