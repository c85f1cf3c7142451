"""RFM 8 classes (seed 004) and the channel quadrant with seed 003's advice."""

from __future__ import annotations

import datetime as dt

from kequn.metrics import Metrics
from kequn.metrics.channels import QUADRANTS

ts = dt.datetime.fromisoformat


def paid(i, c, t, amount):
    return {"order_id": i, "customer_id": c, "created_at": ts(t), "paid_at": ts(t),
            "amount": amount}


def test_rfm_classes_split_at_the_medians(make_shop):
    # recency days at 2024-04-01 00:00: a 1, b 11, c 61, d 91
    # frequency: a 3, b 1, c 2, d 1  -> median 1.5 (F high: a, c)
    # monetary:  a 300, b 500, c 40, d 10 -> median 170 (M high: a, b)
    # recency median 36 -> R high: a, b
    orders = [paid("1", "a", "2024-01-01", 100.0), paid("2", "a", "2024-02-01", 100.0),
              paid("3", "a", "2024-03-31", 100.0), paid("4", "b", "2024-03-21", 500.0),
              paid("5", "c", "2024-01-01", 20.0), paid("6", "c", "2024-01-31", 20.0),
              paid("7", "d", "2024-01-01", 10.0)]
    ws = make_shop(customers=[{"customer_id": c} for c in "abcd"], orders=orders)
    rows = {r["name_zh"]: r for r in Metrics(ws).rfm(as_of=ts("2024-04-01")).to_pylist()}
    assert list(rows) == ["重要价值", "重要发展", "重要保持", "重要挽留",
                          "一般价值", "一般发展", "一般保持", "一般挽留"]
    got = {name: (r["customers"], r["revenue"]) for name, r in rows.items() if r["customers"]}
    assert got == {"重要价值": (1, 300.0), "重要发展": (1, 500.0), "一般保持": (1, 40.0),
                   "一般挽留": (1, 10.0)}
    assert rows["重要发展"]["revenue_share"] == 500 / 850


def test_rfm_scores_by_quintile_and_by_cut_offs(make_shop):
    orders = [paid(str(i), f"c{i}", f"2024-03-{i + 1:02d}", 10.0 * (i + 1)) for i in range(10)]
    ws = make_shop(customers=[{"customer_id": f"c{i}"} for i in range(10)], orders=orders)
    m = Metrics(ws)
    scores = m.rfm_scores(as_of="2024-03-31").to_pyarrow().to_pylist()
    by_id = {s["customer_id"]: s for s in scores}
    # 10 buyers: two per quintile; the latest and biggest spenders score 5
    assert [by_id[f"c{i}"]["m_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert [by_id[f"c{i}"]["r_score"] for i in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert {s["f_score"] for s in scores} == {1}  # everyone has one order: all tie at the bottom
    cut = m.rfm_scores(as_of="2024-03-31", m_cuts=(20, 40, 60, 80)).to_pyarrow().to_pylist()
    assert sorted(s["m_score"] for s in cut) == [1, 2, 2, 3, 3, 4, 4, 5, 5, 5]


def test_channel_quadrant_and_advice(make_shop):
    def ev(c, e, ch, minute):
        return {"customer_id": c, "event_time": ts(f"2024-03-05 10:{minute:02d}"), "event": e,
                "channel": ch}

    events = []
    # search: 4 visitors, 3 pay; ads: 4 visitors, 1 pays; email: 1 visitor pays; tv: 1, none
    plan = {"search": (4, 3), "ads": (4, 1), "email": (1, 1), "tv": (1, 0)}
    n = 0
    for ch, (visitors, payers) in plan.items():
        for i in range(visitors):
            c = f"{ch}{i}"
            events.append(ev(c, "visit", ch, 0))
            if i < payers:
                events.append(ev(c, "pay", ch, 5))
            n += 1
    ws = make_shop(customers=[{"customer_id": e["customer_id"]} for e in events
                              if e["event"] == "visit"], events=events)
    rows = {r["channel"]: r for r in Metrics(ws).channels(
        as_of="2024-03-31", steps=("visit", "pay")).to_pylist()}
    # traffic median 2.5, conversion median (0.75 + 0.25 + 1 + 0) / 2 of sorted -> 0.5
    assert {ch: r["quadrant"] for ch, r in rows.items()} == {
        "search": "grow", "ads": "refine", "email": "scale_up", "tv": "watch"}
    assert rows["search"]["traffic"] == 4
    assert rows["search"]["conversion"] == 0.75
    assert rows["email"]["advice_zh"] == QUADRANTS["scale_up"]["advice_zh"]
    assert "加大渠道投放" in rows["email"]["advice_zh"]
    assert "谨慎" in rows["tv"]["advice_zh"]
    assert rows["ads"]["advice_en"].startswith("Target more precisely")


def test_rfm_grid_and_the_rfm_8_group_agree_on_a_spend_of_0_1_plus_0_2(make_shop):
    from kequn import segments as sg

    # a's spend 0.1 + 0.2 is 0.30000000000000004 in floating point, the median is 0.3:
    # in cents it is 0.30, no more than the median, in the grid and in the group alike
    orders = [paid("1", "a", "2024-03-01", 0.1), paid("2", "a", "2024-03-02", 0.2),
              paid("3", "b", "2024-03-01", 0.3), paid("4", "c", "2024-03-01", 0.3),
              paid("5", "d", "2024-03-01", 5.0), paid("6", "e", "2024-03-01", 0.1)]
    ws = make_shop(customers=[{"customer_id": c} for c in "abcde"], orders=orders)
    as_of = ts("2024-04-01")
    scores = Metrics(ws).rfm_scores(as_of=as_of).to_pyarrow().to_pylist()
    grid = {s["customer_id"]: s["rfm_class"] for s in scores}
    family = sg.evaluate(ws, "rfm_8", as_of=as_of).to_pyarrow().to_pylist()
    assert grid == {r["customer_id"]: r["label"] for r in family}
    assert not {s["customer_id"]: s["m_high"] for s in scores}["a"]
