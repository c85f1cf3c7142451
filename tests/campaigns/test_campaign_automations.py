"""Automations: 催付 at 1/7/30 days, cart abandonment, win-back at 1/3/6 months, birthdays."""

from __future__ import annotations

import datetime as dt

import pytest

from kequn.campaigns import (
    CampaignNotFoundError,
    disable_automation,
    enable_automation,
    is_held_out,
    list_automations,
    measure,
    run_tick,
)

NOW = dt.datetime(2024, 3, 5, 10, 0)


def _ago(**delta: float) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def _entries(ws, automation_id):
    return ws.raw.execute(
        "SELECT step, customer_id, event_key, grp, coupon_discount, points, fields "
        "FROM kq_recipients WHERE campaign_id = ? ORDER BY step, customer_id",
        [automation_id]).fetchall()


def _on(ws, automation_id, tmp_path, clock, holdout=0.0):
    return enable_automation(ws, automation_id, clock=clock, holdout=holdout,
                             channel_options={"directory": str(tmp_path)})


def test_builtin_automations_are_listed_and_off_until_enabled(make_shop):
    ws = make_shop()
    found = {a.automation_id: a.enabled for a in list_automations(ws)}
    assert found == {"birthday": False, "cart_abandon": False, "unpaid_reminder": False,
                     "winback": False}
    with pytest.raises(CampaignNotFoundError, match="choose one of"):
        enable_automation(ws, "nope")


def test_unpaid_orders_get_a_reminder_then_points_then_a_coupon_by_value_tier(make_shop,
                                                                              clock, tmp_path):
    clock.now = NOW
    people = [{"customer_id": c, "email": f"{c}@x.cn"} for c in
              ("big", "small", "paid", "gone", "fresh", "week", "month")]
    fillers = [f"f{i}" for i in range(10)]  # 16 buyers: the top one is in the top 10%
    people += [{"customer_id": c} for c in fillers]
    history = [  # 12-month spend decides the tier: 'big' is at the top, the named ones share
        # the bottom (11 buyers spend more: top 75%, 普通会员), the fillers are in between
        {"order_id": "hb", "customer_id": "big", "amount": 5000.0, "status": "paid",
         "created_at": _ago(days=100), "paid_at": _ago(days=100)},
        *[{"order_id": f"h{i}", "customer_id": c,
           "amount": 60.0 + 10 * i if c in fillers else 50.0, "status": "paid",
           "created_at": _ago(days=120), "paid_at": _ago(days=120)}
          for i, c in enumerate(["small", "paid", "gone", "fresh", "week", "month",
                                 *fillers])],
    ]
    open_orders = [
        {"order_id": "o-day", "customer_id": "small", "amount": 99.0,
         "created_at": _ago(days=1, hours=2)},
        {"order_id": "o-paid", "customer_id": "paid", "amount": 99.0, "status": "paid",
         "created_at": _ago(days=1, hours=2), "paid_at": _ago(hours=20)},
        {"order_id": "o-cancel", "customer_id": "gone", "amount": 99.0, "status": "cancelled",
         "created_at": _ago(days=1, hours=2)},
        {"order_id": "o-fresh", "customer_id": "fresh", "amount": 99.0,
         "created_at": _ago(hours=5)},
        {"order_id": "o-week", "customer_id": "week", "amount": 60.0,
         "created_at": _ago(days=7, hours=1)},
        {"order_id": "o-month-big", "customer_id": "big", "amount": 300.0,
         "created_at": _ago(days=30, hours=3)},
        {"order_id": "o-month", "customer_id": "month", "amount": 80.0,
         "created_at": _ago(days=30, hours=1)},
    ]
    ws = make_shop(customers=people, orders=history + open_orders)
    _on(ws, "unpaid_reminder", tmp_path, clock)
    tick = run_tick(ws, clock=clock)
    assert tick.entered["unpaid_reminder"]["1d"]["entered"] == 1
    rows = _entries(ws, "unpaid_reminder")
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("1d", "small", "o-day/1d"), ("30d", "big", "o-month-big/30d"),
        ("30d", "month", "o-month/30d"), ("7d", "week", "o-week/7d")]
    by_customer = {r[1]: r for r in rows}
    assert by_customer["week"][5] == 100  # 7 days: points
    assert by_customer["big"][4] == 30.0  # 30 days: 至尊VIP cash coupon
    assert by_customer["month"][4] == 5.0  # 普通会员
    assert tick.sent() == 4
    text = (tmp_path / "unpaid_reminder.csv").read_text(encoding="utf-8-sig")
    assert "订单o-day还未付款" in text
    assert "无门槛减30现金券" in text

    # a second tick adds nobody again; a day later the same order is not re-entered at 1d
    assert run_tick(ws, clock=clock).sent() == 0
    clock.advance(days=6)  # o-day is now 7 days old: its next step
    again = run_tick(ws, clock=clock)
    assert again.entered["unpaid_reminder"] == {
        "1d": {"entered": 0, "holdout": 0, "skipped": 0},
        "7d": {"entered": 1, "holdout": 0, "skipped": 0},
        "30d": {"entered": 0, "holdout": 0, "skipped": 0}}
    assert len(_entries(ws, "unpaid_reminder")) == 5


def test_cart_abandonment_only_without_an_order_since(make_shop, clock, tmp_path):
    clock.now = NOW
    events = [
        {"event_time": _ago(days=1, hours=3), "customer_id": "a", "event": "cart"},
        {"event_time": _ago(days=1, hours=2), "customer_id": "a", "event": "cart"},
        {"event_time": _ago(days=1, hours=3), "customer_id": "b", "event": "cart"},
        {"event_time": _ago(hours=5), "customer_id": "c", "event": "cart"},
    ]
    orders = [{"order_id": "ob", "customer_id": "b", "created_at": _ago(days=1)}]
    people = [{"customer_id": c, "email": f"{c}@x.cn"} for c in "abc"]
    ws = make_shop(customers=people, events=events, orders=orders)
    _on(ws, "cart_abandon", tmp_path, clock)
    run_tick(ws, clock=clock)
    assert [(r[1], r[2]) for r in _entries(ws, "cart_abandon")] == [
        ("a", f"cart/{_ago(days=1, hours=3).date()}/1d")]


def test_winback_at_one_three_and_six_months(make_shop, clock, tmp_path):
    clock.now = NOW
    lapsed = {"m1": 30, "m3": 90, "m6": 180, "recent": 10, "m2": 60}
    orders = [{"order_id": f"o-{c}", "customer_id": c, "amount": 100.0, "status": "paid",
               "created_at": _ago(days=d, hours=2), "paid_at": _ago(days=d, hours=2)}
              for c, d in lapsed.items()]
    ws = make_shop(customers=[{"customer_id": c, "email": f"{c}@x.cn"} for c in lapsed],
                   orders=orders)
    _on(ws, "winback", tmp_path, clock)
    run_tick(ws, clock=clock)
    rows = _entries(ws, "winback")
    assert [(r[0], r[1]) for r in rows] == [("1m", "m1"), ("3m", "m3"), ("6m", "m6")]
    assert rows[1][5] == 200  # points at 3 months
    assert rows[2][4] == 20.0  # a coupon at 6 months


def test_birthday_care_once_a_year_and_29_february_on_28_february(make_shop, clock, tmp_path):
    clock.now = dt.datetime(2023, 2, 28, 10, 0)
    people = [{"customer_id": "leap", "email": "l@x.cn", "birthday": dt.date(2000, 2, 29)},
              {"customer_id": "today", "email": "t@x.cn", "birthday": dt.date(1990, 2, 28)},
              {"customer_id": "other", "email": "o@x.cn", "birthday": dt.date(1990, 3, 1)}]
    ws = make_shop(customers=people, orders=[{"order_id": "o", "customer_id": "other",
                                              "created_at": dt.datetime(2023, 1, 1)}])
    _on(ws, "birthday", tmp_path, clock)
    assert run_tick(ws, clock=clock).sent() == 2
    clock.advance(hours=5)
    assert run_tick(ws, clock=clock).sent() == 0  # once per birthday
    assert {r[2] for r in _entries(ws, "birthday")} == {"birthday/2023"}


def test_each_automation_keeps_its_own_holdout_which_receives_nothing(make_shop, clock,
                                                                      tmp_path):
    clock.now = NOW
    ids = [f"c{i:03d}" for i in range(300)]
    orders = [{"order_id": f"o{c}", "customer_id": c, "amount": 50.0,
               "created_at": _ago(days=1, hours=1)} for c in ids]
    ws = make_shop(customers=[{"customer_id": c, "email": f"{c}@x.cn"} for c in ids],
                   orders=orders)
    _on(ws, "unpaid_reminder", tmp_path, clock, holdout=0.1)
    tick = run_tick(ws, clock=clock)
    held = {c for c in ids if is_held_out("unpaid_reminder", c, 0.1)}
    rows = _entries(ws, "unpaid_reminder")
    assert {r[1] for r in rows if r[3] == "holdout"} == held
    assert tick.sent() == 300 - len(held)
    sent = ws.raw.execute("SELECT customer_id FROM kq_sends WHERE status = 'sent'").fetchall()
    assert not {c for (c,) in sent} & held
    # measured like a campaign: nobody paid, so no uplift either way
    rep = measure(ws, "unpaid_reminder", as_of=NOW + dt.timedelta(days=15))
    assert (rep.target.customers, rep.holdout.customers) == (300 - len(held), len(held))
    assert rep.conversion_uplift == 0


def test_a_disabled_automation_enters_and_sends_nothing(make_shop, clock, tmp_path):
    clock.now = NOW
    ws = make_shop(customers=[{"customer_id": "a", "email": "a@x.cn"}],
                   orders=[{"order_id": "o", "customer_id": "a",
                            "created_at": _ago(days=1, hours=1)}])
    _on(ws, "unpaid_reminder", tmp_path, clock)
    disable_automation(ws, "unpaid_reminder", clock=clock)
    assert run_tick(ws, clock=clock).entered == {}
    assert _entries(ws, "unpaid_reminder") == []


def test_the_frequency_cap_holds_within_one_tick_across_batches(make_shop, clock, tmp_path):
    from kequn.campaigns import write_settings

    clock.now = NOW
    orders = [{"order_id": f"o{k}", "customer_id": "a", "amount": 10.0,
               "created_at": _ago(days=1, hours=k + 1)} for k in range(3)]
    ws = make_shop(customers=[{"customer_id": "a", "email": "a@x.cn"}], orders=orders)
    write_settings(ws, frequency_cap=1)
    _on(ws, "unpaid_reminder", tmp_path, clock)
    ticking = iter(NOW + dt.timedelta(seconds=k) for k in range(10_000))
    tick = run_tick(ws, clock=lambda: next(ticking), batch_size=1)  # time moves on
    assert tick.sent() == 1
    assert tick.automations[0]["skipped"] == {"frequency_cap": 2}
