"""The committed OpenAPI document is the one the code produces, and it is a valid document."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from scripts import openapi

pytestmark = pytest.mark.unit


def test_committed_document_matches_the_handlers():
    committed = Path(openapi.DOCUMENT).read_text()
    assert committed == openapi.render(), "docs/openapi.json is stale: run `make openapi`"


def test_the_document_does_not_depend_on_what_was_imported_before_it():
    """pydantic reuses one schema for equal types (two Literals of the same values in another order):
    with every module of the layer loaded first, the document must still come out the same."""
    probe = (
        "import importlib, pkgutil, gencore\n"
        "for module in pkgutil.walk_packages(gencore.__path__, 'gencore.'):\n"
        "    importlib.import_module(module.name)\n"
        "from scripts import openapi\n"
        "print(openapi.render() == open(openapi.DOCUMENT).read())"
    )
    root = Path(openapi.__file__).resolve().parents[1]
    paths = os.pathsep.join(str(root / p) for p in ("layers/core", "functions/api", "local", "."))
    done = subprocess.run(  # noqa: S603 (this interpreter, a fixed probe)
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, cwd=root,
        env=os.environ | {"PYTHONPATH": paths, "POWERTOOLS_TRACE_DISABLED": "true"},
    )  # fmt: skip
    assert done.stdout.strip().splitlines()[-1:] == ["True"], done.stderr[-3000:]


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
