"""The Leonardo account's own balance, read from `GET /me` at a bounded rate.

The reconciler runs every minute; the balance changes slowly and `/me` is an account-level call, so
it is asked at most once per `every_seconds` however many reconcilers run: the first run past the
interval claims the read in one conditional write (BalanceStore.claim_read), the others skip. The
answer is remembered with the claim (for `python -m ops account show`) and returned for the
`AccountBalance` metric, which the AccountBalanceLowAlarm watches.

`/me` answers the balance in the unit the account is billed in: API credits (`apiPaidTokens` plus
`apiSubscriptionTokens`), or dollars for an account billed in dollars (its documented example
answers `apiPaidTokens: 12.4567`). It is read in the deployment's `BillingUnit`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .models import Unit
    from .policy import Clock
    from .ports import AccountStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BalanceReading:
    amount: Decimal  # what the account has left, in `unit`
    unit: Unit
    read_at: datetime


@dataclass(frozen=True)
class BalanceCheck:
    asked: bool  # a GET /me was sent (an account-level call, counted in LeonardoAccountCalls)
    reading: BalanceReading | None  # None: not due, or Leonardo did not say


class BalanceStore(Protocol):
    def claim_read(self, *, now: datetime, every_seconds: int) -> bool:
        """True for exactly one caller per interval: it may ask Leonardo now."""

    def record(self, reading: BalanceReading) -> None: ...


class AccountReader(Protocol):
    def account(self) -> AccountStatus: ...


class BalanceWatch:
    def __init__(
        self, store: BalanceStore, leonardo: AccountReader, clock: Clock, *, every_seconds: int, unit: Unit
    ) -> None:
        self._store, self._leonardo, self._clock = store, leonardo, clock
        self._every, self._unit = every_seconds, unit

    def run(self) -> BalanceCheck:
        """Ask `/me` if the interval has passed. Leonardo failing is logged, not raised: the
        reconciler's other work goes on, and the next interval asks again."""
        now = self._clock()
        if not self._store.claim_read(now=now, every_seconds=self._every):
            return BalanceCheck(asked=False, reading=None)
        try:
            status = self._leonardo.account()
        except Exception as error:  # busy, down, unreadable: no reading this interval
            log.warning("could not read the account's balance", extra={"error": type(error).__name__})
            return BalanceCheck(asked=True, reading=None)
        amount = _amount(status.credits)
        if amount is None:  # refused (the account guard reports that) or no balance in the answer
            log.warning("Leonardo did not say the account's balance", extra={"reason": status.reason})
            return BalanceCheck(asked=True, reading=None)
        reading = BalanceReading(amount=amount, unit=self._unit, read_at=now)
        self._store.record(reading)
        return BalanceCheck(asked=True, reading=reading)


def _amount(value: float | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None
