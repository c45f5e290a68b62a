"""Uploads: source images users send for image-to-image, checked before anything uses them.

The file goes straight from the client to our bucket through a presigned POST (never through
Lambda), under incoming/. Completing the upload inspects what really arrived: size, stored type,
magic bytes, dimensions (read from the header, before any decoding: a decompression bomb is refused
unopened), then a full decode. The bytes that passed are written under uploads/ and the incoming
object is deleted, so a client re-using its (still valid) form afterwards changes nothing that was
checked. Only a READY upload can guide a generation; it is handed to Leonardo at submit time, once,
and every job records the upload it came from (lineage).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from .batches import MANIFEST_MAX_BYTES, check_manifest
from .errors import InvalidRequest, UploadNotFound, UploadNotReady, UploadRejected
from .models import EXTENSIONS, ImageFacts, Upload, UploadStatus
from .policy import UploadPolicy
from .ports import ImageInspector, Leonardo, PresignedPost, UploadBucket, UploadStore
from .requests import CreateUploadRequest

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def upload_key(user_id: str, upload_id: str, content_type: str) -> str:
    """Where a checked file lives (written by us only)."""
    return f"uploads/{user_id}/{upload_id}.{EXTENSIONS[content_type]}"


def incoming_key(upload: Upload) -> str:
    """Where the client's form puts the file (expired by a lifecycle rule if never completed)."""
    return "incoming/" + upload.key.removeprefix("uploads/")


def _refusal(upload: Upload) -> UploadRejected:
    """The recorded refusal of a REJECTED upload, answered again the same way."""
    return UploadRejected(upload.error_message or "The upload was rejected", code=upload.error_code)


def _outcome(upload: Upload) -> Upload:
    """What completing an upload in this state answers: READY, or the error for its state."""
    if upload.status == UploadStatus.READY:
        return upload
    if upload.status == UploadStatus.REJECTED:
        raise _refusal(upload)
    if upload.status == UploadStatus.DELETED:
        raise UploadNotReady("The upload was deleted", code="upload_deleted")
    raise UploadNotReady("No file has been uploaded for this upload yet", code="upload_missing")


class Uploads:
    """The public API's upload use cases: hand out an upload slot, check the file, read it back."""

    def __init__(
        self,
        store: UploadStore,
        bucket: UploadBucket,
        inspector: ImageInspector,
        leonardo: Leonardo,
        clock: Clock,
        policy: UploadPolicy,
    ) -> None:
        self._store, self._bucket, self._inspector, self._leonardo = store, bucket, inspector, leonardo
        self._clock, self._policy = clock, policy

    def create(self, user_id: str, request: CreateUploadRequest) -> tuple[Upload, PresignedPost]:
        now = self._clock()
        upload_id = str(uuid.uuid4())
        upload = Upload(
            id=upload_id,
            user_id=user_id,
            status=UploadStatus.PENDING,
            content_type=request.content_type,
            purpose=request.purpose,
            key=upload_key(user_id, upload_id, request.content_type),
            created_at=now,
            updated_at=now,
            expires_at=int(now.timestamp()) + self._policy.unfinished_ttl_seconds,
        )
        self._store.create_upload(upload)
        post = self._bucket.presign_post(
            incoming_key(upload),
            content_type=upload.content_type,
            max_bytes=self._max_bytes(upload),
            expires_in=self._policy.url_ttl_seconds,
        )
        return upload, post

    def keep(self, user_id: str, content_type: str, data: bytes) -> Upload:
        """Store a picture we received for the user (a realtime canvas answer) as one of their READY
        uploads: checked as any upload is, then usable as a job's source (domain/realtime.py)."""
        facts = self._inspector.inspect(data, declared=content_type, max_pixels=self._policy.max_pixels)
        now = self._clock()
        upload_id = str(uuid.uuid4())
        upload = Upload(
            id=upload_id, user_id=user_id, status=UploadStatus.READY, content_type=facts.content_type,
            key=upload_key(user_id, upload_id, facts.content_type), created_at=now, updated_at=now,
            size=len(data), width=facts.width, height=facts.height,
        )  # fmt: skip
        self._bucket.put(upload.key, data, content_type=upload.content_type)
        self._store.create_upload(upload)
        return upload

    def get(self, user_id: str, upload_id: str) -> Upload:
        upload = self._store.get_upload(upload_id)
        if upload is None or upload.user_id != user_id:  # another user's upload does not exist for them
            raise UploadNotFound("No such upload")
        return upload

    def complete(self, user_id: str, upload_id: str) -> Upload:
        """Check the uploaded file once; READY, or UploadRejected with the reason (the file is deleted).

        Repeating the call answers the same outcome. 409 `upload_missing` while no file has arrived.

        Completing commutes with DELETE: whatever the interleaving, once both have returned no file
        of a DELETED upload is left under uploads/ or incoming/, and a completion the DELETE got
        ahead of answers 409 `upload_deleted` (as completing a deleted upload always does), never
        200. It answers 200 READY only if its READY was recorded before the DELETE marked the
        upload, i.e. the two took effect in that order.
        """
        upload = self.get(user_id, upload_id)
        if upload.status != UploadStatus.PENDING:
            return _outcome(upload)
        incoming = incoming_key(upload)
        stored = self._bucket.head(incoming)
        if stored is None:
            return self._current_outcome(upload)  # never posted, or a DELETE took it meanwhile
        size, stored_type = stored
        try:
            data, facts = self._check(upload, incoming, size, stored_type)
        except UploadNotReady:  # the file went between head and read (a DELETE, or another completion)
            return self._current_outcome(upload)
        except UploadRejected as rejected:
            self._bucket.delete(incoming)  # never keep, serve or forward a refused file
            finished = self._store.finish_upload(
                upload, status=UploadStatus.REJECTED, size=size, error_code=rejected.code,
                error_message=rejected.message, updated_at=self._clock(),
            )  # fmt: skip
            log.info("upload rejected", extra={"upload_id": upload.id, "code": rejected.code})
            # Ours, or what came first: a concurrent completion's outcome, or a DELETE.
            return _outcome(finished)
        # Keep exactly the bytes that were checked, where the client's form cannot reach.
        self._bucket.put(upload.key, data, content_type=upload.content_type)
        finished = self._store.finish_upload(
            upload, status=UploadStatus.READY, size=len(data), width=facts.width if facts else None,
            height=facts.height if facts else None, updated_at=self._clock(), expires_at=None,
        )  # fmt: skip
        if finished.status != UploadStatus.READY:
            # Deleted meanwhile (its DELETE may have removed the files before our put), or a
            # concurrent completion saw a bad file first: what we wrote must not stay.
            self._delete_files(upload)
            return _outcome(finished)
        # Only now: a crash before the READY write leaves the file to check again on a retry.
        self._bucket.delete(incoming)
        return finished

    def delete(self, user_id: str, upload_id: str) -> Upload:
        """Delete the caller's upload: our files, and Leonardo's copy if a job handed one over.

        The record stays, DELETED, so jobs made from it still name their source. Repeatable: if
        Leonardo cannot be reached (LeonardoBusy, a 503), our files are already gone and calling
        again finishes the job. Marked DELETED first, then both keys are deleted whatever the
        status was: a completion running meanwhile either wrote its file before (deleted here) or
        finds the upload DELETED when it records READY, and deletes what it wrote itself.
        """
        upload = self.get(user_id, upload_id)
        deleted = self._store.mark_deleted(upload, now=self._clock())  # no job can use it from here on
        self._delete_files(upload)
        copies = [deleted.leonardo_init_image_id] if deleted.leonardo_init_image_id else []
        if deleted.leonardo_canvas:
            copies += [deleted.leonardo_canvas["init_id"], deleted.leonardo_canvas["mask_id"]]
        if copies:
            for copy in copies:
                self._leonardo.delete_init_image(copy)
            self._store.forget_leonardo_init_image(deleted)
            deleted = deleted.model_copy(update={"leonardo_init_image_id": None, "leonardo_canvas": None})
        log.info("upload deleted", extra={"upload_id": upload.id})
        return deleted

    def _delete_files(self, upload: Upload) -> None:
        self._bucket.delete(upload.key)
        self._bucket.delete(incoming_key(upload))

    def _current_outcome(self, upload: Upload) -> Upload:
        """The outcome the record holds now (the file is gone: deleted, or completed meanwhile)."""
        return _outcome(self._store.get_upload(upload.id) or upload)

    def usable(self, user_id: str, upload_id: str, *, purpose: str = "init") -> Upload:
        """The caller's READY upload, for a generation request (422 codes: it is part of the body)."""
        upload = self._store.get_upload(upload_id)
        if upload is None or upload.user_id != user_id:
            raise InvalidRequest("The source names no upload of yours", code="upload_not_found")
        if upload.status != UploadStatus.READY:
            raise InvalidRequest(
                f"The upload is {upload.status}; complete it successfully first", code="upload_not_ready"
            )
        if upload.purpose != purpose:
            raise InvalidRequest(
                f"The upload was made as {upload.purpose!r}, here it is used as {purpose!r}",
                code="upload_wrong_purpose",
            )
        return upload

    def _max_bytes(self, upload: Upload) -> int:
        return MANIFEST_MAX_BYTES if upload.purpose == "batch_manifest" else self._policy.max_bytes

    def _check(
        self, upload: Upload, key: str, size: int, stored_type: str
    ) -> tuple[bytes, ImageFacts | None]:
        """The bytes that passed, and for an image what they are (a manifest is checked as JSON lines)."""
        max_bytes = self._max_bytes(upload)
        if size == 0:
            raise UploadRejected("The file is empty", code="upload_empty")
        if size > max_bytes:
            raise UploadRejected(f"The file is over {max_bytes} bytes", code="upload_too_large")
        if stored_type.split(";")[0].strip().lower() != upload.content_type:
            raise UploadRejected(
                f"The file was uploaded as {stored_type[:64]!r}, not {upload.content_type}",
                code="upload_content_type_mismatch",
            )
        data = self._bucket.read(key, max_bytes=max_bytes)
        if upload.purpose == "batch_manifest":
            check_manifest(data)
            return data, None
        facts = self._inspector.inspect(
            data,
            declared=upload.content_type,
            max_pixels=self._policy.max_pixels,
            mask=upload.purpose == "mask",
        )
        return data, facts


class InitImages:
    """Hands READY uploads to Leonardo as init images, once per upload (the id is remembered)."""

    def __init__(
        self, store: UploadStore, bucket: UploadBucket, leonardo: Leonardo, policy: UploadPolicy
    ) -> None:
        self._store, self._bucket, self._leonardo, self._policy = store, bucket, leonardo, policy

    def leonardo_id(self, upload_id: str) -> str:
        """Leonardo's init image id for the upload. LeonardoBusy propagates (try again later);
        UploadNotReady if the upload cannot be used (the job then fails: nothing to retry)."""
        upload = self._store.get_upload(upload_id)
        if upload is None or upload.status != UploadStatus.READY:
            raise UploadNotReady("The source upload is no longer available", code="upload_unavailable")
        if upload.leonardo_init_image_id:
            return upload.leonardo_init_image_id
        try:
            content = self._bucket.read(upload.key, max_bytes=self._policy.max_bytes)
        except UploadNotReady as gone:  # deleted between our read of the record and of the file
            raise UploadNotReady(
                "The source upload is no longer available", code="upload_unavailable"
            ) from gone
        init_image_id = self._leonardo.upload_init_image(content, upload.content_type)
        try:
            recorded = self._store.set_leonardo_init_image(upload, init_image_id)
        except UploadNotReady:  # deleted while we were handing it over: take our copy back
            self._discard(init_image_id)
            raise
        if recorded != init_image_id:  # a concurrent submitter's copy was recorded first
            self._discard(init_image_id)
        return recorded

    def canvas_ids(self, init_upload_id: str, mask_upload_id: str) -> tuple[str, str]:
        """Leonardo's ids for a canvas pair, handed over together once (remembered on the mask).

        LeonardoBusy propagates (try again later); UploadNotReady if either upload went away.
        """
        init = self._store.get_upload(init_upload_id)
        mask = self._store.get_upload(mask_upload_id)
        if not (init and mask and init.status == mask.status == UploadStatus.READY):
            raise UploadNotReady("The source upload is no longer available", code="upload_unavailable")
        known = mask.leonardo_canvas
        if known and known.get("init_upload_id") == init.id:
            return known["init_id"], known["mask_id"]
        try:
            init_bytes = self._bucket.read(init.key, max_bytes=self._policy.max_bytes)
            mask_bytes = self._bucket.read(mask.key, max_bytes=self._policy.max_bytes)
        except UploadNotReady as gone:
            raise UploadNotReady(
                "The source upload is no longer available", code="upload_unavailable"
            ) from gone
        init_id, mask_id = self._leonardo.upload_canvas_images(
            init_bytes, init.content_type, mask_bytes, mask.content_type
        )
        pair = {"init_upload_id": init.id, "init_id": init_id, "mask_id": mask_id}
        recorded = self._store.set_leonardo_canvas(mask, pair)
        if recorded["init_upload_id"] != init.id:
            # The mask was handed over with another init image first: this pair stays unremembered.
            log.info("canvas pair not remembered", extra={"mask_upload_id": mask.id})
            return init_id, mask_id
        if recorded != pair:
            self._discard(init_id)  # a concurrent submitter's pair was recorded first
            self._discard(mask_id)
        return recorded["init_id"], recorded["mask_id"]

    def _discard(self, init_image_id: str) -> None:
        try:
            self._leonardo.delete_init_image(init_image_id)
        except Exception:  # an orphan init image at Leonardo costs nothing; log it and move on
            log.warning(
                "could not delete a spare Leonardo init image", extra={"init_image_id": init_image_id}
            )
