"""Building blocks several metrics share: what "active" means, period buckets, grids."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kequn.metrics._base import MetricError, Sources, memtable
from kequn.metrics._periods import Window, period_index, period_start
from kequn.schema.tables import EVENT_NAMES

PURCHASE = "purchase"
ANY = "any"
ACTIONS: tuple[str, ...] = (PURCHASE, ANY, *EVENT_NAMES)
"""Actions a metric can count: ``purchase`` (a paid order), ``any`` or an event name."""


def active_rows(src: Sources, action: str) -> ir.Table:
    """``customer_id, t``: the moments a customer did ``action`` (up to as_of).

    ``purchase`` is a paid order at its ``paid_at`` (SPEC §1's 成交); ``any`` is any event
    or order; any other name is an event of that name (orders also count as ``order`` and
    paid orders as ``pay``, see :meth:`Sources.actions`). Unknown event names are allowed
    (SPEC §1 keeps other names) but an empty name is not.
    """
    if not action or not action.strip():
        msg = "action is empty; use purchase, any or an event name such as visit"
        raise MetricError(msg)
    if action == PURCHASE:
        p = src.paid()
        return p.select(customer_id=p.customer_id, t=p.paid_at)
    if action not in (ANY, "order", "pay"):  # events only: skip the union with orders
        e = src.events()
        e = e.filter(e.event == action)
        return e.select(customer_id=e.customer_id, t=e.event_time)
    a = src.actions()
    if action != ANY:
        a = a.filter(a.event == action)
    return a.select("customer_id", "t")


def in_window(t: ir.Table, window: Window, column: str = "t") -> ir.Table:
    """Rows of ``t`` whose ``column`` is in the window (the as_of cut is already applied)."""
    return t.filter(t[column] >= ibis.literal(window.start, type="timestamp"),
                    t[column] <= ibis.literal(window.as_of, type="timestamp"))


def bucket(t: ir.Table, window: Window, column: str = "t") -> ir.Table:
    """``t`` with ``period_start`` (date) and ``p`` (period index) of ``column``."""
    start = period_start(t[column], window.period)
    return t.mutate(period_start=start, p=period_index(start, window.period))


def buckets(window: Window) -> ir.Table:
    """One row per period of the window: ``p`` and ``period_start``."""
    first = window.first_index
    starts = window.starts()
    return memtable({"p": list(range(first, first + len(starts))), "period_start": starts},
                    {"p": pa.int64(), "period_start": pa.date32()})


def offsets(n: int, *, first: int = 0) -> ir.Table:
    """One row per offset ``k`` in ``first..n``."""
    return memtable({"k": list(range(first, n + 1))}, {"k": pa.int64()})
