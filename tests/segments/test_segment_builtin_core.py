"""Built-in groups of SPEC §3 (seed 001's key groups, funnel drop-outs, lifecycle): exact members
on hand-made shops, boundaries included. as_of is 2024-06-30 12:00; ``ago(n)`` is n days before."""

from __future__ import annotations

import pytest
from segment_helpers import Shop, ago, labels, members

from kequn import segments as sg


def test_new_customers_one_paid_order_in_720_days_and_it_in_the_last_180(make_shop) -> None:
    s = Shop()
    s.order("recent", 10)
    s.order("at_180", 180)  # as_of - 180d exactly is not "in the last 180 days"
    s.order("just_inside", 179.9)
    s.order("old_at_720", 720)  # exactly 720 days before: outside the window
    s.order("old_at_720", 30)
    s.order("two_in_window", 719)
    s.order("two_in_window", 30)
    s.order("unpaid_extra", 30)
    s.order("unpaid_extra", None, created=20)  # never paid
    s.order("cancelled_extra", 30)
    s.order("cancelled_extra", 20, status="cancelled")
    s.order("refunded_extra", 30)
    s.order("refunded_extra", 20, status="refunded")
    s.order("paid_later", -2, created=10)  # placed before as_of, paid after it
    s.order("future_second", 30)
    s.order("future_second", -5)  # after as_of: ignored
    ws = s.build(make_shop)
    assert members(ws, "new_customers") == sorted([
        "recent", "just_inside", "old_at_720", "unpaid_extra", "cancelled_extra",
        "refunded_extra", "future_second"])


def test_new_customers_as_of_a_past_day_sees_what_the_shop_saw(make_shop) -> None:
    s = Shop()
    s.order("c", 30)
    s.order("c", 5)
    ws = s.build(make_shop)
    assert members(ws, "new_customers") == []
    assert members(ws, "new_customers", as_of=ago(20)) == ["c"]
    assert members(ws, "new_customers", as_of=ago(31)) == []


def _interest_shop() -> Shop:
    s = Shop().product("p1", "shoes", 100).product("p2", "shoes", 120)
    s.event("open", "cart", 5, "p1")
    s.event("bought_after", "cart", 5, "p1")
    s.order("bought_after", 3, products=("p1",))
    s.order("bought_before", 20, products=("p1",))
    s.event("bought_before", "cart", 5, "p1")
    s.event("fav_at_10", "favorite", 10, "p2")  # exactly 10 days: outside the window
    s.event("fav_inside", "favorite", 9.9, "p2")
    s.event("other_product", "cart", 5, "p1")
    s.order("other_product", 3, products=("p2",))
    s.event("bought_after_as_of", "cart", 5, "p1")
    s.order("bought_after_as_of", -1, created=1, products=("p1",))
    s.event("unpaid_order", "cart", 5, "p1")
    s.order("unpaid_order", None, created=3, products=("p1",))
    s.event("cancelled_order", "cart", 5, "p1")
    s.order("cancelled_order", 3, status="cancelled", products=("p1",))
    s.event("one_of_two_bought", "cart", 5, "p1")
    s.event("one_of_two_bought", "cart", 5, "p2")
    s.order("one_of_two_bought", 2, products=("p1",))
    s.event("cart_after_as_of", "cart", -1, "p1")
    s.event("just_viewed", "view", 2, "p1")
    return s


def test_interest_carted_or_favourited_and_none_of_those_products_bought_since(
        make_shop) -> None:
    ws = _interest_shop().build(make_shop)
    assert members(ws, "interest") == sorted([
        "open", "bought_before", "fav_inside", "other_product", "bought_after_as_of",
        "unpaid_order", "cancelled_order"])


def test_interest_window_is_a_parameter_of_the_rule(make_shop) -> None:
    ws = _interest_shop().build(make_shop)
    text = sg.get_segment(ws, "interest").text.replace("last: 10d", "last: 3d")
    assert members(ws, text) == []
    sg.save_segment(ws, "interest", text.replace("last: 3d", "last: 11d"), replace=True)
    assert "fav_at_10" in members(ws, "interest")


def _repurchase_shop() -> Shop:
    s = Shop()
    for pid in ("pr", "px", "py", "pz", "ps"):
        s.product(pid, "grocery", 10)
    # pr: 20 buyers, half of them again after 30 days -> the top repurchase rate
    for i in range(20):
        s.order(f"r{i}", 200, products=("pr",))
        if i < 10:
            s.order(f"r{i}", 170, products=("pr",))
    for i in range(20):  # px: 20 buyers, nobody again
        s.order(f"x{i}", 300, products=("px",))
    for i in range(20):  # py, pz: fewer repeats
        s.order(f"y{i}", 300, products=("py",))
        s.order(f"z{i}", 300, products=("pz",))
        if i < 2:
            s.order(f"y{i}", 250, products=("py",))
        if i < 4:
            s.order(f"z{i}", 280, products=("pz",))
    for i in range(5):  # ps: everyone again, but only 5 buyers
        s.order(f"s{i}", 100, products=("ps",))
        s.order(f"s{i}", 70, products=("ps",))
    s.order("due", 30, products=("pr",))  # median interval 30: due between 24 and 36 days
    s.order("due_edge", 36, products=("pr",))
    s.order("too_early", 10, products=("pr",))
    s.order("too_late", 37, products=("pr",))
    s.order("bought_again", 30, products=("pr",))
    s.order("bought_again", 5, products=("pr",))
    s.order("low_rate", 30, products=("px",))
    s.order("few_buyers", 30, products=("ps",))
    s.order("refunded", 30, status="refunded", products=("pr",))
    return s


def test_repurchase_due_in_the_cycle_of_a_high_repurchase_product(make_shop) -> None:
    ws = _repurchase_shop().build(make_shop)
    assert members(ws, "repurchase_due") == ["due", "due_edge"]


def test_funnel_drop_outs(make_shop) -> None:
    s = Shop()
    s.customer("reg_only", registered_at=ago(50))
    s.customer("reg_cart", registered_at=ago(50))
    s.event("reg_cart", "cart", 20)
    s.customer("reg_ordered", registered_at=ago(50))
    s.order("reg_ordered", None, created=10)
    s.customer("never_registered")
    s.customer("registers_later", registered_at=ago(-3))
    s.customer("cart_later", registered_at=ago(50))
    s.event("cart_later", "cart", -1)
    # cart_no_order
    s.event("cart_open", "cart", 5)
    s.event("cart_then_order", "cart", 5)
    s.order("cart_then_order", None, created=4)
    s.order("order_then_cart", 6)
    s.event("order_then_cart", "cart", 5)
    s.event("cart_old", "cart", 40)
    s.event("cart_order_after_as_of", "cart", 5)
    s.order("cart_order_after_as_of", None, created=-1)
    # order_unpaid
    s.order("unpaid", None, created=5)
    s.order("unpaid_then_paid", None, created=5)
    s.order("unpaid_then_paid", 2)
    s.order("cancelled", None, created=5, status="cancelled")
    s.order("paid_after_as_of", -1, created=5)
    s.order("unpaid_old", None, created=40)
    ws = s.build(make_shop)
    assert members(ws, "registered_no_cart") == ["cart_later", "reg_only"]
    assert members(ws, "cart_no_order") == ["cart_open", "cart_order_after_as_of",
                                            "order_then_cart", "reg_cart"]
    assert members(ws, "order_unpaid") == ["cart_then_order", "paid_after_as_of",
                                           "reg_ordered", "unpaid"]


def test_one_order_only_and_favoriters(make_shop) -> None:
    s = Shop()
    s.order("once", 10)
    s.order("once_plus_cancelled", 10)
    s.order("once_plus_cancelled", 5, status="cancelled")
    s.order("twice", 10)
    s.order("twice", 5)
    s.order("once_now_twice_later", 10)
    s.order("once_now_twice_later", -3)
    s.event("fan", "favorite", 400)
    s.event("fan_later", "favorite", -1)
    ws = s.build(make_shop)
    assert members(ws, "one_order_only") == ["once", "once_now_twice_later",
                                             "once_plus_cancelled"]
    assert members(ws, "favoriters") == ["fan"]


@pytest.mark.parametrize(("days", "stage"), [
    (1, "active"), (89.99, "active"), (90, "sleeping"), (179.99, "sleeping"),
    (180, "pre_churn"), (364.99, "pre_churn"), (365, "churned"), (900, "churned"),
])
def test_lifecycle_stage_by_last_paid_order(make_shop, days: float, stage: str) -> None:
    s = Shop()
    s.order("c", days)
    s.order("never_paid", None, created=3)
    ws = s.build(make_shop)
    assert labels(ws, "lifecycle") == {"c": stage}
    for group in ("active", "sleeping", "pre_churn", "churned"):
        assert members(ws, group) == (["c"] if group == stage else [])
    assert members(ws, f"lifecycle.{stage}") == ["c"]


def test_lifecycle_uses_the_last_paid_order_not_refunds_or_later_ones(make_shop) -> None:
    s = Shop()
    s.order("c", 200)
    s.order("c", 10, status="refunded")
    s.order("c", -10)
    ws = s.build(make_shop)
    assert labels(ws, "lifecycle") == {"c": "pre_churn"}
