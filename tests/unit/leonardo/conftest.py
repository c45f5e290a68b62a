"""Fixtures: a scripted server on 127.0.0.1 (see scripted.py) and clients pointed at it."""

import socket
import threading
import time
from typing import Any

import pytest
import uvicorn

from gencore.leonardo import LeonardoClient, RetryPolicy

from .scripted import API_KEY, Script, ScriptedServer, SleepRecorder, build_app


@pytest.fixture(scope="session")
def _scripted_server():
    script = Script()
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
        yield ScriptedServer(script, f"http://127.0.0.1:{port}/api/rest/v1")
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


@pytest.fixture
def server(_scripted_server: ScriptedServer) -> ScriptedServer:
    _scripted_server.script.reset()
    return _scripted_server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def make_client(server: ScriptedServer, sleeps: SleepRecorder):
    clients: list[LeonardoClient] = []

    def build(**overrides: Any) -> LeonardoClient:
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "api_key": API_KEY,
            "connect_timeout": 1.0,
            "read_timeout": 2.0,
            "retry": RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05),
            "sleep": sleeps,
        }
        options.update(overrides)
        client = LeonardoClient(**options)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
