"""Campaigns aimed at real segments (kequn.segments): rule text and built-in ids."""

from __future__ import annotations

import datetime as dt

from campaign_helpers import customers

from kequn.campaigns import create_campaign, is_held_out, preview_campaign, send_campaign


def test_a_campaign_aimed_at_a_rule_freezes_its_members(make_shop, clock, tmp_path):
    people = customers(60)
    for i, row in enumerate(people):
        row["member_level"] = "V5" if i % 3 == 0 else "V1"
    ws = make_shop(customers=people, orders=[{
        "order_id": "o", "customer_id": "c0000", "amount": 1.0, "status": "paid",
        "created_at": dt.datetime(2024, 3, 1), "paid_at": dt.datetime(2024, 3, 1)}])
    c = create_campaign(ws, {"name": "高等级会员", "segment": "member_level IN ('V4', 'V5')",
                             "channel_options": {"directory": str(tmp_path)}}, clock=clock)
    members = {f"c{i:04d}" for i in range(0, 60, 3)}
    target = {m for m in members if not is_held_out(c.campaign_id, m, 0.1)}
    assert preview_campaign(ws, c.campaign_id, clock=clock).counts["audience"] == 20
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.delivery.sent == len(target)
    sent = {r for (r,) in ws.raw.execute("SELECT customer_id FROM kq_sends").fetchall()}
    assert sent == target


def test_a_builtin_segment_as_of_the_latest_data(make_shop, clock, tmp_path):
    paid = [("a", dt.datetime(2024, 2, 1)), ("b", dt.datetime(2023, 6, 1)),
            ("b", dt.datetime(2024, 2, 2)), ("c", dt.datetime(2023, 1, 1))]
    ws = make_shop(
        customers=[{"customer_id": c, "email": f"{c}@x.cn"} for c in "abc"],
        orders=[{"order_id": f"o{i}", "customer_id": c, "amount": 10.0, "status": "paid",
                 "created_at": t, "paid_at": t} for i, (c, t) in enumerate(paid)])
    c = create_campaign(ws, {"name": "新客", "segment": "new_customers", "holdout": 0,
                             "channel_options": {"directory": str(tmp_path)}}, clock=clock)
    # one paid order in 720 days, within the last 180 (as of 2024-02-02): a only
    # (b has two in 720 days; c's only one is older than 180 days)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.frozen["audience"] == 1
    assert ws.raw.execute("SELECT customer_id FROM kq_sends").fetchall() == [("a",)]
