"""What each page's main panel shows: metric rows from :mod:`kequn.api.compute`, shaped into
KPI cards, tables and chart options for one language.

The figures come from the metric runners (cached per data version); this module only picks
windows, orders rows and formats. Every builder takes ``only_cached``: with it, a figure not
computed yet raises :class:`~kequn.api.compute.NotCached` instead of computing.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kequn import segments as sg
from kequn.api import compute
from kequn.dashboard import charts
from kequn.dashboard.i18n import Lang, t
from kequn.metrics._periods import Period, last_complete_window, shift

if TYPE_CHECKING:
    from kequn.api.deps import AppState
    from kequn.workspace import Workspace

TREND_PERIODS = 8
GROUP_TREND_DAYS = 30


def _kpi(key: str, cur: Any, prev: Any, kind: str, lang: Lang) -> dict[str, Any]:
    a, b = charts.num(cur), charts.num(prev)
    change = None if a is None or b is None or b == 0 else (a - b) / abs(b)
    direction = ("none" if change is None else "flat" if abs(change) < 0.0005
                 else "up" if change > 0 else "down")
    return {"label": t(key, lang), "value": cur, "previous": prev, "kind": kind,
            "change": change, "direction": direction}


def _window(state: AppState, ws: Workspace, period: Period) -> tuple[Any, Any]:
    as_of = compute.default_as_of(state, ws)
    cur = last_complete_window(period, as_of)
    return cur, cur.previous()


def overview(state: AppState, ws: Workspace, lang: Lang, *, period: Period = "week",
             only_cached: bool = False) -> dict[str, Any]:
    """KPI cards of the last complete period against the one before, the revenue
    decomposition and the revenue trend."""
    cur, prev = _window(state, ws, period)
    common = {"as_of": cur.as_of, "period": period, "only_cached": only_cached}
    trend = compute.metric(state, ws, "conversion",
                           start=shift(cur.start, period, -(TREND_PERIODS - 1)), **common)
    dec = compute.metric(state, ws, "decomposition", start=cur.start, **common)
    nr = compute.metric(state, ws, "new_returning", start=prev.start, **common)
    rows = trend["rows"]
    now, before = (rows[-1] if rows else {}), (rows[-2] if len(rows) > 1 else {})
    nr_now = nr["rows"][-1] if nr["rows"] else {}
    nr_prev = nr["rows"][-2] if len(nr["rows"]) > 1 else {}
    d = dec["rows"][0] if dec["rows"] else {}
    kpis = [
        _kpi("kpi_revenue", now.get("revenue"), before.get("revenue"), "money", lang),
        _kpi("kpi_visitors", now.get("visitors"), before.get("visitors"), "int", lang),
        _kpi("kpi_buyers", now.get("paying_users"), before.get("paying_users"), "int", lang),
        _kpi("kpi_conversion", now.get("pay_rate"), before.get("pay_rate"), "pct2", lang),
        _kpi("kpi_arppu", now.get("arppu"), before.get("arppu"), "money", lang),
        _kpi("kpi_aov", now.get("aov"), before.get("aov"), "money", lang),
        _kpi("kpi_paid_orders", now.get("paid_orders"), before.get("paid_orders"), "int", lang),
        _kpi("kpi_new_customers", nr_now.get("new_customers"), nr_prev.get("new_customers"),
             "int", lang),
        _kpi("kpi_returning_share", nr_now.get("returning_share_buyers"),
             nr_prev.get("returning_share_buyers"), "pct", lang),
        _kpi("kpi_repurchase_rate", now.get("repurchase_rate"), before.get("repurchase_rate"),
             "pct", lang),
    ]
    driver = d.get("main_driver")
    return {"window": cur.label(), "previous": prev.label(), "kpis": kpis,
            "decomposition": d, "driver": t(f"effect_{driver}", lang) if driver else None,
            "waterfall": charts.waterfall(d, lang), "trend": charts.trend(rows, lang)}


def groups(state: AppState, ws: Workspace, lang: Lang, *, part: str = "all",
           only_cached: bool = False) -> dict[str, Any]:
    """Every group with its size now and 30 days before.

    ``part="now"`` computes the sizes now only, and gives those 30 days before when they are
    computed already (else ``pending_before``: the page fetches the whole panel next).
    """
    as_of = compute.default_as_of(state, ws)
    before = as_of - dt.timedelta(days=GROUP_TREND_DAYS)
    now = compute.segment_sizes(state, ws, as_of, only_cached=only_cached)
    try:
        then = compute.segment_sizes(state, ws, before,
                                     only_cached=only_cached or part == "now")
    except compute.NotCached:
        if part != "now":
            raise
        then = None
    rows = []
    for seg in sg.list_segments(ws):
        size, old = now.get(seg.id, {}), (then or {}).get(seg.id, {})
        labels = [{"name": name, "label": _label(seg, name, lang),
                   "size": size.get("labels", {}).get(name),
                   "before": old.get("labels", {}).get(name)} for name in seg.label_names]
        rows.append({"id": seg.id, "name": (seg.name_zh if lang == "zh" else seg.name_en)
                     or seg.id, "origin": seg.origin, "seed": seg.seed,
                     "description": seg.description, "size": size.get("size"),
                     "before": old.get("size"), "error": size.get("error"),
                     "labels": labels})
    total = int(ws.table("customers").count().to_pyarrow().as_py())
    return {"rows": rows, "as_of": as_of, "before": before, "customers": total,
            "pending_before": then is None}


def _label(seg: sg.SegmentDef, name: str, lang: Lang) -> str:
    zh, en = seg.labels.get(name, (None, None))
    return (zh if lang == "zh" else en) or name


def rfm(state: AppState, ws: Workspace, lang: Lang, *,
        only_cached: bool = False) -> dict[str, Any]:
    """The eight RFM classes with customers, revenue and their shares."""
    result = compute.metric(state, ws, "rfm", only_cached=only_cached)
    rows = result["rows"]
    for r in rows:
        r["name"] = r[f"name_{lang}"]
        r["important"] = str(r["rfm_class"]).startswith("important")
    return {"rows": rows, "chart": charts.rfm_bars(rows, lang), "as_of": result["as_of"]}


def retention(state: AppState, ws: Workspace, lang: Lang, *, action: str = "any",
              period: Period = "week", mode: str = "in",
              only_cached: bool = False) -> dict[str, Any]:
    """The cohort heat map."""
    result = compute.metric(state, ws, "retention", action=action, period=period, mode=mode,
                            only_cached=only_cached)
    return {"chart": charts.retention_heatmap(result["rows"], period, lang),
            "cohorts": len({str(r["cohort_start"]) for r in result["rows"]}),
            "notes": result["notes"]}


def funnel(state: AppState, ws: Workspace, lang: Lang, *, period: Period = "month",
           only_cached: bool = False) -> dict[str, Any]:
    """The default funnel over the last complete period."""
    cur, _ = _window(state, ws, period)
    result = compute.metric(state, ws, "funnel", start=cur.start, as_of=cur.as_of,
                            period=period, only_cached=only_cached)
    rows = result["rows"]
    for r in rows:
        r["label"] = t(f"ev_{r['event']}", lang)
    return {"rows": rows, "chart": charts.funnel(rows, lang), "window": cur.label()}


def channels(state: AppState, ws: Workspace, lang: Lang, *, period: Period = "month",
             only_cached: bool = False) -> dict[str, Any]:
    """The channel quadrant over the last complete period, with the seed's advice."""
    cur, _ = _window(state, ws, period)
    result = compute.metric(state, ws, "channels", start=cur.start, as_of=cur.as_of,
                            period=period, only_cached=only_cached)
    rows = result["rows"]
    for r in rows:
        r["quadrant_label"] = r.get(f"quadrant_{lang}")
        r["advice"] = r.get(f"advice_{lang}")
        r["colour"] = charts.QUADRANT_COLOURS.get(r.get("quadrant", ""), charts.BLUE)
    return {"rows": rows, "chart": charts.quadrant(rows, lang), "window": cur.label()}


def report_html(state: AppState, ws: Workspace, lang: Lang, *, period: Period = "week",
                only_cached: bool = False) -> str:
    """The operations report of :mod:`kequn.report` (a whole page), cached per data version."""
    from kequn.report import build_report

    key = ("report", lang, period, state.version(ws))
    if only_cached:
        found, html = state.cache.get(key)
        if not found:
            raise compute.NotCached
        return html  # type: ignore[no-any-return]
    return state.cache.get_or_compute(key, lambda: build_report(ws, lang=lang, period=period))


def palette(lang: Lang) -> list[dict[str, Any]]:
    """Conditions the builder adds with a click (rule text in the segment language)."""
    zh = lang == "zh"
    return [
        {"title": t("cond_attributes", lang), "items": [
            ("会员等级 V4+" if zh else "Member level V4+", "member_level IN ('V4', 'V5', 'V6')"),
            ("一二线城市" if zh else "City tier 1–2", "city_tier <= 2"),
            ("女性" if zh else "Women", "gender = '女'"),
            ("未退订" if zh else "Not opted out", "NOT opted_out"),
        ]},
        {"title": t("cond_behaviour", lang), "items": [
            ("近14天加购" if zh else "Carted in 14 days", "events(cart, last: 14d) > 0"),
            ("近30天访问" if zh else "Visited in 30 days", "events(visit, last: 30d) > 0"),
            ("近10天收藏" if zh else "Favourited in 10 days", "events(favorite, last: 10d) > 0"),
            ("购买意愿 > 5" if zh else "Intent score > 5", "intent_score(last: 14d) > 5"),
        ]},
        {"title": t("cond_value", lang), "items": [
            ("近一年成交 ≥ 2 单" if zh else "2+ paid orders in a year",
             "paid_orders(last: 365d) >= 2"),
            ("近一年消费 > 500" if zh else "Spent over 500 in a year", "spend(last: 365d) > 500"),
            ("90天未购买" if zh else "No purchase for 90 days", "last_paid_at <= -90d"),
            ("客单价前 20%" if zh else "Top 20% by AOV", "top_percent(aov) <= 20"),
        ]},
        {"title": t("cond_groups", lang), "items": [
            ("兴趣人群" if zh else "Interested", "segment(interest)"),
            ("新客户人群" if zh else "New customers", "segment(new_customers)"),
            ("复购人群" if zh else "Due to buy again", "segment(repurchase_due)"),
            ("流失客户" if zh else "Churned", "segment(churned)"),
        ]},
    ]
