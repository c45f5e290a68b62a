"""The body of POST /v1/videos: a clip from text, from one of the caller's images, or the SVD motion
of an image (`mode`, DECISIONS.md: `mode` belongs to video). Each mode is a job kind of its own
(`text_to_video`, `image_to_video`, `motion`; domain/kinds/video.py says how each is sent).

The rules come from Leonardo's motion document (../shared/leonardo/openapi, motion API), with the
per-model facts in video_catalog.py:
- `duration` only where documented for the model and mode; elsewhere 422 `invalid_combination`
  rather than a silent drop;
- resolutions per model, and the seed's documented maximum per model;
- `end_frame` only on KLING2_1 with an image (not offered yet: refused by `extra="forbid"`);
- `motion_strength` (1-10) is the SVD motion's, and only its.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .requests import Source, invalid_combination
from .video_catalog import (
    DURATIONS,
    RESOLUTIONS,
    RESOLUTIONS_OF,
    SEED_MAX,
    Resolution,
    VideoModel,
    clip_seconds,
)

VideoMode = Literal["text_to_video", "image_to_video", "motion"]
PROMPT_MAX = 1500


class VideoRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: VideoMode
    prompt: str | None = Field(default=None, min_length=1, max_length=PROMPT_MAX)
    negative_prompt: str | None = Field(default=None, max_length=PROMPT_MAX)
    model: VideoModel | None = Field(default=None, description="text/image to video; MOTION2 when unset")
    resolution: Resolution | None = None
    width: int | None = Field(default=None, ge=64, le=1920)
    height: int | None = Field(default=None, ge=64, le=1920)
    duration: int | None = Field(default=None, ge=1, le=10, description="seconds, where the model takes it")
    seed: int | None = Field(default=None, ge=0)
    frame_interpolation: bool | None = None
    prompt_enhance: bool | None = None
    source: Source | None = Field(default=None, description="image_to_video and motion: the image to animate")
    motion_strength: int | None = Field(default=None, ge=1, le=10, description="motion (SVD) only")

    @model_validator(mode="after")
    def _rules(self) -> VideoRequest:
        for broken, rule, message in self._rule_checks():
            if broken:
                raise invalid_combination(rule, message)  # the first rule broken, named
        return self

    def _rule_checks(self) -> list[tuple[bool, str, str]]:
        motion, text = self.mode == "motion", self.mode == "text_to_video"
        model = self.model_name
        allowed = DURATIONS.get((model or "", self.mode), ())
        limit = SEED_MAX.get(model or "")
        resolutions = RESOLUTIONS_OF.get(model or "", tuple(RESOLUTIONS))
        return [
            (not motion and self.prompt is None, "prompt_required", f"{self.mode} takes a prompt"),
            (motion and any(v is not None for v in self._video_only()), "motion_options",
             "motion (SVD) takes only source and motion_strength"),
            (not motion and self.motion_strength is not None, "motion_strength_motion_only",
             "motion_strength belongs to mode motion"),
            (text and self.source is not None, "text_to_video_no_source", "text_to_video takes no source"),
            (not text and self.source is None, "source_required", f"{self.mode} takes a source image"),
            (self.source is not None and self.source.mask_upload_id is not None, "video_no_mask",
             "a video's source is one image, without a mask"),
            (self.duration is not None and self.duration not in allowed, "duration_model",
             f"duration on {model} {self.mode}: "
             + (", ".join(map(str, allowed)) + " seconds" if allowed else "not taken")),
            (self.resolution is not None and self.resolution not in resolutions, "resolution_model",
             f"resolution on {model}: {', '.join(resolutions)}"),
            (self.seed is not None and limit is not None and self.seed > limit, "seed_model",
             f"the seed on {model} is at most {limit}"),
        ]  # fmt: skip

    def _video_only(self) -> list[Any]:
        return [self.prompt, self.negative_prompt, self.model, self.resolution, self.width, self.height,
                self.duration, self.seed, self.frame_interpolation, self.prompt_enhance]  # fmt: skip

    @property
    def kind(self) -> VideoMode:
        return self.mode

    @property
    def model_name(self) -> str | None:
        """The model the clip is made with (Leonardo's default where unset); None for motion."""
        return None if self.mode == "motion" else (self.model or "MOTION2")

    @property
    def seconds(self) -> int:
        """The clip's length: the duration asked, else the model's default."""
        return clip_seconds(self.model_name, self.duration)

    def normalized(self) -> dict[str, Any]:
        """As the job stores it: the options asked, the model named, the source as asked."""
        data = self.model_dump(mode="json", exclude_none=True, exclude={"mode", "source"})
        if self.model_name:
            data["model"] = self.model_name
        if self.source is not None:
            data["source"] = self.source.model_dump(mode="json", exclude_none=True)
        return data
