"""``kequn metrics ...`` through Typer's CliRunner, small-cell suppression in every output."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import kequn
from kequn.cli.metrics import app
from kequn.metrics import METRICS
from kequn.metrics._base import MetricResult, suppress
from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema

ts = dt.datetime.fromisoformat
runner = CliRunner()


def insert(ws, name, rows):
    schema = table_schema(TABLES[name]).to_pyarrow()
    ws.con.insert(name, pa.table({f: [r.get(f) for r in rows] for f in schema.names},
                                 schema=schema))


@pytest.fixture
def workspace(tmp_path):
    path = tmp_path / "shop.duckdb"
    ws = kequn.open(path)
    # 5 customers from "ads" visit and 3 of them pay; 1 from "seo" visits and pays.
    ids = [f"a{i}" for i in range(5)] + ["s0"]
    insert(ws, "customers", [{"customer_id": c, "source_channel": "ads" if c[0] == "a" else "seo"}
                             for c in ids])
    insert(ws, "events", [{"customer_id": c, "event_time": ts("2024-03-05 10:00"),
                           "event": "visit", "channel": "app"} for c in ids])
    insert(ws, "orders", [{"order_id": f"o{c}", "customer_id": c,
                           "created_at": ts("2024-03-05 11:00"), "paid_at": ts("2024-03-05 11:05"),
                           "amount": 10.0} for c in ("a0", "a1", "a2", "s0")])
    ws.close()
    return str(path)


def set_k(path, k):
    ws = kequn.open(path)
    ws.set(small_cell_k=k)
    ws.close()


def test_list_names_every_metric_in_both_languages():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for info in METRICS.values():
        assert info.name in result.output
        assert info.definition_zh in result.output
        assert info.definition_en in result.output
    as_json = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert {m["name"] for m in as_json} == set(METRICS)


def test_conversion_as_json_split_by_channel(workspace):
    result = runner.invoke(app, ["conversion", "-w", workspace, "--as-of", "2024-03-31",
                                 "--by", "channel", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["metric"] == "conversion"
    assert data["window"] == "2024-03-01 – 2024-03-31"
    rows = {r["channel"]: r for r in data["rows"]}
    assert rows["ads"]["paying_users"] == 3
    assert rows["seo"]["paying_users"] == 1


def test_small_cells_show_as_less_than_k_in_json_and_csv(workspace):
    set_k(workspace, 3)
    result = runner.invoke(app, ["conversion", "-w", workspace, "--as-of", "2024-03-31",
                                 "--by", "channel", "--json"])
    rows = {r["channel"]: r for r in json.loads(result.output)["rows"]}
    assert rows["ads"]["paying_users"] == 3
    assert rows["ads"]["revenue"] == 30.0
    assert rows["seo"]["paying_users"] == "<3"
    assert rows["seo"]["visitors"] == "<3"
    assert rows["seo"]["revenue"] == "<3"
    assert rows["seo"]["pay_rate"] == "<3"
    out = runner.invoke(app, ["conversion", "-w", workspace, "--to", "2024-03-31",
                              "--by", "channel", "--csv"]).output
    seo = next(r for r in csv.DictReader(io.StringIO(out)) if r["channel"] == "seo")
    assert seo["paying_users"] == "<3"
    assert seo["arppu"] == "<3"


def test_small_cells_in_the_plain_table_and_the_wide_retention(workspace):
    set_k(workspace, 10)
    out = runner.invoke(app, ["retention", "-w", workspace, "--as-of", "2024-03-10",
                              "--from", "2024-03-05", "--period", "day", "--periods", "2",
                              "--wide", "--csv"]).output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["cohort_size"] == "<10"
    assert rows[0]["p0"] == "<10"
    plain = runner.invoke(app, ["funnel", "-w", workspace, "--as-of", "2024-03-31",
                                "--steps", "visit,pay"])
    assert plain.exit_code == 0
    assert "<10" in plain.output


def test_suppression_leaves_zero_and_large_cells():
    rows = suppress([{"n": 0, "m": 2, "r": 0.5}, {"n": 7, "m": 9, "r": 0.1}], 5, ("n", "m"),
                    {"r": "m"})
    assert rows == [{"n": 0, "m": "<5", "r": "<5"}, {"n": 7, "m": 9, "r": 0.1}]
    res = MetricResult("x", pa.table({"n": [1]}), counts=("n",))
    assert res.to_records(small_cell_k=None) == [{"n": 1}]


def test_unknown_attribute_is_a_one_line_error(workspace):
    from kequn.cli._app import app as root

    result = runner.invoke(root, ["metrics", "conversion", "-w", workspace, "--by", "shoe_size"])
    assert result.exit_code == 1
    assert "unknown attribute 'shoe_size'" in result.output


def test_to_and_as_of_together_is_an_error(workspace):
    from kequn.cli._app import app as root

    result = runner.invoke(root, ["metrics", "rfm", "-w", workspace, "--to", "2024-03-01",
                                  "--as-of", "2024-03-02"])
    assert result.exit_code == 1
    assert "not both" in result.output


def test_segment_option_evaluates_the_segment_lazily(workspace, monkeypatch):
    import sys
    import types

    import ibis

    calls = []

    def evaluate(ws, rule, *, as_of):
        calls.append((rule, as_of))
        return ibis.memtable(pa.table({"customer_id": ["a0", "s0"]}))

    monkeypatch.setitem(sys.modules, "kequn.segments", types.SimpleNamespace(evaluate=evaluate))
    result = runner.invoke(app, ["conversion", "-w", workspace, "--as-of", "2024-03-31",
                                 "--segment", "vip", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["rows"]
    assert row["visitors"] == 2
    assert row["paying_users"] == 2
    assert calls == [("vip", dt.datetime(2024, 3, 31, 23, 59, 59, 999999))]
