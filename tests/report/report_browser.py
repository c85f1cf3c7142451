"""Headless Debian Chromium for the report's browser tests (a module of its own, not conftest,
so both test files import it by name)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def chromium_flags(*, height: int) -> list[str]:
    """The command line that opens a page offline in headless Chromium, 1280 px wide."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("this test needs Debian's chromium (apt-get install -y chromium); "
                    ".ci/run must install it", pytrace=False)
    return [found, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tempfile.mkdtemp()}",
            f"--window-size=1280,{height}", "--virtual-time-budget=3000"]


def dump_dom(flags: list[str], page: Path) -> str:
    """The page's DOM after its scripts ran."""
    return subprocess.run([*flags, "--dump-dom", page.as_uri()], check=True,
                          capture_output=True, timeout=120, text=True).stdout
