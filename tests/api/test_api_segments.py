"""Segments over HTTP: list, create from text or JSON, validate with positions, count,
members (paged, masked), explain, history, delete — and every error path."""

from __future__ import annotations

from pathlib import Path

import pytest
from web_helpers import audit_rows, bearer

VIP = "member_level IN ('V4', 'V5', 'V6')"


def test_list_segments_without_sizes_shows_builtins_paged(client):
    r = client.get("/api/segments?sizes=false&limit=5")
    assert r.status_code == 200
    page = r.json()
    assert page["total"] >= 30
    assert len(page["items"]) == 5
    assert page["next_offset"] == 5
    first = page["items"][0]
    assert (first["id"], first["name_zh"], first["origin"]) == ("interest", "兴趣人群", "builtin")
    assert "size" not in first


@pytest.mark.slow
def test_list_segments_with_sizes_counts_every_group(client):
    items = client.get("/api/segments?limit=1000").json()["items"]
    sizes = {s["id"]: s["size"] for s in items}
    direct = client.post("/api/segments/count", json={"rule": "active"}).json()["count"]
    assert sizes["active"] == direct
    family = next(s for s in items if s["id"] == "vip_pyramid")
    assert sum(family["labels"].values()) == family["size"]


def test_create_segment_from_text_then_read_and_count_it(client):
    r = client.post("/api/segments", json={"id": "vip", "rule": VIP, "name_zh": "高级会员"})
    assert r.status_code == 201, r.text
    assert r.json()["json"]["type"] == "in"
    shown = client.get("/api/segments/vip").json()
    assert shown["name_zh"] == "高级会员"
    assert shown["origin"] == "saved"
    counted = client.get("/api/segments/vip/count").json()
    same = client.post("/api/segments/count", json={"rule": VIP}).json()
    assert counted["count"] == same["count"] > 0


def test_create_segment_from_json_round_trips_to_the_same_text(client):
    rule_json = client.post("/api/segments/validate", json={"rule": VIP}).json()["json"]
    r = client.post("/api/segments", json={"id": "vip_json", "rule": rule_json})
    assert r.status_code == 201
    assert r.json()["text"].strip() == client.post(
        "/api/segments/validate", json={"rule": VIP}).json()["text"]


def test_create_segment_with_a_taken_id_is_a_400_unless_replaced(client):
    client.post("/api/segments", json={"id": "vip", "rule": VIP})
    again = client.post("/api/segments", json={"id": "vip", "rule": "city_tier <= 2"})
    assert again.status_code == 400
    assert "replace" in again.json()["message"]
    replaced = client.post("/api/segments", json={"id": "vip", "rule": "city_tier <= 2",
                                                  "replace": True})
    assert replaced.status_code == 201
    assert "city_tier" in replaced.json()["text"]


def test_create_segment_with_a_bad_id_is_a_400(client):
    r = client.post("/api/segments", json={"id": "Bad Id", "rule": VIP})
    assert r.status_code == 400
    assert "lower-case" in r.json()["message"]


def test_validate_reports_the_position_of_a_syntax_error(client):
    r = client.post("/api/segments/validate", json={"rule": "city_tier <= 2\nAND member_level ="})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "RuleSyntaxError"
    assert (body["line"], body["col"]) == (2, 19)
    assert "^" in body["snippet"]
    assert body["expected"]


def test_validate_suggests_a_close_name_for_a_typo(client):
    r = client.post("/api/segments/validate", json={"rule": "membr_level = 'V4'"})
    assert r.status_code == 422
    assert r.json()["suggestion"] == "member_level"


def test_create_with_a_syntax_error_is_a_422_with_position(client):
    r = client.post("/api/segments", json={"id": "broken", "rule": "spend( > 3"})
    assert r.status_code == 422
    assert r.json()["line"] == 1
    assert r.json()["col"] > 1


def test_validate_of_a_rule_naming_an_unknown_segment_is_a_400(client):
    r = client.post("/api/segments/validate", json={"rule": "segment(nosuch)"})
    assert r.status_code == 400
    assert "nosuch" in r.json()["message"]


def test_validate_of_a_malformed_json_rule_is_a_422(client):
    r = client.post("/api/segments/validate", json={"rule": {"type": "bogus"}})
    assert r.status_code == 422
    assert r.json()["error"] == "RuleSyntaxError"


def test_count_of_a_family_gives_each_label(client):
    body = client.post("/api/segments/count", json={"rule": "vip_pyramid"}).json()
    assert set(body["labels"]) >= {"supreme", "vip"}
    assert sum(body["labels"].values()) == body["count"]


def test_count_at_an_earlier_as_of_uses_that_moment(client):
    now = client.post("/api/segments/count", json={"rule": "paid_orders >= 1"}).json()
    early = client.post("/api/segments/count", json={"rule": "paid_orders >= 1",
                                                     "as_of": "2026-05-01"}).json()
    assert early["as_of"].startswith("2026-05-01")
    assert early["count"] < now["count"]


def test_count_with_a_bad_as_of_is_a_400(client):
    r = client.post("/api/segments/count", json={"rule": "active", "as_of": "yesterday-ish"})
    assert r.status_code == 400
    assert r.json()["error"] == "AsOfError"


def test_members_are_paged_in_id_order(client):
    client.post("/api/segments", json={"id": "vip", "rule": VIP})
    total = client.get("/api/segments/vip/count").json()["count"]
    first = client.get("/api/segments/vip/members?limit=3").json()
    second = client.get("/api/segments/vip/members?limit=3&offset=3").json()
    ids = [m["customer_id"] for m in first["items"] + second["items"]]
    assert first["total"] == total
    assert ids == sorted(ids)
    assert len(set(ids)) == 6


def test_members_of_a_rule_with_attributes_are_masked_and_audited(client, ws_path: Path):
    r = client.post("/api/segments/members", json={"rule": VIP, "attributes": True, "limit": 5})
    assert r.status_code == 200
    rows = r.json()["items"]
    phones = [m["phone"] for m in rows if m["phone"]]
    assert phones
    assert all("****" in p for p in phones)
    logged = audit_rows(ws_path, "personal.view")
    assert logged[-1]["object"] == "segment:" + VIP
    assert '"rows": 5' in logged[-1]["detail"]


def test_admin_sees_contact_data_only_when_asking(client):
    client.post("/api/segments", json={"id": "vip", "rule": VIP})
    masked = client.get("/api/segments/vip/members?attributes=true&limit=20").json()["items"]
    clear = client.get("/api/segments/vip/members?attributes=true&limit=20"
                       "&show_personal=true").json()["items"]
    assert [m["customer_id"] for m in masked] == [m["customer_id"] for m in clear]
    assert any(m["phone"] and "****" not in m["phone"] for m in clear)


def test_an_analyst_cannot_unmask(secured, tokens):
    r = secured.post("/api/segments/members", headers=bearer(tokens["analyst"]),
                     json={"rule": VIP, "attributes": True, "show_personal": True})
    assert r.status_code == 403


def test_members_of_an_unknown_segment_is_a_404(client):
    r = client.get("/api/segments/nosuch/members")
    assert r.status_code == 404
    assert r.json()["error"] == "NotFoundError"


def test_members_limit_over_1000_is_a_422(client):
    assert client.get("/api/segments/active/members?limit=5000").status_code == 422


def test_explain_shows_each_condition_with_the_customers_value(client):
    member = client.post("/api/segments/members", json={"rule": VIP, "limit": 1}).json()
    cid = member["items"][0]["customer_id"]
    r = client.post("/api/segments/explain", json={"rule": VIP, "customer_id": cid})
    assert r.status_code == 200
    body = r.json()
    assert body["member"] is True
    assert body["conditions"][0]["value"] in ("V4", "V5", "V6")


def test_explain_of_an_unknown_customer_is_a_404(client):
    r = client.get("/api/segments/active/explain/NOBODY")
    assert r.status_code == 404
    assert "NOBODY" in r.json()["message"]


def test_history_shows_snapshots_and_who_entered_for_an_analyst(client, secured, tokens):
    client.post("/api/segments", json={"id": "vip", "rule": VIP})
    assert client.post("/api/segments/vip/snapshots?as_of=2026-06-01").status_code == 201
    assert client.post("/api/segments/vip/snapshots").status_code == 201
    full = client.get("/api/segments/vip/history").json()
    assert len(full["snapshots"]) == 2
    assert isinstance(full["changes"]["entered"], list)
    counts = secured.get("/api/segments/vip/history", headers=bearer(tokens["viewer"])).json()
    assert counts["changes"]["entered"] == len(full["changes"]["entered"])


def test_history_of_an_unknown_segment_is_a_404(client):
    assert client.get("/api/segments/nosuch/history").status_code == 404


def test_delete_a_saved_segment_then_it_is_gone(client):
    client.post("/api/segments", json={"id": "vip", "rule": VIP})
    assert client.delete("/api/segments/vip").status_code == 204
    assert client.get("/api/segments/vip").status_code == 404


def test_delete_of_a_builtin_segment_is_a_400(client):
    r = client.delete("/api/segments/interest")
    assert r.status_code == 400
    assert "built in" in r.json()["message"]
