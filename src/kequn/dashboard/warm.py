"""Keeping the dashboard fast: compute the default pages' figures in the background.

At start, and whenever the data version changes (a load, a prediction run, a setting), the
figures the pages show by default are computed into the result cache, each in its own short
read-only open of the workspace, so a ``kequn load`` waiting for the file gets it between two.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kequn.dashboard import panels
from kequn.errors import KequnError

if TYPE_CHECKING:
    from kequn.api.deps import AppState

log = logging.getLogger("kequn.dashboard")

CHECK_EVERY_S = 15.0
DEFAULT_PANELS: tuple[tuple[Callable[..., Any], dict[str, Any]], ...] = (
    (panels.overview, {"period": "week"}),
    (panels.groups, {}),
    (panels.rfm, {}),
    (panels.funnel, {"period": "month"}),
    (panels.channels, {"period": "month"}),
    (panels.retention, {"action": "any", "period": "week", "mode": "in"}),
    (panels.report_html, {"period": "week"}),  # the heaviest: last
)


def warm_once(state: AppState, stop: threading.Event | None = None) -> str | None:
    """Compute every default panel for the current data; returns the data version warmed."""
    version = None
    for build, params in DEFAULT_PANELS:
        if stop is not None and stop.is_set():
            return None
        try:
            with state.gate.open(write=False) as ws:
                version = state.version(ws)
                build(state, ws, "zh", **params)
        except KequnError as exc:  # e.g. an empty workspace: the page will say so itself
            log.info("not warming %s: %s", build.__name__, exc)
    return version


def warm_forever(state: AppState, stop: threading.Event) -> None:
    """Warm at start, then again after each change of the data version, until ``stop``."""
    warmed = None
    while not stop.is_set():
        try:
            with state.gate.open(write=False) as ws:
                current = state.version(ws)
            if current != warmed:
                started = time.perf_counter()
                warmed = warm_once(state, stop)
                log.info("dashboard figures ready in %.1fs", time.perf_counter() - started)
        except Exception:  # the warmer must never take the server down
            log.exception("warming the dashboard failed")
        stop.wait(CHECK_EVERY_S)
