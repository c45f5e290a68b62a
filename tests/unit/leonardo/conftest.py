"""Fixtures: a scripted server on 127.0.0.1 (see scripted.py) and clients pointed at it."""

from typing import Any

import pytest

from gencore.leonardo import LeonardoClient, RetryPolicy
from tests.support.scripted import API_KEY, Script, ScriptedServer, SleepRecorder, serve_script


@pytest.fixture(scope="session")
def _scripted_server():
    script = Script()
    with serve_script(script) as origin:
        yield ScriptedServer(script, f"{origin}/api/rest/v1")


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
