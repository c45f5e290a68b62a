"""API documentation: Swagger UI at GET /v1/docs over docs/openapi.json, with no authentication.

A function of its own, standard library only, so the API's package and cold start carry none of it.
The assets are vendored (swagger_ui/VENDOR.md: a pinned swagger-ui-dist, no CDN at run time) and
read from the package on first request, then kept for the container's life. The page and its
assets are addressed relative to /v1/docs, so they work under any stage path.
"""

from __future__ import annotations

import base64
import gzip
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SWAGGER_UI_VERSION = "5.35.0"
DAY, FIVE_MINUTES = 86400, 300

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Leonardo backend API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""
INIT = """window.ui = SwaggerUIBundle({url: "docs/openapi.json", dom_id: "#swagger-ui", deepLinking: true});
"""
# The page runs only its own scripts (no inline script); Swagger UI sets inline styles.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

# name: (content type, file under this package or None for the inline text, compressed?, max age)
ASSETS: dict[str, tuple[str, str | None, bool, int]] = {
    "swagger-ui-bundle.js": ("application/javascript", "swagger_ui/swagger-ui-bundle.js.gz", True, DAY),
    "swagger-ui.css": ("text/css", "swagger_ui/swagger-ui.css.gz", True, DAY),
    "init.js": ("application/javascript", None, False, DAY),
    "openapi.json": ("application/json", "openapi.json", False, FIVE_MINUTES),
}


@cache
def _content(name: str) -> bytes:
    """An asset's bytes as stored (gzip for the vendored ones), read once."""
    if name == "init.js":
        return INIT.encode()
    path = ASSETS[name][1]
    assert path is not None
    return (HERE / path).read_bytes()


@cache
def _plain(name: str) -> bytes:
    """A compressed asset inflated, for the rare client that does not accept gzip."""
    return gzip.decompress(_content(name))


def _accepts_gzip(headers: dict[str, str]) -> bool:
    for part in headers.get("accept-encoding", "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


def _answer(status: int, content_type: str, body: str, max_age: int, **extra: Any) -> dict[str, Any]:
    headers = {
        "Content-Type": content_type,
        "Cache-Control": f"public, max-age={max_age}",
        "X-Content-Type-Options": "nosniff",
    }
    return {"statusCode": status, "headers": headers | extra.pop("headers", {}), "body": body, **extra}


def _not_found() -> dict[str, Any]:
    body = '{"error": {"code": "not_found", "message": "No such route"}}'
    return _answer(404, "application/json", body, 0)


def lambda_handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    if http.get("method") != "GET":
        return _not_found()
    asset = (event.get("pathParameters") or {}).get("asset")
    if asset is None:
        return _answer(
            200, "text/html; charset=utf-8", PAGE, FIVE_MINUTES, headers={"Content-Security-Policy": CSP}
        )
    if asset not in ASSETS:
        return _not_found()
    content_type, _, compressed, max_age = ASSETS[asset]
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    if compressed and _accepts_gzip(headers):
        body = base64.b64encode(_content(asset)).decode()
        vary = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
        return _answer(200, content_type, body, max_age, headers=vary, isBase64Encoded=True)
    raw = _plain(asset) if compressed else _content(asset)
    vary = {"Vary": "Accept-Encoding"} if compressed else {}
    return _answer(200, content_type, raw.decode(), max_age, headers=vary)
