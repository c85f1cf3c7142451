"""Metrics over HTTP: the catalog, a metric with options, and the error paths."""

from __future__ import annotations


def test_catalog_lists_every_metric_with_both_languages_and_options(client):
    r = client.get("/api/metrics")
    assert r.status_code == 200
    by_name = {m["name"]: m for m in r.json()}
    assert {"rfm", "retention", "funnel", "channels", "conversion"} <= set(by_name)
    assert by_name["funnel"]["title_zh"] == "转化漏斗"
    assert "steps" in by_name["funnel"]["options"]


def test_rfm_gives_eight_classes_summing_to_the_buyers(client):
    body = client.get("/api/metrics/rfm").json()
    assert body["metric"] == "rfm"
    assert len(body["rows"]) == 8
    assert abs(sum(r["customer_share"] for r in body["rows"]) - 1) < 1e-9


def test_a_list_option_takes_comma_separated_values(client):
    body = client.get("/api/metrics/funnel?steps=visit,view,cart&period=month").json()
    assert [r["event"] for r in body["rows"]] == ["visit", "view", "cart"]


def test_a_metric_can_be_narrowed_to_a_segment(client):
    everyone = client.get("/api/metrics/conversion?period=month").json()["rows"][-1]
    vips = client.get("/api/metrics/conversion?period=month",
                      params={"segment": "member_level IN ('V4', 'V5', 'V6')"}).json()
    assert vips["segment"].startswith("member_level")
    assert vips["rows"][-1]["visitors"] < everyone["visitors"]


def test_a_split_by_attribute_adds_its_column(client):
    body = client.get("/api/metrics/conversion?period=month&by=member_band").json()
    assert "member_band" in body["columns"]


def test_small_cells_are_suppressed_when_the_shop_asks(client, ws_path):
    import kequn

    with kequn.open(ws_path) as ws:
        ws.set(small_cell_k=1000)
    body = client.get("/api/metrics/rfm").json()
    assert {r["customers"] for r in body["rows"] if r["customers"] != 0} == {"<1000"}


def test_unknown_metric_is_a_404_with_a_suggestion(client):
    r = client.get("/api/metrics/retension")
    assert r.status_code == 404
    assert "did you mean 'retention'" in r.json()["message"]


def test_unknown_option_is_a_400_naming_it(client):
    r = client.get("/api/metrics/rfm?colour=blue")
    assert r.status_code == 400
    assert "'colour'" in r.json()["message"]


def test_bad_option_value_is_a_400(client):
    r = client.get("/api/metrics/retention?mode=sideways")
    assert r.status_code == 400
    assert r.json()["error"] == "MetricError"


def test_bad_period_is_a_422(client):
    r = client.get("/api/metrics/rfm?period=fortnight")
    assert r.status_code == 422
    assert r.json()["message"].startswith("query.period")


def test_unknown_split_attribute_is_a_400(client):
    r = client.get("/api/metrics/conversion?by=shoe_size")
    assert r.status_code == 400
    assert "shoe_size" in r.json()["message"]
