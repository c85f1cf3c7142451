"""Opt-outs, unsubscribes, missing contacts, the frequency cap and quiet hours (seed 001)."""

from __future__ import annotations

import datetime as dt

import ibis
from campaign_helpers import customers

from kequn.campaigns import (
    create_campaign,
    preview_campaign,
    send_campaign,
    unsubscribe,
    write_settings,
)
from kequn.campaigns.guards import in_quiet_hours, quiet_until
from kequn.campaigns.targeting import is_held_out


def _shop(make_shop):
    rows = customers(40)
    rows[1]["opted_out"] = True
    rows[2]["opted_out"] = True
    rows[3]["email"] = None
    rows[4]["email"] = "not-an-email"
    rows[5]["email"] = "   "
    return make_shop(customers=rows)


def _everyone(ws, extra=()):
    ids = ws.table("customers").customer_id.to_pyarrow().to_pylist()
    return ibis.memtable({"customer_id": ids + list(extra)})


def _target_ids(ws, campaign_id):
    return {f"c{i:04d}" for i in range(40) if not is_held_out(campaign_id, f"c{i:04d}", 0.1)}


def test_preview_counts_what_each_rule_removes_before_anything_is_sent(make_shop, clock,
                                                                       tmp_path):
    ws = _shop(make_shop)
    unsubscribe(ws, "c0006", channel="export", clock=clock)
    unsubscribe(ws, "c0007", clock=clock)  # every channel
    unsubscribe(ws, "c0008", channel="sms", clock=clock)  # another channel: still exported
    c = create_campaign(ws, {"name": "券", "channel": "export",
                             "channel_options": {"contact": "email",
                                                 "directory": str(tmp_path)}},
                        audience=_everyone(ws, extra=["ghost"]), clock=clock)
    # an export that includes emails needs a usable email, like the email channel
    p = preview_campaign(ws, c.campaign_id, clock=clock)
    target = _target_ids(ws, c.campaign_id)
    expect = {
        "unknown_customer": 0 if is_held_out(c.campaign_id, "ghost", 0.1) else 1,
        "opted_out": len({"c0001", "c0002"} & target),
        "unsubscribed": len({"c0006", "c0007"} & target),
        "no_contact": len({"c0003", "c0004", "c0005"} & target),
        "frequency_cap": 0,
    }
    assert p.counts["removed"] == expect
    assert p.counts["audience"] == 41
    assert p.counts["to_send"] == p.counts["target"] - sum(expect.values())
    assert not (tmp_path / f"{c.campaign_id}.csv").exists()  # nothing sent
    assert all("@" in s["contact"] and "***" in s["contact"] for s in p.sample)


def test_frequency_cap_counts_sends_across_campaigns(make_shop, clock, tmp_path):
    ws = make_shop(customers=customers(30))
    write_settings(ws, frequency_cap=2, frequency_days=7)
    opts = {"directory": str(tmp_path)}
    sent_to, capped = [], []
    for name in ("one", "two", "three"):
        c = create_campaign(ws, {"name": name, "holdout": 0, "channel_options": opts},
                            audience=_everyone(ws), clock=clock)
        capped.append(preview_campaign(ws, c.campaign_id, clock=clock)
                      .counts["removed"]["frequency_cap"])
        report = send_campaign(ws, c.campaign_id, clock=clock)
        sent_to.append(report.delivery.sent)
        clock.advance(days=1)
    assert capped == [0, 0, 30]
    assert sent_to == [30, 30, 0]
    clock.advance(days=5)  # the first send is now 8 days old: one slot free again
    c4 = create_campaign(ws, {"name": "four", "holdout": 0, "channel_options": opts},
                         audience=_everyone(ws), clock=clock)
    assert preview_campaign(ws, c4.campaign_id, clock=clock).counts["to_send"] == 30


def test_quiet_hours_make_sends_wait_and_a_later_send_goes_on(make_shop, clock, tmp_path):
    ws = make_shop(customers=customers(20))
    clock.now = dt.datetime(2024, 3, 5, 22, 30)
    c = create_campaign(ws, {"name": "夜", "holdout": 0,
                             "channel_options": {"directory": str(tmp_path)}},
                        audience=_everyone(ws), clock=clock)
    p = preview_campaign(ws, c.campaign_id, clock=clock)
    assert p.quiet_now
    assert p.sends_from == dt.datetime(2024, 3, 6, 9, 0)
    first = send_campaign(ws, c.campaign_id, clock=clock)
    assert first.delivery.sent == 0
    assert first.delivery.waiting_until == dt.datetime(2024, 3, 6, 9, 0)
    assert first.status == "sending"
    assert first.frozen["to_send"] == 20
    clock.now = dt.datetime(2024, 3, 6, 9, 0)
    second = send_campaign(ws, c.campaign_id, clock=clock)
    assert second.delivery.sent == 20
    assert second.status == "sent"
    assert second.frozen is None  # the list frozen at 22:30 was kept


def test_quiet_hours_window_wraps_midnight():
    window = (dt.time(21), dt.time(9))
    assert in_quiet_hours(dt.datetime(2024, 1, 1, 21, 0), window)
    assert in_quiet_hours(dt.datetime(2024, 1, 1, 3, 0), window)
    assert not in_quiet_hours(dt.datetime(2024, 1, 1, 9, 0), window)
    assert quiet_until(dt.datetime(2024, 1, 1, 3, 0), window) == dt.datetime(2024, 1, 1, 9)
    assert not in_quiet_hours(dt.datetime(2024, 1, 1, 23, 0), None)


def test_an_unsubscribe_after_the_list_was_frozen_is_still_honoured(make_shop, clock, tmp_path):
    ws = make_shop(customers=customers(10))
    clock.now = dt.datetime(2024, 3, 5, 23, 0)
    c = create_campaign(ws, {"name": "x", "holdout": 0,
                             "channel_options": {"directory": str(tmp_path)}},
                        audience=_everyone(ws), clock=clock)
    send_campaign(ws, c.campaign_id, clock=clock)  # frozen, waiting for the morning
    unsubscribe(ws, "c0003", clock=clock)
    clock.now = dt.datetime(2024, 3, 6, 10, 0)
    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert report.delivery.sent == 9
    assert report.delivery.skipped == {"unsubscribed": 1}
