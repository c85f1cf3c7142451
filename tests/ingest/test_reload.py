"""Reloading and updating: the same file twice changes nothing; a changed row updates its key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ingest_helpers import FIXTURES, counts, load, rows, snapshot, write_csv

from kequn.workspace import Workspace

T = dt.datetime
ORDERS_WITH_BAD_ROWS = [
    "order_id,customer_id,created_at,paid_at,amount",
    "o1,c1,2024-03-01 10:00,2024-03-01 10:05,10",
    "o2,c2,2024-03-02 10:00,,5",
    "o3,,2024-03-02 10:00,,5",
    "o4,c4,2024-03-02 10:00,,5,surplus",
    "o1,c1,2024-03-01 10:00,2024-03-01 10:05,11",
]


def _sample_files(folder: Path) -> dict[str, tuple[str, Path, str | None]]:
    return {
        "orders-with-bad-rows": ("orders", write_csv(folder / "orders.csv", ORDERS_WITH_BAD_ROWS),
                                 None),
        "events": ("events", write_csv(folder / "events.csv", [
            "event_time,customer_id,event", "2024-03-01 10:00,c1,view",
            "2024-03-01 10:00,c1,view", "later,c1,view", "2024-03-01 10:05,c2,cart"]), None),
        "taobao-orders": ("orders", FIXTURES / "taobao_orders_gb18030.csv", "taobao"),
        "shopify-orders": ("orders", FIXTURES / "shopify_orders_export.csv", "shopify"),
        "customers": ("customers", write_csv(folder / "customers.csv", [
            "customer_id,city,vip_note", "c1,Hangzhou,gold", "c2,Beijing,"]), None),
        "tianchi-events": ("events", FIXTURES / "tianchi_userbehavior.csv",
                           "tianchi_userbehavior"),
    }


@pytest.mark.parametrize("case", ["orders-with-bad-rows", "events", "taobao-orders",
                                  "shopify-orders", "customers", "tianchi-events"])
def test_reloading_the_same_file_changes_nothing(shop_ws: Workspace, tmp_path: Path,
                                                 case: str) -> None:
    table, path, preset = _sample_files(tmp_path)[case]
    first = load(shop_ws, table, path, preset=preset)
    before = snapshot(shop_ws)
    again = load(shop_ws, table, path, preset=preset)
    assert snapshot(shop_ws) == before
    assert (again.read, again.inserted, again.updated, again.customers_added) == (
        first.read, 0, 0, 0)
    assert again.quarantined == first.quarantined
    assert again.stored == first.stored


def test_a_changed_row_with_the_same_key_is_counted_as_updated_and_stored(
        ws: Workspace, tmp_path: Path) -> None:
    load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at,paid_at,status,amount",
        "o1,c1,2024-03-01 10:00,,created,10",
        "o2,c2,2024-03-01 11:00,,created,20"]))
    report = load(ws, "orders", write_csv(tmp_path / "orders_later.csv", [
        "order_id,customer_id,created_at,paid_at,status,amount",
        "o1,c1,2024-03-01 10:00,2024-03-01 12:00,paid,10",
        "o2,c2,2024-03-01 11:00,,created,20",
        "o3,c3,2024-03-02 09:00,,created,30"]))
    assert counts(report) == {"read": 3, "stored": 2, "inserted": 1, "unchanged": 1,
                              "merged": 0, "updated": 1, "quarantined": 0}
    assert rows(ws, "orders", "order_id", "paid_at", "status") == [
        {"order_id": "o1", "paid_at": T(2024, 3, 1, 12), "status": "paid"},
        {"order_id": "o2", "paid_at": None, "status": "created"},
        {"order_id": "o3", "paid_at": None, "status": "created"}]


def test_an_extra_customers_column_is_kept_as_a_custom_attribute(ws: Workspace,
                                                                 tmp_path: Path) -> None:
    report = load(ws, "customers", write_csv(tmp_path / "customers.csv", [
        "customer_id,city,会员卡号,vip_note", "c1,Hangzhou,K001,gold", "c2,Beijing,K002,"]))
    assert report.files[0].custom_attributes == ["会员卡号", "vip_note"]
    assert rows(ws, "customers", "customer_id", "会员卡号", "vip_note") == [
        {"customer_id": "c1", "会员卡号": "K001", "vip_note": "gold"},
        {"customer_id": "c2", "会员卡号": "K002", "vip_note": None}]


def test_an_extra_column_of_another_table_is_ignored_and_reported(ws: Workspace,
                                                                  tmp_path: Path) -> None:
    report = load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at,note", "o1,c1,2024-03-01,gift wrap"]))
    assert report.files[0].ignored_columns == ["note"]
    assert "note" not in ws.table("orders").columns


def test_a_second_customers_file_with_fewer_columns_updates_only_its_columns(
        ws: Workspace, tmp_path: Path) -> None:
    load(ws, "customers", write_csv(tmp_path / "crm.csv", [
        "customer_id,city,member_level,vip_note", "c1,Hangzhou,V3,gold", "c2,Beijing,2,"]))
    report = load(ws, "customers", write_csv(tmp_path / "moves.csv", [
        "customer_id,city", "c1,Shanghai", "c2,Beijing", "c3,Wuhan"]))
    assert counts(report) == {"read": 3, "stored": 2, "inserted": 1, "unchanged": 1,
                              "merged": 0, "updated": 1, "quarantined": 0}
    assert rows(ws, "customers", "customer_id", "city", "member_level", "vip_note") == [
        {"customer_id": "c1", "city": "Shanghai", "member_level": "V3", "vip_note": "gold"},
        {"customer_id": "c2", "city": "Beijing", "member_level": "V2", "vip_note": None},
        {"customer_id": "c3", "city": "Wuhan", "member_level": None, "vip_note": None}]


def test_customers_added_bare_by_orders_are_filled_in_by_a_customers_file(
        ws: Workspace, tmp_path: Path) -> None:
    load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at", "o1,c1,2024-03-01"]))
    report = load(ws, "customers", write_csv(tmp_path / "customers.csv", [
        "customer_id,city", "c1,Hangzhou"]))
    assert (report.updated, report.inserted) == (1, 0)
    assert rows(ws, "customers", "customer_id", "city") == [
        {"customer_id": "c1", "city": "Hangzhou"}]


def test_identical_events_within_one_new_file_are_all_kept(ws: Workspace,
                                                           tmp_path: Path) -> None:
    path = write_csv(tmp_path / "events.csv", [
        "event_time,customer_id,event", "2024-03-01 10:00,c1,view", "2024-03-01 10:00,c1,view"])
    report = load(ws, "events", path)
    assert (report.inserted, report.unchanged) == (2, 0)
    assert ws.table("events").count().to_pyarrow().as_py() == 2


def test_events_of_a_later_file_are_added_to_stored_ones(ws: Workspace, tmp_path: Path) -> None:
    load(ws, "events", write_csv(tmp_path / "a.csv", [
        "event_time,customer_id,event", "2024-03-01 10:00,c1,view"]))
    report = load(ws, "events", write_csv(tmp_path / "b.csv", [
        "event_time,customer_id,event", "2024-03-01 10:00,c1,view", "2024-03-01 10:00,c1,cart",
        "2024-03-02 10:00,c1,view"]))
    assert (report.inserted, report.unchanged) == (2, 1)
    assert rows(ws, "events", "event_time", "event") == [
        {"event_time": T(2024, 3, 1, 10), "event": "cart"},
        {"event_time": T(2024, 3, 1, 10), "event": "view"},
        {"event_time": T(2024, 3, 2, 10), "event": "view"}]


def test_several_files_load_in_one_go(ws: Workspace, tmp_path: Path) -> None:
    a = write_csv(tmp_path / "march.csv", ["order_id,customer_id,created_at",
                                           "o1,c1,2024-03-01", "o2,c2,2024-03-02"])
    b = write_csv(tmp_path / "april.csv", ["order_id,customer_id,created_at",
                                           "o3,c1,2024-04-01", "o2,c2,2024-03-02"])
    report = load(ws, "orders", a, b)
    assert [(Path(f.file).name, f.read, f.inserted, f.unchanged) for f in report.files] == [
        ("march.csv", 2, 2, 0), ("april.csv", 2, 1, 1)]
    assert ws.loads().count().to_pyarrow().as_py() == 1


# -- values: time zone, money, statuses -------------------------------------------------------

def test_a_zoned_time_is_converted_to_the_shop_zone_and_a_plain_one_stored_as_written(
        shop_ws: Workspace, tmp_path: Path) -> None:
    load(shop_ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at",
        "z,c,2024-03-01T02:00:00Z",
        "offset,c,2024-03-01T02:00:00+00:00",
        "compact,c,2024-03-01 10:00:00 +0800",
        "hours,c,2024-03-01 02:00:00+00",
        "west,c,2024-02-29 21:00:00 -05:00",
        "plain,c,2024-03-01 10:00:00",
        "chinese,c,2024年3月1日 10:00",
        "slashes,c,2024/3/1 10:00",
    ]))
    assert {r["order_id"]: r["created_at"] for r in rows(shop_ws, "orders")} == dict.fromkeys(
        ["z", "offset", "compact", "hours", "west", "plain", "chinese", "slashes"],
        T(2024, 3, 1, 10))


def test_a_time_zone_change_applies_to_later_loads_only(ws: Workspace, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "orders.csv", ["order_id,customer_id,created_at",
                                               "o1,c1,2024-03-01T02:00:00Z"])
    load(ws, "orders", path)
    assert rows(ws, "orders", "created_at") == [{"created_at": T(2024, 3, 1, 2)}]
    ws.set(time_zone="Asia/Shanghai")
    other = write_csv(tmp_path / "orders2.csv", ["order_id,customer_id,created_at",
                                                 "o2,c1,2024-03-01T02:00:00Z"])
    load(ws, "orders", other)
    assert rows(ws, "orders", "order_id", "created_at") == [
        {"order_id": "o1", "created_at": T(2024, 3, 1, 2)},
        {"order_id": "o2", "created_at": T(2024, 3, 1, 10)}]


def test_money_is_parsed_from_shop_export_spellings(ws: Workspace, tmp_path: Path) -> None:
    load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at,amount,discount",
        'a,c,2024-03-01,"¥1,299.00",￥5',
        "b,c,2024-03-01,89.90元,RMB 3",
        "c,c,2024-03-01,$ 12.5,0",
        "d,c,2024-03-01,-3.50,",
    ]))
    assert rows(ws, "orders", "order_id", "amount", "discount") == [
        {"order_id": "a", "amount": 1299.0, "discount": 5.0},
        {"order_id": "b", "amount": 89.9, "discount": 3.0},
        {"order_id": "c", "amount": 12.5, "discount": 0.0},
        {"order_id": "d", "amount": -3.5, "discount": None}]


def test_order_statuses_are_mapped_and_default_from_paid_at(ws: Workspace,
                                                            tmp_path: Path) -> None:
    load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at,paid_at,status",
        "a,c,2024-03-01,2024-03-01,",
        "b,c,2024-03-01,,",
        "c,c,2024-03-01,,Canceled",
        "d,c,2024-03-01,2024-03-01,REFUNDED",
        "e,c,2024-03-01,2024-03-01,completed",
        "f,c,2024-03-01,,pending"]))
    assert {r["order_id"]: r["status"] for r in rows(ws, "orders", "order_id", "status")} == {
        "a": "paid", "b": "created", "c": "cancelled", "d": "refunded", "e": "paid",
        "f": "created"}
