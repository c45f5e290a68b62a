"""What we know about Leonardo's video models: their names, the resolutions and clip lengths each
takes, and each one's seed range. Standard library only: the plans' caps and the estimates read
these facts without loading the request rules (video_requests.py), which check a request by them.

Sources (leonardo/motion.py lists where the motion document disagrees with itself; the schema wins):
- durations: 4, 6 or 8 s on VEO3 / VEO3FAST (text and image), 5 or 10 s on KLING2_5 (image only);
- resolutions per model: the pricing calculator's document (Motion 2.0 480p or 720p, Veo 3 720p);
  the Kling models' are not documented, so none of ours is refused for them;
- the seed's documented maximum per model (2,147,483,637 for MOTION2; 4,294,967,293 for VEO3).
"""

from __future__ import annotations

from typing import Literal

VideoModel = Literal["MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5"]
Resolution = Literal["480p", "720p", "1080p"]
RESOLUTIONS = {"480p": "RESOLUTION_480", "720p": "RESOLUTION_720", "1080p": "RESOLUTION_1080"}
# Documented durations (seconds) per model and mode; a model not listed takes none.
DURATIONS: dict[tuple[str, str], tuple[int, ...]] = {
    ("VEO3", "text_to_video"): (4, 6, 8),
    ("VEO3FAST", "text_to_video"): (4, 6, 8),
    ("VEO3", "image_to_video"): (4, 6, 8),
    ("VEO3FAST", "image_to_video"): (4, 6, 8),
    ("KLING2_5", "image_to_video"): (5, 10),
}
DEFAULT_SECONDS = {"VEO3": 8, "VEO3FAST": 8, "KLING2_5": 5}  # Leonardo's defaults; others: 5 s clips
RESOLUTIONS_OF = {"MOTION2": ("480p", "720p"), "MOTION2FAST": ("480p", "720p"), "VEO3": ("720p",),
                  "VEO3FAST": ("720p",)}  # fmt: skip
SEED_MAX = {"MOTION2": 2_147_483_637, "MOTION2FAST": 2_147_483_637, "VEO3": 4_294_967_293,
            "VEO3FAST": 4_294_967_293}  # fmt: skip


def clip_seconds(model: str | None, duration: int | None) -> int:
    """A clip's length: the duration asked, else its model's default (the plan's cap and the
    estimate count the same seconds)."""
    return duration or DEFAULT_SECONDS.get(model or "", 5)
