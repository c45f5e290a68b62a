"""Calls raced from threads, for the specs that show what concurrent callers cannot do."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once[T](call: Callable[[], T], times: int) -> list[T]:
    """Run `call` from `times` threads released together; what each returned, in no order."""
    return all_at_once(*[call] * times)


def all_at_once[T](*calls: Callable[[], T]) -> list[T]:
    """Run each call in a thread of its own, all released together; what each returned, in no order."""
    start, lock = threading.Barrier(len(calls)), threading.Lock()
    results: list[T] = []

    def run(call: Callable[[], T]) -> None:
        start.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
