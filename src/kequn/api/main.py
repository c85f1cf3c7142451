"""``create_app``: the FastAPI application — JSON API under ``/api``, the dashboard at ``/``."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import kequn
from kequn.api import errors
from kequn.api.access import (
    TokenError,
    TokenStore,
    ensure_token_table,
    read_token_file,
    stored_tokens,
)
from kequn.api.cache import ResultCache
from kequn.api.config import ServerConfig
from kequn.api.deps import AppState
from kequn.api.gate import WorkspaceGate
from kequn.api.limits import BodyLimit
from kequn.api.routes import campaigns, data, metrics, predictions, segments

log = logging.getLogger("kequn.api")

DESCRIPTION = """\
kequn 客群: customer groups, operations metrics, predictions and measured campaigns.

Authenticate with `Authorization: Bearer TOKEN` (`kequn token create --role analyst`); a
server on 127.0.0.1 without tokens treats the local user as admin. Errors are JSON:
`{"error": TYPE, "message": TEXT}` (a rule syntax error adds `line`, `col`, `snippet`,
`expected`, `suggestion`). Lists are paged with `limit` and `offset`.
"""


def prepare_workspace(config: ServerConfig) -> None:
    """Create the workspace if missing and every state table the server reads, once, so that
    requests which only read can open the file read-only."""
    from kequn.campaigns import list_automations
    from kequn.campaigns.store import ensure_campaign_tables
    from kequn.segments.registry import ensure_segment_tables

    with kequn.open(config.workspace) as ws:
        ensure_campaign_tables(ws.con)
        ensure_segment_tables(ws)
        ensure_token_table(ws)
        list_automations(ws)  # stores the built-in automations (disabled) on first use


def create_app(config: ServerConfig) -> FastAPI:
    """The application for ``config`` (``kequn serve`` runs it with uvicorn).

    Refuses to start when tokens are required and none exists, rather than serve a shop's
    customers to anyone who can reach the port.
    """
    prepare_workspace(config)
    gate = WorkspaceGate(config.workspace, linger_s=config.keep_open_s)
    file_tokens = read_token_file(config.token_file) if config.token_file else {}

    def read_stored() -> dict:
        with gate.open(write=False) as ws:
            return stored_tokens(ws)

    tokens = TokenStore(file_tokens, read_stored)
    if config.tokens_required and not tokens.any():
        msg = (f"listening on {config.host} needs tokens: create one with 'kequn token create "
               "--role admin' or pass --token-file")
        raise TokenError(msg)
    state = AppState(config=config, gate=gate, tokens=tokens,
                     cache=ResultCache(config.cache_entries))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if config.warm_cache:
            from kequn.dashboard.warm import warm_forever

            threading.Thread(target=warm_forever, args=(state, stop), name="kequn-warm",
                             daemon=True).start()
        yield
        stop.set()
        gate.close()

    app = FastAPI(title="kequn 客群", version=kequn.__version__, description=DESCRIPTION,
                  docs_url="/api/docs", redoc_url=None, openapi_url="/api/openapi.json",
                  lifespan=lifespan)
    app.state.kequn = state
    errors.install(app)
    for module in (data, metrics, segments, predictions, campaigns):
        app.include_router(module.router)

    from kequn.dashboard.views import html_error
    from kequn.dashboard.views import router as dashboard

    app.include_router(dashboard)
    app.state.html_error = html_error
    static = resources.files("kequn.dashboard") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(BodyLimit, max_body=config.max_body_bytes,
                       max_upload=config.max_upload_bytes)
    return app
