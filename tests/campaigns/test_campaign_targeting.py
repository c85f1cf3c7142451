"""Audiences from any table of customer ids, and the stable-hash holdout."""

from __future__ import annotations

import hashlib

import ibis
import pytest
from campaign_helpers import customers

from kequn.campaigns import (
    CampaignError,
    audience_from,
    create_campaign,
    get_campaign,
    holdout_bucket,
    is_held_out,
    plan_recipients,
)
from kequn.campaigns.targeting import assign_groups, holdout_threshold


def test_audience_is_the_distinct_customer_ids_of_any_table():
    t = ibis.memtable({"customer_id": ["a", "b", "a", None], "x": [1, 2, 3, 4]})
    assert sorted(audience_from(t).to_pyarrow().column(0).to_pylist()) == ["a", "b"]
    with pytest.raises(CampaignError, match="needs a customer_id column"):
        audience_from(ibis.memtable({"id": ["a"]}))


def test_holdout_is_the_documented_hash_so_anyone_can_recompute_it():
    digest = hashlib.sha256(b"cmp-0001:c0042").hexdigest()
    assert holdout_bucket("cmp-0001", "c0042") == digest[:12]
    assert is_held_out("cmp-0001", "c0042", 0.1) == (int(digest[:12], 16) < 0.1 * 16**12)


def test_ibis_and_python_agree_on_every_customer():
    ids = [f"c{i}" for i in range(2000)]
    groups = assign_groups(ibis.memtable({"customer_id": ids}), "cmp-0007", 0.1)
    rows = groups.to_pyarrow().to_pylist()
    assert all((r["grp"] == "holdout") == is_held_out("cmp-0007", r["customer_id"], 0.1)
               for r in rows)
    assert all(r["bucket"] == holdout_bucket("cmp-0007", r["customer_id"]) for r in rows)


def test_holdout_share_is_close_to_what_was_asked_and_differs_between_campaigns():
    ids = ibis.memtable({"customer_id": [f"c{i}" for i in range(20000)]})
    a = assign_groups(ids, "cmp-A", 0.1).to_pyarrow().to_pylist()
    b = assign_groups(ids, "cmp-B", 0.1).to_pyarrow().to_pylist()
    held_a = {r["customer_id"] for r in a if r["grp"] == "holdout"}
    held_b = {r["customer_id"] for r in b if r["grp"] == "holdout"}
    assert 1850 < len(held_a) < 2150  # 10% ± 3.5 standard deviations
    assert len(held_a & held_b) < 300  # independent draws overlap ~1%, not ~10%


def test_threshold_edges():
    assert holdout_threshold(0) == "000000000000"
    assert holdout_threshold(1) == "1000000000000"
    assert not is_held_out("k", "c1", 0.0)


def test_the_same_campaign_plans_the_same_groups_every_time(make_shop, clock):
    ws = make_shop(customers=customers(300))
    audience = ws.table("customers").select("customer_id")
    c = create_campaign(ws, {"name": "t"}, audience=audience, clock=clock)
    first = plan_recipients(ws, c, now=clock()).to_pyarrow().to_pylist()
    clock.advance(days=3)
    again = plan_recipients(ws, get_campaign(ws, c.campaign_id), now=clock())
    assert {(r["customer_id"], r["grp"]) for r in first} == \
        {(r["customer_id"], r["grp"]) for r in again.to_pyarrow().to_pylist()}


def test_a_campaign_names_a_segment_or_an_audience_not_both(make_shop, clock):
    ws = make_shop(customers=customers(3))
    with pytest.raises(CampaignError, match="exactly one"):
        create_campaign(ws, {"name": "t"}, clock=clock)
    with pytest.raises(CampaignError, match="exactly one"):
        create_campaign(ws, {"name": "t", "segment": "interest"},
                        audience=ws.table("customers"), clock=clock)


def test_a_segment_is_evaluated_lazily_at_send_time_with_an_explicit_as_of(make_shop, clock,
                                                                         monkeypatch, tmp_path):
    import kequn.campaigns.targeting

    calls = []

    def evaluate(ws, rule_or_id, *, as_of):
        calls.append((rule_or_id, as_of))
        t = ws.table("customers")
        return t.filter(t.customer_id.isin(["c0001", "c0002", "c0003"])).select("customer_id")

    monkeypatch.setattr(kequn.campaigns.targeting, "evaluate", evaluate)
    paid = {"created_at": clock(), "paid_at": clock(), "status": "paid", "amount": 1.0}
    ws = make_shop(customers=customers(10),
                   orders=[{"order_id": "o1", "customer_id": "c0001", **paid}])
    c = create_campaign(ws, {"name": "seg", "segment": "interest", "holdout": 0,
                             "channel_options": {"directory": str(tmp_path)}}, clock=clock)
    assert calls == []  # nothing evaluated at creation
    from kequn.campaigns import send_campaign

    report = send_campaign(ws, c.campaign_id, clock=clock)
    assert calls == [("interest", clock())]  # as_of: the latest data (SPEC §1 default)
    assert report.delivery.sent == 3
