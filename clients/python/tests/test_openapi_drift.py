"""The client's models agree with docs/openapi.json.

For each model named after a schema: every field of the model exists in the schema with a type that
accepts what the API may send, every field the schema requires is in the model, and the model
requires nothing the schema may leave out. Nested objects and arrays are compared the same way.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from leoclient import models
from leoclient.models import JOB_TERMINAL, UPLOAD_TERMINAL

OPENAPI = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"

CHECKED: list[type[BaseModel]] = [
    models.JobView,
    models.JobPage,
    models.ImageView,
    models.BatchItemView,
    models.ErrorView,
    models.HoldView,
    models.UploadView,
    models.UploadForm,
    models.EstimateView,
    models.ModelView,
    models.ModelPage,
    models.UsageView,
    models.PeriodView,
    models.RecentJobView,
    models.BatchView,
    models.BatchPage,
]
# The body of POST /v1/batches, whichever name the API gives it.
BATCH_REQUEST_SCHEMAS = ("BatchRequest", "CreateBatchRequest")
BATCH_OPTIONS = {"items", "manifest_upload_id", "name", "skip_invalid", "complete_within_hours"}


@cache
def openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI.read_text())
    return document


def api_schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = openapi()["components"]["schemas"]
    return schemas


class Side:
    """One side of the comparison: a schema document and how its `$ref`s resolve."""

    def __init__(self, name: str, defs: dict[str, Any]) -> None:
        self.name = name
        self.defs = defs

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            resolved: dict[str, Any] = self.defs[schema["$ref"].rsplit("/", 1)[-1]]
            schema = resolved
        if len(schema.get("allOf", [])) == 1:
            return self.resolve(schema["allOf"][0])
        return schema

    def branches(self, schema: dict[str, Any]) -> list[dict[str, Any]]:
        schema = self.resolve(schema)
        union = schema.get("anyOf") or schema.get("oneOf")
        if union:
            return [branch for option in union for branch in self.branches(option)]
        return [schema]

    def types(self, schema: dict[str, Any]) -> set[str]:
        found: set[str] = set()
        for branch in self.branches(schema):
            kind = branch.get("type")
            if kind is None and "enum" in branch:
                kind = sorted({type(v).__name__.replace("str", "string") for v in branch["enum"]})
            if kind is None:
                found.add("any")
            else:
                found.update([kind] if isinstance(kind, str) else kind)
        return found

    def typed(self, schema: dict[str, Any], kind: str) -> dict[str, Any] | None:
        return next((b for b in self.branches(schema) if b.get("type") == kind), None)


def accepts(model_types: set[str], api_types: set[str]) -> bool:
    if "any" in model_types:
        return True
    widened = model_types | ({"integer"} if "number" in model_types else set())
    return api_types <= widened


def compare(model: Side, ms: dict[str, Any], api: Side, aps: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    model_types, api_types = model.types(ms), api.types(aps)
    if not accepts(model_types, api_types):
        problems.append(f"{where}: the API sends {sorted(api_types)}, the model takes {sorted(model_types)}")
        return problems
    m_obj, a_obj = model.typed(ms, "object"), api.typed(aps, "object")
    if m_obj is not None and a_obj is not None and "properties" in m_obj and "properties" in a_obj:
        problems += compare_objects(model, m_obj, api, a_obj, where)
    m_arr, a_arr = model.typed(ms, "array"), api.typed(aps, "array")
    if m_arr is not None and a_arr is not None and "items" in m_arr and "items" in a_arr:
        problems += compare(model, m_arr["items"], api, a_arr["items"], f"{where}[]")
    return problems


def compare_objects(model: Side, ms: dict[str, Any], api: Side, aps: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    api_props, api_required = aps.get("properties", {}), set(aps.get("required", []))
    model_props, model_required = ms.get("properties", {}), set(ms.get("required", []))
    for name, field_schema in model_props.items():
        if name not in api_props:
            problems.append(f"{where}.{name}: not in the API's schema")
            continue
        problems += compare(model, field_schema, api, api_props[name], f"{where}.{name}")
        if name in model_required and name not in api_required:
            problems.append(f"{where}.{name}: required by the model, optional in the API")
    problems += [
        f"{where}.{name}: required by the API, missing from the model"
        for name in api_required - set(model_props)
    ]
    return problems


@pytest.mark.parametrize("model", CHECKED, ids=lambda m: m.__name__)
def test_model_matches_its_openapi_schema(model: type[BaseModel]):
    name = model.__name__
    assert name in api_schemas(), f"{name} is not in docs/openapi.json"
    model_schema = model.model_json_schema()
    model_side = Side("model", model_schema.get("$defs", {}))
    api_side = Side("openapi", api_schemas())

    problems = compare(model_side, model_schema, api_side, api_schemas()[name], name)

    assert problems == []


def test_the_statuses_wait_stops_at_are_statuses_of_the_api():
    assert set(api_schemas()["JobStatus"]["enum"]) >= JOB_TERMINAL
    assert set(api_schemas()["UploadStatus"]["enum"]) >= UPLOAD_TERMINAL


def test_the_batch_options_the_client_sends_are_in_the_batch_request():
    [request] = [api_schemas()[name] for name in BATCH_REQUEST_SCHEMAS if name in api_schemas()]

    assert set(request.get("properties", {})) >= BATCH_OPTIONS


def test_uploads_take_jsonl_manifests():
    upload = api_schemas()["CreateUploadRequest"]["properties"]

    assert "batch_manifest" in upload["purpose"]["enum"]
    assert "application/jsonl" in upload["content_type"]["enum"]
