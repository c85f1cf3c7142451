"""How a ``kequn serve`` process is configured: one settings object, built once at start."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
MiB = 1024 * 1024


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServerConfig:
    """Settings of one web server process.

    The server never keeps the workspace open: every request opens ``workspace`` (read-only
    when it only reads) and closes it, so ``kequn load`` and ``kequn run`` can work on the same
    file at the same time.
    """

    workspace: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token_file: Path | None = None
    require_tokens: bool | None = None
    """None: tokens are required exactly when the server listens beyond this machine."""
    max_body_bytes: int = 1 * MiB
    """Largest JSON or form body (a rule, a campaign); bigger requests get 413."""
    max_upload_bytes: int = 512 * MiB
    """Largest data file uploaded to ``POST /api/loads``."""
    warm_cache: bool = True
    """Compute the dashboard's figures in the background at start and after each load."""
    keep_open_s: float = 60.0
    """Keep the workspace open (read-only) this long after the last request, so the next
    finds DuckDB's cache warm; another kequn process waiting for the file gets it at once
    (:mod:`kequn.api.gate`). 0 closes it after every request."""
    cache_entries: int = 512

    @property
    def tokens_required(self) -> bool:
        """Whether every request must carry a token."""
        if self.require_tokens is not None:
            return self.require_tokens
        return not is_loopback(self.host)

    @property
    def url(self) -> str:
        """The address to open in a browser."""
        host = self.host
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}/"
