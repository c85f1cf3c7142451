"""Repurchase cycles per product and per category (what ``repurchase_due`` uses)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ibis
import pytest

from kequn.clv import category_repurchase_cycles, product_repurchase_cycles
from kequn.schema.conventions import parse_as_of
from kequn.workspace import Workspace

AS_OF = parse_as_of("2024-04-30")

# order id, customer, paid at (None = unpaid), status, products
ORDERS: list[tuple[str, str, str | None, str, list[str]]] = [
    ("o1", "c1", "2024-01-01 00:00", "paid", ["p1", "p3"]),
    ("o2", "c1", "2024-01-31 00:00", "paid", ["p1"]),
    ("o3", "c1", "2024-03-01 00:00", "paid", ["p1", "p2"]),
    ("o4", "c2", "2024-01-10 00:00", "paid", ["p1"]),
    ("o5", "c2", "2024-01-20 12:00", "paid", ["p1"]),
    ("o6", "c2", "2024-01-25 00:00", "refunded", ["p1"]),
    ("o7", "c3", "2024-02-01 00:00", "paid", ["p2"]),
    ("o8", "c3", None, "cancelled", ["p2"]),
    ("o9", "c3", "2024-02-11 00:00", "paid", ["p3"]),
    ("o10", "c3", "2024-05-01 00:00", "paid", ["p2"]),  # after as_of
    ("o11", "c4", "2024-02-01 00:00", "paid", ["p4"]),
    ("o12", "c4", "2024-02-15 00:00", "paid", ["p4"]),
    ("o13", "c5", "2024-03-01 00:00", "paid", ["p1", "p2"]),
    ("o14", "c5", "2024-03-05 00:00", "paid", ["p2"]),
]
PRODUCTS = [{"product_id": "p1", "category": "A"}, {"product_id": "p2", "category": "A"},
            {"product_id": "p3", "category": "B"}]  # p4 is not in the catalogue


@pytest.fixture
def shop(make_shop: Callable[..., Workspace]) -> Workspace:
    orders, items = [], []
    for oid, customer, paid, status, products in ORDERS:
        at = dt.datetime.fromisoformat(paid) if paid else dt.datetime(2024, 2, 1)
        orders.append({"order_id": oid, "customer_id": customer, "created_at": at,
                       "paid_at": at if paid else None, "status": status, "amount": 10.0})
        items += [{"order_id": oid, "product_id": p, "quantity": 1} for p in products]
    return make_shop(orders=orders, order_items=items, products=PRODUCTS)


def by_key(expr: ibis.Table, key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in expr.to_pyarrow().to_pylist()}


def tables(ws: Workspace) -> tuple[ibis.Table, ibis.Table, ibis.Table]:
    return ws.table("orders"), ws.table("order_items"), ws.table("products")


def test_product_cycles(shop: Workspace) -> None:
    t = product_repurchase_cycles(*tables(shop), as_of=AS_OF)
    assert t.columns == ("product_id", "category", "buyers", "repeat_buyers",
                         "repurchase_rate", "median_interval_days")
    rows = by_key(t, "product_id")
    assert set(rows) == {"p1", "p2", "p3", "p4"}
    p1 = rows["p1"]
    # c1 every 30 days, c2 once after 10.5 days (its refunded order does not count), c5 once
    assert (p1["category"], p1["buyers"], p1["repeat_buyers"]) == ("A", 3, 2)
    assert p1["repurchase_rate"] == pytest.approx(2 / 3)
    assert p1["median_interval_days"] == pytest.approx((30 + 10.5) / 2)
    # p2: c3's cancelled and later orders do not count; c5 bought it twice, 4 days apart
    assert (rows["p2"]["buyers"], rows["p2"]["repeat_buyers"]) == (3, 1)
    assert rows["p2"]["median_interval_days"] == pytest.approx(4.0)
    assert rows["p3"]["repurchase_rate"] == 0.0
    assert rows["p3"]["median_interval_days"] is None
    assert rows["p4"]["category"] is None
    assert rows["p4"]["median_interval_days"] == pytest.approx(14.0)


def test_category_cycles(shop: Workspace) -> None:
    rows = by_key(category_repurchase_cycles(*tables(shop), as_of=AS_OF), "category")
    assert set(rows) == {"A", "B"}  # p4 has no category
    a = rows["A"]
    # c1 (3 orders with A), c2 (2), c5 (2) repeat; c3 bought A once
    assert (a["buyers"], a["repeat_buyers"], a["repurchase_rate"]) == (4, 3, 0.75)
    assert a["median_interval_days"] == pytest.approx(10.5)  # of 30, 10.5 and 4
    assert (rows["B"]["buyers"], rows["B"]["repeat_buyers"]) == (2, 0)


def test_as_of_moves_the_cycles(shop: Workspace) -> None:
    rows = by_key(product_repurchase_cycles(*tables(shop), as_of=parse_as_of("2024-01-31")),
                  "product_id")
    assert set(rows) == {"p1", "p3"}
    assert rows["p1"]["median_interval_days"] == pytest.approx((30 + 10.5) / 2)
