"""The demo shop end to end: generate and load it, aim an email campaign with a 20% holdout
at a built-in group, send through a local SMTP server, append orders afterwards with
``ws.load`` and check the report against the uplift worked out here from the frozen list.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter

import pytest
from campaign_helpers import Clock, use_smtp

import kequn
from kequn.campaigns import (
    create_campaign,
    measure,
    recipients,
    send_campaign,
    write_settings,
)
from kequn.demo.generate import generate_shop
from kequn.segments import evaluate

SEGMENT = "one_order_only"
# the demo's data ends before 2026-10-31; a Tuesday morning, outside quiet hours
SENT_AT = dt.datetime(2026, 11, 3, 10, 0)
LOAD_ORDER = ("customers", "products", "orders", "order_items", "events", "marketing_costs")
ORDER_COLUMNS = ("order_id", "customer_id", "created_at", "paid_at", "status", "amount",
                 "discount", "coupon_id")


def _demo_shop(tmp_path):
    files = generate_shop(tmp_path / "data", customers=2000, seed=1)
    ws = kequn.open(tmp_path / "shop.duckdb")
    ws.set(time_zone="Asia/Shanghai")  # as `kequn demo` does
    for table in LOAD_ORDER:
        report = ws.load(table, files[table])
        assert report.quarantined == 0, table
    return ws


def _append_orders(ws, path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=ORDER_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    report = ws.load("orders", [path])
    assert (report.read, report.stored, report.quarantined) == (len(rows), len(rows), 0)


def _order(order_id, customer, amount, at, *, status="paid", coupon=None, discount=0.0,
           paid=True):
    return {"order_id": order_id, "customer_id": customer, "created_at": f"{at:%Y-%m-%d %H:%M:%S}",
            "paid_at": f"{at:%Y-%m-%d %H:%M:%S}" if paid else None, "status": status,
            "amount": amount, "discount": discount, "coupon_id": coupon}


@pytest.mark.slow
def test_demo_shop_campaign_uplift_end_to_end(tmp_path, smtp_server):
    ws = _demo_shop(tmp_path)
    use_smtp(ws, smtp_server)
    write_settings(ws, margin_rate=0.4, attribution_days=14)
    clock = Clock(SENT_AT)
    group = set(evaluate(ws, SEGMENT, as_of=ws.default_as_of()).to_pyarrow()
                .column("customer_id").to_pylist())
    assert len(group) > 200

    campaign = create_campaign(ws, {
        "name": "二次购买券", "segment": SEGMENT, "channel": "email", "holdout": 0.2,
        "coupon": {"threshold": 150, "discount": 25, "validity_days": 10, "quantity": 1000,
                   "coupon_id": "D25"}}, clock=clock)
    cid = campaign.campaign_id
    report = send_campaign(ws, cid, clock=clock)

    # the frozen list: the whole group, a fifth held out, guards applied to both sides
    frozen = recipients(ws, cid).to_pyarrow().to_pylist()
    assert {r["customer_id"] for r in frozen} == group
    assert len(frozen) == len(group)
    held_all = {r["customer_id"] for r in frozen if r["grp"] == "holdout"}
    assert 0.12 < len(held_all) / len(group) < 0.28
    target = sorted(r["customer_id"] for r in frozen
                    if r["grp"] == "target" and r["skip_reason"] is None)
    held = sorted(r["customer_id"] for r in frozen
                  if r["grp"] == "holdout" and r["skip_reason"] is None)
    skipped = sorted(r["customer_id"] for r in frozen
                     if r["grp"] == "target" and r["skip_reason"] is not None)
    assert skipped  # the demo has customers without an email and opted-out ones
    assert report.delivery.sent == len(target)

    # what arrived: exactly one message per target customer with an email, none otherwise
    people = {r["customer_id"]: r for r in ws.table("customers").to_pyarrow().to_pylist()}
    mailable = {c for c in group - held_all
                if people[c]["email"] and not people[c]["opted_out"]}
    assert set(target) == mailable
    email_of = {people[c]["email"]: c for c in group}
    arrived = Counter(email_of[address] for address in smtp_server.recipients())
    assert arrived == Counter(target)
    assert not set(arrived) & held_all
    codes = {}
    for rcpts, msg in smtp_server.messages:
        found = re.search(r"券码 (D25-[0-9A-F]{10})", smtp_server.body(msg))
        assert found, smtp_server.body(msg)
        codes[email_of[rcpts[0]]] = found.group(1)
    assert {r["customer_id"]: r["coupon_code"] for r in frozen
            if r["customer_id"] in codes} == codes

    # orders appended afterwards: a fifth of the recipients buy 200 with the coupon (their
    # own code or the campaign's id), one of them again for 60; a sixth of the holdout 150
    t_buyers, h_buyers = target[::5], held[::6]
    rows = []
    for k, c in enumerate(t_buyers):
        rows.append(_order(f"T{k:04d}", c, 200.0, SENT_AT + dt.timedelta(days=2, hours=k % 9),
                           coupon=codes[c] if k % 2 == 0 else "D25", discount=25.0))
    rows.append(_order("T-again", t_buyers[0], 60.0, SENT_AT + dt.timedelta(days=6)))
    for k, c in enumerate(h_buyers):
        rows.append(_order(f"H{k:04d}", c, 150.0, SENT_AT + dt.timedelta(days=3)))
    # none of these count: after the window, refunded, never paid, a skipped customer
    rows += [
        _order("late", target[1], 999.0, SENT_AT + dt.timedelta(days=15)),
        _order("refund", target[2], 999.0, SENT_AT + dt.timedelta(days=1), status="refunded"),
        _order("unpaid", held[1], 999.0, SENT_AT + dt.timedelta(days=1), status="created",
               paid=False),
        _order("skipped", skipped[0], 999.0, SENT_AT + dt.timedelta(days=1)),
    ]
    _append_orders(ws, tmp_path / "orders_after.csv", rows)

    rep = measure(ws, cid, as_of=SENT_AT + dt.timedelta(days=20))

    # by hand, from the frozen list
    n_t, n_h = len(target), len(held)
    x_t, x_h = len(t_buyers), len(h_buyers)
    rev_t, rev_h = 200.0 * x_t + 60.0, 150.0 * x_h
    assert rep.window_complete
    assert (rep.target.customers, rep.holdout.customers) == (n_t, n_h)
    assert (rep.target.converters, rep.holdout.converters) == (x_t, x_h)
    assert rep.target.conversion == pytest.approx(x_t / n_t)
    assert rep.holdout.conversion == pytest.approx(x_h / n_h)
    assert rep.target.revenue == pytest.approx(rev_t)
    assert rep.holdout.revenue == pytest.approx(rev_h)
    assert rep.target.revenue_per_customer == pytest.approx(rev_t / n_t)
    assert rep.holdout.revenue_per_customer == pytest.approx(rev_h / n_h)
    assert rep.conversion_uplift == pytest.approx(x_t / n_t - x_h / n_h)
    diff = rev_t / n_t - rev_h / n_h
    assert rep.revenue_uplift_per_customer == pytest.approx(diff)
    assert rep.incremental_revenue == pytest.approx(diff * n_t)
    assert rep.target.redeemed_orders == x_t
    assert rep.coupon_cost == pytest.approx(25.0 * x_t)
