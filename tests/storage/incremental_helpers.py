"""Turn a workspace back to how it stood at an earlier moment, and replay what came after.

``hold_back(ws, t0)`` removes every row dated after ``t0`` (and un-pays orders paid after it),
returning what it took; ``replay(ws, held)`` appends those rows and pays those orders again,
as a day of new data arrives in a real shop.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from kequn.workspace import Workspace


@dataclass
class Held:
    """The rows after the cut: new rows per table, and orders paid after it."""

    rows: dict[str, pa.Table]
    paid_later: pa.Table


def hold_back(ws: Workspace, t0: dt.datetime) -> Held:
    raw = ws.raw
    rows = {
        "customers": raw.execute("SELECT * FROM customers WHERE registered_at > ?",
                                 [t0]).fetch_arrow_table(),
        "orders": raw.execute("SELECT * FROM orders WHERE created_at > ?",
                              [t0]).fetch_arrow_table(),
        "order_items": raw.execute(
            "SELECT i.* FROM order_items i JOIN orders o USING (order_id) WHERE o.created_at > ?",
            [t0]).fetch_arrow_table(),
        "events": raw.execute("SELECT * FROM events WHERE event_time > ?",
                              [t0]).fetch_arrow_table(),
    }
    paid_later = raw.execute(
        "SELECT order_id, paid_at, status FROM orders WHERE created_at <= ? AND paid_at > ?",
        [t0, t0]).fetch_arrow_table()
    raw.execute("DELETE FROM order_items WHERE order_id IN "
                "(SELECT order_id FROM orders WHERE created_at > ?)", [t0])
    raw.execute("DELETE FROM orders WHERE created_at > ?", [t0])
    raw.execute("DELETE FROM events WHERE event_time > ?", [t0])
    raw.execute("DELETE FROM customers WHERE registered_at > ?", [t0])
    raw.execute("UPDATE orders SET paid_at = NULL, status = 'created' "
                "WHERE created_at <= ? AND paid_at > ?", [t0, t0])
    return Held(rows, paid_later)


def replay(ws: Workspace, held: Held) -> int:
    """Append the held rows (customers first) and pay the held orders; the rows added."""
    added = 0
    for name in ("customers", "orders", "order_items", "events"):
        table = held.rows[name]
        if table.num_rows:
            ws.con.insert(name, table)
            added += table.num_rows
    if held.paid_later.num_rows:
        ws.raw.register("_kq_paid_later", held.paid_later)
        ws.raw.execute("UPDATE orders SET paid_at = p.paid_at, status = p.status "
                       "FROM _kq_paid_later p WHERE orders.order_id = p.order_id")
        ws.raw.unregister("_kq_paid_later")
    return added
