"""Retention: cohort triangles worked out by hand (SPEC §2.4), N-day and store retention."""

from __future__ import annotations

import datetime as dt

from kequn.metrics.retention import DayRetentionSpec, RepurchaseRetentionSpec, RetentionSpec

ts = dt.datetime.fromisoformat


def visit(c: str, t: str) -> dict:
    return {"customer_id": c, "event_time": ts(t), "event": "visit"}


# Week cohorts (Mondays): a, b first visit week of 2024-03-04; c week of 03-11; d week of 03-18.
#   a: weeks 0, 1, 3      b: weeks 0, 2      c: weeks 0, 1      d: week 0
EVENTS = [
    visit("a", "2024-03-04 10:00"), visit("a", "2024-03-12 10:00"), visit("a", "2024-03-27 09:00"),
    visit("b", "2024-03-10 22:00"), visit("b", "2024-03-19 08:00"),
    visit("c", "2024-03-11 00:00"), visit("c", "2024-03-20 12:00"),
    visit("d", "2024-03-24 23:59"),
]
AS_OF = ts("2024-03-27 23:59")  # in the 4th week after 03-04 (week index 3)


def cells(result, value="retained"):
    return {(r["cohort_start"].isoformat(), r["period"]): r[value] for r in result.to_pylist()}


def test_weekly_cohorts_active_in_period_n_form_a_triangle(make_shop):
    ws = make_shop(customers=[{"customer_id": c} for c in "abcd"], events=EVENTS)
    result = RetentionSpec(as_of=AS_OF, period="week", action="visit", periods=3).run(ws)
    # cohort      size  p0  p1  p2  p3
    # 2024-03-04     2   2   1   1   1
    # 2024-03-11     1   1   1   0
    # 2024-03-18     1   1   0
    # 2024-03-25     0   (no cohort: d's first visit 03-24 is a Sunday, so week 03-18)
    assert cells(result) == {
        ("2024-03-04", 0): 2, ("2024-03-04", 1): 1, ("2024-03-04", 2): 1, ("2024-03-04", 3): 1,
        ("2024-03-11", 0): 1, ("2024-03-11", 1): 1, ("2024-03-11", 2): 0,
        ("2024-03-18", 0): 1, ("2024-03-18", 1): 0,
    }
    sizes = {r["cohort_start"].isoformat(): r["cohort_size"] for r in result.to_pylist()}
    assert sizes == {"2024-03-04": 2, "2024-03-11": 1, "2024-03-18": 1}
    assert cells(result, "rate")[("2024-03-04", 1)] == 0.5


def test_within_mode_counts_any_return_up_to_period_n(make_shop):
    ws = make_shop(customers=[{"customer_id": c} for c in "abcd"], events=EVENTS)
    result = RetentionSpec(as_of=AS_OF, period="week", action="visit", periods=3,
                           mode="within").run(ws)
    # 03-04 cohort: a returns in week 1, b first in week 2 -> within 1: 1, within 2: 2, 3: 2
    assert cells(result) == {
        ("2024-03-04", 0): 2, ("2024-03-04", 1): 1, ("2024-03-04", 2): 2, ("2024-03-04", 3): 2,
        ("2024-03-11", 0): 1, ("2024-03-11", 1): 1, ("2024-03-11", 2): 1,
        ("2024-03-18", 0): 1, ("2024-03-18", 1): 0,
    }


def test_cohort_by_any_action_puts_a_customer_in_every_active_period(make_shop):
    ws = make_shop(customers=[{"customer_id": c} for c in "abcd"], events=EVENTS)
    result = RetentionSpec(as_of=AS_OF, period="week", action="visit", periods=1,
                           cohort_by="any", start=dt.datetime(2024, 3, 11)).run(ws)
    # week 03-11: a, b? (b's 03-10 is week 03-04), c -> {a, c}; returning next week: c only
    # week 03-18: b, c, d -> returning in week 03-25: none of them (a is not in the cohort)
    # week 03-25: a -> period 1 not reached by as_of
    assert cells(result) == {
        ("2024-03-11", 0): 2, ("2024-03-11", 1): 1,
        ("2024-03-18", 0): 3, ("2024-03-18", 1): 0,
        ("2024-03-25", 0): 1,
    }


def test_purchase_retention_uses_paid_orders_only(make_shop):
    orders = [
        {"order_id": "1", "customer_id": "a", "created_at": ts("2024-01-05"),
         "paid_at": ts("2024-01-05"), "amount": 10.0},
        {"order_id": "2", "customer_id": "a", "created_at": ts("2024-02-05"),
         "paid_at": ts("2024-02-05"), "amount": 10.0},
        {"order_id": "3", "customer_id": "b", "created_at": ts("2024-01-07"),
         "paid_at": ts("2024-01-07"), "amount": 10.0},
        # b's February order was refunded: not a purchase
        {"order_id": "4", "customer_id": "b", "created_at": ts("2024-02-07"),
         "paid_at": ts("2024-02-07"), "status": "refunded", "amount": 10.0},
    ]
    ws = make_shop(customers=[{"customer_id": "a"}, {"customer_id": "b"}], orders=orders)
    result = RetentionSpec(as_of=ts("2024-02-29 23:00"), period="month", action="purchase",
                           periods=1).run(ws)
    assert cells(result) == {("2024-01-01", 0): 2, ("2024-01-01", 1): 1}


def test_day_retention_pools_daily_cohorts_that_reached_day_n(make_shop):
    events = [visit("a", "2024-03-01 10:00"), visit("a", "2024-03-02 10:00"),
              visit("b", "2024-03-01 12:00"), visit("b", "2024-03-08 12:00"),
              visit("c", "2024-03-09 12:00"), visit("c", "2024-03-10 12:00")]
    ws = make_shop(customers=[{"customer_id": c} for c in "abc"], events=events)
    result = DayRetentionSpec(as_of=ts("2024-03-10 23:00"), action="visit", days=(1, 7)).run(ws)
    rows = {r["day"]: (r["cohort_customers"], r["retained"]) for r in result.to_pylist()}
    # day 1: cohorts 03-01 (a, b) and 03-09 (c) reached it; a and c came back -> 2 of 3
    # day 7: only the 03-01 cohort reached it; b came back on 03-08 -> 1 of 2
    assert rows == {1: (3, 2), 7: (2, 1)}


def test_store_repurchase_retention_by_member_band(make_shop):
    def paid(i, c, t):
        return {"order_id": i, "customer_id": c, "created_at": ts(t), "paid_at": ts(t),
                "amount": 50.0}

    customers = [{"customer_id": "a", "member_level": "V0"},
                 {"customer_id": "b", "member_level": "V2"},
                 {"customer_id": "c", "member_level": "V3"},
                 {"customer_id": "d", "member_level": "V5"}]
    orders = [paid("1", "a", "2023-10-01"), paid("2", "b", "2023-11-01"),
              paid("3", "b", "2024-03-01"), paid("4", "c", "2023-12-01"),
              paid("5", "d", "2023-12-15"), paid("6", "d", "2024-01-15"),
              paid("7", "a", "2023-01-01")]  # a's 2023-01 order is outside the 180-day half
    ws = make_shop(customers=customers, orders=orders)
    spec = RepurchaseRetentionSpec(as_of=ts("2024-06-30 00:00"), date=ts("2024-01-01 00:00"))
    (overall,) = spec.run(ws).to_pylist()
    assert (overall["buyers_before"], overall["bought_again"]) == (4, 2)
    assert overall["rate"] == 0.5
    assert overall["complete"] is True
    banded = RepurchaseRetentionSpec(as_of=ts("2024-06-30 00:00"), date=ts("2024-01-01 00:00"),
                                     by="member_band").run(ws)
    rows = {r["member_band"]: (r["buyers_before"], r["bought_again"]) for r in banded.to_pylist()}
    assert rows == {"V0": (1, 0), "V1–V3": (2, 1), "V4+": (1, 1)}


def test_store_repurchase_retention_flags_an_unfinished_after_half(make_shop):
    ws = make_shop(customers=[{"customer_id": "a"}])
    result = RepurchaseRetentionSpec(as_of=ts("2024-03-01"), date=ts("2024-02-01")).run(ws)
    assert result.to_pylist()[0]["complete"] is False
    assert result.notes
