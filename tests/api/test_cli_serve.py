"""``kequn token`` and ``kequn serve`` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import kequn
import kequn.cli.serve  # noqa: F401  (registers serve and token until commands.py does)
from kequn.api.access import hash_token
from kequn.cli import app

runner = CliRunner()


def test_token_create_prints_the_token_once_and_stores_its_hash(ws_path: Path):
    r = runner.invoke(app, ["token", "create", "--role", "analyst", "--name", "alice",
                            "--workspace", str(ws_path), "--json"])
    assert r.exit_code == 0, r.output
    import json

    created = json.loads(r.stdout)
    assert created["token"].startswith("kq_")
    assert created["role"] == "analyst"
    with kequn.open(ws_path, read_only=True) as ws:
        (stored,) = ws.raw.execute("SELECT token_hash FROM kq_tokens").fetchone()
    assert stored == hash_token(created["token"])
    listed = runner.invoke(app, ["token", "list", "--workspace", str(ws_path)])
    assert "alice" in listed.stdout
    assert created["token"] not in listed.stdout


def test_token_revoke_and_unknown_ids(ws_path: Path):
    r = runner.invoke(app, ["token", "create", "--role", "viewer", "--workspace", str(ws_path),
                            "--json"])
    import json

    token_id = json.loads(r.stdout)["token_id"]
    assert runner.invoke(app, ["token", "revoke", token_id, "--workspace",
                               str(ws_path)]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["token", "list", "--workspace",
                                            str(ws_path)]).stdout
    bad = runner.invoke(app, ["token", "revoke", "nope", "--workspace", str(ws_path)])
    assert bad.exit_code == 1
    assert "no token 'nope'" in bad.output


def test_token_create_with_an_unknown_role_fails_in_one_line(ws_path: Path):
    r = runner.invoke(app, ["token", "create", "--role", "root", "--workspace", str(ws_path)])
    assert r.exit_code == 1
    assert "unknown role 'root'" in r.output


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.0.10"])
def test_serve_beyond_loopback_without_tokens_refuses_to_start(ws_path: Path, host: str):
    r = runner.invoke(app, ["serve", "--workspace", str(ws_path), "--host", host, "--no-warm"])
    assert r.exit_code == 1
    assert "needs tokens" in r.output
