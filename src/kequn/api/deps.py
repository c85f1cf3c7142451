"""The dependencies every route takes, as ``Annotated`` aliases (FastAPI template style).

- ``State``: the server's shared objects (config, workspace gate, tokens, result cache);
- ``ReadWs`` / ``WriteWs``: the workspace, opened for this request only (read-only or not);
- ``Viewer`` / ``Analyst`` / ``Admin``: the principal, checked to have at least that role.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Query, Request

from kequn.api.access import AccessError, Principal, Role, TokenStore, local_principal
from kequn.api.cache import ResultCache, data_version
from kequn.api.config import ServerConfig
from kequn.api.gate import WorkspaceGate
from kequn.workspace import Workspace

TOKEN_COOKIE = "kq_token"


@dataclass
class AppState:
    """What all requests of one server share."""

    config: ServerConfig
    gate: WorkspaceGate
    tokens: TokenStore
    cache: ResultCache
    local: Principal = field(default_factory=local_principal)

    def version(self, ws: Workspace) -> str:
        """The workspace's data version (see :mod:`kequn.api.cache`), once per open."""
        known: str | None = getattr(ws, "_kq_version", None)
        if known is None:
            known = data_version(ws)
            ws._kq_version = known  # type: ignore[attr-defined]  # lives as long as the open
        return known


def get_state(request: Request) -> AppState:
    """The server's shared state."""
    state: AppState = request.app.state.kequn
    return state


State = Annotated[AppState, Depends(get_state)]


def request_token(request: Request) -> str | None:
    """The token a request carries: ``Authorization: Bearer …`` or the dashboard's cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE) or None


def current_principal(request: Request, state: State) -> Principal:
    """Who the request acts as.

    With tokens required, a valid token is needed. Otherwise (loopback, no tokens) the local
    operator is an admin; a token sent anyway is still checked and its role used.
    """
    token = request_token(request)
    if token is not None:
        return state.tokens.principal(token)
    if state.config.tokens_required:
        msg = "this server needs a token: send 'Authorization: Bearer TOKEN' or sign in"
        raise AccessError(msg)
    return state.local


def read_ws(state: State, _who: Annotated[Principal, Depends(current_principal)],
            ) -> Iterator[Workspace]:
    """The workspace, read-only, for this request (after the caller is known, so a refused
    request never opens the file)."""
    with state.gate.open(write=False) as ws:
        yield ws


def write_ws(state: State, _who: Annotated[Principal, Depends(current_principal)],
             ) -> Iterator[Workspace]:
    """The workspace, writable, for this request (it has the file alone meanwhile)."""
    with state.gate.open(write=True) as ws:
        yield ws


ReadWs = Annotated[Workspace, Depends(read_ws)]
WriteWs = Annotated[Workspace, Depends(write_ws)]


def require(role: Role) -> Callable[..., Principal]:
    """A dependency giving the principal once it is known to have ``role``."""

    def dependency(request: Request, principal: Annotated[Principal,
                                                          Depends(current_principal)]) -> Principal:
        principal.require(role, f"{request.method} {request.url.path}")
        return principal

    return dependency


Viewer = Annotated[Principal, Depends(require("viewer"))]
Analyst = Annotated[Principal, Depends(require("analyst"))]
Admin = Annotated[Principal, Depends(require("admin"))]

AsOfQuery = Annotated[str | None, Query(
    description="Compute as of this date or time (default: the latest data). 截至时间",
    max_length=40)]
LimitQuery = Annotated[int, Query(ge=1, le=1000, description="Rows per page (max 1000).")]
OffsetQuery = Annotated[int, Query(ge=0, description="Rows to skip.")]
