"""Leonardo-shaped error responses.

The REST API is served by Hasura, whose REST errors look like
`{"error": "<message>", "path": "$.<field>", "code": "<code>"}`. The only error
body documented in the shared openapi documents (blueprints API, 400) is
`{"error": "<string>"}`, of which this shape is a superset; every simulator
error, whatever the status, uses it so clients need one parser.
"""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        code: str,
        path: str = "$",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.path = path
        self.headers = headers or {}


def error_body(message: str, code: str, path: str = "$") -> dict[str, str]:
    return {"error": message, "path": path, "code": code}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.message, exc.code, exc.path), status_code=exc.status, headers=exc.headers
    )


def unauthorized() -> ApiError:
    return ApiError(401, "Authentication hook unauthorized this request", "access-denied")


def not_found(message: str = "not found") -> ApiError:
    return ApiError(404, message, "not-found")


def rate_limited(retry_after: int, message: str = "Too many requests, please retry later") -> ApiError:
    return ApiError(429, message, "rate-limit-exceeded", headers={"Retry-After": str(retry_after)})


def validation(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, message, "validation-failed", f"$.{field}" if field else "$")
