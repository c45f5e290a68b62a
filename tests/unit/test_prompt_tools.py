"""Prompt tools, read as a specification (domain/prompts.py, domain/rate_limits.py): rate limited
per user before anything is sent, each paid call sent once and never again after it may have
reached Leonardo, and every call's cost recorded in the user's daily usage."""

from __future__ import annotations

import threading

import pytest

from gencore.domain.errors import LeonardoBusy, SubmitOutcomeUnknown
from gencore.domain.prompts import PromptAnswer, Prompts
from gencore.domain.rate_limits import BucketLimit, RateLimited, TokenBuckets
from tests.support.fakes import FakeBucketStore, FakeClock

pytestmark = pytest.mark.unit
LIMIT = BucketLimit(capacity=3, per_second=0.5)


class Usage:
    def __init__(self) -> None:
        self.lines: list[tuple] = []

    def record(self, user_id, *, day, what, credits):
        self.lines.append((user_id, day, what, credits))


class Leonardo:
    def __init__(self, *answers) -> None:
        self.answers, self.calls = list(answers), 0

    def _answer(self):
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else PromptAnswer("a fox in the snow, golden hour", 4)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def improve_prompt(self, prompt, instructions=None):
        return self._answer()

    def random_prompt(self):
        return self._answer()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def tools(clock, leonardo, usage=None, buckets=None) -> Prompts:
    return Prompts(
        leonardo, TokenBuckets(buckets or FakeBucketStore(), clock), usage or Usage(), clock, LIMIT
    )


def test_an_improved_prompt_is_answered_and_its_cost_recorded(clock):
    usage, leonardo = Usage(), Leonardo()
    answer = tools(clock, leonardo, usage).improve("alice", "a fox")
    assert answer.prompt == "a fox in the snow, golden hour" and leonardo.calls == 1
    assert usage.lines == [("alice", "2030-01-01", "prompt_improve", 4)]


def test_a_user_past_the_limit_is_refused_before_anything_is_sent(clock):
    leonardo = Leonardo()
    prompts = tools(clock, leonardo)
    for _ in range(3):
        prompts.random("alice")
    with pytest.raises(RateLimited) as limited:
        prompts.random("alice")
    assert limited.value.code == "rate_limited" and limited.value.retry_after == 2
    assert leonardo.calls == 3
    prompts.random("bob")  # a bucket per user
    clock.advance(2)
    prompts.random("alice")  # refilled at 0.5 per second
    assert leonardo.calls == 5


@pytest.mark.parametrize(
    "failure",
    [SubmitOutcomeUnknown("read timeout after sending"), SubmitOutcomeUnknown("502 after sending"),
     SubmitOutcomeUnknown("unreadable 200")],
    ids=["timeout", "5xx", "unreadable answer"],
)  # fmt: skip
def test_an_answer_that_does_not_say_what_happened_is_reported_and_never_resent(clock, failure):
    usage, leonardo = Usage(), Leonardo(failure)
    with pytest.raises(SubmitOutcomeUnknown):
        tools(clock, leonardo, usage).improve("alice", "a fox")
    assert leonardo.calls == 1
    assert usage.lines == [("alice", "2030-01-01", "prompt_improve", None)]  # counted, cost unknown


def test_a_refusal_before_sending_costs_nothing_and_is_not_counted(clock):
    usage, leonardo = Usage(), Leonardo(LeonardoBusy("429", retry_after=3))
    with pytest.raises(LeonardoBusy):
        tools(clock, leonardo, usage).random("alice")
    assert usage.lines == []


def test_concurrent_calls_never_take_more_tokens_than_the_bucket_holds(clock):
    leonardo, buckets = Leonardo(), FakeBucketStore()
    prompts = tools(clock, leonardo, buckets=buckets)
    outcomes: list[str] = []

    def call():
        try:
            prompts.random("alice")
            outcomes.append("ok")
        except RateLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("ok") == 3 == leonardo.calls
