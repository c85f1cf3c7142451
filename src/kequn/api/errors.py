"""Errors as JSON: ``{"error": TYPE, "message": TEXT, ...}`` with the status that fits.

Every :class:`~kequn.errors.KequnError` is the client's to fix, so it maps to a 4xx status:
not found 404, a rule that does not parse 422 (with ``line``, ``col``, ``snippet``,
``expected`` and ``suggestion``), no or a bad token 401, a role too weak 403, a state that does
not allow the action 409, anything else 400. A workspace busy beyond the wait is 503 with
``Retry-After``. Anything unexpected is a 500 whose body says no more than that.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kequn.api.access import AccessError, ForbiddenError
from kequn.errors import KequnError, NotFoundError, RuleSyntaxError, WorkspaceError

log = logging.getLogger("kequn.api")


class PayloadTooLargeError(KequnError, ValueError):
    """A request body over the server's limit (HTTP 413)."""


class ConflictError(KequnError, RuntimeError):
    """An action the current state does not allow (HTTP 409)."""


def _state_errors() -> tuple[type[BaseException], ...]:
    from kequn.campaigns.errors import CampaignStateError

    return (ConflictError, CampaignStateError)


def _busy(exc: KequnError) -> bool:
    # WorkspaceError also means "no data yet" (400); only a held lock is the server's 503
    return isinstance(exc, WorkspaceError) and "another kequn process" in str(exc)


def status_of(exc: KequnError) -> int:
    """The HTTP status of a kequn error."""
    if _busy(exc):
        return 503
    for kind, status in ((NotFoundError, 404), (RuleSyntaxError, 422), (AccessError, 401),
                         (ForbiddenError, 403), (PayloadTooLargeError, 413),
                         (_state_errors(), 409)):
        if isinstance(exc, kind):
            return status
    return 400


def error_body(exc: KequnError) -> dict[str, Any]:
    """The JSON body of a kequn error (positions for a rule syntax error)."""
    body: dict[str, Any] = {"error": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, RuleSyntaxError):
        body.update(line=exc.line, col=exc.col, snippet=exc.snippet,
                    expected=list(exc.expected), suggestion=exc.suggestion)
    return body


def _respond(request: Request, body: dict[str, Any], status: int,
             headers: dict[str, str] | None = None) -> Response:
    """JSON under ``/api``; elsewhere the dashboard's HTML error (when it is installed)."""
    html = getattr(request.app.state, "html_error", None)
    if html is not None and not request.url.path.startswith("/api"):
        return html(request, status, body)  # type: ignore[no-any-return]
    return JSONResponse(body, status_code=status, headers=headers)


def _kequn_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KequnError)
    status = status_of(exc)
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 503:
        headers["Retry-After"] = "5"
    return _respond(request, error_body(exc), status, headers)


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
    message = f"{where}: {str(first.get('msg', 'is not valid')).lower()}"
    return _respond(request, {"error": "ValidationError", "message": message,
                              "details": [{"loc": list(e.get("loc", ())), "msg": e.get("msg")}
                                          for e in exc.errors()]}, 422)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: f"no such page {request.url.path!r}; /api/docs lists the API",
                405: f"{request.method} is not allowed on {request.url.path}"}
    message = messages.get(exc.status_code, str(exc.detail).lower())
    return _respond(request, {"error": "HTTPError", "message": message}, exc.status_code,
                    getattr(exc, "headers", None))


def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _respond(request, {"error": "InternalError",
                              "message": "internal error; the server log has the details"}, 500)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(KequnError, _kequn_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
