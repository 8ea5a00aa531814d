"""One registry that turns errors into RFC 9457 ``application/problem+json`` responses.

Unknown exceptions become a generic 500 problem carrying only the request id; the traceback
goes to the server log, never to the client.
"""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from bastion.errors import BadRequest, BastionError, InvalidInput

__all__ = ["problem_response", "register_problem_handlers"]

log = structlog.get_logger("bastion.http")
PROBLEM = "application/problem+json"
_TITLES = {
    400: "Malformed request",
    414: "URI too long",
    431: "Request header fields too large",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request too large",
    415: "Unsupported media type",
}
_SLUGS = {
    400: "bad-request",
    414: "uri-too-long",
    431: "header-fields-too-large",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def _request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value else None


def problem_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    rid = _request_id()
    if rid:
        body = {**body, "request_id": rid}
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type=PROBLEM)


def simple_problem(status: int, detail: str, headers: dict[str, str] | None = None) -> Response:
    slug = _SLUGS.get(status, "http-error")
    body = {
        "type": f"https://bastion.dev/problems/{slug}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    return problem_response(status, body, headers)


async def _bastion(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BastionError)
    if exc.status == 500:
        log.error("http.error", error_type=exc.type, exc_info=exc.__cause__ is not None)
    elif exc.status > 500:  # an upstream or store is down: expected, no traceback
        log.warning("http.unavailable", error_type=exc.type, reason=getattr(exc, "reason", None))
    return problem_response(exc.status, exc.problem(request.url.path), exc.headers())


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return await _bastion(request, BadRequest("The body is not valid JSON."))
    shown = [
        {
            "field": _field(tuple(e.get("loc", ()))),
            "code": e.get("type", "invalid"),
            "message": e.get("msg", ""),
        }
        for e in errors
    ]
    fields = ", ".join(sorted({s["field"] for s in shown}))
    return await _bastion(request, InvalidInput(f"Invalid field(s): {fields}.", errors=shown))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "Request failed."
    return simple_problem(exc.status_code, detail, dict(exc.headers) if exc.headers else None)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("http.unhandled", exc_info=exc)
    return await _bastion(request, BastionError())


def register_problem_handlers(app: Any) -> None:
    app.add_exception_handler(BastionError, _bastion)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
