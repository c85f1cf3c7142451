"""``kequn optimize``: the events and orders in time order, the data itself unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import kequn
from kequn import segments as sg
from kequn.cli import app
from kequn.storage.layout import BLOCK_ROWS, block_span, optimize

ROWS = 3 * BLOCK_ROWS + 1000  # four blocks


def shuffled_shop(path: Path) -> None:
    """Events and orders inserted by customer, so every block spans the whole year."""
    with kequn.open(path) as ws:
        ws.raw.execute(f"""
            INSERT INTO events (event_time, customer_id, event)
            SELECT TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i) % 31536000 AS BIGINT)),
                   'c' || (i % 500), (['view', 'cart', 'visit'])[1 + i % 3]
            FROM range({ROWS}) t(i) ORDER BY i % 500""")
        ws.raw.execute("""
            INSERT INTO orders (order_id, customer_id, created_at, paid_at, amount)
            SELECT 'o' || i, 'c' || (i % 500),
                   TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i) % 31536000 AS BIGINT)),
                   TIMESTAMP '2024-01-01' + to_seconds(CAST(hash(i) % 31536000 AS BIGINT)),
                   10 + i % 7
            FROM range(5000) t(i) ORDER BY i % 500""")
        ws.raw.execute("INSERT INTO customers (customer_id) SELECT 'c' || i FROM range(500) t(i)")


def fingerprint(ws: kequn.Workspace, table: str) -> tuple:
    return ws.raw.execute(f"SELECT count(*), sum(hash(t)) FROM {table} t").fetchone()


def test_optimize_puts_events_and_orders_in_time_order_without_changing_them(
        tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    shuffled_shop(path)
    rule = "events(cart, last: 30d) > 2"
    with kequn.open(path) as ws:
        before = {t: fingerprint(ws, t) for t in ("events", "orders")}
        members = sg.count(ws, rule, as_of="2024-12-31")
        assert block_span(ws, "events")[2] > 0.9  # every block spans nearly the whole year
        done = {d.table: d for d in optimize(ws)}
    assert done["events"].rewritten
    assert done["events"].blocks == 4
    assert done["events"].span_after < 0.3
    assert not done["orders"].rewritten  # one block: nothing to skip, left alone
    with kequn.open(path) as ws:
        assert {t: fingerprint(ws, t) for t in ("events", "orders")} == before
        assert sg.count(ws, rule, as_of="2024-12-31") == members > 0
        assert block_span(ws, "events")[2] < 0.3
        again = {d.table: d for d in optimize(ws)}
    assert not again["events"].rewritten  # already in order


def test_optimize_command_reports_each_table(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    shuffled_shop(path)
    result = CliRunner().invoke(app, ["optimize", "-w", str(path)])
    assert result.exit_code == 0, result.output
    assert "events: 369,640 rows in 4 blocks" in result.output
    assert "rewritten in time order" in result.output
    assert "已按时间重排" in result.output


@pytest.mark.parametrize("threshold", [0.0])
def test_a_table_of_one_block_is_never_rewritten(tmp_path: Path, threshold: float) -> None:
    with kequn.open(tmp_path / "small.duckdb") as ws:
        ws.raw.execute("INSERT INTO events (event_time, customer_id, event) VALUES "
                       "(TIMESTAMP '2024-02-01', 'a', 'view'), (TIMESTAMP '2024-01-01', 'b', "
                       "'view')")
        done = optimize(ws, tables=("events",), threshold=threshold)
    assert [d.rewritten for d in done] == [False]
