"""The dashboard's pages and fragments, rendered by the server (the browser tests in
tests/e2e drive the same pages in Chromium)."""

from __future__ import annotations

import pytest
from web_helpers import bearer

PAGES = ["/", "/groups", "/groups/builder", "/groups/builder?segment=interest", "/rfm",
         "/retention", "/retention?action=purchase&period=month&mode=within", "/funnel",
         "/channels", "/predictions", "/campaigns", "/load"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_in_chinese_by_default(client, path):
    r = client.get(path)
    assert r.status_code == 200, r.text[:500]
    assert '<html lang="zh-CN">' in r.text
    assert "客户分群" in r.text


@pytest.mark.parametrize("path", ["/", "/groups/builder", "/campaigns", "/load"])
def test_every_page_renders_in_english_for_an_english_browser(client, path):
    r = client.get(path, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in r.text
    assert "Groups" in r.text


def test_choosing_a_language_on_the_page_is_remembered(client):
    r = client.get("/rfm?lang=en")
    assert r.cookies.get("kq_lang") == "en"
    again = client.get("/rfm", headers={"Accept-Language": "zh-CN"})
    assert '<html lang="en">' in again.text


def test_panels_are_computed_and_drawn_with_chart_options(client):
    for path, marker in (("/panel/overview?period=week", "kpi"),
                         ("/panel/rfm", "rfm-cell"), ("/panel/funnel?period=month", "data-chart"),
                         ("/panel/channels?period=month", "data-chart"),
                         ("/panel/retention?action=any&period=week&mode=in", "heatmap"),
                         ("/panel/groups", "兴趣人群")):
        r = client.get(path)
        assert r.status_code == 200, path
        assert marker in r.text, path


def test_a_page_draws_its_panel_inline_once_computed(client):
    first = client.get("/rfm")
    assert 'hx-get="/panel/rfm' in first.text  # not computed yet: fetched by htmx
    client.get("/panel/rfm")
    second = client.get("/rfm")
    assert "rfm-cell" in second.text
    assert 'hx-get="/panel/rfm' not in second.text


def test_an_unknown_panel_or_option_is_an_error_page(client):
    assert client.get("/panel/nothing").status_code == 404
    assert client.get("/panel/retention?mode=sideways").status_code == 400
    assert client.get("/retention?mode=sideways").status_code == 422


def test_the_builder_counts_a_rule_as_you_type(client):
    r = client.post("/groups/count", data={"rule": "member_level IN ('V4', 'V5', 'V6')"})
    api = client.post("/api/segments/count",
                      json={"rule": "member_level IN ('V4', 'V5', 'V6')"}).json()
    assert f'data-count="{api["count"]}"' in r.text


def test_the_builder_shows_where_a_rule_is_wrong(client):
    r = client.post("/groups/count", data={"rule": "city_tier <= 2\nAND spend(last: 30d) >"})
    assert "规则有误" in r.text
    assert "行 2" in r.text
    assert "^" in r.text


def test_the_builder_member_table_and_explanation(client):
    members = client.post("/groups/members", data={"rule": "member_level = 'V5'"})
    assert "members-table" in members.text
    cid = members.text.split("<td>")[1].split("</td>")[0]
    explained = client.post("/groups/explain",
                            data={"rule": "member_level = 'V5'", "customer_id": cid})
    assert "在人群中" in explained.text
    assert "✓" in explained.text


def test_the_builder_saves_a_group(client):
    r = client.post("/groups/save", data={"rule": "city_tier <= 2", "segment_id": "big_cities",
                                          "name_zh": "一二线城市"})
    assert "已保存" in r.text
    assert client.get("/api/segments/big_cities").json()["name_zh"] == "一二线城市"
    bad = client.post("/groups/save", data={"rule": "city_tier <=", "segment_id": "x"})
    assert 'class="msg error"' in bad.text


def test_creating_a_campaign_from_the_form_opens_it(client):
    r = client.post("/campaigns", data={"name": "回流券", "segment": "interest",
                                        "threshold": "100", "discount": "10",
                                        "validity_days": "10", "channel": "export",
                                        "holdout": "10"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/campaigns/cmp-0001")
    page = client.get("/campaigns/cmp-0001")
    assert "回流券" in page.text
    assert "满100.00减10.00" in page.text
    preview = client.post("/campaigns/cmp-0001/preview")
    assert "将发送" in preview.text
    assert "cmp-0001" in client.get("/campaigns").text


def test_the_load_page_uploads_and_shows_the_report(client):
    csv = "order_id,customer_id,created_at,amount\nz1,C0000001,2026-10-01 10:00,5\nz2,,x,1\n"
    r = client.post("/load", data={"table": "orders"},
                    files={"file": ("web.csv", csv.encode(), "text/csv")})
    assert r.status_code == 200
    assert 'id="rows-read">2<' in r.text
    assert 'id="rows-quarantined">1<' in r.text


def test_pages_need_a_token_when_the_server_asks_for_one(secured, tokens):
    r = secured.get("/groups", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")
    htmx = secured.post("/groups/count", data={"rule": "active"}, headers={"HX-Request": "true"})
    assert htmx.headers.get("hx-redirect") == "/login"


def test_signing_in_with_a_token_sets_a_strict_cookie(secured, tokens):
    bad = secured.post("/login", data={"token": "nope"}, follow_redirects=False)
    assert "bad=1" in bad.headers["location"]
    r = secured.post("/login", data={"token": tokens["viewer"]}, follow_redirects=False)
    cookie = r.headers["set-cookie"]
    assert "kq_token=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert secured.get("/groups").status_code == 200


def test_a_viewer_sees_counts_but_not_members_in_the_builder(secured, tokens):
    h = bearer(tokens["viewer"])
    assert "data-count" in secured.post("/groups/count", data={"rule": "active"}, headers=h).text
    members = secured.post("/groups/members", data={"rule": "active"}, headers=h)
    assert "members-table" not in members.text
    assert "analyst" in members.text


def test_the_operations_report_opens_from_the_overview(client):
    assert 'href="/report?period=week' in client.get("/").text
    r = client.get("/report?period=week&lang=en")
    assert r.status_code == 200
    assert "<script>" in r.text
    assert "cdn" not in r.text.lower()


def test_echarts_and_htmx_are_served_from_the_package(client):
    echarts = client.get("/vendor/echarts.min.js")
    assert echarts.status_code == 200
    assert "echarts" in echarts.text[:2000].lower()
    htmx = client.get("/static/htmx.min.js")
    assert htmx.status_code == 200
    assert "htmx" in htmx.text[:100]
    page = client.get("/").text
    assert "http://" not in page.replace("http://www.w3.org", "")  # no CDN: works offline


def test_an_empty_workspace_says_to_load_data(tmp_path):
    from fastapi.testclient import TestClient

    from kequn.api import ServerConfig, create_app

    app = create_app(ServerConfig(workspace=tmp_path / "new.duckdb", warm_cache=False))
    with TestClient(app) as empty:
        for path in ("/", "/groups", "/rfm", "/retention", "/funnel", "/channels"):
            r = empty.get(path)
            assert r.status_code == 200, path
            assert "暂无数据" in r.text, path
            assert 'href="/load"' in r.text, path
        assert empty.get("/load").status_code == 200


def test_warming_draws_every_default_page_from_the_cache(client):
    from kequn.dashboard.warm import warm_once

    state = client.app.state.kequn
    assert warm_once(state) is not None
    for path in ("/", "/groups", "/rfm", "/retention", "/funnel", "/channels"):
        assert 'hx-get="/panel/' not in client.get(path).text, path
    entries = len(state.cache)
    client.get("/report?period=week&lang=zh")
    assert len(state.cache) == entries  # the report was warmed too
