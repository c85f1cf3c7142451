"""Predictions and campaigns over HTTP: fit, read, create, preview, send, report, recipients,
automations and the audit trail — with the roles each needs."""

from __future__ import annotations

from pathlib import Path

from web_helpers import audit_rows, bearer

CAMPAIGN = {"name": "回流券", "segment": "member_level IN ('V4', 'V5', 'V6')",
            "coupon": {"threshold": 200, "discount": 30, "validity_days": 10}}


def test_predictions_are_a_404_before_the_first_fit(client):
    r = client.get("/api/predictions")
    assert r.status_code == 404
    assert "kequn predict fit" in r.json()["message"]
    assert client.get("/api/predictions/customers").status_code == 404


def test_fit_then_read_the_run_and_the_customers_by_clv(client):
    fitted = client.post("/api/predictions/fit", json={"horizon_days": 60})
    assert fitted.status_code == 201, fitted.text
    run = client.get("/api/predictions").json()
    assert run["run_id"] == fitted.json()["run_id"]
    assert run["report"]["options"][
        "horizon_days"] == 60
    page = client.get("/api/predictions/customers?limit=5").json()
    clv = [c["clv"] for c in page["items"]]
    assert page["total"] == run["customers"]
    assert clv == sorted(clv, reverse=True)
    high = client.get("/api/predictions/customers?churn_risk=high&limit=1000").json()
    assert all(c["churn_risk"] == "high" for c in high["items"])


def test_fit_with_a_bad_model_is_a_422(client):
    assert client.post("/api/predictions/fit", json={"model": "magic"}).status_code == 422


def test_create_preview_send_and_report_a_campaign(client, ws_path):
    import kequn
    from kequn.campaigns.settings import write_settings

    with kequn.open(ws_path) as ws:  # the server sends on the real clock: not held till 9:00
        write_settings(ws, quiet_hours="off")
    created = client.post("/api/campaigns", json=CAMPAIGN)
    assert created.status_code == 201, created.text
    cid = created.json()["campaign_id"]
    assert "code_salt" not in created.json()["spec"]
    preview = client.post(f"/api/campaigns/{cid}/preview").json()
    assert preview["audience"] == preview["holdout"] + preview["target"]
    assert set(preview["removed"]) == set(preview["removed_labels"])
    assert preview["removed_labels"]["opted_out"]["zh"] == "已拒收"
    sent = client.post(f"/api/campaigns/{cid}/send", json={})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    report = client.get(f"/api/campaigns/{cid}/report").json()
    assert report["target"]["customers"] + report["holdout"]["customers"] > 0
    listed = client.get("/api/campaigns").json()
    assert listed["items"][0]["campaign_id"] == cid
    assert listed["items"][0]["sent"] > 0


def test_campaign_with_a_coupon_discount_over_its_threshold_is_a_400(client):
    bad = {**CAMPAIGN, "coupon": {"threshold": 10, "discount": 30}}
    r = client.post("/api/campaigns", json=bad)
    assert r.status_code == 400
    assert "threshold" in r.json()["message"]


def test_campaign_may_not_choose_its_code_salt(client):
    r = client.post("/api/campaigns", json={**CAMPAIGN, "code_salt": "guessable"})
    assert r.status_code == 400


def test_unknown_campaign_is_a_404(client):
    assert client.get("/api/campaigns/cmp-9999").status_code == 404
    assert client.post("/api/campaigns/cmp-9999/preview").status_code == 404
    assert client.get("/api/campaigns/cmp-9999/report").status_code == 404


def test_sending_a_cancelled_campaign_is_a_409(client):
    cid = client.post("/api/campaigns", json=CAMPAIGN).json()["campaign_id"]
    assert client.post(f"/api/campaigns/{cid}/cancel").json()["status"] == "cancelled"
    r = client.post(f"/api/campaigns/{cid}/send")
    assert r.status_code == 409
    assert "cancelled" in r.json()["message"]


def test_only_an_admin_sends(secured, tokens):
    cid = secured.post("/api/campaigns", json=CAMPAIGN,
                       headers=bearer(tokens["analyst"])).json()["campaign_id"]
    refused = secured.post(f"/api/campaigns/{cid}/send", headers=bearer(tokens["analyst"]))
    assert refused.status_code == 403
    assert "admin" in refused.json()["message"]
    sent = secured.post(f"/api/campaigns/{cid}/send", headers=bearer(tokens["admin"]))
    assert sent.status_code == 200


def test_campaign_actions_are_audited_with_the_token_name(secured, tokens, ws_path: Path):
    cid = secured.post("/api/campaigns", json=CAMPAIGN,
                       headers=bearer(tokens["analyst"])).json()["campaign_id"]
    created = audit_rows(ws_path, "campaign.create")
    assert (created[-1]["object"], created[-1]["actor"]) == (cid, "token:test-analyst")


def test_recipients_hide_coupon_codes_from_analysts(secured, tokens):
    cid = secured.post("/api/campaigns", json=CAMPAIGN,
                       headers=bearer(tokens["admin"])).json()["campaign_id"]
    secured.post(f"/api/campaigns/{cid}/send", headers=bearer(tokens["admin"]))
    seen = secured.get(f"/api/campaigns/{cid}/recipients?limit=1000",
                       headers=bearer(tokens["analyst"])).json()["items"]
    codes = {r["coupon_code"] for r in seen if r["grp"] == "target"}
    assert codes == {"***"}
    admin = secured.get(f"/api/campaigns/{cid}/recipients?limit=1000",
                        headers=bearer(tokens["admin"])).json()["items"]
    assert all(r["coupon_code"] != "***" for r in admin if r["grp"] == "target")


def test_automations_list_and_only_an_admin_enables(secured, tokens):
    listed = secured.get("/api/automations", headers=bearer(tokens["viewer"])).json()
    ids = {a["automation_id"] for a in listed}
    assert "unpaid" in ids or len(ids) >= 3
    one = sorted(ids)[0]
    assert secured.post(f"/api/automations/{one}/enable",
                        headers=bearer(tokens["analyst"])).status_code == 403
    enabled = secured.post(f"/api/automations/{one}/enable", headers=bearer(tokens["admin"]))
    assert enabled.status_code == 200
    assert enabled.json()["enabled"] is True
    patched = secured.patch(f"/api/automations/{one}", json={"holdout": 0.2},
                            headers=bearer(tokens["admin"]))
    assert patched.json()["spec"]["holdout"] == 0.2
    bad = secured.patch(f"/api/automations/{one}", json={"colour": "red"},
                        headers=bearer(tokens["admin"]))
    assert bad.status_code == 400
    assert secured.get("/api/automations/nosuch",
                       headers=bearer(tokens["viewer"])).status_code == 404


def test_the_audit_trail_is_for_admins_and_paged(secured, tokens):
    secured.post("/api/campaigns", json=CAMPAIGN, headers=bearer(tokens["admin"]))
    assert secured.get("/api/audit", headers=bearer(tokens["analyst"])).status_code == 403
    page = secured.get("/api/audit?action=campaign&limit=1",
                       headers=bearer(tokens["admin"])).json()
    assert page["total"] >= 1
    assert page["items"][0]["action"].startswith("campaign")


def test_erase_removes_a_customers_personal_data(client, ws_path: Path):
    before = client.get("/api/segments/member_v4_plus/members?attributes=true&limit=50"
                        "&show_personal=true").json()["items"]
    target = next(m for m in before if m["phone"])
    r = client.delete(f"/api/customers/{target['customer_id']}/personal-data")
    assert r.status_code == 200
    after = client.get("/api/segments/member_v4_plus/members?attributes=true&limit=50"
                       "&show_personal=true").json()["items"]
    erased = next(m for m in after if m["customer_id"] == target["customer_id"])
    assert (erased["phone"], erased["email"], erased["name"]) == (None, None, None)
    assert audit_rows(ws_path, "customer.erase")[-1]["object"] == target["customer_id"]


def test_erase_of_an_unknown_customer_is_a_404_and_needs_admin(client, secured, tokens):
    assert client.delete("/api/customers/NOBODY/personal-data").status_code == 404
    assert secured.delete("/api/customers/C0000001/personal-data",
                          headers=bearer(tokens["analyst"])).status_code == 403
