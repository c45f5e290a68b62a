"""Uploads in the jobs table (UPLOAD#<id> / UPLOAD) and their files in the output bucket (uploads/)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from gencore.adapters.ddb import (
    ddb_value,
    is_condition_failure,
    plain_item,
    update_clauses,
    update_expression,
)
from gencore.domain.errors import UploadNotReady
from gencore.domain.models import Upload, UploadStatus
from gencore.domain.ports import PresignedPost

_UPLOAD_FIELDS = set(Upload.model_fields)


def _upload_key(upload_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"UPLOAD#{upload_id}"}, "sk": {"S": "UPLOAD"}}


def _to_upload(item: dict[str, Any]) -> Upload:
    return Upload.model_validate({k: v for k, v in plain_item(item).items() if k in _UPLOAD_FIELDS})


class DynamoUploadStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def create_upload(self, upload: Upload) -> None:
        item = {"pk": f"UPLOAD#{upload.id}", "sk": "UPLOAD"} | upload.model_dump(
            mode="json", exclude_none=True
        )
        self._db.put_item(
            TableName=self._table,
            Item={k: ddb_value(v) for k, v in item.items()},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_upload(self, upload_id: str) -> Upload | None:
        item = self._db.get_item(TableName=self._table, Key=_upload_key(upload_id), ConsistentRead=True).get(
            "Item"
        )
        return _to_upload(item) if item else None

    def finish_upload(self, upload: Upload, **fields: object) -> Upload:
        finished = Upload.model_validate(upload.model_dump() | fields)
        sets, removes, names, values = update_clauses(fields, finished.model_dump(mode="json"))
        names["#status"] = "status"
        values[":pending"] = ddb_value(str(UploadStatus.PENDING))
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_upload_key(upload.id),
                UpdateExpression=update_expression(sets, removes),
                ConditionExpression="#status = :pending",  # checked once: the first completion wins
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            return self.get_upload(upload.id) or upload
        return finished

    def set_leonardo_init_image(self, upload: Upload, init_image_id: str) -> str:
        recorded: str = self._set_leonardo_copy(upload, "leonardo_init_image_id", init_image_id)
        return recorded

    def set_leonardo_canvas(self, mask: Upload, canvas: dict[str, Any]) -> dict[str, Any]:
        recorded: dict[str, Any] = self._set_leonardo_copy(mask, "leonardo_canvas", canvas)
        return recorded

    def _set_leonardo_copy(self, upload: Upload, name: str, value: Any) -> Any:
        """Record Leonardo's copy (`name`) on a READY upload unless one is recorded: the first
        hand-over wins, and one deleted meanwhile must not gain a Leonardo copy."""
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_upload_key(upload.id),
                UpdateExpression="SET #copy = :value",
                ConditionExpression="#status = :ready AND attribute_not_exists(#copy)",
                ExpressionAttributeNames={"#status": "status", "#copy": name},
                ExpressionAttributeValues={
                    ":value": ddb_value(value),
                    ":ready": {"S": str(UploadStatus.READY)},
                },
            )
        except ClientError as error:
            if not is_condition_failure(error):
                raise
            current = self.get_upload(upload.id)
            if current and current.status == UploadStatus.READY and getattr(current, name):
                return getattr(current, name)  # a concurrent submitter handed it over first
            raise UploadNotReady(
                "The source upload is no longer available", code="upload_unavailable"
            ) from error
        return value

    def mark_deleted(self, upload: Upload, *, now: datetime) -> Upload:
        result = self._db.update_item(
            TableName=self._table,
            Key=_upload_key(upload.id),
            UpdateExpression="SET #status = :deleted, updated_at = :now REMOVE expires_at",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":deleted": {"S": str(UploadStatus.DELETED)},
                ":now": {"S": now.isoformat()},
            },
            ReturnValues="ALL_NEW",
        )
        return _to_upload(result["Attributes"])

    def forget_leonardo_init_image(self, upload: Upload) -> None:
        self._db.update_item(
            TableName=self._table,
            Key=_upload_key(upload.id),
            UpdateExpression="REMOVE leonardo_init_image_id, leonardo_canvas",
            ConditionExpression="#status = :deleted",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":deleted": {"S": str(UploadStatus.DELETED)}},
        )


class S3UploadBucket:
    """Uploads arrive under incoming/ in the output bucket (presigned POSTs); checked files live
    under uploads/, written by us only, and are served like outputs (S3OutputStore.presign)."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3, self._bucket = client, bucket

    def presign_post(self, key: str, *, content_type: str, max_bytes: int, expires_in: int) -> PresignedPost:
        # S3 enforces every condition: this exact key, this Content-Type, at most max_bytes.
        post = self._s3.generate_presigned_post(
            Bucket=self._bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )
        return PresignedPost(
            url=post["url"], fields=dict(post["fields"]), expires_at=int(time.time()) + expires_in
        )

    def head(self, key: str) -> tuple[int, str] | None:
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), head.get("ContentType", "")

    def read(self, key: str, *, max_bytes: int) -> bytes:
        # Never more than the limit, whatever the object grew to after it was checked.
        try:
            body = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")["Body"]
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                # Gone since it was looked at (a DELETE ran meanwhile): the caller says what that means.
                raise UploadNotReady("The file is no longer there", code="upload_missing") from error
            raise
        with body:
            data: bytes = body.read(max_bytes)
        return data

    def lines(self, key: str, *, max_bytes: int) -> Iterator[str]:
        """The object's text lines (UTF-8, blank ones too), streamed: never more than the limit."""
        body = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes - 1}")["Body"]
        with body:
            for raw in body.iter_lines(keepends=False):
                yield raw.decode("utf-8").rstrip("\r")

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)
