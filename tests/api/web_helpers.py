"""Helpers for the API tests (a module of its own: every test folder has a ``conftest``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kequn


def bearer(token: str) -> dict[str, str]:
    """The header carrying ``token``."""
    return {"Authorization": f"Bearer {token}"}


def audit_rows(path: Path, action: str | None = None) -> list[dict[str, Any]]:
    """The workspace's audit rows (optionally of one action), oldest first."""
    with kequn.open(path, read_only=True) as ws:
        t = ws.con.table("kq_audit")
        if action is not None:
            t = t.filter(t.action == action)
        return t.order_by("at").to_pyarrow().to_pylist()
