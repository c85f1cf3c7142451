"""The command line: kequn campaign / automation / run / audit, through Typer's CliRunner."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from campaign_helpers import customers, insert
from typer.testing import CliRunner

import kequn
import kequn.cli.campaign  # noqa: F401  registers the commands (until kequn.cli.commands does)
from kequn.cli import app

runner = CliRunner()


@pytest.fixture
def shop(tmp_path):
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        insert(ws, "customers", customers(40))
    (tmp_path / "list.csv").write_text("customer_id\n" + "\n".join(
        f"c{i:04d}" for i in range(30)) + "\n")
    return path


def kq(path, *args):
    result = runner.invoke(app, [*args, "--workspace", str(path)])
    return result


def test_create_preview_send_show_report_from_the_command_line(shop, tmp_path):
    assert kq(shop, "campaign", "config", "quiet_hours", "off").exit_code == 0
    out = tmp_path / "out"
    r = kq(shop, "campaign", "create", "回流券", "--customers", str(tmp_path / "list.csv"),
           "--coupon", "200-30", "--validity", "20", "--option", f"directory={out}",
           "--option", "contact=phone", "--json")
    assert r.exit_code == 0, r.output
    created = json.loads(r.stdout)
    cid = created["campaign_id"]
    assert created["coupon"]["threshold"] == 200
    assert any("outside 7–15 days" in w for w in created["warnings"])

    r = kq(shop, "campaign", "preview", cid)
    assert r.exit_code == 0, r.output
    assert "to send 将发送" in r.stdout
    assert "13800000" not in r.stdout  # phones masked
    assert "****" in r.stdout

    r = kq(shop, "campaign", "send", cid, "--json")
    assert r.exit_code == 0, r.output
    sent = json.loads(r.stdout)
    assert sent["status"] == "sent"
    assert sent["delivery"]["sent"] == sent["frozen"]["to_send"] > 20
    assert (out / f"{cid}.csv").exists()

    r = kq(shop, "campaign", "list", "--json")
    assert [(c["campaign_id"], c["sent"]) for c in json.loads(r.stdout)] == \
        [(cid, sent["delivery"]["sent"])]
    r = kq(shop, "campaign", "show", cid, "--json")
    shown = json.loads(r.stdout)
    assert "code_salt" not in shown["spec"]
    assert shown["sends"] == {"sent": sent["delivery"]["sent"]}

    r = kq(shop, "campaign", "report", cid, "--as-of", "2099-01-01", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["target"]["customers"] == sent["delivery"]["sent"]
    r = kq(shop, "campaign", "report", "--as-of", "2099-01-01")
    assert cid in r.stdout

    r = kq(shop, "audit", "--object", cid, "--json")
    assert {row["action"] for row in json.loads(r.stdout)} >= {
        "campaign.create", "campaign.preview", "campaign.freeze", "campaign.send"}


def test_errors_are_one_line_naming_the_fix(shop):
    r = kq(shop, "campaign", "send", "cmp-0042")
    assert r.exit_code == 1
    assert "no campaign 'cmp-0042'" in r.output
    assert "Traceback" not in r.output
    r = kq(shop, "campaign", "create", "x", "--segment", "s", "--coupon", "30-30")
    assert r.exit_code == 1
    assert "not below its threshold" in r.output


def test_config_never_prints_secrets(shop, monkeypatch):
    assert kq(shop, "campaign", "config", "smtp_password", "hunter2").exit_code == 0
    monkeypatch.setenv("KEQUN_WEBHOOK_SECRET", "whsec_env")
    r = kq(shop, "campaign", "config")
    assert "smtp_password = ***" in r.stdout
    assert "webhook_secret = ***" in r.stdout
    assert "hunter2" not in r.stdout
    assert "whsec_env" not in r.stdout
    r = kq(shop, "audit", "--json")
    assert "hunter2" not in r.stdout


def test_automation_commands_and_run(shop, tmp_path):
    r = kq(shop, "automation", "list", "--json")
    assert {a["automation_id"] for a in json.loads(r.stdout)} == {
        "birthday", "cart_abandon", "unpaid_reminder", "winback"}
    r = kq(shop, "automation", "enable", "winback", "--channel", "export",
           "--option", f"directory={tmp_path}")
    assert r.exit_code == 0, r.output
    assert "enabled 已开启" in r.stdout
    r = kq(shop, "automation", "show", "winback")
    assert json.loads(r.stdout)["enabled"] is True
    r = kq(shop, "run", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["sent"] == 0  # nobody lapsed in this shop
    r = kq(shop, "run", "--every", "1s", "--ticks", "2")
    assert r.stdout.count("tick:") == 2
    assert kq(shop, "automation", "disable", "winback").exit_code == 0


def test_perks_export(shop, tmp_path):
    with kequn.open(shop) as ws:
        paid = dt.datetime(2024, 1, 1)
        insert(ws, "orders", [{"order_id": "o1", "customer_id": "c0001", "amount": 10.0,
                               "status": "paid", "created_at": paid, "paid_at": paid}])
    r = kq(shop, "campaign", "perks", "--out", str(tmp_path / "perks.xlsx"), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["customers"] == 40
    assert (tmp_path / "perks.xlsx").exists()
    r = kq(shop, "campaign", "perks")
    assert "至尊VIP" in r.stdout
