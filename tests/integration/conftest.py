"""Fixtures shared by the integration specs."""

from __future__ import annotations

import pytest

from stackrunner import free_port
from stackrunner.aws import LocalAws


@pytest.fixture(scope="module")
def aws():
    """The local stack's moto, in a process of its own, for one module (a module may define its own)."""
    server = LocalAws(port=free_port())
    server.start()
    yield server
    server.stop()
