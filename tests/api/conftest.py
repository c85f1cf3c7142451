"""Fixtures for the API and dashboard tests: a small generated shop in a workspace file, and
clients for a server on it (local admin, or with tokens of each role)."""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_shop import build_shop

import kequn
from kequn.api import ServerConfig, create_app
from kequn.api.access import create_token

warnings.filterwarnings("ignore", category=UserWarning, module="kequn.clv")


@pytest.fixture(scope="session")
def shop_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated shop (120 customers, 8 months) for the whole session."""
    return build_shop(tmp_path_factory.mktemp("shop"), customers=120)


@pytest.fixture
def ws_path(tmp_path: Path, shop_file: Path) -> Path:
    """A fresh copy of the shop for one test (tests write to it)."""
    target = tmp_path / "shop.duckdb"
    shutil.copy(shop_file, target)
    return target


@pytest.fixture
def make_client(ws_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Build a client for a server on the test's workspace: ``make_client(host=..., ...)``."""
    clients: list[TestClient] = []

    def build(**options: Any) -> TestClient:
        options.setdefault("warm_cache", False)
        # the tests open the workspace themselves between requests, in this same process
        options.setdefault("keep_open_s", 0)
        app = create_app(ServerConfig(workspace=ws_path, **options))
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    """A client of a server on 127.0.0.1 without tokens: the local user is an admin."""
    return make_client()


@pytest.fixture
def tokens(ws_path: Path) -> dict[str, str]:
    """One stored token per role."""
    with kequn.open(ws_path) as ws:
        return {role: create_token(ws, role, name=f"test-{role}")[1]
                for role in ("viewer", "analyst", "admin")}


@pytest.fixture
def secured(make_client: Callable[..., TestClient], tokens: dict[str, str]) -> TestClient:
    """A client of a server that requires tokens (as when it listens beyond this machine)."""
    return make_client(host="0.0.0.0")
