"""A real server process on a small generated shop, and a headless Chromium to drive it.

Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_server import CHROMIUM, CHROMIUM_ARGS, SHOTS, Server, build_shop, start_server, stop_server


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated shop (200 customers) in a workspace file of its own."""
    return build_shop(tmp_path_factory.mktemp("e2e"), customers=200)


@pytest.fixture(scope="module")
def server(shop: Path) -> Iterator[Server]:
    """``kequn serve`` on the shop (warming its figures in the background)."""
    srv = start_server(shop, shop.parent / "serve.log")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def shots() -> Path:
    """Where screenshots go (test-output/e2e)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS
