"""The dashboard in a real headless Chromium: build a group and see its count, make a campaign
and see it listed, switch the language, at laptop and phone width. Screenshots go to
test-output/e2e/ for a person to look at."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport=LAPTOP, locale="zh-CN")
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield pg
    context.close()
    assert errors == [], errors  # no script errors on any page


def test_overview_shows_kpis_and_charts(page, server, shots: Path):
    page.goto(server.url + "/")
    page.wait_for_selector(".kpi", timeout=60_000)
    page.wait_for_selector(".chart canvas", timeout=30_000)
    assert page.locator(".kpi").count() == 10
    assert "销售额" in page.inner_text(".kpis")
    page.screenshot(path=shots / "overview-zh.png", full_page=True)


def test_build_a_group_and_see_its_count(page, server, shots: Path):
    rule = "member_level IN ('V4', 'V5', 'V6')"
    expected = httpx.post(server.url + "/api/segments/count", json={"rule": rule},
                          timeout=60).json()["count"]
    page.goto(server.url + "/groups/builder")
    page.fill("#rule", rule)
    page.wait_for_selector(f"#count [data-count='{expected}']", timeout=30_000)
    # click a condition: the rule grows and the count follows
    narrower = httpx.post(server.url + "/api/segments/count",
                          json={"rule": rule + "\nAND city_tier <= 2"}, timeout=60).json()["count"]
    page.click("button.chip.add[data-snippet='city_tier <= 2']")
    page.wait_for_selector(f"#count [data-count='{narrower}']", timeout=30_000)
    assert page.input_value("#rule").endswith("AND city_tier <= 2")
    page.click("#show-members")
    page.wait_for_selector(".members-table tbody tr", timeout=30_000)
    page.screenshot(path=shots / "builder-zh.png", full_page=True)
    # a typo: the error says where
    page.fill("#rule", rule + "\nAND spend(last: 30d) >")
    page.wait_for_selector("#count .syntax", timeout=30_000)
    assert "行 2" in page.inner_text("#count")
    page.screenshot(path=shots / "builder-error-zh.png", full_page=True)


def test_create_a_campaign_and_see_it_listed(page, server, shots: Path):
    page.goto(server.url + "/groups/builder?segment=active")
    page.wait_for_selector("#count [data-count]", timeout=30_000)
    page.click("#to-campaign")
    page.wait_for_selector("#new-campaign")
    assert "last_paid_at" in page.input_value("textarea[name=segment]")
    page.fill("input[name=name]", "回流券 · 活跃客户")
    page.click("#create-campaign")
    page.wait_for_selector(".flow-step.total", timeout=60_000)  # the preview loads by itself
    page.screenshot(path=shots / "campaign-zh.png", full_page=True)
    page.goto(server.url + "/campaigns")
    assert "回流券 · 活跃客户" in page.inner_text("#campaign-list")
    page.screenshot(path=shots / "campaigns-zh.png", full_page=True)


def test_switch_the_language_on_the_page(page, server, shots: Path):
    page.goto(server.url + "/groups")
    page.wait_for_selector("#panel-groups", timeout=120_000)
    assert page.get_attribute("html", "lang") == "zh-CN"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    page.wait_for_selector("#panel-groups", timeout=120_000)
    assert "Customer groups" in page.inner_text("h1")
    page.screenshot(path=shots / "groups-en.png", full_page=True)
    page.goto(server.url + "/")  # the choice sticks
    assert page.get_attribute("html", "lang") == "en"
    page.wait_for_selector(".kpi", timeout=60_000)
    page.screenshot(path=shots / "overview-en.png", full_page=True)


@pytest.mark.parametrize("path", ["/rfm", "/retention", "/funnel", "/channels"])
def test_analysis_pages_draw_their_charts(page, server, shots: Path, path: str):
    page.goto(server.url + path)
    page.wait_for_selector(".chart canvas", timeout=120_000)
    page.screenshot(path=shots / f"{path.strip('/')}-zh.png", full_page=True)


def test_predictions_fit_from_the_page(page, server, shots: Path):
    page.goto(server.url + "/predictions")
    page.click("#fit")
    page.wait_for_selector(".chart canvas", timeout=120_000)
    assert page.locator("table tbody tr").count() > 0
    page.screenshot(path=shots / "predictions-zh.png", full_page=True)


def test_load_a_file_from_the_page(page, server, shots: Path, tmp_path: Path):
    data = tmp_path / "more_orders.csv"
    data.write_text("order_id,customer_id,created_at,amount\n"
                    "e2e-1,C0000001,2026-10-01 10:00,12.5\ne2e-2,,oops,1\n", encoding="utf-8")
    page.goto(server.url + "/load")
    page.select_option("select[name=table]", "orders")
    page.set_input_files("input[name=file]", str(data))
    page.click("#upload-btn")
    page.wait_for_selector(".load-report", timeout=60_000)
    assert page.inner_text("#rows-read") == "2"
    assert page.inner_text("#rows-quarantined") == "1"
    page.screenshot(path=shots / "load-zh.png", full_page=True)


def test_pages_fit_a_phone(browser, server, shots: Path):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    for path, ready, name in (("/", ".kpi", "overview"), ("/groups/builder", "#count", "builder"),
                              ("/campaigns", "#new-campaign", "campaigns")):
        page.goto(server.url + path)
        page.wait_for_selector(ready, timeout=60_000)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"] + 1, f"{path} scrolls sideways ({width}px)"
        page.screenshot(path=shots / f"{name}-phone.png", full_page=True)
    context.close()
