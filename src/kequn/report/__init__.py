"""The Monday report 运营周报: one self-contained HTML file a shop owner opens offline.

Revenue and its decomposition against the previous period, new vs returning customers, the
retention heat map, the funnel, the channel quadrant with seed 003's advice, the RFM grid,
group sizes and the latest stored predictions (churn-risk bands, CLV, the holdout
check). Charts are Apache ECharts, inlined from ``kequn/static/echarts.min.js`` so
the page needs no network.

Examples
--------
>>> import kequn
>>> ws = kequn.open(":memory:")
>>> html = build_report(ws, as_of="2024-03-31", lang="en")
>>> "<script>" in html and "cdn" not in html.lower()
True
"""

from __future__ import annotations

import datetime as dt
import json
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

from kequn.metrics._periods import Period
from kequn.report._build import ReportData, gather
from kequn.report._labels import Lang, t

if TYPE_CHECKING:
    import jinja2

    from kequn.workspace import Workspace

__all__ = ["ReportData", "build_report", "echarts_source", "gather", "write_report"]


@cache
def echarts_source() -> str:
    """The vendored ``echarts.min.js`` (Apache-2.0), shared with the web dashboard."""
    return (resources.files("kequn") / "static" / "echarts.min.js").read_text("utf-8")


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    loader = jinja2.PackageLoader("kequn.report", "templates")
    return jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]),
                              trim_blocks=True, lstrip_blocks=True)


def render(data: ReportData) -> str:
    """The report page for already gathered ``data``."""
    template = _environment().get_template("report.html.j2")
    # "</" inside a <script> block would end it early; JSON allows the escaped form.
    charts = json.dumps(data.charts, ensure_ascii=False, default=str).replace("</", "<\\/")
    note = {"week": "s_retention_note", "month": "s_retention_note_month",
            "day": "s_retention_note_day"}[data.period]
    return template.render(d=data, t=lambda key, **kw: t(key, data.lang, **kw),
                           retention_note=note, echarts_js=Markup(echarts_source()),
                           charts_json=Markup(charts))


def build_report(ws: Workspace, *, as_of: str | dt.date | dt.datetime | None = None,
                 lang: Lang = "zh", period: Period = "week") -> str:
    """The report's HTML for the last complete ``period`` up to ``as_of`` (default: the
    latest data)."""
    moment = ws.resolve_as_of(as_of)
    return render(gather(ws, as_of=moment, lang=lang, period=period))


def write_report(ws: Workspace, path: str | os.PathLike[str], *,
                 as_of: str | dt.date | dt.datetime | None = None, lang: Lang = "zh",
                 period: Period = "week") -> Path:
    """Write :func:`build_report` to ``path`` (UTF-8) and return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(ws, as_of=as_of, lang=lang, period=period), encoding="utf-8")
    return out
