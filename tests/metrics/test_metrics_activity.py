"""Activity 活跃: DAU/WAU/MAU, active rates, active days (SPEC §2.3)."""

from __future__ import annotations

import datetime as dt

from kequn.metrics import Metrics

ts = dt.datetime.fromisoformat


def ev(c, t, e="visit"):
    return {"customer_id": c, "event_time": ts(t), "event": e}


def shop(make_shop):
    customers = [{"customer_id": "a", "registered_at": ts("2024-02-20")},
                 {"customer_id": "b", "registered_at": ts("2024-03-05 09:00")},
                 {"customer_id": "c"},  # no registration time: first activity counts
                 {"customer_id": "z", "registered_at": ts("2024-05-01")}]  # after as_of
    events = [ev("a", "2024-03-04 10:00"), ev("a", "2024-03-05 10:00", "login"),
              ev("b", "2024-03-05 09:30"), ev("b", "2024-03-05 21:00"),
              ev("c", "2024-03-06 08:00"), ev("c", "2024-03-11 08:00")]
    orders = [{"order_id": "1", "customer_id": "c", "created_at": ts("2024-03-06 08:10"),
               "paid_at": ts("2024-03-06 08:20"), "amount": 9.0}]
    return make_shop(customers=customers, events=events, orders=orders)


def test_daily_active_users_and_rates(make_shop):
    ws = shop(make_shop)
    rows = Metrics(ws).activity(as_of="2024-03-06", start="2024-03-04", period="day",
                                actions=("visit", "purchase", "any")).to_pylist()
    got = {(r["period_start"].isoformat(), r["action"]): (r["active_users"], r["registered"])
           for r in rows}
    # registered by day's end: 03-04 a; 03-05 a, b; 03-06 a, b, c (c's first activity)
    assert got == {
        ("2024-03-04", "any"): (1, 1), ("2024-03-04", "purchase"): (0, 1),
        ("2024-03-04", "visit"): (1, 1),
        ("2024-03-05", "any"): (2, 2), ("2024-03-05", "purchase"): (0, 2),
        ("2024-03-05", "visit"): (1, 2),
        ("2024-03-06", "any"): (1, 3), ("2024-03-06", "purchase"): (1, 3),
        ("2024-03-06", "visit"): (1, 3),
    }
    rate = {(r["period_start"].isoformat(), r["action"]): r["active_rate"] for r in rows}
    assert rate[("2024-03-05", "any")] == 1.0
    assert rate[("2024-03-06", "visit")] == 1 / 3


def test_weekly_active_users_are_distinct_over_the_iso_week(make_shop):
    ws = shop(make_shop)
    rows = Metrics(ws).activity(as_of="2024-03-17", start="2024-03-04", period="week",
                                actions=("visit",)).to_pylist()
    assert [(r["period_start"].isoformat(), r["active_users"]) for r in rows] == [
        ("2024-03-04", 3), ("2024-03-11", 1)]


def test_active_days_distribution(make_shop):
    ws = shop(make_shop)
    rows = Metrics(ws).active_days(as_of="2024-03-31", period="month").to_pylist()
    # a: 03-04, 03-05 -> 2 days; b: 03-05 -> 1; c: 03-06, 03-11 -> 2
    assert [(r["active_days"], r["customers"]) for r in rows] == [(1, 1), (2, 2)]
    assert rows[1]["share"] == 2 / 3
