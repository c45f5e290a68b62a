"""An HTTP gateway that behaves like API Gateway HTTP API in front of the in-process functions.

Requests are matched to the template's HttpApi routes, checked by the JWT
authorizer when the route has one, turned into payload-format-2.0 events and
handed to the handler; the handler's answer is translated back to HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import jwt
import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stackrunner.issuer import LocalIssuer
from stackrunner.runtime import FunctionRuntime
from stackrunner.template import ACCOUNT_ID, HttpRoute, JwtAuthorizer

log = logging.getLogger("stackrunner.gateway")

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload limit
INTEGRATION_TIMEOUT_SECONDS = 30.0  # HTTP API's maximum integration timeout
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|graphql|x-yaml|yaml)|application/[\w.+-]+\+(json|xml))$"
)
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


# ----- routing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str]
    rank: tuple[int, ...]


class RouteTable:
    """HTTP API's matching: exact routes beat parameterised ones, which beat greedy ones and $default."""

    def __init__(self, routes: list[HttpRoute]) -> None:
        self._routes = [self._compile(r) for r in routes]

    @staticmethod
    def _compile(route: HttpRoute) -> _CompiledRoute:
        if route.path == "$default":
            return _CompiledRoute(route, re.compile(r"^.*$"), (0, 0, 0, 0))
        regex, literals, params, greedy = "", 0, 0, 0
        for segment in route.path.strip("/").split("/"):
            if m := re.fullmatch(r"\{(\w+)\+\}", segment):
                regex += f"/(?P<{m.group(1)}>.+)"
                greedy += 1
            elif m := re.fullmatch(r"\{(\w+)\}", segment):
                regex += f"/(?P<{m.group(1)}>[^/]+)"
                params += 1
            elif segment:
                regex += "/" + re.escape(segment)
                literals += 1
        method_rank = 0 if route.method == "ANY" else 1
        return _CompiledRoute(
            route, re.compile(f"^{regex or '/'}$"), (1, 1 - greedy, literals, -params, method_rank)
        )

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        best: tuple[tuple[int, ...], HttpRoute, dict[str, str]] | None = None
        for compiled in self._routes:
            if compiled.route.method not in ("ANY", method):
                continue
            m = compiled.pattern.match(path)
            if m and (best is None or compiled.rank > best[0]):
                best = (compiled.rank, compiled.route, m.groupdict())
        return (best[1], best[2]) if best else None


# ----- JWT authorizer ---------------------------------------------------------------------------


class Unauthorized(Exception):
    pass


class Forbidden(Exception):
    pass


def _claim_string(value: Any) -> str:
    # API Gateway hands every claim to the function as a string; arrays look like "[a b]".
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + " ".join(_claim_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class JwtVerifier:
    """Checks what API Gateway's JWT authorizer checks: RS256 signature by a JWKS key, iss, aud, exp, nbf."""

    def __init__(self, authorizer: JwtAuthorizer, local_issuer: LocalIssuer | None) -> None:
        self.authorizer = authorizer
        self.local_issuer = local_issuer
        self._remote: jwt.PyJWKClient | None = None
        header = authorizer.identity_source.removeprefix("$request.header.")
        self.header = header.lower()

    def _key(self, kid: str | None) -> Any:
        local = self.local_issuer
        if local is not None and local.issuer == self.authorizer.issuer:
            if kid != local.kid:
                raise Unauthorized("unknown kid")
            return local.public_key
        try:
            if self._remote is None:
                import httpx

                config_url = self.authorizer.issuer.rstrip("/") + "/.well-known/openid-configuration"
                jwks_uri = httpx.get(config_url, timeout=5).raise_for_status().json()["jwks_uri"]
                self._remote = jwt.PyJWKClient(jwks_uri, cache_keys=True)
            return self._remote.get_signing_key(kid).key
        except Exception as exc:  # an unreachable issuer fails closed, as in API Gateway
            raise Unauthorized(f"no signing key: {exc}") from exc

    def verify(
        self, headers: dict[str, str], required_scopes: tuple[str, ...]
    ) -> tuple[dict[str, str], list[str] | None]:
        raw = headers.get(self.header, "").strip()
        if not raw:
            raise Unauthorized("missing token")
        # API Gateway accepts both "Bearer <jwt>" and the bare token.
        token = raw[7:].strip() if raw[:7].lower() == "bearer " else raw
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256":
                raise Unauthorized("unsupported alg")
            claims = jwt.decode(
                token,
                self._key(header.get("kid")),
                algorithms=["RS256"],
                issuer=self.authorizer.issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(str(exc)) from exc
        # aud, or client_id for tokens without aud (Cognito access tokens), must be a configured audience.
        aud = claims.get("aud", claims.get("client_id"))
        auds = {str(a) for a in aud} if isinstance(aud, list) else {str(aud)}
        if not auds & set(self.authorizer.audience):
            raise Unauthorized("audience not accepted")
        scope_claim = claims.get("scope", claims.get("scp"))
        scopes = scope_claim.split() if isinstance(scope_claim, str) else scope_claim
        scopes = [str(x) for x in scopes] if isinstance(scopes, list) else None
        if required_scopes and not set(scopes or []) & set(required_scopes):
            raise Forbidden("insufficient scope")
        return {k: _claim_string(v) for k, v in claims.items()}, scopes


# ----- events and responses ---------------------------------------------------------------------


def _is_text(content_type: str | None) -> bool:
    return bool(content_type) and bool(_TEXT_TYPES.match(content_type.split(";")[0].strip().lower()))


def build_event(
    request: Request,
    route: HttpRoute,
    path_parameters: dict[str, str],
    body: bytes,
    api_id: str,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    """An API Gateway HTTP API payload format 2.0 event, field for field."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name_b, value_b in request.scope["headers"]:
        name, value = name_b.decode("latin-1").lower(), value_b.decode("latin-1")
        if name == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    client_ip = request.client.host if request.client else "127.0.0.1"
    port = request.url.port or 80
    headers.setdefault("x-forwarded-for", client_ip)
    headers.setdefault("x-forwarded-port", str(port))
    headers.setdefault("x-forwarded-proto", request.url.scheme)
    now = time.time()
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]}")
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    query: dict[str, str] = {}
    for k, v in parse_qsl(raw_query, keep_blank_values=True):
        query[k] = f"{query[k]},{v}" if k in query else v
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    domain = headers.get("host", f"{api_id}.execute-api.local")
    request_id = base64.b32encode(uuid.uuid4().bytes[:10]).decode().rstrip("=")[:16]
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.url.path,
            "protocol": f"HTTP/{request.scope.get('http_version', '1.1')}",
            "sourceIp": client_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route.route_key,
        "stage": "$default",
        "time": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now * 1000),
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event["requestContext"] = context
    if body:
        text = _is_text(headers.get("content-type"))
        event["body"] = body.decode("utf-8", errors="replace") if text else base64.b64encode(body).decode()
        event["isBase64Encoded"] = not text
    else:
        event["isBase64Encoded"] = False
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


def to_response(result: Any) -> Response:
    """Translate a handler's return value the way HTTP API does for payload format 2.0."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # The 2.0 shortcut: anything without statusCode is a 200 JSON body.
        body = result if isinstance(result, str) else json.dumps(result)
        return Response(body, status_code=200, media_type="application/json")
    raw_body = result.get("body") or ""
    content = base64.b64decode(raw_body) if result.get("isBase64Encoded") else str(raw_body).encode()
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    response = Response(content, status_code=int(result["statusCode"]), headers=headers)
    for cookie in result.get("cookies") or []:
        response.raw_headers.append((b"set-cookie", str(cookie).encode("latin-1")))
    return response


def _message(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


# ----- the app ----------------------------------------------------------------------------------


class PayloadTooLarge(Exception):
    pass


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise PayloadTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise PayloadTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(
    runtime: FunctionRuntime,
    routes: list[HttpRoute],
    authorizers: dict[str, JwtAuthorizer],
    local_issuer: LocalIssuer | None,
    api_id: str = "localapi",
    extra_routes: list[Route] | None = None,
) -> Starlette:
    table = RouteTable(routes)
    verifiers = {name: JwtVerifier(a, local_issuer) for name, a in authorizers.items()}

    async def jwks(_: Request) -> Response:
        return JSONResponse(local_issuer.jwks() if local_issuer else {"keys": []})

    async def openid(_: Request) -> Response:
        return JSONResponse(local_issuer.openid_configuration() if local_issuer else {})

    async def dispatch(request: Request) -> Response:
        started = time.monotonic()
        matched = table.match(request.method, request.url.path)
        if matched is None:
            return _message(404, "Not Found")
        route, params = matched
        try:
            body = await _read_body(request)
        except PayloadTooLarge:
            return _message(413, "Request Entity Too Large")
        authorizer_ctx = None
        if route.authorizer is not None:
            verifier = verifiers.get(route.authorizer)
            if verifier is None:
                log.error("route %s names unknown authorizer %s", route.route_key, route.authorizer)
                return _message(500, "Internal Server Error")
            headers = {k.lower(): v for k, v in request.headers.items()}
            try:
                claims, scopes = await run_in_threadpool(verifier.verify, headers, route.scopes)
            except Unauthorized as exc:
                log.info("%s %s -> 401 (%s)", request.method, request.url.path, exc)
                reason = str(exc).replace('"', "'")
                challenge = f'Bearer error="invalid_token" error_description="{reason}"'
                return _message(401, "Unauthorized", **{"www-authenticate": challenge})
            except Forbidden:
                return _message(403, "Forbidden")
            authorizer_ctx = {"jwt": {"claims": claims, "scopes": scopes}}
        event = build_event(request, route, params, body, api_id, authorizer_ctx)
        try:
            # HTTP API gives up on an integration after 30 s; the handler thread is abandoned, not killed.
            with anyio.move_on_after(INTEGRATION_TIMEOUT_SECONDS) as waited:
                result = await anyio.to_thread.run_sync(
                    runtime.invoke, route.function, event, abandon_on_cancel=True
                )
            if waited.cancelled_caught:
                log.warning(
                    "%s took over %ss: 503 like API Gateway", route.function, INTEGRATION_TIMEOUT_SECONDS
                )
                response = _message(503, "Service Unavailable")
            else:
                response = to_response(result)
        except Exception:
            log.exception("%s failed on %s", route.function, route.route_key)
            response = _message(500, "Internal Server Error")
        response.headers["apigw-requestid"] = event["requestContext"]["requestId"]
        log.info(
            "%s %s -> %s %s (%.0f ms)",
            request.method,
            request.url.path,
            route.function,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return response

    return Starlette(
        routes=[
            Route("/.well-known/jwks.json", jwks, methods=["GET"]),
            Route("/.well-known/openid-configuration", openid, methods=["GET"]),
            *(extra_routes or []),  # the stack's own local-only routes (/_local/...)
            Route("/{path:path}", dispatch, methods=ALL_METHODS),
        ]
    )


class ServerThread:
    """A uvicorn server on a background thread, started and stopped deterministically."""

    def __init__(self, app: Any, host: str, port: int, name: str = "gateway") -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("HTTP server failed to start (port in use?)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
