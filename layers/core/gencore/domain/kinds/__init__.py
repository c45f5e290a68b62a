"""The job kinds this backend runs, each declared once (base.Kind); looked up by name."""

from __future__ import annotations

from . import image, variations, video
from .base import Kind, LeonardoCall, Refs, Remote

KINDS: dict[str, Kind] = {kind.name: kind for kind in (*image.KINDS, *variations.KINDS, *video.KINDS)}


def kind_of(name: str) -> Kind:
    """The declaration of a kind; KeyError for a name no module declares."""
    return KINDS[name]


__all__ = ["KINDS", "Kind", "LeonardoCall", "Refs", "Remote", "kind_of"]
