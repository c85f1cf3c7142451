"""Conversion 转化 and new vs returning 新老客, worked out by hand (SPEC §2.5, §2.6)."""

from __future__ import annotations

import datetime as dt

import pytest

from kequn.metrics import Metrics

ts = dt.datetime.fromisoformat
AS_OF = "2024-03-31"


def order(i, c, t, amount, paid=True, status=None):
    return {"order_id": i, "customer_id": c, "created_at": ts(t),
            "paid_at": ts(t) if paid else None, "amount": amount, "status": status}


@pytest.fixture
def shop(make_shop):
    customers = [{"customer_id": "a", "source_channel": "ads"},
                 {"customer_id": "b", "source_channel": "ads"},
                 {"customer_id": "c", "source_channel": "seo"},
                 {"customer_id": "d"}]
    events = [{"customer_id": c, "event_time": ts(t), "event": "visit"}
              for c, t in [("a", "2024-02-01"), ("b", "2024-03-01"), ("c", "2024-03-05"),
                           ("d", "2024-03-06")]]
    orders = [order("1", "a", "2024-02-01", 100.0), order("2", "a", "2024-03-02", 50.0),
              order("3", "a", "2024-03-03", 30.0), order("4", "b", "2024-03-01", 20.0),
              order("5", "c", "2024-03-05", 10.0, paid=False),
              order("6", "d", "2024-03-07", 99.0, status="cancelled")]
    costs = [{"date": dt.date(2024, 3, 1), "channel": "ads", "cost": 40.0},
             {"date": dt.date(2024, 3, 2), "channel": "seo", "cost": 10.0},
             {"date": dt.date(2024, 4, 2), "channel": "seo", "cost": 999.0}]
    return make_shop(customers=customers, events=events, orders=orders, marketing_costs=costs)


def test_conversion_of_one_month(shop):
    (row,) = Metrics(shop).conversion(as_of=AS_OF).to_pylist()
    # visitors in March: a (orders), b, c, d -> 4; ordering a b c d (d's order was cancelled
    # but it was placed) -> 4; paying a, b -> 2, revenue 50 + 30 + 20 = 100 over 3 orders
    assert row["visitors"] == 4
    assert row["ordering_users"] == 4
    assert (row["paying_users"], row["paid_orders"], row["revenue"]) == (2, 3, 100.0)
    assert row["pay_rate"] == 0.5
    assert row["arpu"] == 25.0
    assert row["arppu"] == 50.0
    assert row["aov"] == pytest.approx(100 / 3)
    assert row["first_purchase_users"] == 1  # b; a first paid in February
    assert (row["repurchase_users"], row["repurchase_rate"]) == (1, 0.5)  # a paid twice


def test_conversion_split_by_source_channel(shop):
    rows = {r["source_channel"]: r for r in
            Metrics(shop).conversion(as_of=AS_OF, by="source_channel").to_pylist()}
    assert set(rows) == {"ads", "seo", "unknown"}
    assert rows["ads"]["paying_users"] == 2
    assert rows["seo"]["paying_users"] == 0
    assert rows["unknown"]["visitors"] == 1


def test_new_and_returning_per_month(shop):
    rows = Metrics(shop).new_returning(as_of=AS_OF, start="2024-02-01").to_pylist()
    feb, mar = rows
    assert (feb["buyers"], feb["new_customers"], feb["returning_customers"]) == (1, 1, 0)
    assert (mar["buyers"], mar["new_customers"], mar["returning_customers"]) == (2, 1, 1)
    assert mar["new_revenue"] == 20.0
    assert mar["returning_revenue"] == 80.0
    assert mar["marketing_cost"] == 50.0
    assert mar["acquisition_cost"] == 50.0
    assert mar["new_customer_aov"] == 20.0
    assert mar["returning_share_buyers"] == 0.5
    assert mar["returning_share_revenue"] == 0.8
    assert mar["returning_frequency"] == 2.0
    assert mar["returning_monetary"] == 80.0
    assert mar["returning_recency_days"] == 30.0  # a: Feb 1 -> Mar 2
    assert mar["prior_buyers"] == 1
    assert mar["repeat_purchase_rate"] == 1.0


def test_acquisition_cost_split_by_channel_matches_costs_to_source_channels(shop):
    rows = {r["channel"]: r for r in
            Metrics(shop).new_returning(as_of=AS_OF, by="channel").to_pylist()}
    assert rows["ads"]["marketing_cost"] == 40.0
    assert rows["ads"]["new_customers"] == 1
    assert rows["ads"]["acquisition_cost"] == 40.0
    assert rows["seo"]["marketing_cost"] == 10.0
    assert rows["seo"]["acquisition_cost"] is None


def test_a_segment_narrows_every_input(shop):
    import ibis

    seg = ibis.memtable({"customer_id": ["a"]})
    (row,) = Metrics(shop).conversion(as_of=AS_OF, segment=seg).to_pylist()
    assert (row["visitors"], row["paying_users"], row["revenue"]) == (1, 1, 80.0)
