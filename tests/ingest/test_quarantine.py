"""The quarantine: every kind of bad row kept with its file, line, column and reason (SPEC §1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_helpers import counts, load, quarantined, rows, write_csv

from kequn.workspace import Workspace

BAD_ORDERS = [
    "order_id,customer_id,created_at,status,amount",  # line 1
    "o1,c1,2024-03-01 10:00,paid,10",                 # 2 good
    ",c2,2024-03-01 10:00,paid,10",                   # 3 missing key
    "o3,c3,yesterday,paid,10",                        # 4 unparseable time
    "o4,c4,2024-03-01 10:00,paid,ten",                # 5 unparseable number
    "o5,c5,2024-03-01 10:00,shipped,10",              # 6 unknown status
    "o6,c6,2024-03-01 10:00,paid",                    # 7 malformed: a field short
    "o7,c7,2024-03-01 10:00,paid,10,extra",           # 8 malformed: a field too many
    "o8,c8,2024-03-01 10:00,paid,10",                 # 9 good
    "o1,c1,2024-03-01 10:00,paid,99",                 # 10 duplicate key, different content
    "o8,c8,2024-03-01 10:00,paid,10",                 # 11 duplicate key, same content: fine
    "o9,,2024-03-01 10:00,paid,10",                   # 12 missing required column
    "o10,c10,2024-02-30 10:00,paid,10",               # 13 a day that does not exist
    "o11,c11,2024-03-01 10:00,paid,10",               # 14 good
]


@pytest.fixture
def bad_orders(ws: Workspace, tmp_path: Path) -> Workspace:
    """A workspace after loading BAD_ORDERS."""
    report = load(ws, "orders", write_csv(tmp_path / "orders.csv", BAD_ORDERS))
    assert counts(report) == {"read": 13, "stored": 4, "inserted": 3, "unchanged": 1,
                              "merged": 0, "updated": 0, "quarantined": 9}
    return ws


def test_each_kind_of_bad_row_is_quarantined_with_line_column_and_reason(
        bad_orders: Workspace) -> None:
    found = {line: (column, reason) for _, line, column, reason in quarantined(bad_orders)}
    assert found.pop(3) == ("order_id", "missing order_id")
    assert found.pop(4) == ("created_at", "unparseable created_at (time): 'yesterday'")
    assert found.pop(5) == ("amount", "unparseable amount (money): 'ten'")
    assert found.pop(6) == ("status", "unknown status 'shipped' (expected created, paid, "
                                      "cancelled, refunded; map it under [orders.values.status] "
                                      "in a mapping file)")
    assert found.pop(10) == ("order_id", "duplicate order_id 'o1' with different content "
                                         "(first at line 2)")
    assert found.pop(12) == ("customer_id", "missing customer_id")
    assert found.pop(13) == ("created_at", "unparseable created_at (time): '2024-02-30 10:00'")
    assert sorted(found) == [7, 8]  # malformed rows: the reader's own words
    assert all(reason.startswith("malformed row: ") for _, reason in found.values())


def test_good_rows_are_stored_around_the_bad_ones(bad_orders: Workspace) -> None:
    assert rows(bad_orders, "orders", "order_id", "amount") == [
        {"order_id": "o1", "amount": 10.0}, {"order_id": "o11", "amount": 10.0},
        {"order_id": "o8", "amount": 10.0}]


def test_a_quarantined_row_keeps_its_file_and_raw_values(bad_orders: Workspace,
                                                         tmp_path: Path) -> None:
    q = bad_orders.quarantine("orders").to_pyarrow().to_pylist()
    assert {r["file"] for r in q} == {str(tmp_path / "orders.csv")}
    by_line = {r["line"]: r for r in q}
    assert json.loads(by_line[5]["raw"]) == {
        "order_id": "o4", "customer_id": "c4", "created_at": "2024-03-01 10:00",
        "status": "paid", "amount": "ten"}
    assert by_line[8]["raw"] == "o7,c7,2024-03-01 10:00,paid,10,extra"
    assert {r["load_id"] for r in q} == {bad_orders.loads().to_pyarrow()["load_id"][0].as_py()}


def test_the_report_names_the_commonest_reasons(ws: Workspace, tmp_path: Path) -> None:
    report = load(ws, "orders", write_csv(tmp_path / "orders.csv", BAD_ORDERS))
    reasons = dict(report.reasons)
    assert reasons["unparseable created_at (time): '…'"] == 2
    assert len(report.reasons) == 5


def test_line_numbers_stay_exact_after_many_malformed_rows(ws: Workspace,
                                                           tmp_path: Path) -> None:
    lines = ["order_id,customer_id,created_at"]
    expected = []
    for i in range(2, 40):
        if i % 5 == 0:
            lines.append(f"m{i},c,2024-03-01,surplus")  # malformed
            expected.append((i, "malformed"))
        elif i % 7 == 0:
            lines.append(f"b{i},c,never")  # bad time
            expected.append((i, "unparseable created_at (time): 'never'"))
        else:
            lines.append(f"g{i},c,2024-03-01")
    report = load(ws, "orders", write_csv(tmp_path / "orders.csv", lines))
    assert report.quarantined == len(expected)
    found = [(line, "malformed" if reason.startswith("malformed row") else reason)
             for _, line, _, reason in quarantined(ws)]
    assert found == expected


def test_event_rows_are_quarantined_with_exact_lines_too(ws: Workspace, tmp_path: Path) -> None:
    lines = [
        "event_time,customer_id,event,duration_s",  # 1
        "2024-03-01 10:00,c1,view,3.5",              # 2
        "2024-03-01 10:01,c1,view,3.5,extra",        # 3 malformed
        "2024-03-01 10:02,,cart,1",                  # 4 missing customer_id
        "noon,c2,view,1",                            # 5 bad time
        "2024-03-01 10:03,c2,view,slow",             # 6 bad number
        "2024-03-01 10:04,c2,,1",                    # 7 missing event
        "2024-03-01 10:05,c3,pay,2",                 # 8
    ]
    report = load(ws, "events", write_csv(tmp_path / "events.csv", lines))
    assert (report.read, report.stored, report.quarantined) == (7, 2, 5)
    found = quarantined(ws, "events")
    assert [(line, column) for _, line, column, _ in found if line != 3] == [
        (4, "customer_id"), (5, "event_time"), (6, "duration_s"), (7, "event")]
    assert [line for _, line, _, reason in found if reason.startswith("malformed row")] == [3]


def test_events_loaded_next_to_stored_ones_keep_exact_lines(ws: Workspace,
                                                           tmp_path: Path) -> None:
    first = write_csv(tmp_path / "day1.csv", ["event_time,customer_id,event",
                                              "2024-03-01 10:00,c1,view"])
    load(ws, "events", first)
    second = write_csv(tmp_path / "day2.csv", [
        "event_time,customer_id,event",
        "2024-03-01 10:00,c1,view",       # already stored: unchanged
        "2024-03-02 10:00,c1,view,x",     # malformed
        "2024-03-02 11:00,c2,cart",
        "2024-03-02 12:00,,cart",         # missing customer
    ])
    report = load(ws, "events", second)
    assert counts(report) == {"read": 4, "stored": 2, "inserted": 1, "unchanged": 1,
                              "merged": 0, "updated": 0, "quarantined": 2}
    assert [(f, line) for f, line, _, _ in quarantined(ws)] == [("day2.csv", 3), ("day2.csv", 5)]


def test_an_order_item_of_an_unknown_order_is_quarantined(ws: Workspace, tmp_path: Path) -> None:
    load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at", "o1,c1,2024-03-01"]))
    report = load(ws, "order_items", write_csv(tmp_path / "items.csv", [
        "order_id,product_id,quantity,unit_price",
        "o1,p1,2,9.5",
        "o2,p1,1,9.5",
        "o1,,1,1",
        "o1,p2,two,1",
    ]))
    assert (report.read, report.stored, report.quarantined) == (4, 1, 3)
    assert quarantined(ws, "order_items") == [
        ("items.csv", 3, "order_id", "unknown order_id 'o2': load its orders first"),
        ("items.csv", 4, "product_id", "missing product_id"),
        ("items.csv", 5, "quantity", "unparseable quantity (int): 'two'"),
    ]


def test_an_unknown_customer_is_quarantined_when_the_shop_asks(ws: Workspace,
                                                               tmp_path: Path) -> None:
    ws.set(unknown_customers="quarantine")
    load(ws, "customers", write_csv(tmp_path / "customers.csv", ["customer_id", "c1"]))
    orders = load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at", "o1,c1,2024-03-01", "o2,stranger,2024-03-01"]))
    events = load(ws, "events", write_csv(tmp_path / "events.csv", [
        "event_time,customer_id,event", "2024-03-01 10:00,c1,view",
        "2024-03-01 10:00,stranger,view"]))
    assert (orders.stored, orders.quarantined, orders.customers_added) == (1, 1, 0)
    assert (events.stored, events.quarantined, events.customers_added) == (1, 1, 0)
    reason = "unknown customer_id 'stranger': load customers first"
    assert quarantined(ws) == [("events.csv", 3, "customer_id", reason),
                               ("orders.csv", 3, "customer_id", reason)]
    assert rows(ws, "customers", "customer_id") == [{"customer_id": "c1"}]


def test_an_unknown_customer_is_added_bare_by_default(ws: Workspace, tmp_path: Path) -> None:
    report = load(ws, "orders", write_csv(tmp_path / "orders.csv", [
        "order_id,customer_id,created_at", "o1,c1,2024-03-01", "o2,c1,2024-03-02",
        "o3,c2,2024-03-02"]))
    assert report.customers_added == 2
    assert report.quarantined == 0
    assert rows(ws, "customers", "customer_id", "city") == [
        {"customer_id": "c1", "city": None}, {"customer_id": "c2", "city": None}]


def test_values_that_break_a_column_kind_are_quarantined(ws: Workspace, tmp_path: Path) -> None:
    report = load(ws, "customers", write_csv(tmp_path / "customers.csv", [
        "customer_id,member_level,city_tier,has_children,birthday",
        "c1,V3,1,是,1990-05-01",
        "c2,VIP,1,no,1990-05-01",
        "c3,v2,first,no,1990-05-01",
        "c4,2,2,maybe,1990-05-01",
        "c5,V0,3,false,someday",
    ]))
    assert (report.stored, report.quarantined) == (1, 4)
    assert [(line, column, reason) for _, line, column, reason in quarantined(ws)] == [
        (3, "member_level", "member_level 'VIP' is not one of V0..V6"),
        (4, "city_tier", "unparseable city_tier (int): 'first'"),
        (5, "has_children", "unparseable has_children (bool): 'maybe'"),
        (6, "birthday", "unparseable birthday (date): 'someday'"),
    ]
