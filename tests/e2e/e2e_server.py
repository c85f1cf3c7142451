"""Starting and stopping a real ``kequn serve`` process on a generated shop (for the browser
and concurrency tests; a module of its own, as every test folder has a ``conftest``).

Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright; nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# the kequn CLI with the command groups this area adds (until kequn.cli.commands imports them)
KEQUN = [sys.executable, "-c", "import kequn.cli.serve, kequn.cli.campaign; "
                               "from kequn.cli import main; main()"]


def build_shop(folder: Path, customers: int) -> Path:
    """A generated shop in ``folder/shop.duckdb`` (see tests/api/web_shop.py)."""
    spec = importlib.util.spec_from_file_location(
        "kq_web_shop", Path(__file__).parents[1] / "api" / "web_shop.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_shop(folder, customers=customers)  # type: ignore[no-any-return]


def free_port() -> int:
    """A TCP port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``kequn serve`` process."""

    url: str
    workspace: Path
    process: subprocess.Popen[bytes]
    log: Path

    def get(self, path: str, **kw: object) -> httpx.Response:
        """A request to the server."""
        return httpx.get(self.url + path, timeout=60, **kw)  # type: ignore[arg-type]


def start_server(workspace: Path, log: Path, *extra: str) -> Server:
    """Start ``kequn serve`` on a free port and wait until it answers."""
    port = free_port()
    env = {**os.environ, "KEQUN_LOCK_WAIT": "120"}
    out = log.open("wb")
    process = subprocess.Popen([*KEQUN, "serve", "--workspace", str(workspace), "--port",
                                str(port), "--log-level", "warning", *extra],
                               stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            msg = f"kequn serve exited: {log.read_text()}"
            raise RuntimeError(msg)
        try:
            if httpx.get(url + "/api/status", timeout=5).status_code == 200:
                return Server(url, workspace, process, log)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.terminate()
    msg = f"kequn serve did not answer: {log.read_text()}"
    raise RuntimeError(msg)


def stop_server(server: Server) -> None:
    """Stop the server process (it is ours)."""
    server.process.terminate()
    try:
        server.process.wait(15)
    except subprocess.TimeoutExpired:
        server.process.kill()


