"""The report's predictions 预测 section, read from the latest stored prediction run.

The report fits nothing: it shows the run ``kequn predict fit`` stored in
``kq_prediction_runs`` most recently at or before the report's ``as_of`` (so a report for a
past week never shows a run made on later data). Without such a run the section is a one-line
hint. When the run was validated on a holdout (``--calibration-end``), its predicted vs actual
repeat orders per frequency bucket (FHL 2005, Fig. 4) become a bar chart and a table.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import ibis

from kequn.metrics._base import suppress
from kequn.report._labels import Lang, t

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = ["CHURN_BANDS", "latest_run_at", "prediction_chart", "prediction_section"]

RUNS_TABLE = "kq_prediction_runs"
CHURN_BANDS = ("high", "medium", "low")
_BAR_COLOURS = ("#3a6ea5", "#e0a030")  # predicted, actual


def latest_run_at(ws: Workspace, as_of: dt.datetime) -> dict[str, Any] | None:
    """The newest stored run whose ``as_of`` is at or before ``as_of``, its report parsed;
    None when there is none (or no run table at all)."""
    if RUNS_TABLE not in ws.con.list_tables():
        return None
    runs = ws.con.table(RUNS_TABLE)
    newest = (runs.filter(runs.as_of <= ibis.literal(as_of, type="timestamp"))
              .order_by([ibis.desc("as_of"), ibis.desc("created_at")])
              .limit(1).to_pyarrow().to_pylist())
    if not newest:
        return None
    record: dict[str, Any] = dict(newest[0])
    record["report"] = json.loads(record["report"] or "{}")
    return record


def prediction_section(ws: Workspace, as_of: dt.datetime, k: int | None,
                       lang: Lang) -> dict[str, Any] | None:
    """What the template shows for the run (see :func:`latest_run_at`), or None without one.

    Customer counts (the churn-risk bands, the holdout buckets) go through the same
    small-cell suppression as every other table of the report; a suppressed bucket's orders
    are hidden with it and left out of the chart.
    """
    # imported here because _build imports this module for gather()
    from kequn.report._build import fmt_int, fmt_money, fmt_pct

    run = latest_run_at(ws, as_of)
    if run is None:
        return None
    report = run["report"]
    totals = report.get("totals", {})
    options = report.get("options", {})
    horizon = options.get("horizon_days", run["horizon_days"])
    clv_horizon = options.get("clv_horizon_days", run["clv_horizon_days"])
    customers = totals.get("customers", run["customers"]) or 0
    churn = totals.get("churn_risk", {})
    high, medium = options.get("churn_thresholds", (0.3, 0.7))
    bands = suppress([{band: churn.get(band, 0) for band in CHURN_BANDS}], k, CHURN_BANDS,
                     {})[0]
    section: dict[str, Any] = {
        "run_id": run["run_id"],
        "as_of": run["as_of"].strftime("%Y-%m-%d %H:%M"),
        "model": run["model"],
        "customers": fmt_int(suppress([{"n": customers}], k, ("n",), {})[0]["n"]),
        "churn": [{"band": band, "label": t(f"churn_{band}", lang),
                   "customers": fmt_int(bands[band]),
                   "share": fmt_pct(bands[band] / customers)
                   if customers and not isinstance(bands[band], str) else bands[band]}
                  for band in CHURN_BANDS],
        "expected_orders": f"{totals.get('expected_orders', 0.0):,.1f}",
        "clv": fmt_money(totals.get("clv")),
        "thresholds": (fmt_pct(high, 0), fmt_pct(medium, 0)),
        "horizon_days": horizon,
        "clv_horizon_days": clv_horizon,
        "holdout": _holdout(report, k),
    }
    return section


def _holdout(report: dict[str, Any], k: int | None) -> dict[str, Any] | None:
    """The chosen model's holdout check (the first one when none matches), table-ready."""
    checks = report.get("validation") or []
    if not checks:
        return None
    chosen = (report.get("frequency_model") or {}).get("model")
    check = next((c for c in checks if c.get("model") == chosen), checks[0])
    rows = suppress(check["buckets"], k, ("customers",),
                    {"actual": "customers", "predicted": "customers"})
    total = check["total"]
    error = total.get("error_pct")
    return {
        "model": check["model"],
        "calibration_end": check["calibration_end"][:10],
        "as_of": check["as_of"][:10],
        "buckets": [{"frequency": r["frequency"], "customers": _count(r["customers"]),
                     "actual": _count(r["actual"]), "predicted": _orders(r["predicted"]),
                     "actual_value": _value(r["actual"]),
                     "predicted_value": _value(r["predicted"])} for r in rows],
        "total": {"customers": _count(total["customers"]), "actual": _count(total["actual"]),
                  "predicted": _orders(total["predicted"]),
                  "actual_value": float(total["actual"]),
                  "predicted_value": round(float(total["predicted"]), 2),
                  "error": "–" if error is None else f"{error:+.1f}%"},
    }


def _count(v: Any) -> str:
    return v if isinstance(v, str) else f"{int(round(v)):,}"


def _orders(v: Any) -> str:
    return v if isinstance(v, str) else f"{v:,.1f}"


def _value(v: Any) -> float | None:
    return None if isinstance(v, str) or v is None else round(float(v), 2)


def prediction_chart(holdout: dict[str, Any] | None, lang: Lang) -> dict[str, Any]:
    """ECharts bars: predicted and actual holdout repeat orders per calibration-frequency
    bucket, the totals in the title (empty without a holdout check)."""
    if holdout is None:
        return {}
    total = holdout["total"]
    return {
        "animation": False, "textStyle": {"fontFamily": "inherit"},
        "color": list(_BAR_COLOURS),
        "title": {"text": t("pred_chart_totals", lang, actual=total["actual"],
                            predicted=total["predicted"], error=total["error"]),
                  "left": "center", "top": 0,
                  "textStyle": {"fontSize": 12.5, "fontWeight": "normal", "color": "#6b7785"}},
        "legend": {"top": 22},
        "grid": {"left": 50, "right": 20, "top": 56, "bottom": 44},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [b["frequency"] for b in holdout["buckets"]],
                  "name": t("pred_bucket", lang), "nameLocation": "middle", "nameGap": 28},
        "yAxis": {"type": "value", "splitLine": {"lineStyle": {"color": "#eee"}}},
        "series": [
            {"name": t("pred_predicted", lang), "type": "bar",
             "data": [b["predicted_value"] for b in holdout["buckets"]]},
            {"name": t("pred_actual", lang), "type": "bar",
             "data": [b["actual_value"] for b in holdout["buckets"]]},
        ],
    }
