"""Writes docs/openapi.json, the service's own OpenAPI document, from the handlers' routes.

The API's request and response schemas come from the Powertools Event Handler (the same types it
validates with); the webhook route is described from its handler. `make openapi` regenerates it,
and a test fails when the committed document drifts from the code.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "openapi.json"


def _load(name: str):
    code = str(ROOT / "functions" / name)
    if code not in sys.path:  # as in Lambda: the modules beside the handler are importable
        sys.path.insert(0, code)
    spec = importlib.util.spec_from_file_location(f"openapi_{name}", ROOT / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    }


def _document_image_surface(document: dict, error_ref: dict) -> None:
    """The answers of the job-kind routes that the handlers' types do not say."""
    paths = document["paths"]
    variation = paths["/v1/generations/{job_id}/images/{index}/variations"]["post"]["responses"]
    accepted = variation.get("200", {})
    variation["202"] = accepted | {
        "description": "Accepted: a new job working on the image (its kind is the type)"
    }
    variation["200"] = accepted | {
        "description": "An existing job (the same Idempotency-Key or double click)"
    }
    variation["422"]["description"] = (
        "Invalid options (validation_error, invalid_combination), or the job has no such finished image "
        "(source_not_usable)"
    )
    for path, method, what in (
        ("/v1/generations/{job_id}/cancel", "post", "Leonardo may already have the job (not_cancellable)"),
        ("/v1/generations/{job_id}", "delete", "The job has not ended yet (not_deletable): cancel it first"),
    ):
        paths[path][method]["responses"]["409"] = {"description": what} | error_ref
    paths["/v1/generations/{job_id}"]["delete"]["responses"]["503"] = {
        "description": "Deleted here, but Leonardo's copy could not be deleted yet (leonardo_busy): repeat it"
    } | error_ref
    for path in ("/v1/prompts/improve", "/v1/prompts/random"):
        responses = paths[path]["post"]["responses"]
        responses["429"] = {
            "description": "Past the per-user limit (rate_limited); Retry-After says when to try again"
        } | error_ref
        responses["502"] = {
            "description": "Leonardo's answer was lost (leonardo_outcome_unknown); it is not sent again"
        } | error_ref
        responses["503"] = {"description": "Leonardo refused the call unread (leonardo_busy)"} | error_ref


def _document_batches(document: dict, error_ref: dict) -> None:
    """The batch routes' answers that the handlers' types do not say (docs: README, Batches)."""
    from gencore.batch_views import BatchResult

    paths, schemas = document["paths"], document["components"]["schemas"]
    result = BatchResult.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, schema in result.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas["BatchResult"] = result
    create = paths["/v1/batches"]["post"]["responses"]
    accepted = create.get("200", {})
    create["202"] = accepted | {"description": "Accepted: the batch (its items are made by the fan-out)"}
    create["200"] = accepted | {"description": "The batch an earlier use of the same Idempotency-Key made"}
    over = "The whole batch's estimate is over your budget (budget_exceeded)"
    create["402"] = {"description": over} | error_ref
    create["422"] = {
        "description": "Refused lines (batch_invalid: details lists each line, custom_id, code and message), "
        "an invalid request (validation_error), a manifest that is not usable (upload_not_found, "
        "upload_not_ready, upload_wrong_purpose), or an Idempotency-Key used with another batch "
        "(idempotency_key_reused)"
    } | error_ref
    create["429"] = {"description": "Too many requests (rate_limited, with Retry-After)"} | error_ref
    results = paths["/v1/batches/{batch_id}/results"]["get"]["responses"]
    results["200"] = {
        "description": "The items made so far, one JSON object per line in manifest order",
        "headers": {
            "X-Next-Cursor": {
                "description": "Present while more lines follow: pass it as `cursor` for the next page",
                "schema": {"type": "string"},
            }
        },
        "content": {"application/jsonl": {"schema": {"$ref": "#/components/schemas/BatchResult"}}},
    }
    cancel = paths["/v1/batches/{batch_id}/cancel"]["post"]["responses"]
    cancel["409"] = {"description": "The batch has ended (not_cancellable)"} | error_ref


def build() -> dict:
    api = _load("api").app
    document = json.loads(
        api.get_openapi_json_schema(
            title="Leonardo generation backend",
            version="1.0.0",
            summary="Image generation jobs on Leonardo.Ai (text-to-image, image-to-image, edits, canvas "
            "inpainting, variations and upscaling, prompt tools), with outputs in your own bucket",
            security_schemes={"jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            security=[{"jwt": []}],
        )
    )
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = _error_schema()
    error_ref = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    document["paths"]["/health"]["get"]["security"] = []
    for path, operations in document["paths"].items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if path != "/health":
                responses.setdefault("401", {"description": "Missing or invalid JWT"})
            if "422" in responses:
                responses["422"] = {"description": "Invalid request"} | error_ref
            responses.setdefault(
                "400", {"description": "Bad request (malformed JSON, invalid cursor)"} | error_ref
            )
            responses.setdefault("404", {"description": "Not found"} | error_ref)
            if "requestBody" in operation:
                responses.setdefault("415", {"description": "Body is not application/json"} | error_ref)
    create = document["paths"]["/v1/generations"]["post"]["responses"]
    accepted = create.get("200", {})
    create["202"] = accepted | {"description": "Accepted: a new job"}
    create["200"] = accepted | {
        "description": "An existing job: the same Idempotency-Key (its job whatever its state, FAILED "
        "included; a new attempt takes a new key), or the same body within the double-click window "
        "(unless that job FAILED or was CANCELLED: then a new job starts, answered 202)"
    }
    _document_batches(document, error_ref)
    videos = document["paths"]["/v1/videos"]["post"]["responses"]
    made = videos.get("200", {})
    videos["202"] = made | {
        "description": "Accepted: a new video job (kind text_to_video, image_to_video or motion)"
    }
    videos["200"] = made | {"description": "An existing job: the same Idempotency-Key, or a double click"}
    videos["402"] = {"description": "Over your budget (budget_exceeded)"} | error_ref
    videos["422"] = {
        "description": "Invalid (validation_error, invalid_combination naming the rule), a source that is "
        "not yours to use (source_not_usable, upload codes), or over your plan (plan_limit, content_policy)"
    } | error_ref
    videos["429"] = {"description": "Too many requests (rate_limited, too_many_waiting)"} | error_ref
    uploads = document["paths"]["/v1/uploads"]["post"]["responses"]
    uploads["201"] = uploads.pop("200") | {
        "description": "Created: the upload, with the form to POST the file to (fields first, file last)"
    }
    complete = document["paths"]["/v1/uploads/{upload_id}/complete"]["post"]["responses"]
    complete["409"] = {"description": "No file was uploaded yet (code upload_missing)"} | error_ref
    complete["422"] = {
        "description": "The file was refused; the code says why (upload_type_mismatch, upload_not_an_image, "
        "upload_corrupt, upload_too_many_pixels, upload_too_small, upload_too_large, upload_empty, "
        "upload_animated, upload_content_type_mismatch)"
    } | error_ref
    delete = document["paths"]["/v1/uploads/{upload_id}"]["delete"]["responses"]
    delete["503"] = {
        "description": "Our files are deleted but Leonardo's copy could not be yet (code leonardo_busy): "
        "repeat the DELETE"
    } | error_ref
    complete["409"]["description"] = (
        "No file was uploaded yet (upload_missing), or the upload was deleted (upload_deleted)"
    )
    _document_image_surface(document, error_ref)
    document["paths"]["/webhooks/leonardo"] = {
        "post": {
            "summary": "Leonardo's generation callback",
            "operationId": "leonardo_callback",
            "security": [{"webhookKey": []}],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "202": {"description": "Accepted and queued (or ignored when not terminal)"},
                "400": {"description": "Malformed or invalid callback"} | error_ref,
                "401": {"description": "Missing or wrong bearer token"} | error_ref,
                "403": {
                    "description": "The caller's address is outside LeonardoCallbackCidrs, when that is set "
                    "(code forbidden_source)"
                }
                | error_ref,
                "413": {"description": "Body too large"} | error_ref,
                "503": {"description": "Verification unavailable"} | error_ref,
            },
        }
    }
    document["components"]["securitySchemes"]["webhookKey"] = {"type": "http", "scheme": "bearer"}
    _document_docs(document, error_ref)
    return document


def _document_docs(document: dict, error_ref: dict) -> None:
    """This document, browsable: Swagger UI (functions/docs, vendored assets), no token needed."""
    document["paths"]["/v1/docs"] = {
        "get": {
            "summary": "API documentation (Swagger UI over this document)",
            "operationId": "api_docs",
            "security": [],
            "responses": {"200": {"description": "The page", "content": {"text/html": {}}}},
        }
    }
    document["paths"]["/v1/docs/{asset}"] = {
        "get": {
            "summary": "The page's assets, and this document as openapi.json",
            "operationId": "api_docs_asset",
            "security": [],
            "parameters": [
                {
                    "name": "asset",
                    "in": "path",
                    "required": True,
                    "schema": {
                        "type": "string",
                        "enum": ["swagger-ui-bundle.js", "swagger-ui.css", "init.js", "openapi.json"],
                    },
                }
            ],
            "responses": {
                "200": {"description": "The asset (gzip-encoded when the client accepts it)"},
                "404": {"description": "No such asset (code not_found)"} | error_ref,
            },
        }
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "layers" / "core")]
    DOCUMENT.write_text(render())
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
