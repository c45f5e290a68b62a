"""Issue 12: the account's own balance, read from GET /me at most once per interval however many
reconcilers run, in the deployment's billing unit; Leonardo failing to say is no reading, never an
error that stops the reconciler."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gencore.domain.balance import BalanceReading, BalanceWatch
from gencore.domain.errors import LeonardoBusy
from gencore.domain.ports import AccountStatus
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.unit
EVERY = 600


class FakeBalanceStore:
    """One claim per interval, as the conditional write in adapters/account.py grants it."""

    def __init__(self) -> None:
        self.claimed_at: int | None = None
        self.recorded: list[BalanceReading] = []

    def claim_read(self, *, now, every_seconds):
        stamp = int(now.timestamp())
        if self.claimed_at is not None and self.claimed_at > stamp - every_seconds:
            return False
        self.claimed_at = stamp
        return True

    def record(self, reading):
        self.recorded.append(reading)


class Account:
    def __init__(self, *answers) -> None:
        self.answers, self.calls = list(answers), 0

    def account(self):
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def clock():
    return FakeClock()


def watch(store, account, clock, unit="CREDITS"):
    return BalanceWatch(store, account, clock, every_seconds=EVERY, unit=unit)


def test_the_balance_is_read_once_per_interval_and_remembered(clock):
    store, account = (
        FakeBalanceStore(),
        Account(AccountStatus(ok=True, credits=8123.0), AccountStatus(ok=True)),
    )
    first = watch(store, account, clock).run()
    assert first.asked and first.reading == BalanceReading(Decimal("8123.0"), "CREDITS", clock())
    assert store.recorded == [first.reading]

    clock.advance(EVERY - 1)  # every minute's reconciler until the interval is over: no call
    assert watch(store, account, clock).run().asked is False and account.calls == 1

    clock.advance(1)
    assert watch(store, account, clock).run().asked is True and account.calls == 2


def test_a_dollar_account_reads_its_balance_in_dollars(clock):
    # The documented /me of an account billed in dollars: apiPaidTokens 12.4567
    check = watch(
        FakeBalanceStore(), Account(AccountStatus(ok=True, credits=12.4567)), clock, "DOLLARS"
    ).run()
    assert (check.reading.amount, check.reading.unit) == (Decimal("12.4567"), "DOLLARS")


def test_an_empty_account_reads_zero(clock):
    empty = Account(AccountStatus(ok=False, reason="leonardo_credits", credits=0))
    assert watch(FakeBalanceStore(), empty, clock).run().reading.amount == 0


@pytest.mark.parametrize(
    "answer",
    [
        LeonardoBusy("429"),
        AccountStatus(ok=False, reason="leonardo_auth"),
        AccountStatus(ok=True, credits=None),
    ],
    ids=["busy", "refused", "silent"],
)
def test_no_answer_is_no_reading_and_the_interval_still_counts(clock, answer):
    store, account = FakeBalanceStore(), Account(answer)
    check = watch(store, account, clock).run()
    assert check.asked and check.reading is None and store.recorded == []
    assert watch(store, account, clock).run().asked is False  # the next try is the next interval
