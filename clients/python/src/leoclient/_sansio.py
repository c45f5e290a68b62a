"""The client's operations are written once, as generators that do no I/O.

An operation yields steps — `Send` a request, `Sleep`, `Emit` an item to the caller — and receives
each step's outcome. A driver performs the steps: `run_sync`/`iter_sync` with an `httpx.Client` and
a blocking sleep, `run_async`/`iter_async` with an `httpx.AsyncClient` and an async sleep. Retries,
backoff, polling, pagination and download verification live in the operations (`_core.py`), so the
sync and async clients cannot drift apart.

A transport failure while sending is thrown into the operation at its `yield`, as `httpx.TransportError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx


class Sink(Protocol):
    """Where a successful response's body is streamed instead of being read into memory."""

    def reset(self) -> None: ...

    def write(self, chunk: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Send:
    request: httpx.Request
    sink: Sink | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Emit:
    item: Any


type Step = Send | Sleep | Emit
type Op[R] = Generator[Step, Any, R]


def _send_sync(http: httpx.Client, step: Send) -> httpx.Response:
    response = http.send(step.request, stream=True)
    try:
        if step.sink is not None and response.is_success:
            step.sink.reset()
            for chunk in response.iter_bytes():
                step.sink.write(chunk)
        else:
            response.read()
    finally:
        response.close()
    return response


async def _send_async(http: httpx.AsyncClient, step: Send) -> httpx.Response:
    response = await http.send(step.request, stream=True)
    try:
        if step.sink is not None and response.is_success:
            step.sink.reset()
            async for chunk in response.aiter_bytes():
                step.sink.write(chunk)
        else:
            await response.aread()
    finally:
        await response.aclose()
    return response


def iter_sync[R](op: Op[R], http: httpx.Client, sleep: Callable[[float], None]) -> Generator[Any, None, R]:
    """Drive `op`, yielding what it emits; returns what it returns."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            result: R = stop.value
            return result
        value, error = None, None
        if isinstance(step, Send):
            try:
                value = _send_sync(http, step)
            except httpx.TransportError as exc:
                error = exc
        elif isinstance(step, Sleep):
            sleep(step.seconds)
        else:
            yield step.item


def run_sync[R](op: Op[R], http: httpx.Client, sleep: Callable[[float], None]) -> R:
    """Drive `op` to its end, ignoring what it emits."""
    driver = iter_sync(op, http, sleep)
    while True:
        try:
            next(driver)
        except StopIteration as stop:
            result: R = stop.value
            return result


class _Done:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


async def _step_async(
    op: Op[Any], http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]], state: list[Any]
) -> Emit | _Done:
    """Advance `op` until it emits or ends. `state` holds the outcome to hand it next: [value, error]."""
    while True:
        value, error = state
        try:
            step = op.throw(error) if error is not None else op.send(value)
        except StopIteration as stop:
            return _Done(stop.value)
        state[0], state[1] = None, None
        if isinstance(step, Send):
            try:
                state[0] = await _send_async(http, step)
            except httpx.TransportError as exc:
                state[1] = exc
        elif isinstance(step, Sleep):
            await sleep(step.seconds)
        else:
            return step


async def run_async[R](op: Op[R], http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]]) -> R:
    state: list[Any] = [None, None]
    while True:
        outcome = await _step_async(op, http, sleep, state)
        if isinstance(outcome, _Done):
            result: R = outcome.value
            return result


async def iter_async(
    op: Op[Any], http: httpx.AsyncClient, sleep: Callable[[float], Awaitable[None]]
) -> AsyncIterator[Any]:
    state: list[Any] = [None, None]
    try:
        while True:
            outcome = await _step_async(op, http, sleep, state)
            if isinstance(outcome, _Done):
                return
            yield outcome.item
    finally:
        op.close()
