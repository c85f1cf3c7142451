"""Workspace status, uploads through the loader, the load history and the quarantine."""

from __future__ import annotations

from pathlib import Path

from web_helpers import audit_rows, bearer

ORDERS_CSV = (
    "order_id,customer_id,created_at,paid_at,status,amount\n"
    "w1,C0000001,2026-10-01 10:00,2026-10-01 10:05,paid,100\n"
    "w2,C0000002,not a time,,created,50\n"
    "w3,13812341234 zhang@example.com,also bad,,created,1\n"
)


def test_read_status_lists_every_table_with_rows_and_range(client):
    r = client.get("/api/status")
    assert r.status_code == 200
    tables = {t["table"]: t for t in r.json()["tables"]}
    assert set(tables) == {"customers", "products", "orders", "order_items", "events",
                           "marketing_costs"}
    assert tables["customers"]["rows"] == 120
    assert tables["customers"]["label_zh"] == "客户"
    assert tables["orders"]["first"] <= tables["orders"]["last"]


def test_upload_loads_the_file_and_returns_report_and_quarantined_rows(client):
    files = {"file": ("web_orders.csv", ORDERS_CSV.encode(), "text/csv")}
    r = client.post("/api/loads", data={"table": "orders"}, files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["read"], body["stored"], body["quarantined"]) == (3, 1, 2)
    assert body["files"][0]["file"] == "web_orders.csv"  # the server's temp path is not shown
    lines = sorted(q["line"] for q in body["quarantined_rows"])
    assert lines == [3, 4]
    history = client.get("/api/loads").json()
    assert history["total"] == 1
    assert history["items"][0]["load_id"] == body["load_id"]


def test_uploading_the_same_file_again_changes_nothing(client):
    files = {"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")}
    first = client.post("/api/loads", data={"table": "orders"}, files=files).json()
    again = client.post("/api/loads", data={"table": "orders"}, files=files).json()
    assert first["inserted"] == 1
    assert again["inserted"] == 0
    assert again["unchanged"] == 1


def test_quarantined_raw_rows_are_masked_for_an_analyst(secured, tokens, ws_path: Path):
    files = {"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")}
    r = secured.post("/api/loads", data={"table": "orders"}, files=files,
                     headers=bearer(tokens["analyst"]))
    assert r.status_code == 200, r.text
    raws = " ".join(q["raw"] for q in r.json()["quarantined_rows"])
    assert "138****1234" in raws
    assert "z***@example.com" in raws
    assert "13812341234" not in raws
    assert "zhang@" not in raws
    page = secured.get("/api/quarantine?table=orders", headers=bearer(tokens["admin"])).json()
    assert any("13812341234" in q["raw"] for q in page["items"])  # admins see it as loaded
    logged = audit_rows(ws_path, "personal.view")
    assert [row["actor"] for row in logged] == ["token:test-analyst", "token:test-admin"]


def test_quarantine_is_paged(client):
    files = {"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")}
    client.post("/api/loads", data={"table": "orders"}, files=files)
    page = client.get("/api/quarantine?limit=1").json()
    assert (page["total"], len(page["items"]), page["next_offset"]) == (2, 1, 1)
    last = client.get("/api/quarantine?limit=1&offset=1").json()
    assert last["next_offset"] is None


def test_upload_of_an_unknown_table_is_a_400_naming_the_choices(client):
    files = {"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")}
    r = client.post("/api/loads", data={"table": "orderz"}, files=files)
    assert r.status_code == 400
    assert r.json()["error"] == "UnknownTableError"
    assert "did you mean 'orders'" in r.json()["message"]


def test_upload_of_an_empty_file_is_a_400(client):
    r = client.post("/api/loads", data={"table": "orders"},
                    files={"file": ("empty.csv", b"", "text/csv")})
    assert r.status_code == 400
    assert "empty" in r.json()["message"]


def test_upload_without_a_file_is_a_422(client):
    r = client.post("/api/loads", data={"table": "orders"})
    assert r.status_code == 422
    assert r.json()["error"] == "ValidationError"


def test_upload_over_the_limit_is_refused_with_413(make_client):
    small = make_client(max_upload_bytes=1000)
    big = ORDERS_CSV + "w9,C0000009,2026-10-01 10:00,,created,1\n" * 50
    r = small.post("/api/loads", data={"table": "orders"},
                   files={"file": ("big.csv", big.encode(), "text/csv")})
    assert r.status_code == 413
    assert r.json()["error"] == "PayloadTooLargeError"


def test_a_viewer_cannot_upload(secured, tokens):
    files = {"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")}
    r = secured.post("/api/loads", data={"table": "orders"}, files=files,
                     headers=bearer(tokens["viewer"]))
    assert r.status_code == 403
    assert "analyst" in r.json()["message"]
