"""Keeping the dashboard fast: compute what the pages show in the background.

At start, and within a second of any change of the workspace file (a load, a prediction run,
a setting — in this process or another), the figures the pages show by default are computed
into the result cache, the landing page first. On the way, the *kept feature table*
(:mod:`kequn.segments.cache`) of the current data is stored, covering every group and every
condition of the builder's palette: the server reads the workspace read-only, so it computes
those rows there and stores them in one short write. Every group's size, and the builder's
count of a rule over the customers' fields or a palette condition, is then one scan of a
table of one row per customer.

Each step is a short open of the workspace marked as background work: when another kequn
process waits for the file (:mod:`kequn.api.gate`) it is interrupted and done again later.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis

from kequn import segments as sg
from kequn.api import compute
from kequn.dashboard import panels
from kequn.errors import KequnError
from kequn.metrics._periods import Period, last_complete_window
from kequn.segments import cache as kept
from kequn.segments.compiler import Needs
from kequn.storage import features as ft
from kequn.storage.run import duckdb_sql

if TYPE_CHECKING:
    from kequn.api.deps import AppState

log = logging.getLogger("kequn.dashboard")

LOOK_EVERY_S = 1.0
"""How often the workspace file's modification time is looked at (a stat, nothing opened)."""
RETRY_AFTER_FAILURE_S = 30.0
"""How long to wait before trying again after the warm-up failed (the log has the trace)."""


class Interrupted(Exception):  # noqa: N818  (a signal, not an error)
    """Another process waited for the workspace: the warm-up stopped to let it have it."""


def file_stamp(path: Path) -> tuple[Any, ...]:
    """What changes when anyone writes the workspace: size and time of the file and its WAL."""
    out: list[Any] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def builder_rules() -> list[str]:
    """The conditions of the builder's palette (the same text in both languages)."""
    return [rule for group in panels.palette("en") for _, rule in group["items"]]


def keep_features(state: AppState, as_of: dt.datetime, rules: Iterable[str], *,
                  default: bool = False, background: bool = True) -> bool:
    """Store the kept feature table for ``as_of`` covering ``rules`` unless there is one.

    The rows are computed on a read-only connection (requests keep being answered) and
    stored in one short write. Returns whether a table was stored. ``default`` notes
    ``as_of`` as the data's default as_of with it (saving its scan in other processes).
    ``background`` work gives way to another process waiting for the workspace (see
    :meth:`WorkspaceGate.open <kequn.api.gate.WorkspaceGate.open>`).
    """
    rules = list(rules)
    started = time.perf_counter()
    with state.gate.open(background=background) as ws:
        if not kept.usable(ws) or (key := kept.fingerprint(ws)) is None:
            return False
        ev = sg.Evaluator(ws, as_of)
        needs = Needs()
        for rule in rules:
            try:
                compiler, _ = ev.compile(ev.target(rule))
            except KequnError:
                continue  # a saved group that no longer compiles: its page says why
            needs.merge(compiler.needs)
        wanted = set(needs.measures) | set(needs.lookups) | needs.columns
        existing = kept.read(ws, ev.as_of, key)
        if existing is not None and wanted <= set(existing.columns):
            return False
        with ev.tables.keeping():  # rows several measures read are computed once
            features = ft.customer_features(
                ev.tables, ev.as_of, measures=needs.measures, lookups=needs.lookups,
                standard=False, predictions=False, columns=None)
            backend = ibis.get_backend(features)
            rows = backend.con.execute(duckdb_sql(backend, features)).fetch_arrow_table()
    computed = time.perf_counter()
    with state.gate.open(write=True) as ws:
        if kept.fingerprint(ws) != key:
            return False  # the data changed meanwhile: the next round builds it
        stored = kept.write(ws, as_of, key, rows, default=as_of if default else None)
    log.info("kept features at %s: computed in %.1fs, stored in %.2fs", as_of,
             computed - started, time.perf_counter() - computed)
    return stored is not None


def _segments(state: AppState, background: bool) -> tuple[str, dt.datetime,
                                                          list[sg.SegmentDef]]:
    with state.gate.open(background=background) as ws:
        return state.version(ws), compute.default_as_of(state, ws), sg.list_segments(ws)


def group_features(state: AppState, *, part: str = "all", background: bool = True) -> None:
    """Kept feature tables for the groups page and the builder, once per data version.

    ``part="now"``: at the data's default as_of, covering every group and every palette
    condition of the builder; ``"all"`` also 30 days before (the groups page's change).
    """
    version, now, segs = _segments(state, background)
    ids = [s.id for s in segs]
    state.cache.get_or_compute(("group features", "now", version), lambda: keep_features(
        state, now, [*ids, *builder_rules()], default=True, background=background))
    if part == "all":
        before = now - dt.timedelta(days=panels.GROUP_TREND_DAYS)
        state.cache.get_or_compute(("group features", "before", version), lambda: keep_features(
            state, before, ids, background=background))


def report_features(state: AppState, period: Period = "week", *,
                    background: bool = True) -> None:
    """Kept feature tables for the report's groups section (the ends of its two periods);
    once per data version."""
    version, now, segs = _segments(state, background)
    cur = last_complete_window(period, now)
    ids = [s.id for s in segs if s.origin == "builtin"]

    def run() -> bool:
        for moment in (cur.previous().as_of, cur.as_of):
            keep_features(state, moment, ids, background=background)
        return True

    state.cache.get_or_compute(("report features", period, version), run)


def steps(state: AppState) -> list[tuple[str, Callable[[], Any]]]:
    """What the warm-up does, in order: the landing page first, the report last."""

    def panel(build: Callable[..., Any], **params: Any) -> Callable[[], Any]:
        def run() -> Any:
            with state.gate.open(background=True) as ws:
                return build(state, ws, "zh", **params)
        return run

    return [
        ("overview", panel(panels.overview, period="week")),
        ("rfm", panel(panels.rfm)),
        ("group features", lambda: group_features(state, part="now")),
        ("groups now", panel(panels.groups, part="now")),
        ("group features 30 days before", lambda: group_features(state)),
        ("groups", panel(panels.groups)),
        ("retention", panel(panels.retention, action="any", period="week", mode="in")),
        ("funnel", panel(panels.funnel, period="month")),
        ("channels", panel(panels.channels, period="month")),
        ("report features", lambda: report_features(state)),
        ("report", panel(panels.report_html, period="week")),  # the heaviest: last
    ]


def warm_once(state: AppState, stop: threading.Event | None = None) -> str | None:
    """Compute everything the default pages show for the current data.

    Returns the data version warmed, or None when stopped. Raises :class:`Interrupted` when
    another process waited for the workspace (the caller tries again later).
    """
    with state.gate.open(background=True) as ws:
        version = state.version(ws)
    for name, run in steps(state):
        if stop is not None and stop.is_set():
            return None
        started = time.perf_counter()
        try:
            run()
        except duckdb.InterruptException as exc:
            raise Interrupted(name) from exc
        except KequnError as exc:  # e.g. an empty workspace: the page will say so itself
            log.info("not warming %s: %s", name, exc)
        log.debug("warmed %s in %.2fs", name, time.perf_counter() - started)
    return version


def warm_forever(state: AppState, stop: threading.Event) -> None:
    """Warm at start, then again after each change of the workspace, until ``stop``."""
    path = state.gate.path
    warmed: str | None = None
    seen: tuple[Any, ...] | None = None
    retry_at = 0.0
    while not stop.is_set():
        stamp = file_stamp(path)
        if stamp != seen and time.monotonic() >= retry_at:
            try:
                with state.gate.open(background=True) as ws:
                    current = state.version(ws)
                if current != warmed:
                    started = time.perf_counter()
                    warmed = warm_once(state, stop)
                    log.info("dashboard figures ready in %.1fs", time.perf_counter() - started)
                seen = stamp
            except (Interrupted, duckdb.InterruptException):
                log.info("warm-up paused: another kequn process is using the workspace")
                while state.gate.others_waiting(write=False) and not stop.is_set():
                    stop.wait(LOOK_EVERY_S)
            except Exception:  # the warmer must never take the server down
                log.exception("warming the dashboard failed")
                retry_at = time.monotonic() + RETRY_AFTER_FAILURE_S
        stop.wait(LOOK_EVERY_S)
