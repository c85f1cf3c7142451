"""The report's predictions 预测 section: the latest stored run at or before the report's
as_of, its churn-risk bands and totals, and its holdout check as a bar chart."""

from __future__ import annotations

import html as htmllib
import importlib.util
import json
import re
from pathlib import Path

import pytest
from report_browser import chromium_flags, dump_dom

import kequn
from kequn.clv import fit_predictions, predictions
from kequn.report import build_report
from kequn.report._predictions import prediction_chart, prediction_section

AS_OF = "2024-04-28 23:00"
CALIBRATION_END = "2024-03-15"


def _small_shop():
    spec = importlib.util.spec_from_file_location("kq_shopgen", Path(__file__).with_name(
        "shopgen.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen.fill_workspace(kequn.open(":memory:"), gen.synth_tables(400, 120, seed=5))


@pytest.fixture(scope="module")
def predicted():
    """A small generated shop with BG/NBD fitted to AS_OF and checked on a holdout."""
    ws = _small_shop()
    run = fit_predictions(ws, as_of=AS_OF, calibration_end=CALIBRATION_END, model="bgnbd",
                          min_repeat_buyers=10)
    yield ws, run
    ws.close()


@pytest.fixture(scope="module")
def predicted_html(predicted):
    ws, _ = predicted
    return build_report(ws, as_of=AS_OF, lang="zh")


def _charts(page: str) -> dict:
    found = re.search(r'<script id="kq-charts" type="application/json">(.*?)</script>', page,
                      re.S)
    assert found
    return json.loads(found.group(1).replace("<\\/", "</"))


def _section(page: str) -> str:
    return htmllib.unescape(page.split('<section class="card" id="predictions">', 1)[1]
                            .split("</section>", 1)[0])


@pytest.mark.slow
def test_the_section_shows_churn_bands_and_totals_of_the_stored_run(predicted,
                                                                     predicted_html):
    ws, run = predicted
    rows = predictions(ws).to_pyarrow().to_pylist()
    bands = {b: sum(r["churn_risk"] == b for r in rows) for b in ("high", "medium", "low")}
    assert sum(bands.values()) == run.customers > 0
    section = _section(predicted_html)
    assert "<h2>预测</h2>" in section
    assert "bgnbd+" in section
    assert "2024-04-28 23:00" in section
    for band, label in (("high", "高风险"), ("medium", "中风险"), ("low", "低风险")):
        cell = re.search(rf'<tr class="churn-{band}"><td>{label}</td><td>([^<]*)</td>', section)
        assert cell, band
        assert cell.group(1) == f"{bands[band]:,}"
    expected = sum(r["expected_orders"] for r in rows)
    clv = sum(r["clv"] for r in rows)
    assert "未来 90 天预计订单数" in section
    assert f"{expected:,.1f}" in section
    assert "未来 365 天客户终身价值 CLV 合计" in section
    assert (f"{clv:,.0f}" if clv >= 10000 else f"{clv:,.2f}") in section


@pytest.mark.slow
def test_the_holdout_check_is_a_bar_chart_with_the_totals(predicted, predicted_html):
    _, run = predicted
    check = run.holdout
    assert check is not None
    assert check.model == "bgnbd"
    chart = _charts(predicted_html)["predictions"]
    assert chart["xAxis"]["data"] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    predicted_bars, actual_bars = chart["series"]
    assert [s["type"] for s in chart["series"]] == ["bar", "bar"]
    assert actual_bars["data"] == [b["actual"] for b in check.buckets]
    assert predicted_bars["data"] == pytest.approx([b["predicted"] for b in check.buckets],
                                                   abs=0.006)
    total = check.total
    assert f"实际 {int(total['actual'])} 次" in chart["title"]["text"]
    assert f"预测 {total['predicted']:,.1f} 次" in chart["title"]["text"]
    section = _section(predicted_html)
    assert '<div class="chart" id="chart-predictions"></div>' in section
    assert "回测：预测与实际复购次数" in section
    assert CALIBRATION_END in section
    assert (f"<td><b>合计</b></td><td>{total['customers']:,}</td>"
            f"<td><b>{total['predicted']:,.1f}</b></td><td><b>{int(total['actual']):,}</b></td>"
            in section)


def test_english_labels(predicted):
    ws, _ = predicted
    section = prediction_section(ws, ws.resolve_as_of(AS_OF), None, "en")
    assert [b["label"] for b in section["churn"]] == ["High", "Medium", "Low"]
    chart = prediction_chart(section["holdout"], "en")
    assert [s["name"] for s in chart["series"]] == ["Predicted", "Actual"]
    assert chart["title"]["text"].startswith("Total: actual ")


@pytest.mark.slow
def test_without_a_run_the_section_is_a_one_line_hint():
    en = _section(build_report(kequn.open(":memory:"), as_of="2024-03-31", lang="en"))
    assert "run 'kequn predict fit' to see predictions" in en
    assert "chart-predictions" not in en


def test_the_report_takes_the_latest_run_at_or_before_its_as_of():
    ws = _small_shop()
    fit_predictions(ws, as_of="2024-03-31 23:00", model="bgnbd", min_repeat_buyers=10)
    fit_predictions(ws, as_of=AS_OF, calibration_end=CALIBRATION_END, model="bgnbd",
                    min_repeat_buyers=10)
    before_any = prediction_section(ws, ws.resolve_as_of("2024-03-24 23:00"), None, "en")
    march = prediction_section(ws, ws.resolve_as_of("2024-04-07 23:00"), None, "en")
    april = prediction_section(ws, ws.resolve_as_of(AS_OF), None, "en")
    assert before_any is None  # a report never shows a run made on later data
    assert march["as_of"] == "2024-03-31 23:00"
    assert march["holdout"] is None
    assert prediction_chart(march["holdout"], "en") == {}
    assert april["as_of"] == "2024-04-28 23:00"
    assert april["holdout"] is not None


def test_small_bands_and_buckets_are_suppressed(predicted):
    ws, _ = predicted
    section = prediction_section(ws, ws.resolve_as_of(AS_OF), 100_000, "en")
    assert {b["customers"] for b in section["churn"]} <= {"<100000", "0"}
    shown = [b for b in section["holdout"]["buckets"] if b["customers"] != "0"]
    assert shown
    assert all(b["actual"] == "<100000" and b["actual_value"] is None for b in shown)


@pytest.mark.slow
def test_the_predictions_chart_renders_in_a_real_browser(predicted_html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(predicted_html, encoding="utf-8")
    dom = dump_dom(chromium_flags(height=3200), page)
    assert 'data-charts-ready="yes"' in dom
    box = dom.split('id="chart-predictions"', 1)[1].split("</canvas>", 1)[0]
    assert "<canvas" in box, "ECharts drew no canvas for the predictions chart"
