"""The audit trail: who created, changed, previewed and sent what, when, to how many."""

from __future__ import annotations

import json

import ibis
from campaign_helpers import customers

from kequn.campaigns import (
    create_campaign,
    enable_automation,
    preview_campaign,
    read_audit,
    send_campaign,
    update_campaign,
)


def test_every_step_of_a_campaign_is_in_the_audit_trail(make_shop, clock, tmp_path,
                                                        monkeypatch):
    monkeypatch.setenv("KEQUN_ACTOR", "xiaowang")
    ws = make_shop(customers=customers(20))
    ids = ibis.memtable({"customer_id": [f"c{i:04d}" for i in range(20)]})
    c = create_campaign(ws, {"name": "券", "holdout": 0,
                             "channel_options": {"directory": str(tmp_path)}},
                        audience=ids, clock=clock)
    clock.advance(minutes=1)
    update_campaign(ws, c.campaign_id, holdout=0.2, clock=clock)
    clock.advance(minutes=1)
    preview_campaign(ws, c.campaign_id, clock=clock)
    clock.advance(minutes=5)
    send_campaign(ws, c.campaign_id, clock=clock)  # freeze and send: the same minute
    clock.advance(minutes=1)
    enable_automation(ws, "birthday", clock=clock)
    rows = read_audit(ws).to_pyarrow().to_pylist()
    actions = [(r["action"], r["object"]) for r in reversed(rows)]
    assert actions[:3] == [("campaign.create", c.campaign_id),
                           ("campaign.update", c.campaign_id),
                           ("campaign.preview", c.campaign_id)]
    assert sorted(actions[3:5]) == [("campaign.freeze", c.campaign_id),
                                    ("campaign.send", c.campaign_id)]
    assert actions[5:] == [("automation.enable", "birthday")]
    assert {r["actor"] for r in rows} == {"xiaowang"}
    sent = next(json.loads(r["detail"]) for r in rows if r["action"] == "campaign.send")
    frozen = next(json.loads(r["detail"]) for r in rows if r["action"] == "campaign.freeze")
    assert sent["sent"] == frozen["to_send"] == 20 - frozen["holdout"]
    assert json.loads(rows[-2]["detail"])["fields"] == ["holdout"]  # the update
    assert rows[0]["at"] == clock()
    text = json.dumps([r["detail"] for r in rows])
    assert "@example.com" not in text
    assert "138" not in text
