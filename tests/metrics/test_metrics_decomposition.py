"""Sales decomposition: visitors × conversion × 客单价, parts summing to the change (seed 003)."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kequn.metrics import Metrics
from kequn.metrics.decomposition import Factors, decompose, lmdi, shapley

ts = dt.datetime.fromisoformat


def test_lmdi_matches_the_textbook_formula():
    before, after = Factors(100, 10, 1000.0), Factors(200, 10, 1500.0)
    ev, ec, ea = lmdi(before, after)
    weight = (1500 - 1000) / math.log(1500 / 1000)
    assert ev == pytest.approx(weight * math.log(2))
    assert ec == pytest.approx(weight * math.log(0.5))
    assert ea == pytest.approx(weight * math.log(150 / 100))
    assert ev + ec + ea == pytest.approx(500)


def test_zero_factors_fall_back_to_shapley():
    effects, used = decompose(Factors(0, 0, 0.0), Factors(10, 2, 50.0), "lmdi")
    assert used == "shapley"
    assert sum(effects) == pytest.approx(50.0)


factors = st.builds(Factors, st.integers(0, 10_000), st.integers(0, 10_000),
                    st.floats(0, 1e7, allow_nan=False)).filter(
    lambda f: f.buyers <= f.visitors and (f.buyers > 0 or f.revenue == 0))


@given(factors, factors)
def test_parts_always_sum_exactly_to_the_revenue_change(a, b):
    for method in ("lmdi", "shapley"):
        effects, _ = decompose(a, b, method)
        assert sum(effects) == pytest.approx(b.revenue - a.revenue, rel=1e-9, abs=1e-6)
    assert sum(shapley(a, b)) == pytest.approx(b.revenue - a.revenue, rel=1e-9, abs=1e-6)


def test_weekly_decomposition_from_the_shop(make_shop):
    def visit(c, t):
        return {"customer_id": c, "event_time": ts(t), "event": "visit"}

    def paid(i, c, t, amount):
        return {"order_id": i, "customer_id": c, "created_at": ts(t), "paid_at": ts(t),
                "amount": amount}

    # previous week (03-04..03-10): visitors a, b; buyer a 100
    # this week (03-11..03-17): visitors a, b, c, d; buyers a 60, c 60
    events = [visit("a", "2024-03-04"), visit("b", "2024-03-05"), visit("a", "2024-03-11"),
              visit("b", "2024-03-12"), visit("c", "2024-03-13"), visit("d", "2024-03-14")]
    orders = [paid("1", "a", "2024-03-04 10:00", 100.0), paid("2", "a", "2024-03-11 10:00", 60.0),
              paid("3", "c", "2024-03-13 10:00", 60.0)]
    ws = make_shop(customers=[{"customer_id": c} for c in "abcd"], events=events, orders=orders)
    (row,) = Metrics(ws).decomposition(as_of="2024-03-17", period="week").to_pylist()
    assert (row["revenue_previous"], row["revenue_current"]) == (100.0, 120.0)
    assert (row["visitors_previous"], row["visitors_current"]) == (2, 4)
    assert (row["conversion_previous"], row["conversion_current"]) == (0.5, 0.5)
    assert (row["arppu_previous"], row["arppu_current"]) == (100.0, 60.0)
    assert row["effect_conversion"] == pytest.approx(0.0)
    total = row["effect_visitors"] + row["effect_conversion"] + row["effect_arppu"]
    assert total == pytest.approx(20.0)
    assert row["main_driver"] == "visitors"
    assert row["effect_visitors"] > 0 > row["effect_arppu"]
