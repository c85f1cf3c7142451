"""Incremental refresh gives exactly what a full rebuild gives, and rebuilds when history
changed."""

from __future__ import annotations

import datetime as dt
import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from incremental_helpers import hold_back, replay

import kequn
from kequn import segments as sg
from kequn.schema.tables import TABLES
from kequn.storage import features as ft
from kequn.storage.engines import EngineGapError
from kequn.storage.incremental import FeatureStore, RefreshReport, classify
from kequn.workspace import Workspace


@dataclass
class Refreshed:
    ws: Workspace
    store: FeatureStore
    before: dt.datetime
    after: dt.datetime
    report: RefreshReport
    added: int


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Refreshed]:
    """A 400-customer demo shop, built one day before its end, then given that day."""
    from kequn.demo.generate import generate_shop

    root = tmp_path_factory.mktemp("incremental")
    generate_shop(root / "demo", customers=400, months=12, seed=5)
    ws = kequn.open(root / "shop.duckdb")
    for name in TABLES:
        files = sorted(glob.glob(str(root / "demo" / f"{name}-*.parquet")))
        ws.raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet(?)", [files])
    after = ws.default_as_of()
    before = after - dt.timedelta(days=1)
    held = hold_back(ws, before)
    store = FeatureStore(ws)
    store.build(before)
    added = replay(ws, held)
    report = store.refresh(after)
    yield Refreshed(ws, store, before, after, report, added)
    ws.close()


def rows(table: pa.Table) -> list[tuple]:
    """Rows with columns in name order, sorted by customer (and label)."""
    table = table.select(sorted(table.column_names))
    return sorted((tuple(r.values()) for r in table.to_pylist()),
                  key=lambda r: tuple(str(v) for v in r))


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=1e-9, abs=1e-9, nan_ok=True)
    return a == b


@pytest.mark.slow
def test_a_day_of_new_data_refreshes_incrementally(refreshed: Refreshed) -> None:
    r = refreshed.report
    assert refreshed.added > 0
    assert r.mode == "incremental", r.reason
    assert r.previous_as_of == refreshed.before
    assert refreshed.store.watermark() == refreshed.after
    # few customers are recomputed: those with new rows or a row on a window's edge
    assert r.dirty
    assert max(r.dirty.values()) < r.customers / 2


@pytest.mark.slow
def test_refreshed_groups_have_exactly_the_full_rebuilds_members(refreshed: Refreshed) -> None:
    ws, after = refreshed.ws, refreshed.after
    for seg_id in refreshed.store.segments:
        full = sg.evaluate(ws, seg_id, as_of=after).to_pyarrow()
        mine = refreshed.store.members(seg_id).to_pyarrow()
        assert rows(mine) == rows(full), seg_id


@pytest.mark.slow
def test_refreshed_feature_table_equals_a_full_rebuild(refreshed: Refreshed) -> None:
    ws, after = refreshed.ws, refreshed.after
    plan = refreshed.store._plan(after)
    full = ft.customer_features(ws, after, measures=plan.measures, lookups=plan.lookups,
                                standard=False, predictions=False).to_pyarrow()
    mine = refreshed.store.features().to_pyarrow()
    assert sorted(mine.column_names) == sorted(full.column_names)
    assert mine.num_rows == full.num_rows == 400
    names = sorted(full.column_names)
    for x, y in zip(rows(mine), rows(full), strict=True):
        wrong = [n for n, p, q in zip(names, x, y, strict=True) if not same(p, q)]
        assert not wrong, (x[names.index("customer_id")], wrong)


@pytest.mark.slow
def test_a_changed_history_makes_the_refresh_a_full_rebuild(refreshed: Refreshed) -> None:
    ws = refreshed.ws
    old = ws.raw.execute("SELECT order_id FROM orders WHERE status = 'paid' AND paid_at < ? "
                         "ORDER BY order_id LIMIT 1", [refreshed.before]).fetchone()[0]
    ws.raw.execute("UPDATE orders SET status = 'refunded' WHERE order_id = ?", [old])
    report = refreshed.store.refresh(refreshed.after + dt.timedelta(hours=1))
    assert report.mode == "full"
    assert report.reason == "data up to the watermark changed"


def test_a_window_bound_is_stable_and_as_of_arithmetic_is_not() -> None:
    t = kequn.open(":memory:").table("orders")
    a, b = dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2)

    def in_window(as_of: dt.datetime) -> pa.Table:
        return t.amount.sum(where=ft.Window.last(as_of, 30).holds(t.paid_at))

    plan = classify(in_window(a), in_window(b), relations=False)
    assert plan.kind == "stable"
    assert plan.ranges == (("paid_at", a - dt.timedelta(days=30), b - dt.timedelta(days=30)),)
    recency = [ft.measure("paid", "recency_days", x).build(t) for x in (a, b)]
    assert classify(*recency, relations=False).kind == "volatile"
    count = [ft.measure("paid", "count", x).build(t) for x in (a, b)]
    assert classify(*count, relations=False).ranges == ()


def test_shop_wide_inputs_are_recomputed_for_everyone(make_shop) -> None:
    ws = make_shop()
    a, b = dt.datetime(2024, 3, 1), dt.datetime(2024, 3, 2)
    cycles = [ft.source_rows(ws, x, "items", {"repurchase_rate"}) for x in (a, b)]
    plan = classify(cycles[0].select("customer_id", "repurchase_rate"),
                    cycles[1].select("customer_id", "repurchase_rate"), relations=True)
    assert plan.kind == "volatile"
    assert "across customers" in plan.reason or "customers" in plan.reason


def test_refresh_is_a_declared_gap_on_spark(tmp_path: Path) -> None:
    with kequn.open(tmp_path / "s.duckdb") as ws:
        ws.use_engine("pyspark", data_url=str(tmp_path))
        with pytest.raises(EngineGapError, match="incremental refresh"):
            FeatureStore(ws).refresh(dt.datetime(2024, 3, 1))
