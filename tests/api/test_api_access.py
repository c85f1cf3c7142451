"""Who may do what: loopback without tokens, required tokens, roles, token files, revocation,
the audit of personal data, and the error bodies."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from web_helpers import audit_rows, bearer

import kequn
from kequn.api import ServerConfig, create_app
from kequn.api.access import TokenError, read_token_file, revoke_token
from kequn.api.config import is_loopback


def test_loopback_without_tokens_acts_as_the_local_admin(client, ws_path: Path):
    assert client.get("/api/audit").status_code == 200
    client.post("/api/segments/members", json={"rule": "active", "limit": 1})
    assert audit_rows(ws_path, "personal.view")[-1]["actor"].startswith("local:")


def test_a_server_beyond_loopback_refuses_to_start_without_tokens(ws_path: Path):
    with pytest.raises(TokenError, match="needs tokens"):
        create_app(ServerConfig(workspace=ws_path, host="0.0.0.0", warm_cache=False))


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("localhost", True),
                                                 ("::1", True), ("0.0.0.0", False),
                                                 ("192.168.1.5", False)])
def test_which_hosts_count_as_this_machine(host, loopback):
    assert is_loopback(host) is loopback


def test_a_request_without_a_token_is_a_401(secured):
    r = secured.get("/api/status")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "AccessError"


def test_a_wrong_token_is_a_401(secured):
    r = secured.get("/api/status", headers=bearer("kq_not-a-real-token"))
    assert r.status_code == 401
    assert "not valid" in r.json()["message"]


def test_a_viewer_sees_metrics_and_counts_but_no_members(secured, tokens):
    h = bearer(tokens["viewer"])
    assert secured.get("/api/metrics/rfm", headers=h).status_code == 200
    assert secured.post("/api/segments/count", json={"rule": "active"}, headers=h).status_code \
        == 200
    members = secured.get("/api/segments/active/members", headers=h)
    assert members.status_code == 403
    assert "analyst role" in members.json()["message"]
    assert secured.post("/api/segments/explain", headers=h,
                        json={"rule": "active", "customer_id": "C0000001"}).status_code == 403


def test_an_analyst_gets_members_masked_and_logged(secured, tokens, ws_path: Path):
    r = secured.post("/api/segments/members", headers=bearer(tokens["analyst"]),
                     json={"rule": "member_v4_plus", "attributes": True, "limit": 50})
    emails = [m["email"] for m in r.json()["items"] if m["email"]]
    assert emails
    assert all("***@" in e for e in emails)
    row = audit_rows(ws_path, "personal.view")[-1]
    assert row["actor"] == "token:test-analyst"
    assert '"masked": true' in row["detail"]


def test_a_revoked_token_stops_working(secured, tokens, ws_path: Path):
    h = bearer(tokens["viewer"])
    assert secured.get("/api/status", headers=h).status_code == 200
    with kequn.open(ws_path) as ws:
        from kequn.api.access import list_tokens

        token_id = next(t["token_id"] for t in list_tokens(ws) if t["name"] == "test-viewer")
        revoke_token(ws, token_id)
    secured.app.state.kequn.tokens.refresh()
    assert secured.get("/api/status", headers=h).status_code == 401


def test_tokens_from_a_token_file_in_clear_or_as_a_hash(make_client, tmp_path: Path):
    digest = hashlib.sha256(b"secret-admin").hexdigest()
    path = tmp_path / "tokens.txt"
    path.write_text("# role token name\nviewer secret-viewer dashboards\n"
                    f"admin sha256:{digest} ops team\n", encoding="utf-8")
    client = make_client(host="0.0.0.0", token_file=path)
    assert client.get("/api/audit", headers=bearer("secret-viewer")).status_code == 403
    assert client.get("/api/audit", headers=bearer("secret-admin")).status_code == 200


def test_a_malformed_token_file_is_refused(tmp_path: Path):
    path = tmp_path / "tokens.txt"
    path.write_text("superuser abc\n", encoding="utf-8")
    with pytest.raises(TokenError, match="unknown role 'superuser'"):
        read_token_file(path)
    path.write_text("viewer\n", encoding="utf-8")
    with pytest.raises(TokenError, match=":1: expected 'ROLE TOKEN"):
        read_token_file(path)


def test_stored_tokens_keep_only_hashes(tokens, ws_path: Path):
    with kequn.open(ws_path, read_only=True) as ws:
        stored = ws.raw.execute("SELECT token_hash FROM kq_tokens").fetchall()
    assert len(stored) == 3
    assert all(len(h) == 64 and h not in tokens.values() for (h,) in stored)


def test_a_json_body_over_the_limit_is_a_413(make_client):
    small = make_client(max_body_bytes=2000)
    r = small.post("/api/segments/validate", json={"rule": "active AND " * 400 + "active"})
    assert r.status_code == 413
    assert "limit" in r.json()["message"]


def test_an_unknown_api_path_is_a_json_404(client):
    r = client.get("/api/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"] == "HTTPError"


def test_a_wrong_method_is_a_405(client):
    assert client.delete("/api/status").status_code == 405


def test_a_malformed_json_body_is_a_422(client):
    r = client.post("/api/segments/count", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"] == "ValidationError"


def test_the_openapi_schema_documents_the_routes(client):
    schema = client.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/status", "/api/loads", "/api/metrics/{name}", "/api/segments",
                 "/api/segments/validate", "/api/segments/{segment_id}/members",
                 "/api/predictions", "/api/campaigns/{campaign_id}/send", "/api/automations",
                 "/api/audit"):
        assert path in paths
    assert not any(p.startswith("/groups") for p in paths)  # pages are not API


def test_an_unexpected_failure_is_a_500_without_details(client, monkeypatch):
    from kequn.api.routes import data

    def boom(ws):
        msg = "secret internals"
        raise ZeroDivisionError(msg)

    monkeypatch.setattr(data, "workspace_status", boom)
    r = client.get("/api/status")
    assert r.status_code == 500
    assert "secret" not in r.text
    assert r.json()["error"] == "InternalError"


def test_a_busy_workspace_is_a_503_with_retry_after(client):
    from kequn.api.errors import status_of
    from kequn.errors import WorkspaceError

    busy = WorkspaceError("cannot open workspace w.duckdb: another kequn process is using it")
    assert status_of(busy) == 503
    assert status_of(WorkspaceError("the workspace has no orders or events yet")) == 400
