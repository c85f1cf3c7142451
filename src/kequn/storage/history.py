"""A fingerprint of a shop's history up to a moment: what an incremental refresh keeps to know
that the data it merged into has not changed under it (a refund, a late file).

Orders are hashed as they stood at the moment (an order paid later was open then, whatever
became of it since); their lines and the products are hashed whole; events are a log, so their
count and latest time are enough. After a refresh the fingerprint is moved on from the new
rows alone (:class:`HistoryCheck`, which checks and moves it on beside the refresh), without
reading history again. DuckDB only: the store lives in the embedded database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from kequn.workspace import Workspace

__all__ = ["HistoryCheck", "fingerprint"]


def _order_hash(as_of: str) -> str:
    """An order's hash as it stood at the parameter ``as_of`` (a parameter name, never user
    text): an order paid after it was open then, whatever became of it since (paid,
    refunded: new data, not a change), so it is hashed as open and without its payment
    time. Any other change of status is a change of history (a refund of an order paid by
    then, a cancellation)."""
    return f"""hash(order_id, customer_id, created_at, amount, discount,
            channel, promotion, coupon_id,
            CASE WHEN paid_at <= {as_of} THEN paid_at END,
            CASE WHEN paid_at > {as_of} OR status IS NULL OR status = 'created' THEN 'open'
                 ELSE status END)"""


# DuckDB-only (the store lives in the embedded database); parameters, never user text.
_FINGERPRINT_SQL: dict[str, str] = {
    "orders": f"""
        SELECT count(*), bit_xor({_order_hash("$as_of")})
        FROM orders WHERE created_at <= $as_of""",
    # a log: its size and latest time up to as_of, each read without scanning it all (the
    # size less the rows after as_of; the latest time from the last day, _event_latest)
    "events": """
        SELECT (SELECT count(*) FROM events)
               - (SELECT count(*) FROM events WHERE event_time > $as_of)
               - (SELECT count(*) FROM events WHERE event_time IS NULL)""",
    "products": """SELECT count(*), bit_xor(hash(product_id, name, category, price, brand,
        launched_at, is_standard)) FROM products""",
}


# The order lines: those of the orders placed by $before (all lines, less those of newer
# orders: the lines' part of the fingerprint at $before), then those of the orders placed in
# ($before, $as_of] (what moves it on to $as_of), from one scan of the lines, each marked with
# its order's time if the order is newer. Two scans took 0.25 s more at 1,000,000 customers
# (14 M lines).
_LINES_CHECK_SQL = """
    WITH newer AS (SELECT order_id, min(created_at) AS placed FROM orders
                   WHERE created_at > $before GROUP BY order_id),
    lines AS (SELECT hash(i.order_id, i.product_id, i.quantity, i.unit_price) AS h, n.placed
              FROM order_items AS i LEFT JOIN newer AS n ON i.order_id = n.order_id)
    SELECT count(*) FILTER (WHERE placed IS NULL), bit_xor(h) FILTER (WHERE placed IS NULL),
           count(*) FILTER (WHERE placed <= $as_of), bit_xor(h) FILTER (WHERE placed <= $as_of)
    FROM lines"""

# What moves a fingerprint from the watermark to the new as_of: the orders placed or paid in
# between (the ones placed before taken out as they stood, put back as they stand), the lines
# of the orders placed in between (from _LINES_CHECK_SQL), the events in between. Each read
# by a time range.
_ADVANCE_SQL: dict[str, str] = {
    "orders": f"""
        WITH moved AS (
            SELECT * FROM orders WHERE created_at > $before AND created_at <= $as_of
            UNION ALL
            SELECT * FROM orders WHERE paid_at > $before AND paid_at <= $as_of
                                   AND created_at <= $before)
        SELECT count(*) FILTER (WHERE created_at > $before),
               bit_xor({_order_hash("$as_of")}),
               bit_xor({_order_hash("$before")}) FILTER (WHERE created_at <= $before)
        FROM moved""",
    "events": """SELECT count(*), max(event_time) FROM events
        WHERE event_time > $before AND event_time <= $as_of""",
}


def _number(text: str) -> int:
    return 0 if text == "None" else int(text)


def _advance(raw: Any, checked: dict[str, Any], lines: Sequence[Any], before: dt.datetime,
             as_of: dt.datetime) -> dict[str, Any]:
    """``fingerprint(ws, as_of)`` worked out from ``checked`` (the fingerprint at
    ``before``), the lines of the orders placed in between (count and hash) and the other
    rows in between, without reading history again."""
    params = {"before": before, "as_of": as_of}

    def xor_text(count: int, value: int) -> str:
        return "None" if count == 0 else str(value)  # what bit_xor of no rows prints

    out = dict(checked)
    rows = {name: raw.execute(query, params).fetchone() for name, query in _ADVANCE_SQL.items()}
    rows["order_items"] = (lines[0], lines[1], None)
    for name, row in rows.items():
        count = _number(checked[name][0])
        if name == "events":
            latest = checked[name][1] if row[0] == 0 else str(row[1])
            out[name] = [str(count + row[0]), latest]
            continue
        added, xor = row[0], _number(checked[name][1])
        xor ^= _number(str(row[1])) ^ (_number(str(row[2])) if name == "orders" else 0)
        out[name] = [str(count + added), xor_text(count + added, xor)]
    out["products"] = _fingerprint(raw, as_of, ("products",))["products"]
    return out


_TABLES = ("orders", "order_items", "events", "products")


def fingerprint(ws: Workspace, as_of: dt.datetime, *,
                 tables: Sequence[str] = _TABLES) -> dict[str, Any]:
    """A summary of the data up to ``as_of`` that a changed history changes.

    Orders are hashed as they stood at ``as_of`` (a payment after it is new data, not a
    change); events are a log, so their count and latest time are enough; the lines of those
    orders, and the products, are hashed whole. Customers' attributes are read afresh at every
    refresh, so they need no fingerprint.
    """
    return _fingerprint(ws.raw, as_of, tables)


def _fingerprint(raw: Any, as_of: dt.datetime, tables: Sequence[str]) -> dict[str, Any]:
    params = {"as_of": as_of}
    out: dict[str, Any] = {}
    for name in tables:
        if name == "order_items":
            row = _lines(raw, as_of, as_of)[:2]
        else:
            query = _FINGERPRINT_SQL[name]
            used = {k: v for k, v in params.items() if f"${k}" in query}
            row = raw.execute(query, used).fetchone()
        out[name] = [str(v) for v in row] if row else None
    if "events" in out:
        out["events"].append(str(_event_latest(raw, as_of)))
    return out


def _lines(raw: Any, before: dt.datetime, as_of: dt.datetime) -> tuple[Any, ...]:
    """Count and hash of the lines of orders placed by ``before``, then of those placed in
    (``before``, ``as_of``]."""
    return raw.execute(_LINES_CHECK_SQL, {"before": before, "as_of": as_of}).fetchone()


def _event_latest(raw: Any, as_of: dt.datetime) -> dt.datetime | None:
    """The latest event time up to ``as_of``: from the last day's blocks when it has any."""
    for query in ("SELECT max(event_time) FROM events WHERE event_time <= $as_of "
                  "AND event_time > $as_of - INTERVAL 1 DAY",
                  "SELECT max(event_time) FROM events WHERE event_time <= $as_of"):
        latest = raw.execute(query, {"as_of": as_of}).fetchone()[0]
        if latest is not None:
            return latest
    return None


class HistoryCheck:
    """Whether the history up to ``before`` still has the ``kept`` fingerprint, and if so the
    fingerprint moved on to ``as_of``: worked out on a cursor of its own, in a thread, while
    the refresh goes on (hashing every order takes a second at 1,000,000 customers; the
    refresh spends that long in Python). Both read only the source tables, which a refresh
    never writes, so the refresh's own writes cannot change what it sees.
    """

    def __init__(self, ws: Workspace, kept: dict[str, Any], before: dt.datetime,
                 as_of: dt.datetime) -> None:
        self._cursor = ws.raw.cursor()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kequn-history")
        self._future: Future[dict[str, Any] | None] = self._pool.submit(
            self._run, kept, before, as_of)

    def _run(self, kept: dict[str, Any], before: dt.datetime,
             as_of: dt.datetime) -> dict[str, Any] | None:
        raw = self._cursor
        checked = _fingerprint(raw, before, ("orders", "events", "products"))
        if checked != {k: v for k, v in kept.items() if k != "order_items"}:
            return None  # changed: no need to read the lines
        lines = _lines(raw, before, as_of)
        checked["order_items"] = [str(v) for v in lines[:2]]
        if checked["order_items"] != kept.get("order_items"):
            return None
        return _advance(raw, checked, lines[2:], before, as_of)

    def result(self) -> dict[str, Any] | None:
        """The fingerprint at ``as_of``, or None when the history up to ``before`` changed
        (waits for the check; an error in it is raised here)."""
        try:
            return self._future.result()
        finally:
            self.close()

    def close(self) -> None:
        """Wait for the check and let its cursor go."""
        self._pool.shutdown(wait=True)
        self._cursor.close()
