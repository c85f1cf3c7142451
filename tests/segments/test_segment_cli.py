"""``kequn segment ...`` through Typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from segment_helpers import AS_OF, Shop
from typer.testing import CliRunner

import kequn
from kequn.cli.segment import app

runner = CliRunner()
WHEN = AS_OF.isoformat()


@pytest.fixture
def workspace(tmp_path) -> str:
    path = tmp_path / "shop.duckdb"
    ws = kequn.open(path)
    s = Shop()
    s.customer("c1", phone="13812341234", email="zhang@example.com", name="张三丰",
               member_level="V4", birthday=AS_OF.date().replace(year=1990))
    s.customer("c2", phone="13900001111", email="li@example.com", name="李四")
    s.order("c1", 10)
    s.order("c2", 100)
    s.event("c2", "cart", 2)
    from shop_rows import insert_rows

    for table in ("customers", "orders", "events"):
        insert_rows(ws, table, getattr(s, table))
    ws.close()
    return str(path)


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fail(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def test_list_shows_built_in_and_saved_segments_with_sizes(workspace: str) -> None:
    run("create", "v4", "member_level = 'V4'", "-w", workspace, "--name-zh", "V4会员")
    out = json.loads(run("list", "-w", workspace, "--as-of", WHEN, "--json"))
    sizes = {row["id"]: row for row in out["segments"]}
    assert sizes["active"]["size"] == 1
    assert sizes["interest"]["size"] == 1
    assert sizes["v4"]["origin"] == "saved"
    assert sizes["v4"]["size"] == 1
    assert sizes["lifecycle"]["labels"] == {"active": 1, "sleeping": 1, "pre_churn": 0,
                                            "churned": 0}
    text = run("list", "-w", workspace, "--as-of", WHEN)
    assert "新客户人群 / New customers" in text
    assert ".sleeping" in text


def test_show_prints_the_rule_to_copy(workspace: str) -> None:
    text = run("show", "new_customers", "-w", workspace)
    assert "paid_orders(last: 720d) = 1" in text
    assert "新客户人群" in text
    shown = json.loads(run("show", "vip_pyramid", "-w", workspace, "--json"))
    assert shown["family"]
    assert shown["labels"][0] == {"name": "supreme", "name_zh": "至尊VIP",
                                                      "name_en": "Supreme VIP"}
    assert shown["json"]["type"] == "family"


def test_create_from_a_file_and_count(workspace: str, tmp_path) -> None:
    rule = tmp_path / "recent.rules"
    rule.write_text("# bought this month\nlast_paid_at > -30d\n", encoding="utf-8")
    run("create", "recent", "--file", str(rule), "-w", workspace)
    assert run("count", "recent", "-w", workspace, "--as-of", WHEN).strip() == "1"
    assert json.loads(run("count", "spend > 0", "-w", workspace, "--as-of", WHEN,
                          "--json"))["count"] == 2
    fam = json.loads(run("count", "lifecycle", "-w", workspace, "--as-of", WHEN, "--json"))
    assert fam["labels"]["active"] == 1
    assert fam["count"] == 2
    assert "# bought this month" in run("show", "recent", "-w", workspace)


def test_members_csv_has_a_header_and_customer_id_first(workspace: str) -> None:
    out = run("members", "spend > 0", "-w", workspace, "--as-of", WHEN)
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [["customer_id"], ["c1"], ["c2"]]
    out = run("members", "lifecycle", "-w", workspace, "--as-of", WHEN)
    assert list(csv.reader(io.StringIO(out))) == [["customer_id", "label"], ["c1", "active"],
                                                 ["c2", "sleeping"]]


def test_members_mask_personal_columns_unless_asked(workspace: str) -> None:
    out = run("members", "spend > 0", "--with-attributes", "-w", workspace, "--as-of", WHEN)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["phone"] == "138****1234"
    assert rows[0]["email"] == "z***@example.com"
    assert rows[0]["name"] == "张**"
    assert rows[0]["birthday"] == "1990-**-**"
    assert rows[0]["member_level"] == "V4"
    assert next(iter(rows[0])) == "customer_id"
    shown = run("members", "spend > 0", "--with-attributes", "--show-personal", "-w",
                workspace, "--as-of", WHEN)
    assert "13812341234" in shown
    assert "zhang@example.com" in shown


def test_members_json_and_parquet(workspace: str, tmp_path) -> None:
    out = json.loads(run("members", "active", "--format", "json", "-w", workspace,
                         "--as-of", WHEN))
    assert out == [{"customer_id": "c1"}]
    target = tmp_path / "m.parquet"
    run("members", "spend > 0", "--format", "parquet", "--output", str(target), "-w",
        workspace, "--as-of", WHEN, "--with-attributes")
    table = pq.read_table(target)
    assert table.column("customer_id").to_pylist() == ["c1", "c2"]
    assert table.column("phone").to_pylist() == ["138****1234", "139****1111"]
    assert "give --output" in fail("members", "active", "--format", "parquet", "-w", workspace)


def test_explain_marks_each_condition(workspace: str) -> None:
    text = run("explain", "new_customers", "c1", "-w", workspace, "--as-of", WHEN)
    assert "c1: in" in text
    assert "✓ paid_orders(last: 720d) = 1   [value 值: 1]" in text
    data = json.loads(run("explain", "active", "c2", "-w", workspace, "--as-of", WHEN,
                          "--json"))
    assert data["member"] is False
    assert data["conditions"][0]["held"] is False


def test_snapshot_and_history(workspace: str) -> None:
    run("create", "recent", "last_paid_at > -30d", "-w", workspace)
    run("snapshot", "-w", workspace, "--as-of", "2024-06-01")
    run("snapshot", "-w", workspace, "--as-of", WHEN)
    data = json.loads(run("history", "recent", "-w", workspace, "--json"))
    assert [s["members"] for s in data["snapshots"]] == [0, 1]
    assert data["changes"]["entered"] == ["c1"]
    assert data["changes"]["left"] == []
    text = run("history", "recent", "-w", workspace)
    assert "+1 entered" in text


def test_sql_delete_and_errors(workspace: str) -> None:
    sql = run("sql", "member_level = 'V4'", "-w", workspace, "--as-of", WHEN)
    assert "'V4'" in sql
    assert "SELECT" in sql
    run("create", "tmp", "spend > 0", "-w", workspace)
    run("delete", "tmp", "-w", workspace)
    assert "no segment 'tmp'" in fail("show", "tmp", "-w", workspace)
    out = fail("count", "paid_order > 1", "-w", workspace)
    assert out.startswith("error: unknown")
    assert "paid_orders" in out
    assert "(line 1, col 1)\n  paid_order > 1\n  ^" in out
    assert "built in" in fail("delete", "active", "-w", workspace)
