"""The committed OpenAPI document is the one the code produces, and it is a valid document."""

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from scripts import openapi

pytestmark = pytest.mark.unit


def test_committed_document_matches_the_handlers():
    committed = Path(openapi.DOCUMENT).read_text()
    assert committed == openapi.render(), "docs/openapi.json is stale: run `make openapi`"


def test_document_is_valid_openapi():
    validate(json.loads(Path(openapi.DOCUMENT).read_text()))


def test_every_route_in_the_template_is_documented():
    document = json.loads(Path(openapi.DOCUMENT).read_text())
    documented = {
        (method.upper(), path) for path, operations in document["paths"].items() for method in operations
    }
    from stackrunner.template import Template

    routes = {(r.method, r.path) for r in Template(Path("template.yaml")).http_routes()}
    assert routes == documented
