"""Gather the report's figures from the metrics and shape them into cards, tables and charts.

Every number goes through the same small-cell suppression as the CLI: a cell counting fewer
than ``small_cell_k`` customers is shown as ``<k`` and left out of the charts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kequn.metrics._base import MetricResult, suppress
from kequn.metrics._periods import Period, Window, last_complete_window, shift
from kequn.metrics.channels import ChannelSpec
from kequn.metrics.conversion import ConversionSpec, NewReturningSpec
from kequn.metrics.decomposition import DecompositionSpec
from kequn.metrics.funnels import FunnelSpec
from kequn.metrics.retention import RepurchaseRetentionSpec, RetentionSpec
from kequn.metrics.rfm import RFMSpec
from kequn.report._labels import Lang, t
from kequn.report._predictions import prediction_chart, prediction_section

if TYPE_CHECKING:
    from kequn.workspace import Workspace

TREND_PERIODS = {"day": 14, "week": 8, "month": 6}
RETENTION_PERIODS = {"day": 14, "week": 8, "month": 6}
# Chinese readers expect red for a rise and green for a fall; English readers the reverse.
UP_DOWN_COLOURS = {"zh": ("#d9363e", "#1a9a5a"), "en": ("#1a9a5a", "#d9363e")}


@dataclass
class Kpi:
    """One KPI card: label, shown value, change against the previous period."""

    label: str
    value: str
    change: str | None
    direction: str  # up | down | flat | none
    previous: str


@dataclass
class ReportData:
    """Everything the template shows."""

    lang: Lang
    period: Period
    title: str
    window: Window
    previous: Window
    as_of: dt.datetime
    small_cell_k: int | None
    kpis: list[Kpi] = field(default_factory=list)
    decomposition: dict[str, Any] = field(default_factory=dict)
    new_returning: dict[str, Any] = field(default_factory=dict)
    retention: dict[str, Any] = field(default_factory=dict)
    repurchase: list[dict[str, Any]] = field(default_factory=list)
    funnel: list[dict[str, Any]] = field(default_factory=list)
    channels: list[dict[str, Any]] = field(default_factory=list)
    rfm: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] | None = None
    predictions: dict[str, Any] | None = None
    repurchase_months: int = 6
    charts: dict[str, dict[str, Any]] = field(default_factory=dict)
    colours: tuple[str, str] = UP_DOWN_COLOURS["zh"]


# -- formatting -------------------------------------------------------------------------------
def fmt_int(v: Any) -> str:
    """``12,345`` (or a suppressed ``<k`` as it is)."""
    return v if isinstance(v, str) else "–" if v is None else f"{int(round(v)):,}"


def fmt_money(v: Any) -> str:
    """``12,345.60``; large values without cents."""
    if isinstance(v, str) or v is None:
        return v or "–"
    return f"{v:,.0f}" if abs(v) >= 10000 else f"{v:,.2f}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    """``12.3%``."""
    if isinstance(v, str) or v is None or (isinstance(v, float) and math.isnan(v)):
        return v if isinstance(v, str) else "–"
    return f"{v * 100:.{digits}f}%"


def _num(v: Any) -> float | None:
    """A number for a chart, or None when missing or suppressed."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return float(v)


def _kpi(label: str, cur: Any, prev: Any, fmt: Any, lang: Lang) -> Kpi:
    a, b = _num(cur), _num(prev)
    if a is None or b is None:
        return Kpi(label, fmt(cur), None, "none", fmt(prev))
    if b == 0:
        return Kpi(label, fmt(cur), t("no_prev", lang) if a else None, "none", fmt(prev))
    change = (a - b) / abs(b)
    direction = "flat" if abs(change) < 0.0005 else "up" if change > 0 else "down"
    arrow = {"up": "▲", "down": "▼", "flat": "■"}[direction]
    return Kpi(label, fmt(cur), f"{arrow} {abs(change) * 100:.1f}%", direction, fmt(prev))


def _records(result: MetricResult, k: int | None) -> list[dict[str, Any]]:
    return suppress(result.table.to_pylist(), k, result.counts, result.guarded)


# -- sections ---------------------------------------------------------------------------------
def gather(ws: Workspace, *, as_of: dt.datetime, lang: Lang, period: Period) -> ReportData:
    """Run every metric the report shows, for the last complete period up to ``as_of``."""
    cur = last_complete_window(period, as_of)
    prev = cur.previous()
    title = t({"week": "title", "month": "title_month", "day": "title_day"}[period], lang)
    k = ws.settings.small_cell_k
    data = ReportData(lang, period, title, cur, prev, as_of, k, colours=UP_DOWN_COLOURS[lang])
    common = {"as_of": cur.as_of, "period": period}

    dec = DecompositionSpec(start=cur.start, **common).run(ws)
    d = _records(dec, k)[0]
    conv = _records(ConversionSpec(start=prev.start, **common).run(ws), k)
    trend_start = shift(cur.start, period, -(TREND_PERIODS[period] - 1))
    nr = _records(NewReturningSpec(start=trend_start, **common).run(ws), k)
    nr_now = nr[-1] if nr else {}
    nr_prev = nr[-2] if len(nr) > 1 else {}
    aov_now = conv[-1].get("aov") if conv else None
    aov_prev = conv[-2].get("aov") if len(conv) > 1 else None

    data.kpis = [
        _kpi(t("revenue", lang), d["revenue_current"], d["revenue_previous"], fmt_money, lang),
        _kpi(t("visitors", lang), d["visitors_current"], d["visitors_previous"], fmt_int, lang),
        _kpi(t("buyers", lang), d["buyers_current"], d["buyers_previous"], fmt_int, lang),
        _kpi(t("conversion", lang), d["conversion_current"], d["conversion_previous"],
             lambda v: fmt_pct(v, 2), lang),
        _kpi(t("arppu", lang), d["arppu_current"], d["arppu_previous"], fmt_money, lang),
        _kpi(t("aov", lang), aov_now, aov_prev, fmt_money, lang),
        _kpi(t("new_customers", lang), nr_now.get("new_customers"),
             nr_prev.get("new_customers"), fmt_int, lang),
        _kpi(t("returning_share", lang), nr_now.get("returning_share_buyers"),
             nr_prev.get("returning_share_buyers"), fmt_pct, lang),
    ]
    data.decomposition = _decomposition(d, lang)
    data.charts["decomposition"] = _waterfall(d, lang)
    data.new_returning = {
        "share_buyers": fmt_pct(nr_now.get("returning_share_buyers")),
        "share_revenue": fmt_pct(nr_now.get("returning_share_revenue")),
        "acquisition_cost": fmt_money(nr_now.get("acquisition_cost")),
        "new_customer_aov": fmt_money(nr_now.get("new_customer_aov")),
        "new": fmt_int(nr_now.get("new_customers")),
        "returning": fmt_int(nr_now.get("returning_customers")),
    }
    data.charts["new_returning"] = _new_returning_chart(nr, lang)

    ret = RetentionSpec(action="any", periods=RETENTION_PERIODS[period], **common).run(ws)
    data.retention, data.charts["retention"] = _retention(ret, k, period, lang)
    data.repurchase_months, rep_all, rep_band = _repurchase(ws, cur.as_of, k)
    data.repurchase = [
        {"label": t("all_customers", lang), "buyers": fmt_int(r["buyers_before"]),
         "again": fmt_int(r["bought_again"]), "rate": fmt_pct(r["rate"])} for r in rep_all
    ] + [{"label": r["member_band"], "buyers": fmt_int(r["buyers_before"]),
          "again": fmt_int(r["bought_again"]), "rate": fmt_pct(r["rate"])}
         for r in sorted(rep_band, key=lambda r: _band_order(r["member_band"]))]

    fun = _records(FunnelSpec(start=cur.start, **common).run(ws), k)
    data.funnel = [{"label": _step_label(r["event"], lang), "customers": fmt_int(r["customers"]),
                    "conversion": fmt_pct(r["conversion"]), "overall": fmt_pct(r["overall"]),
                    "value": _num(r["customers"])} for r in fun]
    data.charts["funnel"] = _funnel_chart(data.funnel)

    ch = _records(ChannelSpec(start=cur.start, **common).run(ws), k)
    data.channels = [{"channel": r["channel"], "traffic": fmt_int(r["traffic"]),
                      "conversion": fmt_pct(r["conversion"], 2),
                      "quadrant": r[f"quadrant_{lang}"], "quadrant_id": r["quadrant"],
                      "advice": r[f"advice_{lang}"], "x": _num(r["traffic"]),
                      "y": _num(r["conversion"])} for r in ch]
    data.charts["channels"] = _channel_chart(data.channels, lang)

    rfm = _records(RFMSpec(as_of=cur.as_of).run(ws), k)
    data.rfm = [{"id": r["rfm_class"], "name": r[f"name_{lang}"],
                 "customers": fmt_int(r["customers"]), "revenue": fmt_money(r["revenue"]),
                 "customer_share": fmt_pct(r["customer_share"]),
                 "revenue_share": fmt_pct(r["revenue_share"]),
                 "important": r["rfm_class"].startswith("important"),
                 "flags": "".join(("R↑" if r["r_high"] else "R↓", " F↑" if r["f_high"] else " F↓",
                                   " M↑" if r["m_high"] else " M↓"))} for r in rfm]
    data.groups = _groups(ws, cur, prev, k, lang)
    data.predictions = prediction_section(ws, as_of, k, lang)
    if data.predictions and data.predictions["holdout"]:
        data.charts["predictions"] = prediction_chart(data.predictions["holdout"], lang)
    return data


def _repurchase(ws: Workspace, as_of: dt.datetime, k: int | None) -> tuple[
        int, list[dict[str, Any]], list[dict[str, Any]]]:
    """Seed 002's 6-month store retention; with less history, the longest of 3 or 1 month
    on each side that has buyers before (the heading says which)."""
    for months in (6, 3, 1):
        overall = RepurchaseRetentionSpec(as_of=as_of, months=months).run(ws)
        if overall.table.column("buyers_before")[0].as_py():
            break
    bands = RepurchaseRetentionSpec(as_of=as_of, months=months, by="member_band").run(ws)
    return months, _records(overall, k), _records(bands, k)


def _band_order(band: str) -> int:
    return {"V0": 0, "V1–V3": 1, "V4+": 2}.get(band, 3)


def _step_label(event: str, lang: Lang) -> str:
    key = f"funnel_{event}"
    from kequn.report._labels import LABELS

    return LABELS[key][lang] if key in LABELS else event


def _decomposition(d: dict[str, Any], lang: Lang) -> dict[str, Any]:
    driver = d.get("main_driver")
    return {
        "previous": fmt_money(d["revenue_previous"]), "current": fmt_money(d["revenue_current"]),
        "change": fmt_money(d["revenue_change"]) if isinstance(d["revenue_change"], str)
        else f"{d['revenue_change']:+,.2f}",
        "rows": [
            {"label": t(f"effect_{f}", lang),
             "value": d[f"effect_{f}"] if isinstance(d[f"effect_{f}"], str)
             else f"{d[f'effect_{f}']:+,.2f}",
             "before": {"visitors": fmt_int, "conversion": lambda v: fmt_pct(v, 2),
                        "arppu": fmt_money}[f](d[f"{f}_previous"]),
             "after": {"visitors": fmt_int, "conversion": lambda v: fmt_pct(v, 2),
                       "arppu": fmt_money}[f](d[f"{f}_current"])}
            for f in ("visitors", "conversion", "arppu")],
        "driver": t(f"driver_{driver}", lang) if driver else None,
        "method": d.get("method"),
    }


# -- charts (ECharts options) -----------------------------------------------------------------
_BASE: dict[str, Any] = {"animation": False, "textStyle": {"fontFamily": "inherit"}}
PALETTE = ["#3a6ea5", "#e0a030", "#5aa469", "#c8553d", "#8e6bbf", "#4aa3a2", "#b0b0b0"]


def _waterfall(d: dict[str, Any], lang: Lang) -> dict[str, Any]:
    values = [d["revenue_previous"], d["effect_visitors"], d["effect_conversion"],
              d["effect_arppu"], d["revenue_current"]]
    if any(_num(v) is None for v in values):
        return {}
    up, down = UP_DOWN_COLOURS[lang]
    cats = [t("previous", lang), t("effect_visitors", lang), t("effect_conversion", lang),
            t("effect_arppu", lang), t("current", lang)]
    base, bars = [], []
    running = float(values[0])
    for i, v in enumerate(values):
        v = float(v)
        if i in (0, 4):
            base.append(0)
            bars.append({"value": round(v, 2), "itemStyle": {"color": "#3a6ea5"}})
            continue
        lo = min(running, running + v)
        base.append(round(lo, 2))
        bars.append({"value": round(abs(v), 2), "real": round(v, 2),
                     "itemStyle": {"color": up if v >= 0 else down}})
        running += v
    return {**_BASE, "grid": {"left": 70, "right": 20, "top": 30, "bottom": 30},
            "xAxis": {"type": "category", "data": cats, "axisTick": {"show": False}},
            "yAxis": {"type": "value", "splitLine": {"lineStyle": {"color": "#eee"}}},
            "series": [
                {"type": "bar", "stack": "w", "data": base, "silent": True,
                 "itemStyle": {"color": "transparent"}},
                {"type": "bar", "stack": "w", "data": bars, "barWidth": "46%",
                 "label": {"show": True, "position": "top", "formatter": "__WATERFALL_LABEL__"}},
            ]}


def _new_returning_chart(rows: list[dict[str, Any]], lang: Lang) -> dict[str, Any]:
    if not rows:
        return {}
    cats = [r["period_start"].isoformat()[5:] for r in rows]
    return {**_BASE, "color": ["#e0a030", "#3a6ea5", "#c8553d"],
            "legend": {"top": 0},
            "grid": {"left": 50, "right": 50, "top": 36, "bottom": 30},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats},
            "yAxis": [{"type": "value", "splitLine": {"lineStyle": {"color": "#eee"}}},
                      {"type": "value", "max": 1, "axisLabel": {"formatter": "__PCT__"},
                       "splitLine": {"show": False}}],
            "series": [
                {"name": t("new", lang), "type": "bar", "stack": "b",
                 "data": [_num(r["new_customers"]) for r in rows]},
                {"name": t("returning", lang), "type": "bar", "stack": "b",
                 "data": [_num(r["returning_customers"]) for r in rows]},
                {"name": t("share_of_revenue", lang), "type": "line", "yAxisIndex": 1,
                 "smooth": True, "data": [_num(r["returning_share_revenue"]) for r in rows]},
            ]}


def _retention(result: MetricResult, k: int | None, period: Period,
               lang: Lang) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = _records(result, k)
    cohorts: list[str] = []
    sizes: dict[str, str] = {}
    cells = []
    n = RETENTION_PERIODS[period]
    for r in rows:
        c = r["cohort_start"].isoformat()
        if c not in sizes:
            cohorts.append(c)
            sizes[c] = fmt_int(r["cohort_size"])
        rate = _num(r["rate"])
        cells.append([r["period"], len(cohorts) - 1,
                      None if rate is None else round(rate * 100, 1),
                      r["rate"] if isinstance(r["rate"], str) else None])
    labels = [f"{c[5:]} ({sizes[c]})" for c in cohorts]
    offsets = [t(f"{period}_n", lang, n=i) for i in range(n + 1)]
    table = {"cohorts": labels, "offsets": offsets, "empty": not cohorts}
    top = max((c[2] for c in cells if c[2] is not None and c[0] > 0), default=100) or 100
    chart = {**_BASE,
             "grid": {"left": 120, "right": 20, "top": 10, "bottom": 60},
             "xAxis": {"type": "category", "data": offsets, "position": "top",
                       "axisLine": {"show": False}, "axisTick": {"show": False}},
             "yAxis": {"type": "category", "data": labels, "inverse": True,
                       "axisLine": {"show": False}, "axisTick": {"show": False}},
             # Period 0 is 100% by definition: shown neutral so the scale fits the rest.
             "visualMap": {"min": 0, "max": round(top, 1), "dimension": 2,
                           "calculable": False, "orient": "horizontal", "left": "center",
                           "bottom": 0, "itemHeight": 160,
                           "inRange": {"color": ["#f2f7fc", "#8dbbe2", "#1f5f99"]},
                           "outOfRange": {"color": ["#e8ecf1"]},
                           "text": [f"{round(top)}%", "0%"]},
             "series": [{"type": "heatmap",
                         "data": [[c[0], c[1], c[2] if c[2] is not None else "-", c[3] or ""]
                                  for c in cells],
                         "label": {"show": True, "fontSize": 11, "formatter": "__HEAT_LABEL__"},
                         "itemStyle": {"borderColor": "#fff", "borderWidth": 2}}]}
    return table, chart


def _funnel_chart(steps: list[dict[str, Any]]) -> dict[str, Any]:
    if not steps or not steps[0]["value"]:
        return {}
    top = steps[0]["value"] or 1
    return {**_BASE,
            "series": [{"type": "funnel", "sort": "none", "left": "8%", "width": "70%",
                        "top": 10, "bottom": 10, "minSize": "8%", "gap": 3,
                        "label": {"show": True, "position": "inside",
                                  "formatter": "{b}  {c}", "color": "#fff", "fontSize": 13},
                        "itemStyle": {"borderWidth": 0},
                        "color": ["#2f6ea8", "#3f82bd", "#5a9bd0", "#7db3dd", "#a3cbea"],
                        "data": [{"name": s["label"], "value": s["value"] or 0,
                                  "pct": round((s["value"] or 0) / top * 100, 1)}
                                 for s in steps]}]}


QUADRANT_COLOURS = {"grow": "#1a9a5a", "scale_up": "#3a6ea5", "refine": "#e0a030",
                    "watch": "#9a9a9a"}


def _channel_chart(rows: list[dict[str, Any]], lang: Lang) -> dict[str, Any]:
    points = [r for r in rows if r["x"] is not None and r["y"] is not None]
    if not points:
        return {}
    xs = sorted(r["x"] for r in points)
    ys = sorted(r["y"] for r in points)
    mx, my = _median(xs), _median(ys)
    return {**_BASE,
            "grid": {"left": 60, "right": 40, "top": 20, "bottom": 40},
            "xAxis": {"type": "value", "name": t("traffic", lang), "nameLocation": "middle",
                      "nameGap": 26, "min": 0, "max": _nice(xs[-1] * 1.25),
                      "splitLine": {"lineStyle": {"color": "#eee"}}},
            "yAxis": {"type": "value", "name": t("overall", lang), "nameLocation": "middle",
                      "nameGap": 44, "min": 0, "max": min(1.0, _nice(ys[-1] * 1.2) or 0.01),
                      "axisLabel": {"formatter": "__PCT__"},
                      "splitLine": {"lineStyle": {"color": "#eee"}}},
            "series": [{"type": "scatter", "symbolSize": 18,
                        "data": [{"value": [r["x"], r["y"]], "name": r["channel"],
                                  "itemStyle": {"color": QUADRANT_COLOURS[r["quadrant_id"]]}}
                                 for r in points],
                        "label": {"show": True, "position": "right", "formatter": "{b}",
                                  "color": "#333"},
                        "markLine": {"silent": True, "symbol": "none",
                                     "lineStyle": {"type": "dashed", "color": "#aaa"},
                                     "label": {"formatter": t("median", lang)},
                                     "data": [{"xAxis": mx}, {"yAxis": my}]}}]}


def _nice(value: float) -> float:
    """A round axis maximum at or above ``value`` (1, 2 or 5 times a power of ten)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def _median(values: list[float]) -> float:
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


# -- groups (from kequn.segments when it is there) --------------------------------------------
def _groups(ws: Workspace, cur: Window, prev: Window, k: int | None,
            lang: Lang) -> list[dict[str, Any]] | None:
    """Sizes of the built-in groups at the end of this period and of the previous one, or
    None when the segments package (built separately) is not importable."""
    try:
        from kequn.segments import Evaluator, builtin_segments
    except ImportError:
        return None
    from kequn.errors import KequnError

    defs = builtin_segments()
    segs = list(defs.values() if isinstance(defs, dict) else defs)
    from kequn.storage.features import Scope

    # One feature table per date for every group (one pass over orders and events each);
    # the later date first, so the earlier one reads the paid order lines it kept.
    tables = Scope(ws)
    at = {"now": Evaluator(ws, cur.as_of, tables=tables),
          "before": Evaluator(ws, prev.as_of, tables=tables)}
    with tables.keeping():
        for ev in at.values():
            ev.prepare([seg.id for seg in segs])
    rows = []
    for seg in segs:
        name = getattr(seg, f"name_{lang}", None) or seg.id
        try:
            now, before = (_sizes(ev, seg.id, seg.is_family) for ev in at.values())
        except KequnError:
            continue  # a group that needs data this shop lacks (e.g. a fitted model)
        labels = getattr(seg, "labels", {}) or {}
        keys = seg.label_names if getattr(seg, "is_family", False) else [None]
        for key in keys:
            label = name if key is None else \
                f"{name} · {labels.get(key, (key, key))[0 if lang == 'zh' else 1] or key}"
            rec = suppress([{"now": now.get(key, 0), "before": before.get(key, 0)}], k,
                           ("now", "before"), {})[0]
            kpi = _kpi(label, rec["now"], rec["before"], fmt_int, lang)
            rows.append({"label": label, "now": kpi.value, "before": kpi.previous,
                         "change": kpi.change, "direction": kpi.direction})
    for ev in at.values():
        ev.close()
    return rows


def _sizes(ev: Any, seg_id: str, family: bool) -> dict[str | None, int]:
    """Members per family label (``None`` for a plain segment)."""
    return dict(ev.sizes(seg_id)) if family else {None: ev.count(seg_id)}
