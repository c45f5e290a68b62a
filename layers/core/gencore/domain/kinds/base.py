"""What a job kind declares: how its request becomes a paid Leonardo call, and how that call's
work is named, followed and delivered.

Adding a kind is one module that builds `Kind` values (see image.py, variations.py), its route,
the simulator and tests: the submit, process and reconcile paths read only these declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# How Leonardo names and reports the work a paid call starts:
# - "generation": `POST /generations` answers a generation id; a webhook announces the end and
#   `GET /generations/{id}` is the record. Leonardo's list echoes what was asked (prompt, model,
#   size, seed...), so an unanswered POST can be recognised there and adopted.
# - "variation": the `/variations/*` routes answer a variation id; no webhook is documented, so the
#   reconciler polls `GET /variations/{id}`. Nothing lists variations by what was asked: an
#   unanswered POST cannot be identified, and the job fails rather than pay twice.
# - "video": the motion routes answer a generation id, read with `GET /generations/{id}` (its
#   image's `motionMP4URL`); no webhook or list echo is documented for them (kinds/video.py).
Remote = Literal["generation", "variation", "video"]


@dataclass(frozen=True)
class LeonardoCall:
    """One paid Leonardo POST: its route and its body in Leonardo's own field names."""

    route: str  # e.g. "/generations", "/variations/upscale"
    body: dict[str, Any]


@dataclass(frozen=True)
class Refs:
    """Leonardo's ids for a job's inputs, resolved at submit time from the job's `source`."""

    init_image_id: str | None = None  # one of the caller's uploads, handed to Leonardo
    generated_image_id: str | None = None  # one of our outputs, as Leonardo knows it
    from_variation: bool = False  # that output is a variation's (Leonardo names those apart)
    canvas_init_id: str | None = None  # a canvas job's init image and mask, handed over together
    canvas_mask_id: str | None = None
    # The ControlNets' uploads: our upload id -> Leonardo's init image id (each handed over once).
    guide_image_ids: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    name: str
    remote: Remote
    # The job's stored request, its resolved inputs and its seed -> the paid call.
    build: Callable[[dict[str, Any], Refs, int | None], LeonardoCall]
    pool: str = "image"  # which of Leonardo's concurrency limits the job counts against
    output: str = "image"  # what its outputs are: "image", or "video" (the generation's MP4)
    # Whether its source image may be a variation's output (Leonardo names those apart).
    takes_variation: bool = False

    @property
    def adopts(self) -> bool:
        """Whether an unanswered POST is looked for and adopted (else the job fails, unpaid twice)."""
        return self.remote == "generation"

    @property
    def webhook(self) -> bool:
        """Whether Leonardo announces the end (else only the reconciler's polls find it)."""
        return self.remote == "generation"
