"""The physical order of the shop's big tables, and putting them in time order.

DuckDB keeps, for every block of ~120 000 rows, the smallest and largest value of each column,
and skips a block whose range cannot match a filter. Nearly every question kequn asks is
about a window of time ("carts in the last 7 days", "this week's funnel"), so when the events
and orders are stored in time order such a question reads a few blocks instead of all of them.
Data loaded day by day is in time order by itself; a history loaded at once in another order
(by customer, say) is not, and :func:`optimize` rewrites it once.

Only the embedded DuckDB tables are rewritten (names are kequn's, never user text).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from kequn.storage.engines import require
from kequn.workspace import Workspace

# table -> the time column its windows filter on
TIME_ORDER: dict[str, str] = {"events": "event_time", "orders": "created_at"}
BLOCK_ROWS = 122_880  # DuckDB's row group


@dataclass(frozen=True)
class TableOrder:
    """How well a table's blocks follow time, before and after :func:`optimize`."""

    table: str
    rows: int
    blocks: int
    span_before: float  # mean share of the table's time range one block covers (0–1)
    span_after: float
    seconds: float
    rewritten: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def block_span(ws: Workspace, table: str) -> tuple[int, int, float]:
    """``(rows, blocks, span)``: the mean share of the whole time range that one block of
    the table covers (about 1/blocks when in time order, near 1 when not)."""
    column = TIME_ORDER[table]
    row = ws.raw.execute(f"""
        WITH b AS (SELECT rowid // {BLOCK_ROWS} AS block, min("{column}") AS lo,
                          max("{column}") AS hi, count(*) AS n
                   FROM "{table}" GROUP BY block),
             r AS (SELECT min(lo) AS lo, max(hi) AS hi FROM b)
        SELECT sum(b.n), count(*),
               avg(epoch(b.hi) - epoch(b.lo)) / nullif(epoch(max(r.hi)) - epoch(min(r.lo)), 0)
        FROM b, r""").fetchone()  # noqa: S608 - kequn's own table and column names
    rows, blocks, span = row if row else (0, 0, None)
    return int(rows or 0), int(blocks or 0), float(span or 0.0)


def optimize(ws: Workspace, *, tables: tuple[str, ...] = tuple(TIME_ORDER),
             threshold: float = 2.0) -> list[TableOrder]:
    """Rewrite each table in time order when its blocks cover more than ``threshold`` times
    the time range they would in order (span × blocks; 1 in order, about the number of
    blocks when shuffled); one transaction, so a failure leaves the tables as they were."""
    require(ws.engine_name, "optimize")
    out = []
    for table in tables:
        rows, blocks, before = block_span(ws, table)
        started = time.perf_counter()
        rewrite = blocks > 1 and before * blocks > threshold
        if rewrite:
            column = TIME_ORDER[table]
            with ws.transaction() as raw:
                raw.execute(f'CREATE TABLE "_kq_ordered_{table}" AS SELECT * FROM "{table}" '
                            f'ORDER BY "{column}" NULLS LAST')
                raw.execute(f'DROP TABLE "{table}"')
                raw.execute(f'ALTER TABLE "_kq_ordered_{table}" RENAME TO "{table}"')
            ws.raw.execute("CHECKPOINT")
        after = block_span(ws, table)[2] if rewrite else before
        out.append(TableOrder(table, rows, blocks, round(before, 4), round(after, 4),
                              round(time.perf_counter() - started, 2), rewrite))
    return out
