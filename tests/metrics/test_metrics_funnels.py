"""Funnels: ordered steps in a window, loose vs strict, split by channel, drop-outs (SPEC §2.8)."""

from __future__ import annotations

import datetime as dt

import pytest

from kequn.metrics import MetricError, Metrics
from kequn.metrics.funnels import FunnelSpec

ts = dt.datetime.fromisoformat
AS_OF = ts("2024-03-31 23:00")


def ev(c, t, e, ch="app"):
    return {"customer_id": c, "event_time": ts(t), "event": e, "channel": ch}


EVENTS = [
    # a: visit, view, (search), cart -> loose reaches cart; strict stops at view
    ev("a", "2024-03-01 10:00", "visit"), ev("a", "2024-03-01 10:01", "view"),
    ev("a", "2024-03-01 10:02", "search"), ev("a", "2024-03-01 10:03", "cart"),
    # b: cart before view -> only visit, view in order
    ev("b", "2024-03-01 10:00", "visit", "web"), ev("b", "2024-03-01 10:05", "cart", "web"),
    ev("b", "2024-03-01 10:06", "view", "web"),
    # c: view on the next day, cart 19 days later (outside the 7-day window)
    ev("c", "2024-03-01 10:00", "visit"), ev("c", "2024-03-02 10:05", "view"),
    ev("c", "2024-03-20 10:05", "cart"),
    # d: a first visit with nothing after, a second visit that converts within the window
    ev("d", "2024-03-03 10:00", "visit"), ev("d", "2024-03-15 10:00", "visit"),
    ev("d", "2024-03-15 10:10", "view"), ev("d", "2024-03-16 10:10", "cart"),
]
ORDERS = [{"order_id": "o1", "customer_id": "a", "created_at": ts("2024-03-01 10:04"),
           "paid_at": ts("2024-03-01 10:05"), "amount": 10.0, "channel": "app"}]


@pytest.fixture
def shop(make_shop):
    return make_shop(customers=[{"customer_id": c} for c in "abcd"], events=EVENTS,
                     orders=ORDERS)


def counts(result):
    return [r["customers"] for r in result.to_pylist()]


def test_loose_funnel_counts_the_furthest_step_within_the_window(shop):
    result = FunnelSpec(as_of=AS_OF).run(shop)
    # visit 4; view a b c d; cart a d; order a (from orders); pay a (paid order)
    assert counts(result) == [4, 4, 2, 1, 1]
    rows = result.to_pylist()
    assert rows[2]["conversion"] == 0.5
    assert rows[2]["overall"] == 0.5
    assert [r["dropped"] for r in rows] == [0, 2, 1, 0, 0]


def test_strict_funnel_needs_each_step_to_be_the_next_action(shop):
    result = FunnelSpec(as_of=AS_OF, order="strict").run(shop)
    # a: visit, view, then search breaks it; b: visit, cart breaks; c: visit, view, cart
    # too late; d: second visit, view, cart consecutive
    assert counts(result) == [4, 3, 1, 0, 0]


def test_a_shorter_window_drops_slow_customers(shop):
    result = FunnelSpec(as_of=AS_OF, conversion_days=0.5, steps=("visit", "view")).run(shop)
    assert counts(result) == [4, 3]  # c viewed a day after the visit


def test_funnel_split_by_entry_channel(shop):
    result = FunnelSpec(as_of=AS_OF, by="channel", steps=("visit", "view", "cart")).run(shop)
    rows = {(r["channel"], r["event"]): r["customers"] for r in result.to_pylist()}
    assert rows == {("app", "visit"): 3, ("app", "view"): 3, ("app", "cart"): 2,
                    ("web", "visit"): 1, ("web", "view"): 1, ("web", "cart"): 0}


def test_dropouts_are_the_customers_who_stopped_at_a_step(shop):
    m = Metrics(shop)
    dropped = m.funnel_dropouts("view", as_of=AS_OF, start="2024-03-01")
    assert sorted(dropped.to_pyarrow().column("customer_id").to_pylist()) == ["b", "c"]
    assert sorted(m.funnel_dropouts(3, as_of=AS_OF, start="2024-03-01").to_pyarrow()
                  .column("customer_id").to_pylist()) == ["d"]


def test_dropouts_after_the_last_step_is_an_error(shop):
    with pytest.raises(MetricError, match="last step"):
        Metrics(shop).funnel_dropouts("pay", as_of=AS_OF)


def test_a_funnel_needs_two_steps(shop):
    with pytest.raises(MetricError, match="at least two"):
        Metrics(shop).funnel(as_of=AS_OF, steps=("visit",))
