"""``kequn predict fit|show|customers`` through Typer's CliRunner on a workspace file."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import kequn
import kequn.cli.predict  # noqa: F401  registers the predict group on the root app
from kequn.cli import app
from kequn.clv.simulate import simulate_orders

runner = CliRunner()


@pytest.fixture
def workspace(tmp_path: Path) -> str:
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        ws.con.insert("orders", simulate_orders(800, start=dt.datetime(2022, 1, 1),
                                                end=dt.datetime(2024, 1, 1), seed=11))
    return str(path)


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["predict", *args])
    return result.exit_code, result.output


def test_fit_prints_models_and_totals(workspace: str) -> None:
    code, out = run("fit", "-w", workspace, "--as-of", "2023-12-31", "--model", "bgnbd")
    assert code == 0, out
    assert "model 模型 bgnbd+gamma_gamma (requested)" in out
    assert "bgnbd: r = " in out
    assert "gamma_gamma: p = " in out
    assert "churn risk 流失风险: low 低" in out


def test_fit_json_with_calibration_end_reports_the_holdout(workspace: str) -> None:
    code, out = run("fit", "-w", workspace, "--as-of", "2023-12-31", "--calibration-end",
                    "2023-06-30", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["chosen_by"] == "holdout fit"
    assert len(report["validation"]) == 2
    v = report["validation"][0]
    assert [b["frequency"] for b in v["buckets"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert v["total"]["actual"] == sum(b["actual"] for b in v["buckets"])
    assert set(v["fit"]["standard_errors"]) == {"r", "alpha", "a", "b"}
    assert v["holdout_duration"] == 184
    assert report["frequency_model"]["params"]["r"] > 0


def test_show_and_customers_read_the_stored_run(workspace: str) -> None:
    assert run("fit", "-w", workspace, "--as-of", "2023-12-31")[0] == 0
    code, out = run("show", "-w", workspace, "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["as_of"].startswith("2023-12-31")
    code, out = run("customers", "-w", workspace, "--json", "--limit", "5")
    assert code == 0, out
    rows = json.loads(out)
    assert len(rows) == 5
    clv = [r["clv"] for r in rows]
    assert clv == sorted(clv, reverse=True)
    code, out = run("customers", "-w", workspace, "--churn-risk", "high", "--sort", "p_alive")
    assert code == 0, out
    assert "high 高" in out
    code, out = run("customers", "-w", workspace, "-c", rows[0]["customer_id"], "--json")
    assert [r["customer_id"] for r in json.loads(out)] == [rows[0]["customer_id"]]


def test_show_before_fit_is_one_line_error(workspace: str) -> None:
    code, out = run("show", "-w", workspace)
    assert code == 1
    assert "no predictions in this workspace yet; run 'kequn predict fit' first" in out
    assert "Traceback" not in out


def test_as_of_must_match_the_stored_run(workspace: str) -> None:
    assert run("fit", "-w", workspace, "--as-of", "2023-12-31")[0] == 0
    code, out = run("customers", "-w", workspace, "--as-of", "2023-11-30")
    assert code == 1
    assert "stored predictions are as of 2023-12-31" in out


def test_bad_choices_are_named(workspace: str) -> None:
    code, out = run("fit", "-w", workspace, "--model", "pareto")
    assert code == 1
    assert "unknown model 'pareto'" in out
    assert run("fit", "-w", workspace)[0] == 0
    code, out = run("customers", "-w", workspace, "--sort", "age")
    assert code == 1
    assert "cannot sort by 'age'" in out
