"""The demo shop exercises every built-in group of SPEC §3 and the metrics of SPEC §2.

Each test states a behaviour the shop must show, computed on its files with the SPEC's paid
order rule; a test fails when the group it names would come out empty.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from kequn.schema.conventions import within_last
from kequn.schema.tables import MEMBER_LEVELS

if TYPE_CHECKING:
    from conftest import Shop


def count(expr: ir.Table) -> int:
    return int(expr.count().to_pyarrow().as_py())


def rows(expr: ir.Table) -> list[dict]:
    return expr.to_pyarrow().to_pylist()


def per_buyer(shop: Shop) -> ir.Table:
    paid = shop.paid
    return paid.group_by("customer_id").aggregate(
        n=paid.count(), first=paid.paid_at.min(), last=paid.paid_at.max())


# -- key groups (seed 001) -------------------------------------------------------------------

def test_new_customers_one_paid_order_in_720_days_and_it_in_the_last_180(shop: Shop) -> None:
    paid = shop.paid.filter(within_last(shop.paid.paid_at, shop.as_of, 720))
    per = paid.group_by("customer_id").aggregate(n=paid.count(), last=paid.paid_at.max())
    new = per.filter(per.n == 1, per.last > shop.as_of - dt.timedelta(days=180))
    assert count(new) >= 20


def test_interest_recent_cart_or_favourite_without_a_later_paid_order(shop: Shop) -> None:
    events = shop.table("events")
    recent = events.filter(events.event.isin(["cart", "favorite"]),
                           within_last(events.event_time, shop.as_of, 10))
    items = shop.table("order_items")
    bought = shop.paid.join(items, "order_id").select("customer_id", "product_id", "paid_at")
    abandoned = recent.anti_join(bought, [recent.customer_id == bought.customer_id,
                                          recent.product_id == bought.product_id,
                                          bought.paid_at >= recent.event_time])
    assert count(abandoned.select("customer_id").distinct()) >= 30


def test_staples_are_rebought_on_a_regular_30_60_or_90_day_cycle(shop: Shop) -> None:
    lines = shop.paid.join(shop.table("order_items"), "order_id")
    w = ibis.window(group_by=[lines.customer_id, lines.product_id], order_by=lines.paid_at)
    gaps = lines.mutate(
        gap=(lines.paid_at.epoch_seconds() - lines.paid_at.lag().over(w).epoch_seconds())
        / 86400)
    gaps = gaps.filter(gaps.gap.notnull())
    per = gaps.group_by("product_id").aggregate(n=gaps.count(), median=gaps.gap.median())
    regular = [r for r in rows(per.filter(per.n >= 20))
               if any(abs(r["median"] - cycle) <= 0.15 * cycle for cycle in (30, 60, 90))]
    assert len(regular) >= 3


# -- funnel drop-outs (seed 000) -------------------------------------------------------------

def test_unpaid_cancelled_and_refunded_orders_exist_also_recently(shop: Shop) -> None:
    orders = shop.table("orders")
    by_status = {r["status"]: r["n"] for r in
                 rows(orders.group_by("status").aggregate(n=orders.count()))}
    assert set(by_status) == {"created", "paid", "cancelled", "refunded"}
    assert by_status["paid"] > 0.8 * sum(by_status.values())
    unpaid = orders.filter(orders.paid_at.isnull(), orders.status == "created",
                           within_last(orders.created_at, shop.as_of, 7))
    assert count(unpaid) >= 5
    refunded = orders.filter(orders.status == "refunded")
    assert count(refunded.filter(refunded.paid_at.isnull())) == 0  # refunds were paid first


def test_funnel_drop_outs_each_have_customers(shop: Shop) -> None:
    customers, events, orders = shop.table("customers"), shop.table("events"), \
        shop.table("orders")
    carters = events.filter(events.event == "cart").select("customer_id").distinct()
    favoriters = events.filter(events.event == "favorite").select("customer_id").distinct()
    orderers = orders.select("customer_id").distinct()
    registered_no_cart = customers.anti_join(carters, "customer_id")
    cart_no_order = carters.anti_join(orderers, "customer_id")
    one_order_only = per_buyer(shop).filter(lambda t: t.n == 1)
    assert count(registered_no_cart) >= 0.15 * shop.customers
    assert count(cart_no_order) >= 0.02 * shop.customers
    assert count(one_order_only) >= 0.1 * shop.customers
    assert count(favoriters) >= 0.1 * shop.customers


# -- lifecycle and frequency (seed 004) ------------------------------------------------------

def test_active_sleeping_pre_churn_and_churned_all_have_buyers(shop: Shop) -> None:
    per = per_buyer(shop)
    days = (ibis.literal(shop.as_of).epoch_seconds() - per.last.epoch_seconds()) / 86400
    stage = (ibis.cases((days <= 90, "active"), (days <= 180, "sleeping"),
                        (days <= 360, "pre_churn"), else_="churned"))
    sizes = {r["stage"]: r["n"] for r in
             rows(per.mutate(stage=stage).group_by("stage").aggregate(n=ibis._.count()))}
    assert set(sizes) == {"active", "sleeping", "pre_churn", "churned"}
    assert min(sizes.values()) >= 0.02 * shop.customers


def test_monthly_quarterly_and_half_yearly_buyers_exist(shop: Shop) -> None:
    per = per_buyer(shop).filter(lambda t: t.n >= 2)
    mean_gap = (per["last"].epoch_seconds() - per["first"].epoch_seconds()) / 86400 / (per.n - 1)
    gaps = [r["gap"] for r in rows(per.select(gap=mean_gap))]
    assert sum(g <= 31 for g in gaps) > 0
    assert sum(31 < g <= 92 for g in gaps) > 0
    assert sum(92 < g <= 183 for g in gaps) > 0


def test_light_and_heavy_buyers_both_present(shop: Shop) -> None:
    per = per_buyer(shop)
    assert count(per.filter(per.n < 5)) > count(per.filter(per.n >= 5)) > 0.05 * shop.customers


def test_member_levels_v0_to_v6_skewed_low_and_retention_rises_with_level(shop: Shop) -> None:
    customers = shop.table("customers")
    sizes = {r["member_level"]: r["n"] for r in
             rows(customers.group_by("member_level").aggregate(n=customers.count()))}
    assert set(sizes) == set(MEMBER_LEVELS)
    assert sizes["V0"] + sizes["V1"] + sizes["V2"] > 0.6 * shop.customers
    assert sizes["V0"] > sizes["V3"] > sizes["V6"]
    per = per_buyer(shop).join(customers, "customer_id")
    group = ibis.cases((per.member_level == "V0", "V0"), (per.member_level.isin(
        ["V1", "V2", "V3"]), "V1-V3"), else_="V4+")
    repeat = {r["g"]: r["rate"] for r in rows(per.mutate(g=group).group_by("g").aggregate(
        rate=(per.n >= 2).mean()))}
    assert repeat["V0"] < repeat["V1-V3"] < repeat["V4+"]


# -- promotions, prices, new arrivals (seed 004) ---------------------------------------------

def test_double_11_orders_are_labelled_and_the_day_is_among_the_busiest(shop: Shop) -> None:
    orders = shop.table("orders")
    day = orders.created_at.date()
    per_day = orders.group_by(day=day).aggregate(n=orders.count()).order_by(ibis.desc("n"))
    top = [r["day"] for r in rows(per_day.limit(3))]
    assert dt.date(2025, 11, 11) in top
    on_11_11 = orders.filter(day == dt.date(2025, 11, 11))
    assert count(on_11_11.filter(on_11_11.promotion == "双11")) > 0.5 * count(on_11_11)
    labels = set(orders.select("promotion").distinct().to_pyarrow()["promotion"].to_pylist())
    assert {"双11", "618", "聚划算", "年货节", "双12"} <= labels


def test_price_sensitive_campaign_and_promotion_shoppers_exist(shop: Shop) -> None:
    paid = shop.paid
    deal = paid.promotion.notnull() | (paid.discount >= 0.2 * (paid.amount + paid.discount))
    per = paid.group_by("customer_id").aggregate(
        deal_share=deal.mean(), promo_share=paid.promotion.notnull().mean(),
        periods=(paid.promotion.concat("-", paid.paid_at.year().cast("string"))).nunique())
    buyers = count(per)
    price_sensitive = count(per.filter(per.deal_share >= 0.5))
    assert 0.05 * buyers < price_sensitive < 0.6 * buyers
    assert count(per.filter(per.promo_share >= 0.5)) > 0  # holiday / promotion shoppers
    assert count(per.filter(per.periods >= 2)) > 0.1 * buyers  # campaign buyers


def test_coupon_orders_carry_a_discount(shop: Shop) -> None:
    orders = shop.table("orders")
    with_coupon = orders.filter(orders.coupon_id.notnull())
    assert count(with_coupon) > 0.03 * count(orders)
    assert with_coupon.discount.min().to_pyarrow().as_py() >= 5


def test_new_arrivals_launch_through_the_period_and_have_fans(shop: Shop) -> None:
    products = shop.table("products")
    start = shop.as_of - dt.timedelta(days=540)
    assert count(products.filter(products.launched_at > start)) >= 30
    lines = shop.paid.join(shop.table("order_items"), "order_id").join(products, "product_id")
    fresh = (lines.launched_at.notnull() & (lines.paid_at.epoch_seconds()
                                            - lines.launched_at.epoch_seconds() <= 30 * 86400))
    per = lines.group_by("customer_id").aggregate(share=fresh.mean())
    assert count(per.filter(per.share >= 0.5)) >= 20


def test_customers_concentrate_their_view_time_on_a_category(shop: Shop) -> None:
    events = shop.table("events").filter(lambda t: t.event == "view")
    views = events.join(shop.table("products"), "product_id")
    per = views.group_by(["customer_id", "category"]).aggregate(s=views.duration_s.sum())
    w = ibis.window(group_by="customer_id")
    share = per.mutate(share=per.s / per.s.sum().over(w))
    fans = share.filter(share.share >= 0.4).select("customer_id").distinct()
    assert count(fans) > 0.3 * shop.customers


def test_some_customers_show_strong_intent_in_the_last_14_days(shop: Shop) -> None:
    weights = {"list_view": 0.05, "view": 0.1, "favorite": 0.5, "cart": 1.0, "order": 3.0}
    events = shop.table("events")
    recent = events.filter(within_last(events.event_time, shop.as_of, 14),
                           events.event.isin(list(weights)))
    score = recent.event.cases(*weights.items(), else_=0.0)
    per = recent.group_by("customer_id").aggregate(score=score.sum())
    assert count(per.filter(per.score > 5)) > 0
    assert count(per.filter(per.score <= 1)) > 0


# -- channels, costs, attributes (seeds 003, 002, 000) ---------------------------------------

def test_channels_fill_every_quadrant_of_traffic_and_conversion(shop: Shop) -> None:
    events = shop.table("events").filter(lambda t: t.channel.notnull())
    per = events.group_by("channel").aggregate(
        traffic=(events.event == "visit").sum(),
        visitors=events.customer_id.nunique(where=events.event == "visit"),
        payers=events.customer_id.nunique(where=events.event == "pay"))
    stats = rows(per)
    assert len(stats) >= 6
    traffic = sorted(r["traffic"] for r in stats)
    conv = sorted(r["payers"] / r["visitors"] for r in stats)
    mid_t = (traffic[2] + traffic[3]) / 2
    mid_c = (conv[2] + conv[3]) / 2
    quadrants = {(r["traffic"] > mid_t, r["payers"] / r["visitors"] > mid_c) for r in stats}
    assert quadrants == {(True, True), (True, False), (False, True), (False, False)}


def test_acquisition_cost_differs_by_channel(shop: Shop) -> None:
    costs = shop.table("marketing_costs")
    customers = shop.table("customers")
    spend = costs.group_by("channel").aggregate(cost=costs.cost.sum())
    signups = customers.group_by(channel=customers.source_channel).aggregate(n=customers.count())
    cac = {r["channel"]: r["cost"] / r["n"] for r in rows(spend.join(signups, "channel"))}
    assert len(cac) == 5
    assert max(cac.values()) > 1.8 * min(cac.values())


def test_attributes_look_like_a_chinese_shop_with_some_unknown(shop: Shop) -> None:
    c = shop.table("customers")
    share = rows(c.aggregate(
        gender=c.gender.isnull().mean(), birthday=c.birthday.isnull().mean(),
        city=c.city.isnull().mean(), education=c.education.isnull().mean(),
        opted_out=c.opted_out.mean(), tiers=c.city_tier.nunique(),
        provinces=c.province.nunique(), channels=c.source_channel.nunique()))[0]
    assert 0.02 < share["gender"] < 0.2
    assert 0.2 < share["birthday"] < 0.5
    assert 0.01 < share["city"] < 0.1
    assert 0.5 < share["education"] < 0.9
    assert 0.01 < share["opted_out"] < 0.1
    assert share["tiers"] == 5
    assert share["provinces"] >= 20
    assert share["channels"] == 6
    phones = c.filter(c.phone.notnull()).phone.to_pyarrow().to_pylist()
    assert all(re.fullmatch(r"1[3-9]\d{9}", p) for p in phones)
    emails = c.filter(c.email.notnull()).email.to_pyarrow().to_pylist()
    assert all(re.fullmatch(r"[a-z0-9]+@[a-z0-9.]+\.com", e) for e in emails)


def test_products_span_categories_standard_and_non_standard(shop: Shop) -> None:
    p = shop.table("products")
    stats = rows(p.aggregate(categories=p.category.nunique(), standard=p.is_standard.sum(),
                             n=p.count(), cheapest=p.price.min()))[0]
    assert stats["categories"] >= 8
    assert 0 < stats["standard"] < stats["n"]
    assert stats["cheapest"] > 0
