"""The services the API and the dashboard call, each behind the result cache.

Nothing here computes a figure: each function calls :mod:`kequn.metrics`,
:mod:`kequn.segments` or :mod:`kequn.campaigns` and keeps the answer under the workspace's
data version (:mod:`kequn.api.cache`), so the second request for a page costs a lookup.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kequn import segments as sg
from kequn.errors import KequnError
from kequn.metrics import METRICS, Metrics
from kequn.metrics._base import suppress

if TYPE_CHECKING:
    from kequn.api.deps import AppState
    from kequn.workspace import Workspace


class NotCached(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by ``only_cached=True`` lookups whose result is not computed yet."""


def _cached(state: AppState, key: Any, run: Any, only_cached: bool) -> Any:
    if only_cached:
        found, value = state.cache.get(key)
        if not found:
            raise NotCached
        return value
    return state.cache.get_or_compute(key, run)


def default_as_of(state: AppState, ws: Workspace) -> dt.datetime:
    """The workspace's default as_of (its latest data), cached per data version."""
    return state.cache.get_or_compute(("as_of", state.version(ws)), ws.default_as_of)


def resolve_as_of(state: AppState, ws: Workspace, as_of: str | None) -> dt.datetime:
    """An explicit as_of parsed, or the cached default."""
    return ws.resolve_as_of(as_of) if as_of else default_as_of(state, ws)


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


def metric(state: AppState, ws: Workspace, name: str, *, segment: str | None = None,
           only_cached: bool = False, **options: Any) -> dict[str, Any]:
    """Metric ``name`` as JSON-ready rows (small cells suppressed), cached.

    ``segment`` narrows it to a segment id or rule; ``options`` go to the metric's spec.
    """
    if options.get("as_of") is None and options.get("end") is None:
        options["as_of"] = default_as_of(state, ws)
    key = ("metric", name, segment, _freeze(options), state.version(ws))

    def run() -> dict[str, Any]:
        members = None
        if segment:
            moment = options.get("as_of") or options.get("end")
            members = sg.evaluate(ws, segment, as_of=moment)
        spec = Metrics(ws).spec(name, **options)
        result = spec.run(ws, segment=members)
        k = ws.settings.small_cell_k
        info = METRICS[name]
        return {
            "metric": name, "title_zh": info.title_zh, "title_en": info.title_en,
            "definition_zh": info.definition_zh, "definition_en": info.definition_en,
            "as_of": spec.as_of.isoformat(), "period": spec.period,
            "segment": segment, "small_cell_k": k,
            "columns": result.table.column_names,
            "rows": suppress(result.table.to_pylist(), k, result.counts, result.guarded),
            "notes": list(result.notes),
        }

    return _cached(state, key, run, only_cached)  # type: ignore[no-any-return]


def segment_count(state: AppState, ws: Workspace, rule: str | dict[str, Any],
                  as_of: dt.datetime) -> dict[str, Any]:
    """Members of a segment id or rule (per label for a family), cached."""
    frozen = rule if isinstance(rule, str) else _freeze(rule)
    key = ("count", frozen, as_of, state.version(ws))

    def run() -> dict[str, Any]:
        ev = sg.Evaluator(ws, as_of)
        target = ev.target(rule)
        if target.is_family:
            labels = ev.sizes(rule)
            return {"count": sum(labels.values()), "labels": labels}
        return {"count": ev.count(rule)}

    return state.cache.get_or_compute(key, run)


def segment_sizes(state: AppState, ws: Workspace, as_of: dt.datetime, *,
                  only_cached: bool = False) -> dict[str, Any]:
    """Size (and label sizes) of every segment at ``as_of``: one feature pass for all."""
    key = ("sizes", as_of, state.version(ws))

    def run() -> dict[str, Any]:
        segs = sg.list_segments(ws)
        ev = sg.Evaluator(ws, as_of)
        ev.prepare([s.id for s in segs])
        out: dict[str, Any] = {}
        for seg in segs:
            try:
                if seg.is_family:
                    labels = ev.sizes(seg.id)
                    out[seg.id] = {"size": sum(labels.values()), "labels": labels}
                else:
                    out[seg.id] = {"size": ev.count(seg.id)}
            except KequnError as exc:
                out[seg.id] = {"size": None, "error": str(exc)}
        return out

    return _cached(state, key, run, only_cached)  # type: ignore[no-any-return]
