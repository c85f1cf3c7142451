"""Built-in groups of SPEC §3 about frequency, value, preference and intent (seeds 000, 002–004):
exact members on hand-made shops. as_of is 2024-06-30 12:00; ``ago(n)`` is n days before."""

from __future__ import annotations

import datetime as dt

import pytest
from segment_helpers import AS_OF, Shop, labels, members


def days_before(moment: dt.datetime) -> float:
    """How many days ``moment`` is before AS_OF."""
    return (AS_OF - moment).total_seconds() / 86_400


def test_purchase_cycle_groups_by_mean_gap_of_the_last_year(make_shop) -> None:
    s = Shop()
    for cid, days in {"monthly": (10, 40, 70), "gap_31": (10, 41), "quarterly": (10, 70),
                      "gap_92": (10, 102), "half_yearly": (10, 160), "gap_183": (10, 193),
                      "gap_190": (10, 200), "single": (10,), "old": (400, 370)}.items():
        for d in days:
            s.order(cid, d)
    s.order("monthly_with_refund", 10)
    s.order("monthly_with_refund", 40)
    s.order("monthly_with_refund", 25, status="refunded")
    ws = s.build(make_shop)
    assert members(ws, "monthly_buyers") == ["gap_31", "monthly", "monthly_with_refund"]
    assert members(ws, "quarterly_buyers") == ["gap_92", "quarterly"]
    assert members(ws, "half_yearly_buyers") == ["gap_183", "half_yearly"]


def test_vip_pyramid_splits_last_year_buyers_10_15_25_50_by_spend(make_shop) -> None:
    s = Shop()
    for i in range(1, 11):
        s.order(f"v{i:02d}", 20, amount=100.0 * i)
    s.order("old_big", 400, amount=5000)
    s.order("refunded_big", 20, amount=9999, status="refunded")
    ws = s.build(make_shop)
    expected = {"v10": "supreme", "v09": "vip", "v08": "senior", "v07": "senior",
                "v06": "senior", **{f"v{i:02d}": "regular" for i in range(1, 6)}}
    assert labels(ws, "vip_pyramid") == expected
    assert members(ws, "vip_pyramid.supreme") == ["v10"]
    assert members(ws, "segment(vip_pyramid.vip) OR segment(vip_pyramid.supreme)") == [
        "v09", "v10"]


RFM = {  # (recent, frequent, big spender) → label
    (True, True, True): "important_value", (True, False, True): "important_develop",
    (False, True, True): "important_keep", (False, False, True): "important_retain",
    (True, True, False): "general_value", (True, False, False): "general_develop",
    (False, True, False): "general_keep", (False, False, False): "general_retain",
}


def test_rfm_8_classes_against_the_buyers_medians(make_shop) -> None:
    s = Shop()
    for (recent, frequent, big), _ in RFM.items():
        cid = f"{'R' if recent else 'r'}{'F' if frequent else 'f'}{'M' if big else 'm'}"
        last = 10 if recent else 200
        n = 3 if frequent else 1
        for k in range(n):
            s.order(cid, last + 5 * k, amount=(1000 if big else 100) / n)
    s.order("not_a_buyer", None, created=3)
    ws = s.build(make_shop)
    got = labels(ws, "rfm_8")
    assert got == {f"{'R' if r else 'r'}{'F' if f else 'f'}{'M' if m else 'm'}": label
                   for (r, f, m), label in RFM.items()}


def test_light_and_heavy_buyers(make_shop) -> None:
    s = Shop()
    for cid, n in {"one": 1, "four": 4, "five": 5, "seven": 7}.items():
        for k in range(n):
            s.order(cid, 10 + k)
    for k in range(4):
        s.order("four_and_cancelled", 10 + k)
    s.order("four_and_cancelled", 5, status="cancelled")
    s.order("unpaid_only", None, created=3)
    ws = s.build(make_shop)
    assert members(ws, "light_buyers") == ["four", "four_and_cancelled", "one"]
    assert members(ws, "heavy_buyers") == ["five", "seven"]


def test_new_arrival_fans_buy_half_their_items_within_30_days_of_launch(make_shop) -> None:
    s = Shop()
    s.product("new", "c", 10, launched_at=AS_OF - dt.timedelta(days=100))
    s.product("old", "c", 10, launched_at=AS_OF - dt.timedelta(days=400))
    s.product("unknown", "c", 10)
    s.order("fan", 80, products=("new",))
    s.order("fan", 10, products=("old",))
    s.order("one_in_three", 80, products=("new",))
    s.order("one_in_three", 10, products=("old",), quantity=2)
    s.order("at_30_days", 70, products=("new",))
    s.order("at_31_days", 69, products=("new",))
    s.order("no_launch_date", 10, products=("unknown",))
    ws = s.build(make_shop)
    assert members(ws, "new_arrival_fans") == ["at_30_days", "fan"]


def test_price_sensitive_half_the_orders_on_promotion_or_20pct_discount(make_shop) -> None:
    s = Shop()
    s.order("promo_half", 10, promotion="双11")
    s.order("promo_half", 20)
    s.order("third", 10, amount=75, discount=25)
    s.order("third", 20)
    s.order("third", 30)
    s.order("exactly_20pct", 10, amount=80, discount=20)
    s.order("ten_pct", 10, amount=90, discount=10)
    s.order("promo_refunded", 10, promotion="618", status="refunded")
    s.order("promo_refunded", 20)
    ws = s.build(make_shop)
    assert members(ws, "price_sensitive") == ["exactly_20pct", "promo_half"]


def test_campaign_buyers_and_high_end(make_shop) -> None:
    s = Shop()
    s.order("two_periods", days_before(dt.datetime(2023, 11, 11, 9)), promotion="双11",
            amount=500)
    s.order("two_periods", days_before(dt.datetime(2024, 6, 18, 9)), promotion="618",
            amount=500)
    s.order("same_period", days_before(dt.datetime(2023, 11, 11, 9)), promotion="双11")
    s.order("same_period", days_before(dt.datetime(2023, 11, 12, 9)), promotion="双11")
    s.order("yearly", days_before(dt.datetime(2022, 11, 11, 9)), promotion="双11", amount=50)
    s.order("yearly", days_before(dt.datetime(2023, 11, 11, 9)), promotion="双11", amount=50)
    for i in range(8):
        s.order(f"plain{i}", 10)
    ws = s.build(make_shop)
    assert members(ws, "campaign_buyers") == ["two_periods", "yearly"]
    assert members(ws, "high_end") == ["two_periods"]


def test_category_fans_by_view_time_or_else_by_purchases(make_shop) -> None:
    s = Shop()
    for pid, cat in (("s", "shoes"), ("b", "bags"), ("h", "hats")):
        s.product(pid, cat, 10)
    for pid, sec in (("s", 50.0), ("b", 50.0)):
        s.event("half_half", "view", 5, pid, duration_s=sec)
    for pid, sec in (("s", 30.0), ("b", 40.0), ("h", 40.0)):
        s.event("spread", "view", 5, pid, duration_s=sec)
    s.order("buyer_no_views", 20, products=("s",), quantity=2)
    s.order("buyer_no_views", 30, products=("b",))
    s.event("old_views", "view", 100, "s", duration_s=100.0)
    s.event("view_after_as_of", "view", -1, "s", duration_s=100.0)
    ws = s.build(make_shop)
    assert members(ws, "category_fans") == ["buyer_no_views", "half_half"]


def test_category_fans_at_exactly_40_percent_whatever_the_adding_order(make_shop) -> None:
    s = Shop()
    for pid, cat in (("s", "shoes"), ("b", "bags"), ("h", "hats")):
        s.product(pid, cat, 10)
    # shoes 0.1 + 0.2 of 0.75 seconds is 40%: in floating point 0.30000000000000004 (or 0.3,
    # added in another order) over 0.75 is 0.4000000000000001 (or 0.39999999999999997)
    for pid, sec in (("s", 0.1), ("s", 0.2), ("b", 0.25), ("h", 0.2)):
        s.event("exactly_40", "view", 5, pid, duration_s=sec)
    for pid, sec in (("s", 0.1), ("s", 0.19), ("b", 0.26), ("h", 0.2)):
        s.event("just_under", "view", 5, pid, duration_s=sec)
    ws = s.build(make_shop)
    assert members(ws, "category_fans") == ["exactly_40"]
    assert members(ws, "top_category_share(by: view_time, last: 90d) = 0.4") == ["exactly_40"]


def test_ten_views_score_exactly_one_and_durations_add_up_exactly(make_shop) -> None:
    s = Shop()
    for k in range(10):  # 0.1 added ten times is 0.9999999999999999 in floating point
        s.event("ten_views", "view", 1 + k / 10, duration_s=0.1)
    for k in range(9):
        s.event("nine_views", "view", 1 + k / 10, duration_s=0.1)
    ws = s.build(make_shop)
    assert members(ws, "intent_score(last: 14d) >= 1") == ["ten_views"]
    assert members(ws, "duration(view, last: 14d) >= 1") == ["ten_views"]


def test_price_band_by_position_in_the_category_prices(make_shop) -> None:
    s = Shop()
    for pid, price in (("p10", 10), ("p20", 20), ("p30", 30), ("p40", 40)):
        s.product(pid, "c", price)
    s.product("free", "c", None)
    s.order("low", 10, products=("p10",))
    s.order("third", 10, products=("p20",))
    s.order("two_thirds", 10, products=("p30",))
    s.order("high", 10, products=("p40",))
    s.order("mixed", 10, products=("p10", "p40"))
    s.order("unpriced", 10, products=("free",))
    s.order("old", 400, products=("p40",))
    ws = s.build(make_shop)
    assert labels(ws, "price_band") == {"low": "low", "third": "mid", "two_thirds": "mid",
                                        "high": "high", "mixed": "mid"}


def test_holiday_shoppers_half_their_orders_on_holidays_or_promotion_days(make_shop) -> None:
    s = Shop()
    at = lambda *ymd: days_before(dt.datetime(*ymd, 14))  # noqa: E731
    s.order("new_year", at(2024, 1, 1))
    s.order("new_year", at(2024, 3, 15))
    s.order("spring_festival_third", at(2024, 2, 10))
    s.order("spring_festival_third", at(2024, 3, 15))
    s.order("spring_festival_third", at(2024, 3, 16))
    s.order("promoter", at(2024, 4, 2), promotion="店庆")
    s.order("on_promotion_day", at(2024, 4, 2))
    s.order("on_promotion_day", at(2024, 3, 20))
    ws = s.build(make_shop)
    assert members(ws, "holiday_shoppers") == ["new_year", "on_promotion_day", "promoter"]


def test_intent_tiers_by_weighted_events_of_the_last_14_days(make_shop) -> None:
    s = Shop()
    s.event("s1", "order", 1)
    s.event("s2", "cart", 1).event("s2", "cart", 2)
    s.event("s3", "cart", 13.9)
    s.event("s4", "favorite", 1)
    s.event("s5", "view", 1)
    s.event("at_14_days", "cart", 14)
    s.event("later", "order", -1)
    ws = s.build(make_shop)
    assert labels(ws, "intent") == {"s1": "strong", "s2": "medium", "s3": "medium",
                                    "s4": "weak", "s5": "weak"}
    assert members(ws, "intent_strong") == ["s1"]
    assert members(ws, "intent_medium") == ["s2", "s3"]
    assert members(ws, "intent_weak") == ["s4", "s5"]
    assert members(ws, "intent_score(last: 14d) > 1.5") == ["s1", "s2"]
    assert members(ws, "intent_score(last: 14d, view: 5) > 1.5") == ["s1", "s2", "s5"]


@pytest.mark.parametrize(("days", "groups"), [
    (29.99, []), (30, ["winback_1m"]), (90, ["winback_1m", "winback_3m"]),
    (180, ["winback_1m", "winback_3m", "winback_6m"]),
])
def test_winback_after_1_3_6_months_without_a_paid_order(make_shop, days: float,
                                                          groups: list[str]) -> None:
    s = Shop()
    s.order("c", days)
    s.order("never", None, created=100)
    ws = s.build(make_shop)
    for group in ("winback_1m", "winback_3m", "winback_6m"):
        assert members(ws, group) == (["c"] if group in groups else [])


def test_member_levels(make_shop) -> None:
    s = Shop()
    for cid, level in (("a", "V0"), ("b", "V2"), ("c", "V3"), ("d", "V4"), ("e", "V6"),
                       ("f", None)):
        s.customer(cid, member_level=level)
    ws = s.build(make_shop)
    assert members(ws, "member_v0") == ["a"]
    assert members(ws, "member_v1_v3") == ["b", "c"]
    assert members(ws, "member_v4_plus") == ["d", "e"]
    assert labels(ws, "member_tier") == {"a": "v0", "b": "v1_v3", "c": "v1_v3",
                                         "d": "v4_plus", "e": "v4_plus"}
