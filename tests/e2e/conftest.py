"""End-to-end fixtures: the real template.yaml served by the local stack, driven over HTTP.

def test_health(api):
    assert api.get("/health").status_code == 200

def test_create(api, token_for):
    api.post("/v1/generations", json={...}, headers={"authorization": f"Bearer {token_for('alice')}"})
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from stackrunner import LocalStack, StackConfig


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    config = StackConfig.fast(
        stack_name=f"e2e-{uuid.uuid4().hex[:8]}",
        # Leonardo takes 100 creates a minute; on the test clock, batches of hundreds of jobs would
        # wait minutes on that alone (the batch bench reports against the real limit).
        simulator_config_overrides={"create_rate_limit_per_minute": 6000},
        # Tokens from this session's own key; never touches the developer's .local-state/.
        jwt_state_dir=tmp_path_factory.mktemp("jwt"),
    )
    with LocalStack(config) as running:
        yield running


@pytest.fixture(scope="session")
def token_for(stack: LocalStack) -> Callable[..., str]:
    """token_for("alice", **claims) -> a JWT the stack's authorizer accepts."""

    def make(user: str, **claims: object) -> str:
        return stack.token(user, **claims)

    return make


@pytest.fixture
def api(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api_url, timeout=30) as client:
        yield client
