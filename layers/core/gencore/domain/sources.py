"""A job's source (its lineage): checked when the job is accepted, resolved to Leonardo's ids when
it is submitted.

A source is one of the caller's READY uploads (`{"upload_id"}`) or one image of one of the caller's
COMPLETE jobs (`{"job_id", "index"}`), never one withheld as NSFW (docs/plans.md). The upload is
handed to Leonardo on first use (InitImages); an image of ours is named by the id Leonardo gave it,
kept on the source job's record, so using it costs no Leonardo call at all. A job's ControlNets are
guided by more of the caller's uploads (`guides`): checked alike at accept, each handed over as an
init image at submit.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .errors import InvalidRequest, SourceNotUsable, SourceUnavailable
from .kinds import Refs, kind_of
from .models import Job, JobStatus
from .ports import JobStore
from .requests import ImageGenerationRequest, Source
from .uploads import InitImages, Uploads

NOT_USABLE = "No such image among your finished generations"


class Sources:
    def __init__(
        self, store: JobStore, uploads: Uploads | None = None, init_images: InitImages | None = None
    ):
        self._store, self._uploads, self._init_images = store, uploads, init_images

    def check(self, user_id: str, source: Source, *, kind: str) -> dict[str, Any]:
        """At accept: the source is the caller's and usable now; returns it as the job stores it.

        An upload answers with the upload's own codes (upload_not_found, upload_not_ready); a job
        image that is not usable answers `source_not_usable`, the same for every reason.
        """
        if source.upload_id:
            assert self._uploads is not None
            init = self._uploads.usable(user_id, source.upload_id)
            if not source.mask_upload_id:
                return {"upload_id": source.upload_id}
            mask = self._uploads.usable(user_id, source.mask_upload_id, purpose="mask")
            if (init.width, init.height) != (mask.width, mask.height):
                raise InvalidRequest(
                    f"The mask is {mask.width}x{mask.height}, the image {init.width}x{init.height}",
                    code="mask_size_mismatch",
                )
            return {"upload_id": source.upload_id, "mask_upload_id": source.mask_upload_id}
        assert source.job_id is not None and source.index is not None
        job = self._store.get(source.job_id)
        if (
            job is None
            or job.user_id != user_id
            or job.status != JobStatus.COMPLETE
            # A withheld image (NSFW under the job's plan) is not the caller's to work on.
            or not any(image.index == source.index and not image.withheld for image in job.images)
            or (_is_variation(job) and not kind_of(kind).takes_variation)
        ):
            raise SourceNotUsable(NOT_USABLE)
        return {"job_id": job.id, "index": source.index}

    def check_images(self, user_id: str, request: ImageGenerationRequest) -> dict[str, Any] | None:
        """At accept, every image a generation names: its source (returned as the job stores it,
        None for text only) and its ControlNets' uploads. A single job and a batch's line alike."""
        source = self.check(user_id, request.source, kind=request.kind) if request.source else None
        self.check_guides(user_id, request.guide_upload_ids)
        return source

    def check_guides(self, user_id: str, upload_ids: list[str]) -> None:
        """At accept: each ControlNet's upload is the caller's and READY (the upload's own codes)."""
        for upload_id in dict.fromkeys(upload_ids):
            assert self._uploads is not None
            self._uploads.usable(user_id, upload_id)

    def own_upload(self, user_id: str, upload_id: str) -> None:
        """An upload named by a route's path: 404 `not_found` unless it is the caller's (as every id
        in a path); whether it is usable is `check`'s to say."""
        assert self._uploads is not None
        self._uploads.get(user_id, upload_id)

    def refs(self, job: Job) -> Refs:
        """At submit: Leonardo's ids for the job's source and its ControlNets' uploads. LeonardoBusy
        propagates (try again); UploadNotReady / SourceUnavailable mean an image went away (the job
        fails)."""
        refs = self._source_refs(job)
        guides = [net["upload_id"] for net in job.request.get("controlnets") or []]
        if not guides:
            return refs
        assert self._init_images is not None
        return replace(
            refs, guide_image_ids={g: self._init_images.leonardo_id(g) for g in dict.fromkeys(guides)}
        )

    def _source_refs(self, job: Job) -> Refs:
        source = job.source or (
            {"upload_id": job.request["init_upload_id"]} if job.request.get("init_upload_id") else None
        )
        if not source:
            return Refs()
        if source.get("mask_upload_id"):
            assert self._init_images is not None
            init_id, mask_id = self._init_images.canvas_ids(source["upload_id"], source["mask_upload_id"])
            return Refs(canvas_init_id=init_id, canvas_mask_id=mask_id)
        if source.get("upload_id"):
            assert self._init_images is not None
            return Refs(init_image_id=self._init_images.leonardo_id(source["upload_id"]))
        origin = self._store.get(source["job_id"])
        image = next((i for i in (origin.images if origin else []) if i.index == source["index"]), None)
        if origin is None or origin.status != JobStatus.COMPLETE or image is None or image.withheld:
            raise SourceUnavailable("The source image was deleted")
        return Refs(generated_image_id=image.leonardo_image_id, from_variation=_is_variation(origin))


def _is_variation(job: Job) -> bool:
    return kind_of(job.kind).remote == "variation"
