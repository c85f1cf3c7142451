"""Operations metrics (SPEC §2): the catalog, and any metric with its options."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from kequn.api import compute
from kequn.api.deps import AsOfQuery, ReadWs, State, Viewer
from kequn.errors import NotFoundError
from kequn.metrics import METRICS, MetricError, Metrics
from kequn.metrics._periods import Period

router = APIRouter(prefix="/api/metrics", tags=["metrics"])

_COMMON = {"as_of", "end", "start", "period", "by", "segment"}


@router.get("", summary="Every metric with its definition in Chinese and English")
def list_metrics(who: Viewer) -> list[dict[str, Any]]:
    """运营指标目录."""
    out = []
    for info in METRICS.values():
        options = [n for n in info.spec.model_fields if n not in _COMMON]
        out.append({"name": info.name, "section": info.section, "title_zh": info.title_zh,
                    "title_en": info.title_en, "definition_zh": info.definition_zh,
                    "definition_en": info.definition_en, "options": options})
    return out


@router.get("/{name}", summary="One metric: rows as of a time, by period, optionally split",
            description="Other query parameters are the metric's own options (see the "
                        "catalog); a list option takes comma-separated values "
                        "(`steps=visit,view,cart`).")
def read_metric(
    who: Viewer, ws: ReadWs, state: State, request: Request, name: str,
    as_of: AsOfQuery = None,
    end: Annotated[str | None, Query(description="Last day (as_of at its end).")] = None,
    start: Annotated[str | None, Query(description="First day of the window.")] = None,
    period: Annotated[Period | None, Query(description="day, week or month.")] = None,
    by: Annotated[str | None, Query(description="Split by a customer attribute.",
                                    max_length=64)] = None,
    segment: Annotated[str | None, Query(description="Only the members of a segment id or "
                                                     "rule.", max_length=4000)] = None,
) -> dict[str, Any]:
    """指标."""
    if name not in METRICS:
        try:
            Metrics(ws).spec(name)
        except MetricError as exc:  # the "did you mean" message, as the 404 it is here
            raise NotFoundError(str(exc)) from None
    options: dict[str, Any] = {}
    for key in set(request.query_params) - _COMMON:
        values = request.query_params.getlist(key)
        if key not in METRICS[name].spec.model_fields:
            msg = f"{name}: unknown option {key!r}; see GET /api/metrics for the options"
            raise MetricError(msg)
        items = [v for value in values for v in value.split(",")] if (
            len(values) > 1 or "," in values[0]) else values[0]
        options[key] = items
    for key, value in (("as_of", as_of), ("end", end), ("start", start), ("period", period),
                       ("by", by)):
        if value is not None:
            options[key] = value
    return compute.metric(state, ws, name, segment=segment, **options)
