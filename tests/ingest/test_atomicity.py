"""A load killed midway leaves the workspace exactly as it was (one DuckDB transaction)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import load, snapshot, table_counts, write_csv

import kequn

BIG_ROWS = 3_000_000


def _write_big_events(path: Path) -> None:
    """About 3M event rows as CSV, written by DuckDB itself (a second or two)."""
    with duckdb.connect() as con:
        rows = con.sql("""
            SELECT TIMESTAMP '2024-01-01' + to_seconds(i) AS event_time,
                   'c' || (i % 50000) AS customer_id,
                   ['view', 'cart', 'favorite', 'visit'][1 + i % 4] AS event,
                   'p' || (i % 997) AS product_id
            FROM range($n) t(i)""", params={"n": BIG_ROWS})
        rows.write_csv(str(path), header=True)


def _wait_for_load_to_start(proc: subprocess.Popen[bytes], tmp: Path, timeout: float) -> None:
    """Wait until the loader has made its scratch folder: the file is open, the load under way."""
    deadline = time.monotonic() + timeout
    while not any(tmp.glob("kequn-load-*")):
        if proc.poll() is not None:
            out = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"the load ended before it could be killed: {out}")
        if time.monotonic() > deadline:
            pytest.fail("the load did not start in time")
        time.sleep(0.02)


@pytest.mark.slow
def test_a_load_killed_midway_leaves_the_workspace_as_it_was(tmp_path: Path) -> None:
    workspace = tmp_path / "shop.duckdb"
    with kequn.open(workspace) as ws:
        load(ws, "orders", write_csv(tmp_path / "orders.csv", [
            "order_id,customer_id,created_at", "o1,c1,2024-03-01", "o2,,2024-03-01"]))
        load(ws, "events", write_csv(tmp_path / "events.csv", [
            "event_time,customer_id,event", "2024-03-01 10:00,c1,view", "soon,c1,view"]))
        before, before_counts = snapshot(ws), table_counts(ws)
    big = tmp_path / "big_events.csv"
    _write_big_events(big)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "KEQUN_LOCK_WAIT": "5"}
    proc = subprocess.Popen([sys.executable, "-m", "kequn", "load", "events", str(big),
                             "-w", str(workspace), "--json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_for_load_to_start(proc, scratch, timeout=60)
        time.sleep(1.0)
        assert proc.poll() is None, "the load finished within a second; make the file bigger"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with kequn.open(workspace) as ws:
        assert table_counts(ws) == before_counts
        assert snapshot(ws) == before
        names = set(ws.con.list_tables())
        assert not {n for n in names if n.startswith(("kq_stage", "kq_rows", "kq_reject"))}
        report = load(ws, "events", write_csv(tmp_path / "more_events.csv", [
            "event_time,customer_id,event", "2024-03-02 10:00,c2,cart"]))
        assert (report.read, report.inserted) == (1, 1)
        assert table_counts(ws)["events"] == before_counts["events"] + 1
        assert table_counts(ws)["kq_loads"] == before_counts["kq_loads"] + 1
