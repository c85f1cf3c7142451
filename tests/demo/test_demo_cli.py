"""``kequn demo`` end to end: generate, load through ``Workspace.load``, summarise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kequn
import kequn.cli.demo  # noqa: F401  registers the command on the root app
from kequn.cli._app import app
from kequn.demo.summary import summarize

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """One small demo, loaded into a new workspace, with its JSON output."""
    folder = tmp_path_factory.mktemp("demo-cli")
    workspace = folder / "shop.duckdb"
    result = runner.invoke(app, ["demo", "--customers", "300", "--seed", "5",
                                 "--workspace", str(workspace), "--json"])
    assert result.exit_code == 0, result.output
    return workspace, json.loads(result.stdout)


def test_demo_loads_every_table_without_quarantine(demo_run: tuple[Path, dict]) -> None:
    workspace, out = demo_run
    assert list(out["loads"]) == ["customers", "products", "orders", "order_items", "events",
                                  "marketing_costs"]
    for table, report in out["loads"].items():
        assert report["quarantined"] == 0, table
        assert report["read"] == report["stored"] > 0, table
    assert out["loads"]["customers"]["stored"] == 300


def test_demo_files_go_next_to_the_workspace(demo_run: tuple[Path, dict]) -> None:
    workspace, out = demo_run
    data = workspace.parent / "kequn-demo-data"
    assert Path(out["data_dir"]) == data
    assert sorted(p.name for p in data.glob("customers-*.parquet")) == ["customers-000.parquet"]


def test_demo_sets_the_shop_time_zone_and_reports_its_summary(
        demo_run: tuple[Path, dict]) -> None:
    workspace, out = demo_run
    with kequn.open(workspace, read_only=True) as ws:
        assert ws.settings.time_zone == "Asia/Shanghai"
        expected = summarize(ws).to_dict()
    assert out["summary"] == expected
    assert out["summary"]["customers"] == 300
    assert 0 < out["summary"]["buyers"] < 300
    assert 0 < out["summary"]["repeat_rate"] < 1


def test_demo_refuses_a_workspace_that_holds_a_shop(demo_run: tuple[Path, dict]) -> None:
    workspace, _ = demo_run
    result = runner.invoke(app, ["demo", "--customers", "10", "--workspace", str(workspace)])
    assert result.exit_code == 1
    assert "already holds data" in result.output


def test_demo_prints_the_summary_and_next_steps_in_both_languages(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--customers", "60", "--workspace",
                                 str(tmp_path / "w.duckdb"), "--data-dir",
                                 str(tmp_path / "files")])
    assert result.exit_code == 0, result.output
    for text in ("customers 客户", "repeat-purchase rate 复购率", "returning share 老客占比",
                 "kequn status", "kequn segment list", "kequn serve"):
        assert text in result.output
    assert (tmp_path / "files" / "orders-000.parquet").exists()
