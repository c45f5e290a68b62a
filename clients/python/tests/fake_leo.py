"""An in-process fake of the backend for `httpx.MockTransport`: the API, the upload bucket and the CDN.

It keeps the behaviour the client relies on: the error envelope and the gateway's own answers,
cursors, Idempotency-Key replays, jobs that move one state per poll, presigned uploads, batches with
per-line validation, JSONL results with `X-Next-Cursor`, and images with size and sha256. Faults are
injected per route: `fake.inject("GET /v1/generations/", response_or_exception, ...)`.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "http://leo.test"
BUCKET = "https://bucket.s3.test"
CDN = "https://cdn.test"
TOKENS = {"t-alice": "alice", "t-bob": "bob"}
# A presigned URL's query, byte for byte: any re-encoding breaks the signature (403).
SIGNED_QUERY = "X-Amz-Credential=AKIAFAKE%2F20261204%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=abc"
PROGRESS = ("QUEUED", "SUBMITTED", "FINALIZING", "COMPLETE")
TERMINAL = {"COMPLETE", "FAILED", "CANCELLED", "DELETED"}
CLOCK = itertools.count(1)


def now() -> str:
    return f"2026-12-04T10:{next(CLOCK) % 60:02d}:00Z"


def error(status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None):
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return httpx.Response(status, json={"error": body}, headers=headers)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["o"])
    except (ValueError, KeyError, TypeError):
        return None


def image_bytes(job_id: str, index: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + f"{job_id}/{index}".encode() * 64


@dataclass
class Job:
    id: str
    owner: str
    request: dict[str, Any]
    kind: str = "text_to_image"
    status: str = "QUEUED"
    error: dict[str, str] | None = None
    created_at: str = field(default_factory=now)
    legacy_images: bool = False
    batch: dict[str, Any] | None = None  # {"batch_id", "custom_id", "line"} for a batch's item

    def advance(self) -> None:
        if self.status in TERMINAL:
            return
        if "FAIL" in str(self.request.get("prompt", "")) and self.status == "FINALIZING":
            self.status = "FAILED"
            self.error = {"code": "generation_failed", "message": "Leonardo reported the generation failed"}
            return
        self.status = PROGRESS[PROGRESS.index(self.status) + 1]

    def images(self) -> list[dict[str, Any]]:
        if self.status != "COMPLETE":
            return []
        images = []
        for index in range(int(self.request.get("num_images", 1))):
            content = image_bytes(self.id, index)
            images.append(
                {
                    "index": index,
                    "url": f"{CDN}/outputs/{self.id}/{index}.png?{SIGNED_QUERY}",
                    "content_type": "image/png",
                    "width": self.request.get("width", 512),
                    "height": self.request.get("height", 512),
                    "leonardo_image_id": f"leo-{self.id}-{index}",
                    "nsfw": False,
                    "withheld": False,
                    "size": None if self.legacy_images else len(content),
                    "sha256": None if self.legacy_images else hashlib.sha256(content).hexdigest(),
                }
            )
        return images

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "request": self.request,
            "seed": 42,
            "images": self.images(),
            "cost": {"amount": "15", "unit": "CREDITS", "source": "estimate"},
            "error": self.error,
            "hold": None,
            "model_name": "Lightning XL",
            "nsfw_policy": "flag",
            "source": None,
            "batch": self.batch,
        }


@dataclass
class Batch:
    id: str
    owner: str
    name: str | None
    lines: list[tuple[int, str, str]]  # (manifest line, custom_id, job id)
    skipped: int
    status: str = "RUNNING"
    created_at: str = field(default_factory=now)
    finished_at: str | None = None


class FakeLeo:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.batches: dict[str, Batch] = {}
        self.keys: dict[tuple[str, str, str], tuple[str, str]] = {}  # (user, route, key) -> (body, id)
        self.requests: list[httpx.Request] = []
        self.faults: dict[str, deque[httpx.Response | BaseException | str]] = {}
        self.cdn_gets = 0
        self.legacy_images = False
        self.lock = threading.RLock()

    # -- fault injection -------------------------------------------------------------------------

    def inject(self, route: str, *answers: httpx.Response | BaseException | str) -> None:
        """Answer the next requests whose "METHOD url" starts with `route` with `answers`, in order.

        An exception is raised as the transport would; the string "lose" handles the request and
        then raises a read timeout, as when an answer is lost on the way back.
        """
        self.faults.setdefault(route, deque()).extend(answers)

    def _fault(self, request: httpx.Request) -> httpx.Response | BaseException | str | None:
        target = f"{request.method} {request.url.copy_with(query=None)}".replace(API, "")
        for route, answers in self.faults.items():
            if answers and target.startswith(route):
                return answers.popleft()
        return None

    # -- entry point -----------------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self.lock:  # one request at a time, like a store's transactions (downloads run in threads)
            return self._handle(request)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        fault = self._fault(request)
        if isinstance(fault, BaseException):
            raise fault
        if isinstance(fault, httpx.Response):
            return fault
        response = self._route(request)
        if fault == "lose":
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url.copy_with(query=None))
        if url.startswith(BUCKET):
            return self._bucket_post(request)
        if url.startswith(CDN):
            return self._cdn_get(request)
        auth = request.headers.get("authorization", "")
        user = TOKENS.get(auth.removeprefix("Bearer "))
        if not auth.startswith("Bearer ") or user is None:
            return httpx.Response(401, json={"message": "Unauthorized"})
        path = request.url.path
        for method, pattern, handler in self._routes():
            match = re.fullmatch(pattern, path)
            if match and request.method == method:
                response: httpx.Response = handler(request, user, *match.groups())
                return response
        return httpx.Response(404, json={"message": "Not Found"})

    def _routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", r"/v1/generations", self._create_job),
            ("GET", r"/v1/generations", self._list_jobs),
            ("GET", r"/v1/generations/([^/]+)", self._get_job),
            ("POST", r"/v1/generations/([^/]+)/cancel", self._cancel_job),
            ("DELETE", r"/v1/generations/([^/]+)", self._delete_job),
            ("POST", r"/v1/generations/([^/]+)/images/(\d+)/variations", self._variation),
            ("POST", r"/v1/uploads", self._create_upload),
            ("GET", r"/v1/uploads/([^/]+)", self._get_upload),
            ("POST", r"/v1/uploads/([^/]+)/complete", self._complete_upload),
            ("POST", r"/v1/estimates", self._estimate),
            ("GET", r"/v1/usage", self._usage),
            ("GET", r"/v1/models", self._models),
            ("POST", r"/v1/batches", self._create_batch),
            ("GET", r"/v1/batches", self._list_batches),
            ("GET", r"/v1/batches/([^/]+)", self._get_batch),
            ("POST", r"/v1/batches/([^/]+)/cancel", self._cancel_batch),
            ("GET", r"/v1/batches/([^/]+)/results", self._results),
        ]

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _json(request: httpx.Request) -> Any:
        try:
            return json.loads(request.content or b"null")
        except ValueError:
            return None

    def _replay(
        self, request: httpx.Request, user: str, route: str
    ) -> tuple[str | None, httpx.Response | None, str | None]:
        """(key, a replay answer or a refusal, or None)."""
        key = request.headers.get("idempotency-key")
        if key is None:
            return None, None, None
        seen = self.keys.get((user, route, key))
        if seen is None:
            return key, None, None
        body, ident = seen
        if body != request.content.decode():
            return key, error(422, "idempotency_key_reused", "this key was used with another body"), None
        return key, None, ident

    def _page(
        self, request: httpx.Request, items: list[Any]
    ) -> tuple[list[Any], str | None] | httpx.Response:
        limit = int(request.url.params.get("limit", 20))
        offset = decode_cursor(request.url.params.get("cursor"))
        if offset is None:
            return error(400, "invalid_cursor", "the cursor is not one of ours")
        chunk = items[offset : offset + limit]
        next_cursor = encode_cursor(offset + limit) if offset + limit < len(items) else None
        return chunk, next_cursor

    def _owned_job(self, user: str, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        return job if job is not None and job.owner == user else None

    def new_job(self, user: str, request: dict[str, Any], kind: str = "text_to_image") -> Job:
        job = Job(str(uuid.uuid4()), user, request, kind=kind, legacy_images=self.legacy_images)
        self.jobs[job.id] = job
        return job

    # -- generations -----------------------------------------------------------------------------

    def _create_job(self, request: httpx.Request, user: str) -> httpx.Response:
        body = self._json(request)
        if not isinstance(body, dict):
            return error(400, "malformed_json", "the body is not a JSON object")
        if not isinstance(body.get("prompt"), str) or not body["prompt"]:
            return error(422, "validation_error", "prompt: field required", [{"loc": ["prompt"]}])
        key, refusal, existing = self._replay(request, user, "generations")
        if refusal is not None:
            return refusal
        if existing is not None:
            return httpx.Response(200, json=self.jobs[existing].view())
        job = self.new_job(user, body)
        if key is not None:
            self.keys[(user, "generations", key)] = (request.content.decode(), job.id)
        return httpx.Response(202, json=job.view())

    def _list_jobs(self, request: httpx.Request, user: str) -> httpx.Response:
        mine = [job.view() for job in reversed(self.jobs.values()) if job.owner == user]
        page = self._page(request, mine)
        if isinstance(page, httpx.Response):
            return page
        return httpx.Response(200, json={"items": page[0], "next_cursor": page[1]})

    def _get_job(self, request: httpx.Request, user: str, job_id: str) -> httpx.Response:
        job = self._owned_job(user, job_id)
        if job is None:
            return error(404, "not_found", "no such job")
        job.advance()
        return httpx.Response(200, json=job.view())

    def _cancel_job(self, request: httpx.Request, user: str, job_id: str) -> httpx.Response:
        job = self._owned_job(user, job_id)
        if job is None:
            return error(404, "not_found", "no such job")
        if job.status != "QUEUED":
            return error(409, "not_cancellable", f"the job is {job.status}")
        job.status = "CANCELLED"
        return httpx.Response(200, json=job.view())

    def _delete_job(self, request: httpx.Request, user: str, job_id: str) -> httpx.Response:
        job = self._owned_job(user, job_id)
        if job is None:
            return error(404, "not_found", "no such job")
        if job.status not in TERMINAL:
            return error(409, "not_deletable", "cancel it first")
        job.status = "DELETED"
        return httpx.Response(200, json=job.view())

    def _variation(self, request: httpx.Request, user: str, job_id: str, index: str) -> httpx.Response:
        job = self._owned_job(user, job_id)
        if job is None or job.status != "COMPLETE":
            return error(422, "source_not_usable", "the source is not one of your usable images")
        body = self._json(request) or {}
        variation = self.new_job(
            user, {"prompt": job.request["prompt"], **body}, kind=body.get("type", "upscale")
        )
        return httpx.Response(202, json=variation.view())

    # -- uploads ---------------------------------------------------------------------------------

    def _upload_view(self, upload: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in upload.items() if k != "owner"}

    def _create_upload(self, request: httpx.Request, user: str) -> httpx.Response:
        body = self._json(request) or {}
        purpose = body.get("purpose", "init")
        content_type = body.get("content_type")
        allowed = {"batch_manifest": {"application/jsonl"}}.get(
            purpose, {"image/png", "image/jpeg", "image/webp"}
        )
        if purpose not in ("init", "mask", "batch_manifest") or content_type not in allowed:
            return error(
                422, "validation_error", f"content_type {content_type!r} is not allowed for {purpose}"
            )
        upload_id = str(uuid.uuid4())
        upload = {
            "id": upload_id,
            "owner": user,
            "status": "PENDING",
            "content_type": content_type,
            "purpose": purpose,
            "created_at": now(),
            "updated_at": now(),
            "size": None,
            "width": None,
            "height": None,
            "url": None,
            "error": None,
            "upload": {
                "url": f"{BUCKET}/",
                "fields": {
                    "key": f"uploads/{upload_id}",
                    "Content-Type": content_type,
                    "policy": "eyJwb2xpY3kiOiAiZmFrZSJ9",
                    "x-amz-signature": "fake",
                },
                "max_bytes": 10 * 1024 * 1024,
                "expires_at": "2026-12-04T11:00:00Z",
                "method": "POST",
            },
        }
        self.uploads[upload_id] = upload
        return httpx.Response(201, json=self._upload_view(upload))

    def _get_upload(self, request: httpx.Request, user: str, upload_id: str) -> httpx.Response:
        upload = self.uploads.get(upload_id)
        if upload is None or upload["owner"] != user:
            return error(404, "not_found", "no such upload")
        return httpx.Response(200, json=self._upload_view(upload))

    def _complete_upload(self, request: httpx.Request, user: str, upload_id: str) -> httpx.Response:
        upload = self.uploads.get(upload_id)
        if upload is None or upload["owner"] != user:
            return error(404, "not_found", "no such upload")
        stored = self.objects.get(f"uploads/{upload_id}")
        if stored is None:
            return error(422, "upload_missing", "nothing was uploaded yet")
        data, _ = stored
        upload.update(size=len(data), upload=None, updated_at=now())
        if upload["purpose"] != "batch_manifest" and not data.startswith(b"\x89PNG"):
            upload.update(status="REJECTED", error={"code": "upload_not_an_image", "message": "not an image"})
        else:
            upload["status"] = "READY"
        return httpx.Response(200, json=self._upload_view(upload))

    def _bucket_post(self, request: httpx.Request) -> httpx.Response:
        if "authorization" in request.headers:
            return httpx.Response(400, text="<Error><Code>InvalidArgument</Code></Error>")
        header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + request.content)
        fields: dict[str, bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            fields[str(name)] = payload if isinstance(payload, bytes) else b""
        names = list(fields)
        if names[-1] != "file" or "policy" not in fields:
            return httpx.Response(400, text="<Error><Code>InvalidPolicyDocument</Code></Error>")
        self.objects[fields["key"].decode()] = (fields["file"], fields["Content-Type"].decode())
        return httpx.Response(204)

    def _cdn_get(self, request: httpx.Request) -> httpx.Response:
        if "authorization" in request.headers:
            return httpx.Response(400, text="only one auth mechanism allowed")
        if request.url.query.decode() != SIGNED_QUERY:
            return httpx.Response(403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>")
        match = re.fullmatch(r"/outputs/([^/]+)/(\d+)\.png", request.url.path)
        if match is None or match.group(1) not in self.jobs:
            return httpx.Response(404, text="<Error><Code>NoSuchKey</Code></Error>")
        self.cdn_gets += 1
        return httpx.Response(
            200,
            content=image_bytes(match.group(1), int(match.group(2))),
            headers={"content-type": "image/png"},
        )

    # -- estimates, usage, models ----------------------------------------------------------------

    def _estimate(self, request: httpx.Request, user: str) -> httpx.Response:
        body = self._json(request) or {}
        return httpx.Response(200, json={"credits": 15 * int(body.get("num_images", 1)), "source": "table"})

    def _usage(self, request: httpx.Request, user: str) -> httpx.Response:
        period = {"budget": "450", "spent": "30", "reserved": "15", "remaining": "405"}
        return httpx.Response(
            200,
            json={
                "plan": "free",
                "unit": "CREDITS",
                "day": {"key": "2026-12-04", "resets_at": "2026-12-05T00:00:00Z", **period},
                "month": {"key": "2026-12", "resets_at": "2027-01-01T00:00:00Z", **period},
                "recent_jobs": [],
            },
        )

    def _models(self, request: httpx.Request, user: str) -> httpx.Response:
        model = {"id": "b24e16ff", "name": "Lightning XL", "description": None, "featured": True}
        return httpx.Response(200, json={"items": [model]})

    # -- batches ---------------------------------------------------------------------------------

    def _batch_items(self, body: dict[str, Any], user: str) -> list[Any] | httpx.Response:
        if "items" in body:
            items = body["items"]
            if not isinstance(items, list) or len(items) > 1000:
                return error(422, "validation_error", "items: a list of at most 1,000")
            return items
        upload = self.uploads.get(str(body.get("manifest_upload_id")))
        if upload is None or upload["owner"] != user or upload["status"] != "READY":
            return error(422, "source_not_usable", "the manifest is not one of your READY uploads")
        if upload["purpose"] != "batch_manifest":
            return error(422, "upload_wrong_purpose", "the upload is not a batch manifest")
        data, _ = self.objects[f"uploads/{upload['id']}"]
        lines: list[Any] = []
        for raw in data.decode().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                lines.append(None)
        return lines

    def _create_batch(self, request: httpx.Request, user: str) -> httpx.Response:
        body = self._json(request)
        if not isinstance(body, dict):
            return error(400, "malformed_json", "the body is not a JSON object")
        key, refusal, existing = self._replay(request, user, "batches")
        if refusal is not None:
            return refusal
        if existing is not None:
            return httpx.Response(200, json=self._batch_view(self.batches[existing]))
        items = self._batch_items(body, user)
        if isinstance(items, httpx.Response):
            return items
        valid: list[tuple[int, dict[str, Any]]] = []
        invalid: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number, item in enumerate(items, start=1):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            problem = None
            if not isinstance(item, dict):
                problem = ("malformed_json", "the line is not a JSON object")
            elif not isinstance(custom_id, str) or not custom_id:
                problem = ("validation_error", "custom_id: field required")
            elif custom_id in seen:
                problem = ("duplicate_custom_id", f"custom_id {custom_id!r} appears twice")
            elif not isinstance(item.get("prompt"), str) or not item["prompt"]:
                problem = ("validation_error", "prompt: field required")
            if problem is None:
                seen.add(str(custom_id))
                valid.append((number, item))
            else:
                invalid.append(
                    {"line": number, "custom_id": custom_id, "code": problem[0], "message": problem[1]}
                )
        if invalid and not body.get("skip_invalid"):
            details = {
                "valid": len(valid),
                "invalid": len(invalid),
                "lines": invalid[:100],
                "truncated": False,
            }
            return error(422, "batch_invalid", f"{len(invalid)} invalid lines", details)
        batch_id = str(uuid.uuid4())
        lines = []
        for number, item in valid:
            request_fields = {k: v for k, v in item.items() if k != "custom_id"}
            job = self.new_job(user, request_fields)
            job.batch = {"batch_id": batch_id, "custom_id": item["custom_id"], "line": number}
            lines.append((number, str(item["custom_id"]), job.id))
        batch = Batch(batch_id, user, body.get("name"), lines, skipped=len(invalid))
        self.batches[batch_id] = batch
        if key is not None:
            self.keys[(user, "batches", key)] = (request.content.decode(), batch_id)
        return httpx.Response(202, json=self._batch_view(batch))

    def _batch_view(self, batch: Batch) -> dict[str, Any]:
        counts = dict.fromkeys(("QUEUED", "SUBMITTED", "FINALIZING", "COMPLETE", "FAILED", "CANCELLED"), 0)
        for _, _, job_id in batch.lines:
            counts[self.jobs[job_id].status] += 1
        remaining = counts["QUEUED"] + counts["SUBMITTED"] + counts["FINALIZING"]
        return {
            "id": batch.id,
            "name": batch.name,
            "status": batch.status,
            "items": len(batch.lines),
            "skipped": batch.skipped,
            "created": len(batch.lines),
            "counts": counts,
            "credits": {
                "unit": "CREDITS",
                "reserved": str(15 * remaining),
                "spent": str(15 * counts["COMPLETE"]),
            },
            "created_at": batch.created_at,
            "started_at": batch.created_at,
            "finished_at": batch.finished_at,
            "deadline_at": None,
            "eta_seconds": None if batch.status in ("COMPLETE", "CANCELLED") else 2 * remaining,
        }

    def _owned_batch(self, user: str, batch_id: str) -> Batch | None:
        batch = self.batches.get(batch_id)
        return batch if batch is not None and batch.owner == user else None

    def _get_batch(self, request: httpx.Request, user: str, batch_id: str) -> httpx.Response:
        batch = self._owned_batch(user, batch_id)
        if batch is None:
            return error(404, "not_found", "no such batch")
        for _, _, job_id in batch.lines:
            self.jobs[job_id].advance()
        if (
            all(self.jobs[job_id].status in TERMINAL for _, _, job_id in batch.lines)
            and batch.finished_at is None
        ):
            batch.status = "CANCELLED" if batch.status == "CANCELLING" else "COMPLETE"
            batch.finished_at = now()
        return httpx.Response(200, json=self._batch_view(batch))

    def _cancel_batch(self, request: httpx.Request, user: str, batch_id: str) -> httpx.Response:
        batch = self._owned_batch(user, batch_id)
        if batch is None:
            return error(404, "not_found", "no such batch")
        if batch.status in ("COMPLETE", "CANCELLED"):
            return error(409, "not_cancellable", f"the batch is {batch.status}")
        if batch.status == "RUNNING":
            for _, _, job_id in batch.lines:
                if self.jobs[job_id].status == "QUEUED":
                    self.jobs[job_id].status = "CANCELLED"
            batch.status = "CANCELLING"
        return httpx.Response(200, json=self._batch_view(batch))

    def _list_batches(self, request: httpx.Request, user: str) -> httpx.Response:
        mine = [self._batch_view(b) for b in reversed(self.batches.values()) if b.owner == user]
        page = self._page(request, mine)
        if isinstance(page, httpx.Response):
            return page
        return httpx.Response(200, json={"batches": page[0], "next_cursor": page[1]})

    def _results(self, request: httpx.Request, user: str, batch_id: str) -> httpx.Response:
        batch = self._owned_batch(user, batch_id)
        if batch is None:
            return error(404, "not_found", "no such batch")
        rows = []
        for number, custom_id, job_id in batch.lines:
            job = self.jobs[job_id]
            line = {"line": number, "custom_id": custom_id, "job_id": job_id, "status": job.status}
            line.update(images=job.images(), error=job.error)
            rows.append(line)
        page = self._page(request, rows)
        if isinstance(page, httpx.Response):
            return page
        body = "".join(json.dumps(row) + "\n" for row in page[0])
        headers = {"content-type": "application/jsonl"}
        if page[1] is not None:
            headers["x-next-cursor"] = page[1]
        return httpx.Response(200, content=body.encode(), headers=headers)
