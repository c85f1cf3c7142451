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
from kequn.clv.repurchase import pair_summary
from kequn.schema.tables import TABLES
from kequn.storage import features as ft
from kequn.storage import incremental
from kequn.storage.engines import EngineGapError
from kequn.storage.history import HistoryCheck, fingerprint
from kequn.storage.incremental import FeatureStore, RefreshReport, classify
from kequn.workspace import Workspace

ts = dt.datetime.fromisoformat


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


@pytest.mark.slow
def test_sums_counts_and_last_times_are_merged_not_recomputed(refreshed: Refreshed) -> None:
    merged = set(refreshed.report.merged)
    # all-time and windowed counts and sums, a last time, and what is finished from them
    assert {"paid_orders", "spend", "aov", "last_paid_at", "recency_days", "spend_365d",
            "events_30d", "intent_score_14d", "last_event_at"} <= merged
    # a distinct count cannot take a leaving day back out of a count: it keeps its days
    assert "active_days_30d" not in merged
    assert "active_days_30d" not in refreshed.report.volatile
    assert "active_days_30d: its values' latest times" in refreshed.report.dirty


def test_distinct_counts_refresh_from_each_values_latest_time_across_the_window_edge(
        make_shop) -> None:
    def view(eid: str, cid: str, t: str) -> dict:
        return {"event_id": eid, "customer_id": cid, "event": "view", "event_time": ts(t)}

    def paid(oid: str, cid: str, t: str, promotion: str | None) -> dict:
        return {"order_id": oid, "customer_id": cid, "created_at": ts(t), "paid_at": ts(t),
                "status": "paid", "amount": 1.0, "promotion": promotion}

    ws = make_shop(
        customers=[{"customer_id": c, "registered_at": ts("2023-01-01")}
                   for c in ("late", "gone", "new")],
        events=[
            # 1 February leaves the window by its morning, and stays by its last second
            view("e1", "late", "2024-02-01 10:00"), view("e2", "late", "2024-02-01 23:59:58"),
            view("e3", "late", "2024-02-15 10:00"),
            view("e4", "gone", "2024-02-01 10:00"),
            view("e5", "new", "2024-03-02 10:00"), view("e6", "new", "2024-03-02 11:00")],
        orders=[paid("o1", "late", "2024-03-01 10:00", "spring"),
                paid("o2", "late", "2024-03-02 10:00", "spring"),  # the same month again
                paid("o3", "new", "2024-03-02 10:00", "spring")])
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    store = FeatureStore(ws, segments=["campaign_buyers"])
    store.build(before)
    report = store.refresh(after)
    assert report.mode == "incremental", report.reason
    periods = next(n for n, r in store._plan(after).measures.items()
                   if n != "active_days_30d" and r.key is not None)
    assert {f"{n}: its values' latest times" for n in ("active_days_30d", periods)} <= set(
        report.dirty)
    got = {r["customer_id"]: (r["active_days_30d"], r[periods])
           for r in store.features().to_pyarrow().to_pylist()}
    assert got == {"late": (2, 1), "gone": (0, 0), "new": (1, 1)}
    plan = store._plan(after)
    full = ft.customer_features(ws, after, measures=plan.measures, lookups=plan.lookups,
                                standard=False, predictions=False).to_pyarrow()
    assert rows(store.features().to_pyarrow()) == rows(full)


def _merge_shop(make_shop) -> Workspace:
    """Two customers: a row that leaves the 30-day window, and a promoted order paid just
    after the watermark on the watermark's own date, which makes an earlier order of that
    date a promotion-day order."""
    return make_shop(
        customers=[{"customer_id": "c1", "registered_at": ts("2023-01-01")},
                   {"customer_id": "c2", "registered_at": ts("2023-01-01")}],
        orders=[
            {"order_id": "o1", "customer_id": "c1", "created_at": ts("2024-03-01 11:00"),
             "paid_at": ts("2024-03-01 12:00"), "status": "paid", "amount": 10.1},
            {"order_id": "o2", "customer_id": "c1", "created_at": ts("2024-01-05 09:00"),
             "paid_at": ts("2024-01-05 09:30"), "status": "paid", "amount": 20.2},
            {"order_id": "o3", "customer_id": "c2", "created_at": ts("2024-03-01 23:59:58"),
             "paid_at": ts("2024-03-01 23:59:59"), "status": "paid", "amount": 0.3,
             "promotion": "spring"},
            {"order_id": "o4", "customer_id": "c2", "created_at": ts("2024-03-01 20:00"),
             "paid_at": ts("2024-03-02 09:00"), "status": "paid", "amount": 5.0},
        ],
        products=[{"product_id": "p1", "category": "tea"},
                  {"product_id": "p2", "category": "cups"}],
        events=[
            {"event_id": "e1", "customer_id": "c2", "event": "view",
             "event_time": ts("2024-01-31 23:59:59"), "duration_s": 0.1},
            {"event_id": "e2", "customer_id": "c2", "event": "cart",
             "event_time": ts("2024-03-02 08:00"), "duration_s": 0.2},
            # c1's views: cups leave the 90-day window, tea stays, a view without a duration
            {"event_id": "e3", "customer_id": "c1", "event": "view", "product_id": "p2",
             "event_time": ts("2023-12-03 10:00"), "duration_s": 50.0},
            {"event_id": "e4", "customer_id": "c1", "event": "view", "product_id": "p1",
             "event_time": ts("2024-02-20 10:00"), "duration_s": 20.0},
            {"event_id": "e5", "customer_id": "c1", "event": "view", "product_id": "p1",
             "event_time": ts("2024-03-02 12:00"), "duration_s": None},
        ],
    )


def test_a_merged_refresh_equals_a_rebuild_across_a_window_edge_and_a_promotion_day(
        make_shop) -> None:
    ws = _merge_shop(make_shop)
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    store = FeatureStore(ws, segments=["holiday_shoppers", "vip_pyramid", "rfm_8"])
    store.build(before)
    report = store.refresh(after)
    assert report.mode == "incremental", report.reason
    plan = store._plan(after)
    holiday = [n for n, r in plan.measures.items() if "promotion_day" in r.derived]
    assert holiday
    assert set(holiday) <= set(report.merged)
    assert "events_30d" in report.merged
    full = ft.customer_features(ws, after, measures=plan.measures, lookups=plan.lookups,
                                standard=False, predictions=False).to_pyarrow()
    assert rows(store.features().to_pyarrow()) == rows(full)
    # c1's order of 1 March became a promotion-day order: one of two, so a holiday shopper
    was = rows(sg.evaluate(ws, "holiday_shoppers", as_of=before).to_pyarrow())
    members = rows(store.members("holiday_shoppers").to_pyarrow())
    assert members == rows(sg.evaluate(ws, "holiday_shoppers", as_of=after).to_pyarrow())
    assert was == []
    assert members == [("c1",), ("c2",)]
    # the view-time preference merged: cups left the window, tea is all that is left
    viewed = {r["customer_id"]: (r["top_category_viewed"], r["top_category_viewed_share"])
              for r in store.features().to_pyarrow().to_pylist()}
    assert viewed["c1"] == ("tea", 1.0)
    then = ft.category_preference(ws, before, by="view_time", window=ft.Window.last(before, 90))
    assert then.to_pyarrow().to_pylist() == [
        {"customer_id": "c1", "top_category": "cups", "top_category_share": round(50 / 70, 9)}]
    assert any("category sums merged" in k for k in report.timings)
    # the kept fingerprint moved on with the new rows, as one taken afresh would be
    assert store._state()["fingerprint"] == fingerprint(ws, after)


def test_spend_is_added_up_in_whole_cents(make_shop) -> None:
    ws = _merge_shop(make_shop)
    t = ft.customer_features(ws, ts("2024-03-02"), predictions=False).to_pyarrow()
    spend = dict(zip(t["customer_id"].to_pylist(), t["spend"].to_pylist(), strict=True))
    # 10.1 + 20.2 is 30.299999999999997 in doubles; in cents it is 3030
    assert spend == {"c1": 30.3, "c2": 0.3}


def _kept(ws: Workspace, name: str) -> list[tuple]:
    return rows(ws.con.table(name).to_pyarrow())


@pytest.mark.slow
def test_kept_lines_and_product_buyers_equal_the_paid_lines_after_a_refresh(
        refreshed: Refreshed) -> None:
    ws, after = refreshed.ws, refreshed.after
    lines = ft.paid_lines(ws, after)
    assert _kept(ws, "kq_inc_lines") == rows(lines.to_pyarrow())
    assert _kept(ws, "kq_inc_pairs") == rows(pair_summary(lines).to_pyarrow())


@pytest.mark.slow
def test_the_kept_fingerprint_moves_on_as_one_taken_afresh(refreshed: Refreshed) -> None:
    assert refreshed.store._state()["fingerprint"] == fingerprint(refreshed.ws, refreshed.after)


def test_the_history_check_beside_the_refresh_moves_the_fingerprint_on_or_says_changed(
        make_shop) -> None:
    ws = _merge_shop(make_shop)
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    kept = fingerprint(ws, before)
    ws.raw.execute("CREATE TABLE written_meanwhile AS SELECT 1 AS x")  # the refresh's writes
    assert HistoryCheck(ws, kept, before, after).result() == fingerprint(ws, after)
    ws.raw.execute("UPDATE orders SET status = 'refunded' WHERE order_id = 'o1'")
    assert HistoryCheck(ws, kept, before, after).result() is None


def test_a_refresh_after_one_that_stopped_midway_keeps_every_line_once(make_shop) -> None:
    ws = _merge_shop(make_shop)
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    ws.raw.execute("INSERT INTO order_items VALUES ('o1', 'p1', 1, 10.1), ('o3', 'p1', 1, 0.3)")
    store = FeatureStore(ws, segments=["repurchase_due"])
    store.build(before)
    store._add_lines(before, after)  # the lines of the new day went in ...
    store._mark("lines", "updating")  # ... and the refresh stopped before it said so
    assert store.refresh(after).mode == "incremental"
    lines = ft.paid_lines(ws, after)
    assert _kept(ws, "kq_inc_lines") == rows(lines.to_pyarrow())
    assert _kept(ws, "kq_inc_pairs") == rows(pair_summary(lines).to_pyarrow())


def test_a_refresh_that_stopped_after_merging_sums_is_followed_by_a_rebuild(
        make_shop, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = _merge_shop(make_shop)
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    store = FeatureStore(ws, segments=["category_fans"])
    store.build(before)

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    # the category sums and the distinct counts' values took the day; the rows did not
    monkeypatch.setattr(incremental, "_differing", stop)
    with pytest.raises(KeyboardInterrupt):
        store.refresh(after)
    monkeypatch.undo()
    report = store.refresh(after)
    assert report.mode == "full"
    plan = store._plan(after)
    full = ft.customer_features(ws, after, measures=plan.measures, lookups=plan.lookups,
                                standard=False, predictions=False).to_pyarrow()
    assert rows(store.features().to_pyarrow()) == rows(full)


def test_a_table_stored_by_another_kequn_is_rebuilt_not_merged_into(make_shop) -> None:
    ws = _merge_shop(make_shop)
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    store = FeatureStore(ws, segments=["vip_pyramid"])
    store.build(before)
    # an older kequn kept spend without its cents
    ws.raw.execute('ALTER TABLE kq_inc_features DROP COLUMN "_kq_part_spend__cents"')
    report = store.refresh(after)
    assert report.mode == "full"
    assert report.reason == "the stored columns are from another kequn"


def test_a_payment_or_refund_after_the_watermark_is_new_data_a_refund_before_is_history(
        make_shop) -> None:
    ws = _merge_shop(make_shop)
    ws.raw.execute("INSERT INTO orders (order_id, customer_id, created_at, paid_at, status, "
                   "amount) VALUES ('o5', 'c1', ?, ?, 'paid', 7.0)",
                   [ts("2024-03-01 10:00"), ts("2024-03-09 10:00")])
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    store = FeatureStore(ws, segments=["order_unpaid"])
    store.build(before)  # o4 and o5 were open at the watermark, and are paid now
    # o5, paid after both moments, refunded since: it was waiting for payment then all the same
    ws.raw.execute("UPDATE orders SET status = 'refunded' WHERE order_id = 'o5'")
    assert store.refresh(after).mode == "incremental"
    full = sg.evaluate(ws, "order_unpaid", as_of=after).to_pyarrow()
    assert rows(store.members("order_unpaid").to_pyarrow()) == rows(full)
    placed = ft.order_rows(ws, after)
    waiting = placed.filter(ft.unpaid(placed, after)).order_id.to_pyarrow().to_pylist()
    assert waiting == ["o5"]
    # o1, paid before the watermark, refunded now: what was paid then is not any more
    ws.raw.execute("UPDATE orders SET status = 'refunded' WHERE order_id = 'o1'")
    report = store.refresh(after + dt.timedelta(hours=1))
    assert report.mode == "full"
    assert report.reason == "data up to the watermark changed"


def test_a_customer_moving_tier_or_gone_is_refreshed_from_the_customers_table(
        make_shop) -> None:
    ws = _merge_shop(make_shop)
    ws.raw.execute("UPDATE customers SET member_level = 'V0'")
    before, after = ts("2024-03-01 23:59:57"), ts("2024-03-02 23:59:57")
    store = FeatureStore(ws, segments=["member_tier", "one_order_only"])
    store.build(before)
    ws.raw.execute("UPDATE customers SET member_level = 'V5' WHERE customer_id = 'c1'")
    ws.raw.execute("INSERT INTO customers (customer_id, registered_at, member_level) "
                   "VALUES ('c3', ?, 'V2')", [ts("2024-03-02 10:00")])
    report = store.refresh(after)
    assert report.mode == "incremental"
    for seg in ("member_tier", "one_order_only"):
        full = sg.evaluate(ws, seg, as_of=after).to_pyarrow()
        assert rows(store.members(seg).to_pyarrow()) == rows(full), seg
    assert rows(store.members("member_tier").to_pyarrow()) == [
        ("c1", "v4_plus"), ("c2", "v0"), ("c3", "v1_v3")]
    ws.raw.execute("DELETE FROM customers WHERE customer_id = 'c2'")
    assert store.refresh(after + dt.timedelta(hours=1)).mode == "incremental"
    assert rows(store.members("member_tier").to_pyarrow()) == [
        ("c1", "v4_plus"), ("c3", "v1_v3")]


def test_a_familys_labels_are_kept_as_numbers_and_read_back_as_labels(make_shop) -> None:
    ws = _merge_shop(make_shop)
    ws.raw.execute("UPDATE customers SET member_level = CASE customer_id WHEN 'c1' THEN 'V2' "
                   "ELSE 'V0' END")
    store = FeatureStore(ws, segments=["member_tier"])
    store.build(ts("2024-03-01 23:59:57"))
    kept = ws.con.table("kq_inc_members").member_tier
    assert kept.type().is_integer()
    labelled = rows(store.members("member_tier").to_pyarrow())
    assert {label for _, label in labelled} == {"v0", "v1_v3"}
    assert labelled == rows(sg.evaluate(ws, "member_tier", as_of=ts("2024-03-01 23:59:57"))
                            .to_pyarrow())
    # a store written when the labels were kept as text reads the same
    ws.raw.execute("""CREATE OR REPLACE TABLE kq_inc_members AS SELECT customer_id,
        CASE member_tier WHEN 0 THEN 'v0' WHEN 1 THEN 'v1_v3' WHEN 2 THEN 'v4_plus' END
        AS member_tier FROM kq_inc_members""")
    assert rows(store.members("member_tier").to_pyarrow()) == labelled
