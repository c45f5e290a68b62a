"""Pieces of a scripted HTTP server on 127.0.0.1 so the client is tested over real sockets.

Each test queues the answers it wants (status, headers, body, delay); the
server pops one per request, records what it received, and answers 418 when
the script runs out, so an unexpected extra request fails loudly.
"""

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

API_KEY = "test-key-5f1c9e0d-very-secret"
GEN_ID = "a1b2c3d4-e5f6-4789-abcd-ef1234567890"
USER_ID = "11111111-2222-4333-8444-555555555555"


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes -> raw
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Script:
    def __init__(self) -> None:
        self.answers: deque[Answer] = deque()
        self.received: list[Received] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.answers.clear()
            self.received.clear()

    def add(self, *answers: Answer) -> None:
        with self._lock:
            self.answers.extend(answers)

    def next(self, received: Received) -> Answer:
        with self._lock:
            self.received.append(received)
            return self.answers.popleft() if self.answers else Answer(418, {"error": "unscripted request"})


class ScriptedServer:
    def __init__(self, script: Script, base_url: str) -> None:
        self.script = script
        self.base_url = base_url

    def add(self, *answers: Answer) -> None:
        self.script.add(*answers)

    @property
    def received(self) -> list[Received]:
        return self.script.received


def build_app(script: Script) -> Starlette:
    async def handle(request: Request) -> Response:
        received = Received(
            method=request.method,
            path=request.url.path,
            raw_path=request.scope.get("raw_path", b"").decode(),
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        answer = script.next(received)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        body = answer.body
        if isinstance(body, dict | list):
            content, media = json.dumps(body).encode(), "application/json"
        else:
            content = body.encode() if isinstance(body, str) else (body or b"")
            media = "application/json"
        return Response(content, status_code=answer.status, headers=answer.headers, media_type=media)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", handle, methods=methods)])


class SleepRecorder:
    """Stands in for time.sleep: records the backoff instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


class MaxRandom:
    """A random source whose uniform(a, b) returns b and records the bounds."""

    def __init__(self) -> None:
        self.bounds: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.bounds.append((a, b))
        return b


def job_body(generation_id: str = GEN_ID, cost: Any = 0.024) -> dict[str, Any]:
    return {"sdGenerationJob": {"generationId": generation_id, "apiCreditCost": cost}}


def generation_body(status: str = "COMPLETE", generation_id: str = GEN_ID) -> dict[str, Any]:
    images = (
        []
        if status == "PENDING"
        else [
            {"id": "img-1", "url": "https://cdn.leonardo.ai/users/u/img-1.jpg", "nsfw": False, "likeCount": 0}
        ]
    )
    return {
        "generations_by_pk": {
            "id": generation_id,
            "status": status,
            "createdAt": "2026-05-25T14:22:01.000Z",
            "modelId": "b24e16ff-06e3-43eb-8d33-4416c2d75876",
            "prompt": "a lake",
            "imageWidth": 512,
            "imageHeight": 512,
            "generated_images": images,
            "somethingNew": {"added": "by Leonardo"},
        }
    }


@contextmanager
def serve_script(script: Script) -> Iterator[str]:
    """Serve the script with uvicorn on 127.0.0.1 (a free port) in a thread; yields the origin."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(script), log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("scripted server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
