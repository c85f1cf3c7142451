"""The demo generator's contract: canonical files, deterministic, streamed, consistent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kequn.demo import DemoError, generate
from kequn.demo._arrow import PartWriter
from kequn.demo.generate import DEFAULT_END as END
from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema

if TYPE_CHECKING:
    from conftest import Shop


def test_every_table_has_exactly_the_canonical_columns_and_types(shop: Shop) -> None:
    assert list(shop.files) == list(TABLES)  # load order: customers first
    for name, paths in shop.files.items():
        expected = table_schema(TABLES[name]).to_pyarrow()
        for path in paths:
            assert pq.read_schema(path).remove_metadata().equals(expected), name


def test_same_seed_gives_the_same_bytes_and_another_seed_another_shop(tmp_path: Path) -> None:
    first = generate.generate_shop(tmp_path / "a", customers=300, seed=3, end=END)
    again = generate.generate_shop(tmp_path / "b", customers=300, seed=3, end=END)
    other = generate.generate_shop(tmp_path / "c", customers=300, seed=4, end=END)
    for name in TABLES:
        assert [p.read_bytes() for p in first[name]] == [p.read_bytes() for p in again[name]]
    assert pq.read_table(first["orders"][0]) != pq.read_table(other["orders"][0])


def test_customers_are_written_chunk_by_chunk_with_unique_ids(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "CHUNK_CUSTOMERS", 400)
    files = generate.generate_shop(tmp_path, customers=1_000, seed=1, end=END)
    events = pq.ParquetFile(files["events"][0])
    assert events.metadata.num_row_groups == 3  # one row group per chunk of customers
    customers = pq.read_table(files["customers"][0])
    assert customers.num_rows == 1_000
    assert len(set(customers["customer_id"].to_pylist())) == 1_000
    order_ids = pq.read_table(files["orders"][0])["order_id"].to_pylist()
    assert len(set(order_ids)) == len(order_ids)


def test_a_table_rolls_over_to_a_new_file_when_one_is_full(tmp_path: Path) -> None:
    schema = pa.schema({"x": pa.int64()})
    writer = PartWriter(tmp_path, "events", schema, rows_per_file=5)
    for start in range(0, 12, 4):
        writer.write(pa.table({"x": list(range(start, start + 4))}, schema=schema))
    paths = writer.close()
    assert [p.name for p in paths] == ["events-000.parquet", "events-001.parquet"]
    assert sum(pq.read_metadata(p).num_rows for p in paths) == 12


def test_a_rerun_replaces_the_files_of_a_bigger_earlier_run(tmp_path: Path) -> None:
    (tmp_path / "events-007.parquet").write_bytes(b"stale")
    generate.generate_shop(tmp_path, customers=50, seed=1, end=END)
    assert not (tmp_path / "events-007.parquet").exists()


@pytest.mark.parametrize(("option", "value"), [("customers", 0), ("months", 0), ("seed", -1)])
def test_impossible_options_are_refused(tmp_path: Path, option: str, value: int) -> None:
    with pytest.raises(DemoError, match=option):
        generate.generate_shop(tmp_path, **{option: value})


def test_sizes_keep_the_benchmark_ratios(shop: Shop) -> None:
    # ~100k customers -> ~1M orders, ~10M events: about 10 orders and 100 events per customer.
    orders = shop.table("orders").count().to_pyarrow().as_py()
    events = shop.table("events").count().to_pyarrow().as_py()
    assert 6 * shop.customers <= orders <= 14 * shop.customers
    assert 70 * shop.customers <= events <= 150 * shop.customers


def test_nothing_is_dated_at_or_after_the_end_or_before_the_start(shop: Shop) -> None:
    start = shop.as_of - dt.timedelta(days=round(18 * 365.25 / 12))
    for name, column in (("orders", "created_at"), ("orders", "paid_at"),
                         ("events", "event_time"), ("customers", "registered_at")):
        t = shop.table(name)
        lo, hi = (t[column].min().to_pyarrow().as_py(), t[column].max().to_pyarrow().as_py())
        assert start <= lo, (name, column)
        assert hi < shop.as_of, (name, column)


def test_no_behaviour_before_sign_up(shop: Shop) -> None:
    customers = shop.table("customers")
    for name, column in (("events", "event_time"), ("orders", "created_at")):
        t = shop.table(name)
        early = t.join(customers, "customer_id").filter(
            lambda r, c=column: r[c] < r.registered_at)
        assert early.count().to_pyarrow().as_py() == 0, name


def test_order_amounts_are_their_lines_minus_the_discount(shop: Shop) -> None:
    items = shop.table("order_items")
    lines = items.group_by("order_id").aggregate(
        total=(items.quantity * items.unit_price).sum(), n=items.count())
    orders = shop.table("orders").join(lines, "order_id")
    wrong = orders.filter((orders.amount + orders.discount - orders.total).abs() > 0.011)
    assert wrong.count().to_pyarrow().as_py() == 0
    assert orders.count().to_pyarrow().as_py() == shop.table("orders").count().to_pyarrow().as_py()
    assert (orders.amount >= 0).all().to_pyarrow().as_py()


def test_order_lines_name_known_products_on_sale_at_the_time(shop: Shop) -> None:
    items, products, orders = shop.table("order_items"), shop.table("products"), \
        shop.table("orders")
    joined = items.join(orders, "order_id").join(products, "product_id")
    assert joined.count().to_pyarrow().as_py() == items.count().to_pyarrow().as_py()
    early = joined.filter(joined.launched_at > joined.created_at)
    assert early.count().to_pyarrow().as_py() == 0


def test_order_and_pay_events_line_up_with_the_orders(shop: Shop) -> None:
    orders, events = shop.table("orders"), shop.table("events")
    for event, column in (("order", "created_at"), ("pay", "paid_at")):
        timed = orders.filter(orders[column].notnull())
        e = events.filter(events.event == event)
        matched = timed.join(e, [timed.customer_id == e.customer_id,
                                 timed[column] == e.event_time])
        n_orders = timed.count().to_pyarrow().as_py()
        assert matched.count().to_pyarrow().as_py() >= n_orders, event
        assert e.count().to_pyarrow().as_py() == n_orders, event


def test_each_visit_has_one_customer_and_starts_with_a_visit_event(shop: Shop) -> None:
    events = shop.table("events")
    sessions = events.group_by("session_id").aggregate(
        customers=events.customer_id.nunique(),
        visits=(events.event == "visit").sum(),
        first=events.event_time.min(),
    )
    assert sessions.customers.max().to_pyarrow().as_py() == 1
    assert sessions.visits.max().to_pyarrow().as_py() == 1


def test_registration_is_the_register_event(shop: Shop) -> None:
    events, customers = shop.table("events"), shop.table("customers")
    reg = events.filter(events.event == "register")
    joined = customers.join(reg, [customers.customer_id == reg.customer_id,
                                  customers.registered_at == reg.event_time])
    assert joined.count().to_pyarrow().as_py() == shop.customers


def test_durations_are_positive_seconds_on_page_events(shop: Shop) -> None:
    events = shop.table("events")
    timed = events.filter(events.duration_s.notnull())
    assert set(timed.select("event").distinct().to_pyarrow()["event"].to_pylist()) == {
        "visit", "view", "list_view", "search", "banner_view"}
    assert timed.duration_s.min().to_pyarrow().as_py() > 0


def test_marketing_costs_one_row_per_day_and_paid_channel(shop: Shop) -> None:
    costs = shop.table("marketing_costs")
    keys = costs.group_by(["date", "channel"]).aggregate(n=costs.count())
    assert keys.n.max().to_pyarrow().as_py() == 1
    assert (costs.cost > 0).all().to_pyarrow().as_py()
    channels = costs.select("channel").distinct().to_pyarrow()["channel"].to_pylist()
    assert "自然搜索" not in channels  # organic search costs nothing


def test_a_custom_end_and_length_are_respected(tmp_path: Path) -> None:
    end = dt.datetime(2021, 3, 1, 12, 0)
    files = generate.generate_shop(tmp_path, customers=40, seed=1, months=2, end=end)
    t = ibis.duckdb.connect().read_parquet([str(p) for p in files["events"]])
    assert t.event_time.max().to_pyarrow().as_py() < end
    assert t.event_time.min().to_pyarrow().as_py() >= dt.datetime(2020, 12, 30)  # end - 61 d


def test_progress_is_reported_after_each_chunk(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(generate, "CHUNK_CUSTOMERS", 100)
    seen: list[tuple[int, int]] = []
    generate.generate_shop(tmp_path, customers=250, seed=1, end=END,
                           progress=lambda done, total: seen.append((done, total)))
    assert seen == [(100, 250), (200, 250), (250, 250)]
