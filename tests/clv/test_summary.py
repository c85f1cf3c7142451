"""The summary query: paid orders only, one purchase per day, money kept apart from counting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ibis
import pytest

from kequn.clv import PredictionError, rfm_summary
from kequn.schema.conventions import parse_as_of
from kequn.workspace import Workspace

AS_OF = parse_as_of("2024-01-31")
ts = dt.datetime.fromisoformat


def order(oid: str, customer: str, paid: str | None, amount: float | None,
          status: str = "paid") -> dict[str, Any]:
    created = ts(paid) if paid else ts("2024-01-20")
    return {"order_id": oid, "customer_id": customer, "created_at": created,
            "paid_at": ts(paid) if paid else None, "status": status, "amount": amount}


ORDERS = [
    # c1: two orders on Jan 1 (one purchase of 150), a free sample on Jan 11, 80 on Jan 21,
    # a cancelled and a refunded order, and one paid after as_of
    order("o1", "c1", "2024-01-01 10:00", 100.0),
    order("o2", "c1", "2024-01-01 15:00", 50.0),
    order("o3", "c1", "2024-01-11 09:00", 0.0),
    order("o4", "c1", "2024-01-21 20:00", 80.0),
    order("o5", "c1", None, 60.0, status="cancelled"),
    order("o6", "c1", "2024-01-26 08:00", 999.0, status="refunded"),
    order("o7", "c1", "2024-02-05 08:00", 70.0),
    # c2: one purchase; c3: never paid; c4: a negative (refund) line, then a real order
    order("o8", "c2", "2024-01-15 12:00", 30.0),
    order("o9", "c3", None, 45.0, status="created"),
    order("o10", "c4", "2024-01-05 10:00", -20.0),
    order("o11", "c4", "2024-01-06 10:00", 40.0),
]


@pytest.fixture
def shop(make_shop: Callable[..., Workspace]) -> Workspace:
    return make_shop(orders=ORDERS)


def rows(expr: ibis.Table) -> dict[str, dict[str, Any]]:
    return {r["customer_id"]: r for r in expr.to_pyarrow().to_pylist()}


def test_one_purchase_per_day_from_paid_orders_only(shop: Workspace) -> None:
    s = rows(rfm_summary(shop.table("orders"), as_of=AS_OF))
    assert set(s) == {"c1", "c2", "c4"}  # c3 never paid
    c1 = s["c1"]
    assert c1["frequency"] == 2  # Jan 1 (two orders), Jan 11, Jan 21; refunded/cancelled out
    assert c1["recency"] == 20.0
    assert c1["T"] == 30.0
    assert c1["first_purchase_at"] == dt.datetime(2024, 1, 1)


def test_zero_and_negative_amounts_stay_out_of_monetary_value(shop: Workspace) -> None:
    s = rows(rfm_summary(shop.table("orders"), as_of=AS_OF))
    # c1's repeat purchases: the free sample (0, counted but not averaged) and 80
    assert s["c1"]["monetary_value"] == 80.0
    assert s["c1"]["monetary_frequency"] == 1
    assert s["c1"]["first_spend"] == 150.0  # the two Jan 1 orders together
    # c4's first purchase is a -20 refund line: it counts as a purchase, spends nothing
    assert s["c4"]["frequency"] == 1
    assert s["c4"]["first_spend"] == 0.0
    assert s["c4"]["monetary_value"] == 40.0


def test_one_time_buyer(shop: Workspace) -> None:
    c2 = rows(rfm_summary(shop.table("orders"), as_of=AS_OF))["c2"]
    assert (c2["frequency"], c2["recency"], c2["T"]) == (0, 0.0, 16.0)
    assert c2["monetary_value"] is None
    assert c2["monetary_frequency"] == 0


def test_every_order_counts_with_period_order(shop: Workspace) -> None:
    c1 = rows(rfm_summary(shop.table("orders"), as_of=AS_OF, period="order"))["c1"]
    assert c1["frequency"] == 3
    assert c1["recency"] == pytest.approx(20 + 10 / 24)  # Jan 1 10:00 -> Jan 21 20:00
    assert c1["monetary_value"] == pytest.approx((50 + 80) / 2)


def test_weeks_as_period_and_as_unit(shop: Workspace) -> None:
    c1 = rows(rfm_summary(shop.table("orders"), as_of=AS_OF, period="week",
                          time_unit="week"))["c1"]
    # ISO weeks starting Jan 1, Jan 8, Jan 15; as_of Jan 31 is in the week of Jan 29
    assert (c1["frequency"], c1["recency"], c1["T"]) == (2, 2.0, 4.0)


def test_as_of_ignores_later_orders(shop: Workspace) -> None:
    s = rows(rfm_summary(shop.table("orders"), as_of=parse_as_of("2024-01-10")))
    assert set(s) == {"c1", "c4"}
    assert s["c1"]["frequency"] == 0
    assert s["c1"]["T"] == 9.0


def test_calibration_split(shop: Workspace) -> None:
    s = rows(rfm_summary(shop.table("orders"), as_of=AS_OF,
                         calibration_end=parse_as_of("2024-01-15")))
    c1 = s["c1"]
    assert (c1["frequency"], c1["recency"], c1["T"]) == (1, 10.0, 14.0)
    assert c1["frequency_holdout"] == 1
    assert c1["monetary_value_holdout"] == 80.0
    assert c1["duration_holdout"] == 16.0
    assert s["c2"]["frequency_holdout"] == 0  # bought on the calibration end day: calibration
    assert s["c4"]["monetary_value_holdout"] is None


def test_summary_is_one_query(shop: Workspace) -> None:
    expr = rfm_summary(shop.table("orders"), as_of=AS_OF,
                       calibration_end=parse_as_of("2024-01-15"))
    sql = ibis.to_sql(expr, dialect="duckdb")
    assert "GROUP BY" in sql
    assert "2024" in sql  # as_of is a literal in the query, not a filter applied in Python


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period": "fortnight"}, "unknown period 'fortnight'"),
        ({"time_unit": "month"}, "unknown time unit 'month'"),
        ({"calibration_end": parse_as_of("2024-02-01")}, "is not before as_of"),
    ],
)
def test_bad_options_are_named(shop: Workspace, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PredictionError, match=message):
        rfm_summary(shop.table("orders"), as_of=AS_OF, **kwargs)
