"""GET /v1/docs: Swagger UI over the committed OpenAPI document, from vendored assets, no auth.

The docs function (functions/docs/app.py) is standard library only and reads its files on the first
request; these specs invoke it as Lambda would, with the HTTP API's payload format 2.0.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
FUNCTION = ROOT / "functions/docs"


def _load():
    spec = importlib.util.spec_from_file_location("docs_app", FUNCTION / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docs = _load()


def get(asset: str | None = None, accept_encoding: str | None = "gzip, deflate, br") -> dict:
    path = "/v1/docs" + (f"/{asset}" if asset else "")
    event = {
        "version": "2.0",
        "routeKey": "GET /v1/docs" + ("/{asset}" if asset else ""),
        "rawPath": f"/prod{path}",
        "headers": {"accept-encoding": accept_encoding} if accept_encoding else {},
        "requestContext": {"http": {"method": "GET", "path": f"/prod{path}", "sourceIp": "203.0.113.10"}},
    }
    if asset:
        event["pathParameters"] = {"asset": asset}
    return docs.lambda_handler(event, None)


def body_of(response: dict) -> bytes:
    raw = base64.b64decode(response["body"]) if response.get("isBase64Encoded") else response["body"].encode()
    return gzip.decompress(raw) if response["headers"].get("Content-Encoding") == "gzip" else raw


def test_the_page_loads_swagger_ui_from_relative_same_origin_paths_only():
    response = get()
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/html")
    page = response["body"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources == ["docs/swagger-ui.css", "docs/swagger-ui-bundle.js", "docs/init.js"]
    assert "<script>" not in page  # no inline script: the CSP allows 'self' only
    csp = response["headers"]["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp


def test_the_document_served_is_the_committed_openapi_json():
    response = get("openapi.json")
    assert response["statusCode"] == 200
    assert json.loads(body_of(response)) == json.loads((ROOT / "docs/openapi.json").read_text())


def test_the_initializer_points_swagger_ui_at_that_document():
    assert 'url: "docs/openapi.json"' in body_of(get("init.js")).decode()


VENDORED = {
    name: digest
    for name, digest in re.findall(
        r"^\| (swagger-ui[\w.-]+) \| ([0-9a-f]{64}) \|$",
        (FUNCTION / "swagger_ui/VENDOR.md").read_text(),
        re.M,
    )
}


@pytest.mark.parametrize("asset", ["swagger-ui-bundle.js", "swagger-ui.css"])
@pytest.mark.parametrize("encoding", ["gzip, br", None, "gzip;q=0"])
def test_the_vendored_assets_are_the_pinned_release_compressed_or_not(asset, encoding):
    response = get(asset, accept_encoding=encoding)
    assert response["statusCode"] == 200
    assert ("Content-Encoding" in response["headers"]) is (encoding == "gzip, br")
    assert hashlib.sha256(body_of(response)).hexdigest() == VENDORED[asset]
    assert response["headers"]["Cache-Control"] == "public, max-age=86400"


def test_the_pinned_version_is_the_one_in_the_bundle():
    bundle = body_of(get("swagger-ui-bundle.js")).decode()
    assert docs.SWAGGER_UI_VERSION == "5.35.0" and "5.35.0" in (FUNCTION / "swagger_ui/VENDOR.md").read_text()
    assert "swagger-ui" in bundle


def test_nothing_is_loaded_from_a_cdn():
    page = get()["body"] + body_of(get("init.js")).decode()
    assert not re.search(r"https?://", page)


@pytest.mark.parametrize("asset", ["../app.py", "app.py", "swagger_ui", "LICENSE", "openapi.yaml"])
def test_anything_else_is_404(asset):
    assert get(asset)["statusCode"] == 404


def test_importing_the_function_reads_no_file_and_loads_nothing_but_the_standard_library():
    code = (
        "import sys, builtins; opened = []; real = builtins.open\n"
        "builtins.open = lambda *a, **k: (opened.append(a[0]), real(*a, **k))[1]\n"
        f"sys.path.insert(0, {str(FUNCTION)!r}); import app\n"
        "third = {m.split('.')[0] for m in sys.modules} & {'boto3', 'botocore', 'aws_lambda_powertools',"
        " 'pydantic', 'gencore'}\n"
        "assert not third, third\n"
        "assert not [p for p in opened if 'swagger' in str(p) or 'openapi' in str(p)], opened\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)  # noqa: S603 (our own code)


def test_the_package_links_the_committed_document_rather_than_copying_it():
    link = FUNCTION / "openapi.json"
    assert link.is_symlink() and link.resolve() == (ROOT / "docs/openapi.json").resolve()
