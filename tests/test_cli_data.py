"""``kequn load``, ``status``, ``quarantine`` and ``config`` through the Typer app."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import kequn
from kequn.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
INVALID = FIXTURES / "invalid"
REPORT_KEYS = ["table", "read", "stored", "inserted", "unchanged", "merged", "updated",
               "quarantined", "customers_added", "load_id", "seconds", "reasons", "files"]


def kequn_cli(*args: str | Path) -> Result:
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "shop.duckdb"


@pytest.fixture
def orders_csv(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,created_at,amount\n"
                    "o1,c1,2024-03-01 10:00,10\n"
                    "o2,,2024-03-01 11:00,5\n"
                    "o3,c2,2024-03-02T02:00:00Z,7\n"
                    "o4,c2,whenever,1\n", encoding="utf-8")
    return path


def _assert_one_line_error(result: Result, *words: str) -> str:
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for word in words:
        assert word in lines[0]
    assert result.stdout == ""
    return lines[0]


def _assert_nothing_stored(workspace: Path) -> None:
    if not workspace.exists():
        return
    with kequn.open(workspace, read_only=True) as ws:
        assert all(t.rows == 0 for t in ws.status())
        assert ws.loads().count().to_pyarrow().as_py() == 0
        assert ws.quarantine().count().to_pyarrow().as_py() == 0


# -- kequn load ---------------------------------------------------------------------------------

def test_load_json_reports_the_counts(workspace: Path, orders_csv: Path) -> None:
    result = kequn_cli("load", "orders", orders_csv, "-w", workspace, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == REPORT_KEYS
    assert {k: out[k] for k in ("table", "read", "stored", "updated", "quarantined")} == {
        "table": "orders", "read": 4, "stored": 2, "updated": 0, "quarantined": 2}
    assert out["read"] == out["stored"] + out["updated"] + out["quarantined"]
    assert out["files"][0]["file"] == str(orders_csv)


def test_load_prints_a_summary_and_where_to_see_the_rejects(workspace: Path,
                                                            orders_csv: Path) -> None:
    result = kequn_cli("load", "orders", orders_csv, "-w", workspace)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("orders ← 1 file in ")
    assert "read 读取 4 · stored 入库 2 (2 new 新增, 0 unchanged 未变) · updated 更新 0 · " \
           "quarantined 隔离 2" in lines[1]
    assert "2 customers added from their ids" in result.stdout
    assert "see them 查看: kequn quarantine --table orders" in result.stdout


def test_load_with_a_preset_reads_a_taobao_export(workspace: Path) -> None:
    kequn_cli("config", "time_zone", "Asia/Shanghai", "-w", workspace)
    result = kequn_cli("load", "orders", FIXTURES / "taobao_orders_gb18030.csv",
                       "--preset", "taobao", "-w", workspace, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stored"] == 5


def test_load_with_a_mapping_file(workspace: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[orders.columns]\norder_id = "单号"\ncustomer_id = "买家"\n'
                       'created_at = "下单时间"\n', encoding="utf-8")
    data = tmp_path / "单.csv"
    data.write_text("单号,买家,下单时间\nA1,u1,2024-03-01 10:00\n", encoding="utf-8")
    result = kequn_cli("load", "orders", data, "--mapping", mapping, "-w", workspace, "--json")
    assert result.exit_code == 0, result.output
    with kequn.open(workspace, read_only=True) as ws:
        assert ws.table("orders").order_id.to_pyarrow().to_pylist() == ["A1"]


def test_loading_the_same_file_twice_through_the_cli_changes_nothing(
        workspace: Path, orders_csv: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    result = kequn_cli("load", "orders", orders_csv, "-w", workspace, "--json")
    out = json.loads(result.stdout)
    assert (out["inserted"], out["unchanged"], out["updated"]) == (0, 2, 0)
    status = json.loads(kequn_cli("status", "-w", workspace, "--json").stdout)
    assert status["tables"]["orders"]["rows"] == 2
    assert status["quarantine"]["orders"] == 2


LOAD_ERRORS = {
    "png": (["orders", INVALID / "orders_screenshot.png"], "binary file"),
    "legacy-xls": (["orders", INVALID / "orders_legacy.xls"], "legacy Excel .xls"),
    "zip-named-csv": (["orders", INVALID / "orders_zipped.csv"], "zip archive"),
    "missing-file": (["orders", INVALID / "nope.csv"], "no such file"),
    "folder": (["orders", INVALID], "is a folder"),
    "empty": (["orders", INVALID / "empty.csv"], "is empty"),
    "header-only": (["orders", INVALID / "header_only.csv"], "has a header but no rows"),
    "missing-column": (["orders", INVALID / "no_order_id.csv"],
                       "lacks required orders column order_id"),
    "unknown-table": (["ordres", INVALID / "header_only.csv"], "did you mean 'orders'?"),
    "unknown-preset": (["orders", INVALID / "header_only.csv", "--preset", "tmall"],
                       "unknown preset 'tmall'"),
    "malformed-mapping": (["orders", INVALID / "header_only.csv", "--mapping",
                           INVALID / "broken_mapping.toml"], "is not valid TOML"),
    "mapping-and-preset": (["orders", INVALID / "header_only.csv", "--preset", "taobao",
                            "--mapping", INVALID / "broken_mapping.toml"],
                           "give --mapping or --preset, not both"),
}


@pytest.mark.parametrize("case", list(LOAD_ERRORS))
def test_a_load_that_cannot_run_prints_one_error_line_and_stores_nothing(
        workspace: Path, case: str) -> None:
    args, words = LOAD_ERRORS[case]
    result = kequn_cli("load", *args, "-w", workspace)
    _assert_one_line_error(result, words)
    _assert_nothing_stored(workspace)


def test_a_bad_second_file_stores_nothing_of_the_first(workspace: Path,
                                                      orders_csv: Path) -> None:
    result = kequn_cli("load", "orders", orders_csv, INVALID / "header_only.csv", "-w", workspace)
    _assert_one_line_error(result, "header_only.csv has a header but no rows")
    _assert_nothing_stored(workspace)


def test_a_load_error_in_json_mode_is_still_one_line(workspace: Path) -> None:
    result = kequn_cli("load", "orders", INVALID / "orders_screenshot.png", "-w", workspace,
                       "--json")
    _assert_one_line_error(result, "binary file")


# -- kequn status -------------------------------------------------------------------------------

def test_status_json_shows_rows_ranges_quarantine_and_last_loads(workspace: Path,
                                                                 orders_csv: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    result = kequn_cli("status", "-w", workspace, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == ["workspace", "time_zone", "tables", "quarantine", "last_loads"]
    assert out["time_zone"] == "UTC"
    assert list(out["tables"]) == ["customers", "products", "orders", "order_items", "events",
                                   "marketing_costs"]
    assert out["tables"]["orders"] == {"rows": 2, "first": "2024-03-01T10:00:00",
                                       "last": "2024-03-02T02:00:00"}
    assert out["tables"]["customers"]["rows"] == 2
    assert out["quarantine"]["orders"] == 2
    assert out["quarantine"]["events"] == 0
    (last,) = out["last_loads"]
    assert set(last) == {"load_id", "table_name", "started_at", "read", "stored", "updated",
                         "quarantined"}
    assert {k: last[k] for k in ("table_name", "read", "stored", "updated", "quarantined")} == {
        "table_name": "orders", "read": 4, "stored": 2, "updated": 0, "quarantined": 2}


def test_status_of_an_empty_workspace_says_how_to_start(workspace: Path) -> None:
    kequn_cli("config", "-w", workspace)  # creates it
    result = kequn_cli("status", "-w", workspace)
    assert result.exit_code == 0, result.output
    assert "empty: try 'kequn demo' or 'kequn load orders FILE'" in result.stdout


def test_status_of_a_missing_workspace_is_one_error_line(tmp_path: Path) -> None:
    result = kequn_cli("status", "-w", tmp_path / "none.duckdb")
    _assert_one_line_error(result, "no workspace at")


# -- kequn quarantine ---------------------------------------------------------------------------

def test_quarantine_lists_file_line_column_and_reason(workspace: Path, orders_csv: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    result = kequn_cli("quarantine", "-w", workspace)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "orders.csv:3  [orders.customer_id]  missing customer_id",
        "orders.csv:5  [orders.created_at]  unparseable created_at (time): 'whenever'",
    ]


def test_quarantine_output_exports_every_row_to_csv(workspace: Path, orders_csv: Path,
                                                    tmp_path: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    target = tmp_path / "x.csv"
    result = kequn_cli("quarantine", "--output", target, "-w", workspace)
    assert result.exit_code == 0, result.output
    assert "2 quarantined rows written to" in result.stdout
    exported = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert [(Path(r["file"]).name, r["line"], r["column_name"], r["reason"])
            for r in exported] == [
        ("orders.csv", "3", "customer_id", "missing customer_id"),
        ("orders.csv", "5", "created_at", "unparseable created_at (time): 'whenever'")]
    assert json.loads(exported[0]["raw"])["order_id"] == "o2"


def test_quarantine_json_and_filters(workspace: Path, orders_csv: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    out = json.loads(kequn_cli("quarantine", "-w", workspace, "--json", "-n", "1").stdout)
    assert out["total"] == 2
    assert len(out["rows"]) == 1
    assert json.loads(kequn_cli("quarantine", "-w", workspace, "--json", "--table",
                                "events").stdout)["total"] == 0
    assert json.loads(kequn_cli("quarantine", "-w", workspace, "--json", "--load",
                                "no-such-load").stdout)["total"] == 0


def test_quarantine_export_to_an_unknown_format_is_one_error_line(workspace: Path,
                                                                  orders_csv: Path,
                                                                  tmp_path: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    result = kequn_cli("quarantine", "--output", tmp_path / "x.xls", "-w", workspace)
    _assert_one_line_error(result, "cannot export to 'x.xls'")
    assert not (tmp_path / "x.xls").exists()


def test_quarantine_of_an_unknown_table_suggests_one(workspace: Path, orders_csv: Path) -> None:
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    result = kequn_cli("quarantine", "--table", "event", "-w", workspace)
    _assert_one_line_error(result, "unknown table 'event'", "did you mean 'events'?")


# -- kequn config -------------------------------------------------------------------------------

def test_config_sets_and_shows_the_shop_time_zone(workspace: Path, tmp_path: Path) -> None:
    result = kequn_cli("config", "time_zone", "Asia/Shanghai", "-w", workspace)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "time_zone = Asia/Shanghai"
    shown = json.loads(kequn_cli("config", "-w", workspace, "--json").stdout)
    assert shown["time_zone"] == "Asia/Shanghai"
    data = tmp_path / "orders.csv"
    data.write_text("order_id,customer_id,created_at\no1,c1,2024-03-01T02:00:00Z\n"
                    "o2,c1,2024-03-01 02:00:00\n")
    kequn_cli("load", "orders", data, "-w", workspace)
    with kequn.open(workspace, read_only=True) as ws:
        stored = ws.table("orders").order_by("order_id").select("order_id", "created_at")
        assert [(r["order_id"], r["created_at"].isoformat(sep=" "))
                for r in stored.to_pyarrow().to_pylist()] == [
            ("o1", "2024-03-01 10:00:00"), ("o2", "2024-03-01 02:00:00")]


def test_config_unknown_customers_quarantine_applies_to_loads(workspace: Path,
                                                              orders_csv: Path) -> None:
    kequn_cli("config", "unknown_customers", "quarantine", "-w", workspace)
    out = json.loads(kequn_cli("load", "orders", orders_csv, "-w", workspace, "--json").stdout)
    assert (out["stored"], out["quarantined"], out["customers_added"]) == (0, 4, 0)


@pytest.mark.parametrize(("args", "words"), [
    (["timezone", "UTC"], "unknown setting 'timezone'"),
    (["time_zone", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
    (["unknown_customers", "drop"], "unknown_customers:"),
])
def test_config_refuses_a_bad_setting_with_one_line(workspace: Path, args: list[str],
                                                    words: str) -> None:
    result = kequn_cli("config", *args, "-w", workspace)
    _assert_one_line_error(result, words)
    shown = json.loads(kequn_cli("config", "-w", workspace, "--json").stdout)
    assert shown["time_zone"] == "UTC"
    assert shown["unknown_customers"] == "create"


def test_engine_option_applies_to_any_command_and_names_the_choices(
        workspace: Path, orders_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEQUN_ENGINE", raising=False)
    kequn_cli("load", "orders", orders_csv, "-w", workspace)
    monkeypatch.setenv("KEQUN_ENGINE", "duckdb")  # restored after the test; --engine sets it
    bad = kequn_cli("--engine", "nosuch", "status", "-w", workspace)
    assert bad.exit_code == 1
    assert "'duckdb' or 'pyspark'" in bad.output
    assert "Traceback" not in bad.output
    good = kequn_cli("--engine", "duckdb", "status", "--json", "-w", workspace)
    assert good.exit_code == 0, good.output
    assert json.loads(good.output)


def test_refresh_builds_once_then_merges_each_new_day(workspace: Path, tmp_path: Path) -> None:
    first = tmp_path / "day1.csv"
    first.write_text("order_id,customer_id,created_at,paid_at,amount\n"
                     "o1,c1,2024-03-01 10:00,2024-03-01 10:05,10\n"
                     "o2,c2,2024-03-01 11:00,,5\n", encoding="utf-8")
    second = tmp_path / "day2.csv"
    second.write_text("order_id,customer_id,created_at,paid_at,amount\n"
                      "o3,c2,2024-03-02 09:00,2024-03-02 09:01,7\n", encoding="utf-8")
    assert kequn_cli("load", "orders", first, "-w", workspace).exit_code == 0
    built = kequn_cli("refresh", "-w", workspace, "--as-of", "2024-03-01 23:59", "--json")
    assert json.loads(built.stdout)["mode"] == "full"
    assert kequn_cli("load", "orders", second, "-w", workspace).exit_code == 0
    result = kequn_cli("refresh", "-w", workspace, "--as-of", "2024-03-02 23:59", "--json")
    report = json.loads(result.stdout)
    assert report["mode"] == "incremental", report["reason"]
    assert "paid_orders" in report["merged"]
    again = kequn_cli("refresh", "-w", workspace, "--as-of", "2024-03-02 23:59", "--full")
    assert again.exit_code == 0
    assert "built in full 全量构建 (asked for)" in again.stdout
