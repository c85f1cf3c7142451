"""The audit trail: who created, changed, previewed and sent what, when, to how many.

Rows go to the workspace table ``kq_audit`` (at, actor, action, object, detail). ``detail`` is
JSON of counts and settings names, never personal data or secret values.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from kequn.campaigns.store import to_json

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = ["Clock", "current_actor", "read_audit", "record", "shop_clock"]

Clock = Callable[[], dt.datetime]
"""Returns "now" as a naive timestamp in the shop's time zone (injectable for tests)."""

ACTOR_ENV = "KEQUN_ACTOR"


def shop_clock(ws: Workspace) -> Clock:
    """The real wall clock in the shop's time zone.

    Sending is operations, not analytics: quiet hours and schedules follow the real clock.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(ws.settings.time_zone)
    return lambda: dt.datetime.now(zone).replace(tzinfo=None)


def current_actor() -> str:
    """Who is acting: ``$KEQUN_ACTOR`` if set, else the operating-system user."""
    actor = os.environ.get(ACTOR_ENV)
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def record(ws: Workspace, action: str, obj: str, detail: dict[str, Any] | None = None, *,
           actor: str | None = None, at: dt.datetime | None = None) -> None:
    """Append one audit row (committed at once, so the trail survives a crash after it)."""
    ws.raw.execute(
        "INSERT INTO kq_audit VALUES (?, ?, ?, ?, ?)",
        [at or shop_clock(ws)(), actor or current_actor(), action, obj, to_json(detail or {})],
    )


def read_audit(ws: Workspace, *, obj: str | None = None, action: str | None = None,
               limit: int | None = 100) -> ir.Table:
    """The audit trail, newest first, optionally for one object or action prefix."""
    t = ws.con.table("kq_audit")
    if obj is not None:
        t = t.filter(t.object == obj)
    if action is not None:
        t = t.filter(t.action.startswith(action))
    t = t.order_by([ibis.desc("at")])
    return t.limit(limit) if limit else t
