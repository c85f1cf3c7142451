"""Shop → audience → campaign with holdout → emails through a local SMTP server → orders
appended afterwards → the report shows the uplift worked out here by hand.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pytest
from campaign_helpers import insert, use_smtp

from kequn.campaigns import (
    create_campaign,
    is_held_out,
    measure,
    preview_campaign,
    send_campaign,
    summarize_campaigns,
    write_settings,
)
from kequn.schema.conventions import buyers

SENT_AT = dt.datetime(2024, 3, 5, 10, 0)


def _shop(make_shop):
    people = [{"customer_id": f"c{i:03d}", "email": f"c{i:03d}@example.com",
               "name": f"顾客{i}"} for i in range(400)]
    # 300 earlier buyers (the audience); 100 never bought
    history = [{"order_id": f"h{i}", "customer_id": f"c{i:03d}", "amount": 80.0,
                "created_at": dt.datetime(2024, 1, 10), "paid_at": dt.datetime(2024, 1, 10),
                "status": "paid"} for i in range(300)]
    return make_shop(customers=people, orders=history)


def test_campaign_uplift_end_to_end(make_shop, smtp_server, clock):
    ws = _shop(make_shop)
    use_smtp(ws, smtp_server)
    write_settings(ws, margin_rate=0.4, attribution_days=14)
    audience = buyers(ws.table("orders"), dt.datetime(2024, 3, 1))  # any table of customer ids
    campaign = create_campaign(ws, {
        "name": "老客回流", "channel": "email", "holdout": 0.2,
        "coupon": {"threshold": 100, "discount": 20, "validity_days": 10, "quantity": 1000,
                   "coupon_id": "Q20"}}, audience=audience, clock=clock)
    cid = campaign.campaign_id
    held = {f"c{i:03d}" for i in range(300) if is_held_out(cid, f"c{i:03d}", 0.2)}
    target = {f"c{i:03d}" for i in range(300)} - held
    assert 30 < len(held) < 90

    assert preview_campaign(ws, cid, clock=clock).counts["to_send"] == len(target)
    report = send_campaign(ws, cid, clock=clock)
    assert report.delivery.sent == len(target)

    # what arrived: one email per target customer, none for the holdout, a code in each
    assert sorted(smtp_server.recipients()) == sorted(f"{c}@example.com" for c in target)
    codes = {}
    for rcpts, msg in smtp_server.messages:
        found = re.search(r"券码 (Q20-[0-9A-F]{10})", smtp_server.body(msg))
        assert found, smtp_server.body(msg)
        codes[rcpts[0].split("@")[0]] = found.group(1)

    # orders appended afterwards
    t_sorted, h_sorted = sorted(target), sorted(held)
    orders = []
    t_buyers = t_sorted[::4]  # a quarter of the recipients buy 150, using their coupon
    for k, c in enumerate(t_buyers):
        orders.append({"order_id": f"t{k}", "customer_id": c, "amount": 150.0,
                       "created_at": SENT_AT + dt.timedelta(days=2),
                       "paid_at": SENT_AT + dt.timedelta(days=2), "status": "paid",
                       "coupon_id": codes[c] if k % 2 == 0 else "Q20", "discount": 20.0})
    orders.append({"order_id": "t-second", "customer_id": t_buyers[0], "amount": 50.0,
                   "created_at": SENT_AT + dt.timedelta(days=5),
                   "paid_at": SENT_AT + dt.timedelta(days=5), "status": "paid"})
    h_buyers = h_sorted[::8]  # an eighth of the holdout buys 120 without a coupon
    for k, c in enumerate(h_buyers):
        orders.append({"order_id": f"x{k}", "customer_id": c, "amount": 120.0,
                       "created_at": SENT_AT + dt.timedelta(days=3),
                       "paid_at": SENT_AT + dt.timedelta(days=3), "status": "paid"})
    # none of these count: after the window, before the send, refunded, never paid
    late, early, refunded, unpaid = t_sorted[1], t_sorted[2], t_sorted[3], h_sorted[1]
    orders += [
        {"order_id": "late", "customer_id": late, "amount": 999.0, "status": "paid",
         "created_at": SENT_AT + dt.timedelta(days=15), "paid_at": SENT_AT + dt.timedelta(days=15)},
        {"order_id": "early", "customer_id": early, "amount": 999.0, "status": "paid",
         "created_at": SENT_AT - dt.timedelta(hours=1), "paid_at": SENT_AT - dt.timedelta(hours=1)},
        {"order_id": "refund", "customer_id": refunded, "amount": 999.0, "status": "refunded",
         "created_at": SENT_AT + dt.timedelta(days=1), "paid_at": SENT_AT + dt.timedelta(days=1)},
        {"order_id": "unpaid", "customer_id": unpaid, "amount": 999.0,
         "created_at": SENT_AT + dt.timedelta(days=1)},
    ]
    insert(ws, "orders", orders)

    rep = measure(ws, cid, as_of=SENT_AT + dt.timedelta(days=20))

    # by hand
    n_t, n_h = len(target), len(held)
    x_t, x_h = len(t_buyers), len(h_buyers)
    rev_t = 150.0 * x_t + 50.0
    rev_h = 120.0 * x_h
    p_t, p_h = x_t / n_t, x_h / n_h
    assert rep.window_complete
    assert (rep.target.customers, rep.holdout.customers) == (n_t, n_h)
    assert (rep.target.converters, rep.holdout.converters) == (x_t, x_h)
    assert rep.target.revenue == pytest.approx(rev_t)
    assert rep.holdout.revenue == pytest.approx(rev_h)
    assert rep.conversion_uplift == pytest.approx(p_t - p_h)
    se = math.sqrt(p_t * (1 - p_t) / n_t + p_h * (1 - p_h) / n_h)
    assert rep.conversion_ci == pytest.approx((p_t - p_h - 1.959964 * se,
                                               p_t - p_h + 1.959964 * se), rel=1e-5)
    # revenue per customer: Welch interval from the per-customer values
    values_t = [0.0] * n_t
    for k, _ in enumerate(t_buyers):
        values_t[k] = 150.0
    values_t[0] += 50.0
    values_h = [120.0] * x_h + [0.0] * (n_h - x_h)
    mean_t, mean_h = sum(values_t) / n_t, sum(values_h) / n_h
    var_t = sum((v - mean_t) ** 2 for v in values_t) / (n_t - 1)
    var_h = sum((v - mean_h) ** 2 for v in values_h) / (n_h - 1)
    diff = mean_t - mean_h
    half = 1.959964 * math.sqrt(var_t / n_t + var_h / n_h)
    assert rep.revenue_uplift_per_customer == pytest.approx(diff)
    assert rep.revenue_uplift_ci == pytest.approx((diff - half, diff + half), rel=1e-5)
    assert rep.incremental_revenue == pytest.approx(diff * n_t)
    # coupons: every target buyer's 150 order carries the coupon (own code or the id)
    assert rep.target.redeemed_orders == x_t
    assert rep.redemption_rate == pytest.approx(x_t / n_t)
    coupon_cost = 20.0 * x_t
    assert rep.coupon_cost == pytest.approx(coupon_cost)
    margin = 0.4 * (diff * n_t + coupon_cost) - coupon_cost  # email costs nothing
    assert rep.incremental_margin == pytest.approx(margin)
    assert rep.roi == pytest.approx(margin / coupon_cost)
    assert 0.5 < rep.prob_positive <= 1.0

    # before the window is over the report says so
    early_rep = measure(ws, cid, as_of=SENT_AT + dt.timedelta(days=3))
    assert not early_rep.window_complete
    assert any("not over" in n for n in early_rep.notes)

    summary = summarize_campaigns(ws, as_of=SENT_AT + dt.timedelta(days=20))
    assert [(r["campaign_id"], r["sent"]) for r in summary] == [(cid, n_t)]
    assert summary[0]["uplift"] == pytest.approx(p_t - p_h)
