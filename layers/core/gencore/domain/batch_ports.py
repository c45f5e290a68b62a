"""What the batch use cases need from the outside world (the job ports are in ports.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .batch_records import Batch, BatchStatus
    from .models import Job
    from .plans import Budget


class BatchStore(Protocol):
    def create_batch(
        self, batch: Batch, *, dedupe_key: str | None, dedupe_expires_at: int, budget: Budget | None
    ) -> Batch | None:
        """Store a new batch, reserving its `charge` in the same write (BudgetExceeded: nothing
        stored); with `dedupe_key`, return the batch already holding that key instead."""

    def get_batch(self, batch_id: str) -> Batch | None: ...

    def list_batches(self, user_id: str, *, limit: int, cursor: str | None) -> tuple[list[Batch], str | None]:
        """The user's batches, newest first."""

    def add_items(self, batch: Batch, jobs: list[Job], *, now: datetime) -> Batch:
        """The fan-out's checkpoint: store `jobs` (the next items in line order, parked in the
        waiting line at their turns) and move `created` on by as many, in one write conditioned on
        the batch still RUNNING with `created` as read. TransitionConflict otherwise (nothing
        stored)."""

    def end_fanout(self, batch: Batch, *, now: datetime) -> Batch:
        """No more items will be made: release what is still unassigned of the reservation.
        Conditioned on `created` as read (TransitionConflict otherwise)."""

    def set_status(self, batch: Batch, status: BatchStatus, *, now: datetime) -> Batch:
        """Move the batch from the status read to `status`; TransitionConflict otherwise."""

    def finish(self, batch_id: str, *, now: datetime) -> Batch | None:
        """End the batch if every item made has ended and no more will be made (COMPLETE, or
        CANCELLED once cancelled), its `Batch Completed` event in the same write. Returns the batch
        as it stands (None if it does not exist)."""

    def items(self, batch_id: str, *, limit: int, cursor: str | None) -> tuple[list[Job], str | None]:
        """The batch's items in line order, a page at a time."""

    def due_batch_ids(self, *, now: int, limit: int) -> list[str]:
        """Batches not ended whose check is due (a stalled fan-out, a deadline, a lost finish)."""

    def reschedule_batch(self, batch: Batch, *, due_at: int) -> None: ...


class BatchFiles(Protocol):
    """Where a batch's checked items are kept (JSON lines, in line order) and read back, streamed."""

    def write_lines(self, key: str, lines: Iterable[str]) -> None: ...

    def read_lines(self, key: str) -> Iterator[str]: ...

    def delete(self, key: str) -> None: ...


class BatchQueue(Protocol):
    """Messages to the batch worker: make a batch's items, or cancel / expire its waiting ones."""

    def send(self, batch_id: str, *, action: str = "fan_out") -> None: ...
