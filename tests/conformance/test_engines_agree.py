"""Every built-in group, the feature table, every metric and the prediction summaries give
the same answer on local PySpark as on DuckDB: the same members, values equal to 1e-9."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest
from engine_helpers import EngineShop, assert_same_rows

from kequn import segments as sg
from kequn.clv.repurchase import product_repurchase_cycles
from kequn.clv.summary import rfm_summary
from kequn.metrics import METRICS, Metrics
from kequn.storage import features as ft
from kequn.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.usefixtures("spark")]

BUILTIN = sorted(sg.builtin_segments())

# Every metric with its defaults, and the options that take other code paths.
METRIC_CASES: list[tuple[str, dict[str, Any]]] = [
    *((name, {}) for name in METRICS),
    ("retention", {"period": "week", "mode": "within", "action": "purchase"}),
    ("conversion", {"by": "member_band"}),
    ("repurchase_retention", {"by": "member_band"}),
]


def run_metric(ws: Workspace, as_of: dt.datetime, name: str, options: dict[str, Any],
               ) -> pa.Table:
    """The metric's Ibis expression(s), executed on the workspace's engine."""
    spec = Metrics(ws).spec(name, as_of=as_of, **options)
    src = spec.sources(ws)
    if name == "decomposition":  # two windows, combined in Python by run()
        parts = [spec.factors_expr(src, w).to_pyarrow()  # type: ignore[attr-defined]
                 for w in (spec.window, spec.window.previous())]
        return pa.concat_tables([p.append_column("part", pa.array([i] * p.num_rows))
                                 for i, p in enumerate(parts)])
    return spec.to_expr(src).to_pyarrow()


def on_both(shop: EngineShop, compute: Any) -> tuple[pa.Table, pa.Table]:
    return compute(shop.on("duckdb")), compute(shop.on("pyspark"))


@pytest.mark.parametrize("segment_id", BUILTIN)
def test_builtin_group_has_the_same_members(demo_shop: EngineShop, segment_id: str) -> None:
    expected, actual = on_both(
        demo_shop, lambda ws: sg.evaluate(ws, segment_id, as_of=demo_shop.as_of).to_pyarrow())
    assert_same_rows(expected, actual)


def test_builtin_groups_are_not_all_empty(demo_shop: EngineShop) -> None:
    # the agreement above means something only if the groups have members on this shop
    ws = demo_shop.on("duckdb")
    sizes = {s: sg.count(ws, s, as_of=demo_shop.as_of) for s in BUILTIN}
    assert sum(1 for n in sizes.values() if n > 0) >= len(BUILTIN) - 6, sizes


def test_prepared_groups_have_the_same_sizes(demo_shop: EngineShop) -> None:
    # prepare() keeps one feature table (and the paid lines) on the engine for every group
    def sizes(ws: Workspace) -> pa.Table:
        with sg.Evaluator(ws, demo_shop.as_of) as ev:
            ev.prepare(BUILTIN)
            return pa.table({"segment": BUILTIN,
                             "members": [sum(ev.sizes(s).values()) if "." not in s and
                                         ev.segment(s).is_family else ev.count(s)
                                         for s in BUILTIN]})

    expected, actual = on_both(demo_shop, sizes)
    assert expected.to_pylist() == actual.to_pylist()
    assert sum(r["members"] for r in expected.to_pylist()) > 0


def test_feature_table_is_the_same(demo_shop: EngineShop) -> None:
    expected, actual = on_both(
        demo_shop, lambda ws: ft.customer_features(ws, demo_shop.as_of,
                                                   predictions=False).to_pyarrow())
    assert expected.num_rows == 300
    assert_same_rows(expected, actual)


@pytest.mark.parametrize(("name", "options"), METRIC_CASES,
                         ids=[f"{n}-{'-'.join(map(str, o.values())) or 'default'}"
                              for n, o in METRIC_CASES])
def test_metric_is_the_same(demo_shop: EngineShop, name: str, options: dict[str, Any]) -> None:
    expected, actual = on_both(
        demo_shop, lambda ws: run_metric(ws, demo_shop.as_of, name, options))
    assert expected.num_rows > 0
    assert_same_rows(expected, actual)


def test_prediction_summary_is_the_same(demo_shop: EngineShop) -> None:
    expected, actual = on_both(demo_shop, lambda ws: rfm_summary(
        ws.table("orders"), as_of=demo_shop.as_of,
        calibration_end=demo_shop.as_of - dt.timedelta(days=90)).to_pyarrow())
    assert expected.num_rows > 0
    assert_same_rows(expected, actual)


def test_repurchase_cycles_are_the_same(demo_shop: EngineShop) -> None:
    expected, actual = on_both(demo_shop, lambda ws: product_repurchase_cycles(
        ws.table("orders"), ws.table("order_items"), ws.table("products"),
        as_of=demo_shop.as_of).to_pyarrow())
    assert expected.num_rows > 0
    assert_same_rows(expected, actual)


def test_spark_reads_only_the_parquet_files(demo_shop: EngineShop) -> None:
    ws = demo_shop.on("pyspark")
    assert ws.engine_name == "pyspark"
    assert ws.con.table("orders").count().execute() == 0  # its embedded tables are empty
    assert ws.table("orders").count().execute() == \
        demo_shop.on("duckdb").table("orders").count().execute()
    assert "SPARK" in type(ws.engine).__module__.upper()
