"""Calls raced from threads, for the specs that show what concurrent callers cannot do."""

from __future__ import annotations

import threading
from collections.abc import Callable


def at_once[T](call: Callable[[], T], times: int) -> list[T]:
    """Run `call` from `times` threads released together; what each returned, in no order."""
    start, lock = threading.Barrier(times), threading.Lock()
    results: list[T] = []

    def run() -> None:
        start.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
