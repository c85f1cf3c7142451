"""Value tiers (seed 004's pyramid) and the tier → perks table exported per customer."""

from __future__ import annotations

import datetime as dt

from kequn.campaigns import customer_perks, perks_table, value_tiers

AS_OF = dt.datetime(2024, 6, 30, 23, 59)


def _shop(make_shop):
    # 20 buyers with spend 100, 200, ... 2000 in the last year; one old buyer; one never bought
    orders = [{"order_id": f"o{i}", "customer_id": f"b{i:02d}", "amount": 100.0 * i,
               "status": "paid", "created_at": dt.datetime(2024, 3, 1),
               "paid_at": dt.datetime(2024, 3, 1)} for i in range(1, 21)]
    orders.append({"order_id": "old", "customer_id": "old", "amount": 9999.0, "status": "paid",
                   "created_at": dt.datetime(2022, 1, 1), "paid_at": dt.datetime(2022, 1, 1)})
    people = [{"customer_id": f"b{i:02d}"} for i in range(1, 21)]
    people += [{"customer_id": "old"}, {"customer_id": "never"}]
    return make_shop(customers=people, orders=orders)


def test_tiers_split_buyers_10_15_25_50_by_twelve_month_spend(make_shop):
    ws = _shop(make_shop)
    rows = value_tiers(ws, AS_OF).to_pyarrow().to_pylist()
    tier = {r["customer_id"]: r["tier"] for r in rows}
    assert "old" not in tier  # spend outside the 12 months
    counts = {t: list(tier.values()).count(t) for t in set(tier.values())}
    assert counts == {"supreme_vip": 2, "vip": 3, "senior": 5, "regular": 10}
    assert tier["b20"] == tier["b19"] == "supreme_vip"
    assert tier["b18"] == "vip"
    assert tier["b01"] == "regular"


def test_every_customer_gets_the_perks_of_their_tier(make_shop):
    ws = _shop(make_shop)
    rows = {r["customer_id"]: r for r in customer_perks(ws, AS_OF).to_pyarrow().to_pylist()}
    assert len(rows) == 22
    assert rows["b20"]["tier_zh"] == "至尊VIP"
    assert rows["b20"]["shipping"].startswith("顺丰包邮")
    assert rows["b20"]["return_days"] == 30
    assert rows["never"]["tier"] == "regular"
    assert rows["never"]["discount"] == 1.0
    assert [r["tier_zh"] for r in perks_table()] == ["至尊VIP", "VIP", "高级会员", "普通会员"]


def test_tiers_are_the_vip_pyramid_groups_labels_ties_at_the_cut_included(make_shop):
    from kequn import segments as sg

    # three buyers share the top spend of 20: each is in the top 10% (ties share the best rank)
    orders = [{"order_id": f"o{i}", "customer_id": f"b{i:02d}",
               "amount": 2000.0 if i >= 18 else 100.0 * i, "status": "paid",
               "created_at": dt.datetime(2024, 3, 1), "paid_at": dt.datetime(2024, 3, 1)}
              for i in range(1, 21)]
    ws = make_shop(customers=[{"customer_id": f"b{i:02d}"} for i in range(1, 21)],
                   orders=orders)
    tier = {r["customer_id"]: r["tier"] for r in value_tiers(ws, AS_OF).to_pyarrow().to_pylist()}
    assert tier["b18"] == tier["b19"] == tier["b20"] == "supreme_vip"
    group = sg.evaluate(ws, "vip_pyramid", as_of=AS_OF).to_pyarrow().to_pylist()
    named = {"supreme": "supreme_vip"}
    assert tier == {r["customer_id"]: named.get(r["label"], r["label"]) for r in group}
