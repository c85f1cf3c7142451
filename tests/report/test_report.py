"""``kequn report``: one self-contained HTML page, offline, in Chinese or English."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from report_browser import chromium_flags, dump_dom
from typer.testing import CliRunner

from kequn.report import build_report, echarts_source, gather

AS_OF = "2024-04-28 23:00"  # a Sunday: the report covers the week 04-22..04-28


@pytest.fixture(scope="module")
def zh_html(synthetic_ws):
    return build_report(synthetic_ws, as_of=AS_OF, lang="zh")


def test_the_page_is_self_contained(zh_html):
    html = zh_html
    assert echarts_source()[:2000] in html  # ECharts inlined, not linked
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?https?:""", html)
    assert "cdn" not in html.lower().replace("echarts", "")
    assert "人群规模" in html
    assert "新客户人群" in html
    for words in ("店铺运营周报", "支付金额", "销售额变化拆解", "新老客", "留存", "转化漏斗",
                  "渠道象限", "RFM 客户分类", "重要价值", "一般挽留", "2024-04-22 – 2024-04-28"):
        assert words in html


def test_without_a_prediction_run_the_predictions_section_is_a_hint(zh_html):
    section = zh_html.split('<section class="card" id="predictions">', 1)[1].split(
        "</section>", 1)[0]
    assert "<h2>预测</h2>" in section
    assert "运行 &#39;kequn predict fit&#39; 查看预测。" in section
    assert "chart-predictions" not in section


def test_english_page_and_its_charts(synthetic_ws, monkeypatch):
    monkeypatch.setitem(sys.modules, "kequn.segments", None)
    data = gather(synthetic_ws, as_of=build_as_of(synthetic_ws), lang="en", period="week")
    assert data.window.start.isoformat() == "2024-04-22T00:00:00"
    assert data.previous.start.isoformat() == "2024-04-15T00:00:00"
    assert [k.label for k in data.kpis][:3] == ["Revenue", "Visitors", "Paying customers"]
    assert set(data.charts) == {"decomposition", "new_returning", "retention", "funnel",
                                "channels"}
    html = build_report(synthetic_ws, as_of=AS_OF, lang="en")
    assert "Weekly operations report" in html
    assert "What moved revenue" in html


def build_as_of(ws):
    return ws.resolve_as_of(AS_OF)


def test_groups_section_is_left_out_with_a_note_without_segments(synthetic_ws, monkeypatch):
    monkeypatch.setitem(sys.modules, "kequn.segments", None)  # import fails
    html = build_report(synthetic_ws, as_of=AS_OF, lang="en")
    assert "Customer groups are not available" in html


@pytest.mark.slow
def test_small_cells_are_suppressed_in_the_page(synthetic_ws):
    synthetic_ws.set(small_cell_k=100_000)
    try:
        html = build_report(synthetic_ws, as_of=AS_OF, lang="zh")
    finally:
        synthetic_ws.set(small_cell_k=None)
    assert "&lt;100000" in html or "<100000" in html
    assert "少于 100000 人的格子" in html


@pytest.mark.slow
def test_report_command_writes_the_file(tmp_path, synthetic_ws):
    import kequn
    from kequn.cli._app import app as root
    from kequn.cli.metrics import app  # noqa: F401  registers the report command

    path = tmp_path / "shop.duckdb"
    disk = kequn.open(path)
    for name in ("customers", "events", "orders", "marketing_costs"):
        disk.con.insert(name, synthetic_ws.table(name).to_pyarrow())
    disk.close()
    out = tmp_path / "r" / "report.html"
    result = CliRunner().invoke(root, ["report", "-w", str(path), "--as-of", "2024-04-28",
                                       "--lang", "en", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text("utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.slow
def test_the_report_renders_in_a_real_browser(zh_html, tmp_path):
    """Headless Chromium opens the page offline: ECharts runs, draws a canvas per chart, and
    the screenshot is taken."""
    page = tmp_path / "report.html"
    page.write_text(zh_html, encoding="utf-8")
    shot = tmp_path / "report.png"
    flags = chromium_flags(height=2400)
    subprocess.run([*flags, f"--screenshot={shot}", page.as_uri()], check=True,
                   capture_output=True, timeout=120)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1280, 2400)
    assert len(png) > 100_000  # a drawn page, not a blank one
    dom = dump_dom(flags, page)
    assert 'data-charts-ready="yes"' in dom  # the page's script ran to the end
    for chart in ("decomposition", "new_returning", "retention", "funnel", "channels"):
        box = dom.split(f'id="chart-{chart}"', 1)[1].split("</canvas>", 1)[0]
        assert "<canvas" in box, f"ECharts drew no canvas for {chart}"


def test_static_files_are_there():
    static = Path(__import__("kequn").__file__).parent / "static"
    assert (static / "echarts.min.js").stat().st_size > 500_000
    assert "Apache License" in (static / "echarts.LICENSE").read_text("utf-8")


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    import kequn
    from kequn.demo.generate import generate_shop

    folder = tmp_path_factory.mktemp("report-demo")
    files = generate_shop(folder / "data", customers=600, months=8, seed=4)
    ws = kequn.open(":memory:")
    for table, paths in files.items():
        ws.load(table, paths)
    yield ws
    ws.close()


def test_group_sizes_at_both_period_ends_match_the_segments_own_counts(demo_ws):
    from kequn import segments as sg

    data = gather(demo_ws, as_of=demo_ws.default_as_of(), lang="en", period="week")
    shown = {row["label"]: row for row in data.groups}
    plain = [s for s in sg.builtin_segments().values() if not s.is_family]
    for as_of, column in ((data.window.as_of, "now"), (data.previous.as_of, "before")):
        with sg.Evaluator(demo_ws, as_of) as ev:  # each date on its own, nothing shared
            for seg in plain:
                assert shown[seg.name_en][column] == f"{ev.count(seg.id):,}", (seg.id, column)
    # groups read from the paid order lines (kept once, for the later date) differ by date
    assert any(shown[s.name_en]["now"] != shown[s.name_en]["before"] for s in plain
               if "items_bought" in s.text)
