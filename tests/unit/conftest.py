"""The submitter on in-memory fakes, shared by the submit specs (test_submit, test_submit_variations).

A test module that defines a fixture of the same name uses its own.
"""

from __future__ import annotations

import pytest

from gencore.domain.account import AccountGuard
from gencore.domain.sources import Sources
from gencore.domain.submit import Submitter
from tests.support.fakes import (
    SUBMIT_POLICY,
    FakeAccountStateStore,
    FakeClock,
    FakeJobStore,
    FakeSubmitQueue,
    PaidLeonardo,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> FakeJobStore:
    return FakeJobStore()


@pytest.fixture
def queue() -> FakeSubmitQueue:
    return FakeSubmitQueue()


@pytest.fixture
def leonardo(clock) -> PaidLeonardo:
    return PaidLeonardo(clock=clock)


@pytest.fixture
def guard(clock) -> AccountGuard:
    return AccountGuard(FakeAccountStateStore(), clock)


@pytest.fixture
def submitter(store, leonardo, queue, clock, guard) -> Submitter:
    return Submitter(store, leonardo, queue, Sources(store), clock, SUBMIT_POLICY, guard=guard)
