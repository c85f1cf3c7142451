"""User attributes (with the share unknown, age bands) and user group counts (SPEC §2.1-2.2)."""

from __future__ import annotations

import datetime as dt

from kequn.metrics import Metrics

ts = dt.datetime.fromisoformat


def test_attribute_distribution_keeps_unknowns_and_bands_ages(make_shop):
    customers = [
        {"customer_id": "a", "gender": "f", "birthday": dt.date(2000, 3, 31)},  # 24 at 03-31
        {"customer_id": "b", "gender": "f", "birthday": dt.date(2000, 4, 1)},   # still 23
        {"customer_id": "c", "gender": "", "birthday": dt.date(1960, 1, 1)},    # 64
        {"customer_id": "d", "gender": None},
        {"customer_id": "e", "gender": "m", "registered_at": ts("2025-01-01")},  # not yet
    ]
    ws = make_shop(customers=customers)
    rows = Metrics(ws).attributes(as_of="2024-03-31", attributes=("gender", "age_band"))
    got = {(r["attribute"], r["value"]): (r["customers"], r["share"]) for r in rows.to_pylist()}
    assert got == {("gender", "f"): (2, 0.5), ("gender", "unknown"): (2, 0.5),
                   ("age_band", "18–24"): (2, 0.5), ("age_band", "60+"): (1, 0.25),
                   ("age_band", "unknown"): (1, 0.25)}


def test_group_counts_over_a_month(make_shop):
    def ev(c, t, e):
        return {"customer_id": c, "event_time": ts(t), "event": e}

    def order(i, c, t, paid=True):
        return {"order_id": i, "customer_id": c, "created_at": ts(t),
                "paid_at": ts(t) if paid else None, "amount": 10.0}

    customers = [{"customer_id": "a", "registered_at": ts("2024-01-10"), "source_channel": "ads"},
                 {"customer_id": "b", "registered_at": ts("2024-03-02"), "source_channel": "ads"},
                 {"customer_id": "c", "registered_at": ts("2024-03-03")}]
    events = [ev("a", "2024-03-01", "visit"), ev("b", "2024-03-02", "visit"),
              ev("b", "2024-03-02 01:00", "cart"), ev("c", "2024-03-05", "visit")]
    orders = [order("1", "a", "2024-01-15"), order("2", "a", "2024-03-04"),
              order("3", "a", "2024-03-05"), order("4", "a", "2024-03-06"),
              order("5", "a", "2024-03-07"), order("6", "c", "2024-03-08"),
              order("7", "c", "2024-03-09", paid=False)]
    ws = make_shop(customers=customers, events=events, orders=orders)
    rows = Metrics(ws).groups(as_of="2024-03-31", period="month").to_pylist()
    got = {(r["group"], r["value"]): r["customers"] for r in rows}
    assert got[("registered_new", None)] == 2
    assert got[("registered_total", None)] == 3
    assert got[("active_users", None)] == 3
    assert got[("ordering_users", None)] == 2
    assert got[("new_buyers", None)] == 1  # c; a first paid in January
    assert got[("buyers_total", None)] == 2
    assert got[("returning_buyers", None)] == 1  # a
    assert got[("dropout_order", None)] == 1  # b carted, never ordered
    assert got[("dropout_pay", None)] == 0  # c's unpaid order came after a paid one
    assert got[("rfm_junior", None)] == 1
    assert got[("rfm_mature", None)] == 1
    assert got[("source_channel", "ads")] == 2
    assert got[("source_channel", "unknown")] == 1
    rate = next(r["rate"] for r in rows if r["group"] == "ordering_users")
    assert rate == 2 / 3
