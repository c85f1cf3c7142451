"""ECharts options for the dashboard's charts, built from metric rows (presentation only).

Options are plain JSON; a few label formatters that must be functions are named by marker
strings (``"__pct__"``, ``"__heat__"``, ``"__money__"``) that ``app.js`` swaps for functions.
"""

from __future__ import annotations

import math
from typing import Any

from kequn.dashboard.i18n import Lang, t

BASE: dict[str, Any] = {"animation": False, "textStyle": {"fontFamily": "inherit"}}
BLUE, AMBER, GREEN, RED, GREY = "#2f6ea8", "#e0a030", "#3f9b5f", "#d0543f", "#9aa3ad"
QUADRANT_COLOURS = {"grow": GREEN, "scale_up": BLUE, "refine": AMBER, "watch": GREY}
# zh readers expect red for a rise and green for a fall; en readers the reverse
UP_DOWN = {"zh": (RED, GREEN), "en": (GREEN, RED)}


def num(v: Any) -> float | None:
    """A number for a chart; None when missing, NaN or suppressed (``"<k"``)."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return float(v)


def waterfall(d: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """Previous revenue, each factor's effect, current revenue."""
    values = [num(d.get(k)) for k in ("revenue_previous", "effect_visitors",
                                      "effect_conversion", "effect_arppu", "revenue_current")]
    if any(v is None for v in values):
        return {}
    up, down = UP_DOWN[lang]
    cats = [t("chart_previous", lang), t("effect_visitors", lang),
            t("effect_conversion", lang), t("effect_arppu", lang), t("chart_current", lang)]
    base, bars, running = [], [], 0.0
    for i, v in enumerate(values):
        assert v is not None
        if i in (0, 4):
            base.append(0)
            bars.append({"value": round(v, 2), "itemStyle": {"color": BLUE}})
            running = v
            continue
        base.append(round(min(running, running + v), 2))
        bars.append({"value": round(abs(v), 2), "itemStyle": {"color": up if v >= 0 else down}})
        running += v
    return {**BASE, "grid": {"left": 64, "right": 12, "top": 16, "bottom": 28},
            "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
            "xAxis": {"type": "category", "data": cats, "axisTick": {"show": False}},
            "yAxis": {"type": "value", "axisLabel": {"formatter": "__money__"},
                      "splitLine": {"lineStyle": {"color": "#eef0f3"}}},
            "series": [{"type": "bar", "stack": "w", "data": base, "silent": True,
                        "itemStyle": {"color": "transparent"}},
                       {"type": "bar", "stack": "w", "data": bars, "barWidth": "50%"}]}


def trend(rows: list[dict[str, Any]], lang: Lang) -> dict[str, Any]:
    """Revenue bars and paying buyers line per period."""
    if not rows:
        return {}
    cats = [str(r["period_start"])[:10] for r in rows]
    return {**BASE, "color": [BLUE, AMBER], "legend": {"top": 0},
            "grid": {"left": 64, "right": 48, "top": 32, "bottom": 28},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": cats},
            "yAxis": [{"type": "value", "axisLabel": {"formatter": "__money__"},
                       "splitLine": {"lineStyle": {"color": "#eef0f3"}}},
                      {"type": "value", "splitLine": {"show": False}}],
            "series": [{"name": t("kpi_revenue", lang), "type": "bar",
                        "data": [num(r.get("revenue")) for r in rows]},
                       {"name": t("kpi_buyers", lang), "type": "line", "yAxisIndex": 1,
                        "smooth": True, "data": [num(r.get("paying_users")) for r in rows]}]}


def rfm_bars(rows: list[dict[str, Any]], lang: Lang) -> dict[str, Any]:
    """Customer share and revenue share per RFM class."""
    if not rows:
        return {}
    names = [r[f"name_{lang}"] for r in rows]
    return {**BASE, "color": [BLUE, AMBER], "legend": {"top": 0},
            "grid": {"left": 12, "right": 12, "top": 32, "bottom": 8, "containLabel": True},
            "tooltip": {"trigger": "axis", "valueFormatter": "__pct__"},
            "xAxis": {"type": "value", "axisLabel": {"formatter": "__pct__"}},
            "yAxis": {"type": "category", "data": names, "inverse": True},
            "series": [{"name": t("customer_share", lang), "type": "bar",
                        "data": [num(r.get("customer_share")) for r in rows]},
                       {"name": t("revenue_share", lang), "type": "bar",
                        "data": [num(r.get("revenue_share")) for r in rows]}]}


def retention_heatmap(rows: list[dict[str, Any]], period: str, lang: Lang) -> dict[str, Any]:
    """Cohorts down, periods after across, the share retained in each cell."""
    if not rows:
        return {}
    cohorts: list[str] = []
    sizes: dict[str, Any] = {}
    cells = []
    for r in rows:
        c = str(r["cohort_start"])[:10]
        if c not in sizes:
            cohorts.append(c)
            sizes[c] = r["cohort_size"]
        rate = num(r.get("rate"))
        cells.append([r["period"], cohorts.index(c),
                      None if rate is None else round(rate * 100, 1)])
    n = max(r["period"] for r in rows)
    unit = {"day": ("天", "d"), "week": ("周", "w"), "month": ("月", "m")}[period]
    offsets = [f"{i}{unit[0] if lang == 'zh' else unit[1]}" for i in range(n + 1)]
    labels = [f"{c} ({sizes[c]:,})" if isinstance(sizes[c], int) else f"{c} ({sizes[c]})"
              for c in cohorts]
    later = [c[2] for c in cells if c[2] is not None and c[0] > 0]
    top = max(later, default=100.0) or 100.0
    return {**BASE, "grid": {"left": 8, "right": 8, "top": 24, "bottom": 48,
                             "containLabel": True},
            "tooltip": {"position": "top"},
            "xAxis": {"type": "category", "data": offsets, "position": "top",
                      "splitArea": {"show": True}},
            "yAxis": {"type": "category", "data": labels, "inverse": True,
                      "splitArea": {"show": True}},
            "visualMap": {"min": 0, "max": round(top, 1), "calculable": False,
                          "orient": "horizontal", "left": "center", "bottom": 0,
                          "itemHeight": 140, "dimension": 2, "text": [f"{round(top)}%", "0%"],
                          "inRange": {"color": ["#f2f7fc", "#8dbbe2", "#1f5f99"]}},
            "series": [{"type": "heatmap",
                        "data": [[c[0], c[1], c[2] if c[2] is not None else "-"]
                                 for c in cells],
                        "label": {"show": True, "fontSize": 10, "formatter": "__heat__"},
                        "itemStyle": {"borderColor": "#fff", "borderWidth": 1}}]}


def funnel(rows: list[dict[str, Any]], lang: Lang) -> dict[str, Any]:
    """The funnel, widest step on top."""
    data = [{"name": t(f"ev_{r['event']}", lang), "value": num(r.get("customers")) or 0}
            for r in rows]
    if not data or not data[0]["value"]:
        return {}
    return {**BASE, "tooltip": {"trigger": "item"},
            "series": [{"type": "funnel", "sort": "none", "left": "5%", "width": "90%",
                        "top": 8, "bottom": 8, "minSize": "12%", "gap": 3,
                        "label": {"show": True, "position": "inside", "formatter": "{b}  {c}",
                                  "color": "#fff"},
                        "color": ["#1f5f99", "#2f6ea8", "#4a86bf", "#6fa2d2", "#9cc0e4"],
                        "data": data}]}


def quadrant(rows: list[dict[str, Any]], lang: Lang) -> dict[str, Any]:
    """Channels by traffic × conversion, with the median lines that split the quadrants."""
    points = [r for r in rows if num(r.get("traffic")) is not None
              and num(r.get("conversion")) is not None]
    if not points:
        return {}
    xs = sorted(float(r["traffic"]) for r in points)
    ys = sorted(float(r["conversion"]) for r in points)
    return {**BASE, "grid": {"left": 24, "right": 56, "top": 24, "bottom": 36,
                             "containLabel": True},
            "tooltip": {"trigger": "item"},
            "xAxis": {"type": "value", "scale": True, "name": t("traffic", lang),
                      "nameLocation": "middle", "nameGap": 26,
                      "splitLine": {"lineStyle": {"color": "#eef0f3"}}},
            "yAxis": {"type": "value", "scale": True, "name": t("conversion", lang),
                      "nameLocation": "middle", "nameGap": 46,
                      "axisLabel": {"formatter": "__pct__"},
                      "splitLine": {"lineStyle": {"color": "#eef0f3"}}},
            "labelLayout": {"moveOverlap": "shiftY"},
            "series": [{"type": "scatter", "symbolSize": 18,
                        "data": [{"name": r["channel"], "value": [num(r["traffic"]),
                                                                  num(r["conversion"])],
                                  "itemStyle": {"color": QUADRANT_COLOURS.get(
                                      r.get("quadrant", ""), BLUE)}} for r in points],
                        "label": {"show": True, "position": "right", "formatter": "{b}"},
                        "markLine": {"silent": True, "symbol": "none",
                                     "lineStyle": {"type": "dashed", "color": "#aab"},
                                     "label": {"formatter": t("median", lang)},
                                     "data": [{"xAxis": _median(xs),
                                               "label": {"position": "end", "rotate": 0}},
                                              {"yAxis": _median(ys),
                                               "label": {"position": "insideEndTop"}}]}}]}


def churn_bars(bands: dict[str, int], lang: Lang) -> dict[str, Any]:
    """Buyers per churn-risk band."""
    order = ("low", "medium", "high")
    colours = {"low": GREEN, "medium": AMBER, "high": RED}
    return {**BASE, "grid": {"left": 8, "right": 16, "top": 8, "bottom": 8,
                             "containLabel": True},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "value"},
            "yAxis": {"type": "category", "data": [t(f"risk_{b}", lang) for b in order],
                      "inverse": True},
            "series": [{"type": "bar", "barWidth": "55%",
                        "label": {"show": True, "position": "right"},
                        "data": [{"value": bands.get(b, 0),
                                  "itemStyle": {"color": colours[b]}} for b in order]}]}


def uplift_bars(target: dict[str, Any], holdout: dict[str, Any], lang: Lang) -> dict[str, Any]:
    """Conversion of the target against the holdout."""
    return {**BASE, "grid": {"left": 8, "right": 24, "top": 8, "bottom": 8,
                             "containLabel": True},
            "tooltip": {"trigger": "axis", "valueFormatter": "__pct__"},
            "xAxis": {"type": "value", "axisLabel": {"formatter": "__pct__"}},
            "yAxis": {"type": "category", "data": [t("target", lang), t("control", lang)],
                      "inverse": True},
            "series": [{"type": "bar", "barWidth": "50%",
                        "label": {"show": True, "position": "right", "formatter": "__pctlabel__"},
                        "data": [{"value": num(target.get("conversion")) or 0,
                                  "itemStyle": {"color": BLUE}},
                                 {"value": num(holdout.get("conversion")) or 0,
                                  "itemStyle": {"color": GREY}}]}]}


def _median(values: list[float]) -> float:
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2
