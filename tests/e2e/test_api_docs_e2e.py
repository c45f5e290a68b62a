"""GET /v1/docs on the local stack: open (no token), the page, its assets and the document."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin

import pytest

pytestmark = pytest.mark.e2e


def test_the_docs_page_and_everything_it_loads_are_served_without_a_token(api):
    page = api.get("/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    base = str(page.url)
    for asset, kind in [("docs/swagger-ui.css", "text/css"), ("docs/swagger-ui-bundle.js", "javascript")]:
        assert f'"{asset}"' in page.text
        answer = api.get(urljoin(base, asset), headers={"accept-encoding": "gzip"})
        assert answer.status_code == 200 and kind in answer.headers["content-type"], asset
        assert len(answer.content) > 10_000  # httpx inflates the gzip body
    document = api.get(urljoin(base, "docs/openapi.json"))
    assert document.json() == json.loads(Path("docs/openapi.json").read_text())


def test_an_unknown_docs_asset_is_404(api):
    assert api.get("/v1/docs/secrets.txt").status_code == 404
