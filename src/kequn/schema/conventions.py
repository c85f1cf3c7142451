"""SPEC §1 conventions as Ibis expressions: the as_of cut, windows, paid orders and buyers.

Every metric, group and prediction builds on these so that two implementations agree:
"in the last N days" is ``as_of - N*24h < t <= as_of``; a paid order has ``paid_at`` set,
``paid_at <= as_of`` and a status other than cancelled or refunded; its time is ``paid_at``.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from kequn.errors import AsOfError

UNPAID_STATUSES: tuple[str, ...] = ("cancelled", "refunded")
DAYS_PER_MONTH = 30  # SPEC §1: "N months" in a group's default means N x 30 days


def parse_as_of(value: str | dt.date | dt.datetime) -> dt.datetime:
    """Turn a user's as_of into a naive shop-time timestamp.

    A bare date means the end of that day, so ``--as-of 2024-03-01`` includes the orders of
    March 1st: what the shop saw when that day was over.
    """
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else _to_naive(value)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.max)
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time.max)
        return parse_as_of(dt.datetime.fromisoformat(text))
    except ValueError:
        msg = f"as_of {text!r} is not a date or time; use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"
        raise AsOfError(msg) from None


def _to_naive(value: dt.datetime) -> dt.datetime:
    # An explicit offset is kept as wall time; callers convert zones before they get here.
    return value.replace(tzinfo=None)


def as_of_literal(as_of: dt.datetime) -> ir.TimestampScalar:
    """The as_of timestamp as an Ibis literal (never spliced into SQL text)."""
    return ibis.literal(as_of, type="timestamp")


def within_last(t: ir.TimestampValue, as_of: dt.datetime, days: float) -> ir.BooleanValue:
    """``as_of - days*24h < t <= as_of`` (SPEC §1's "in the last N days")."""
    start = as_of - dt.timedelta(days=days)
    return (t > ibis.literal(start, type="timestamp")) & (t <= as_of_literal(as_of))


def not_after(t: ir.TimestampValue, as_of: dt.datetime) -> ir.BooleanValue:
    """``t <= as_of``: data after as_of is ignored, so past results do not change."""
    return t <= as_of_literal(as_of)


def paid_orders(orders: ir.Table, as_of: dt.datetime) -> ir.Table:
    """Orders that count as paid at ``as_of`` (成交), with ``paid_at`` as their time."""
    status_ok = orders.status.isnull() | ~orders.status.isin(UNPAID_STATUSES)
    return orders.filter(orders.paid_at.notnull(), not_after(orders.paid_at, as_of), status_ok)


def buyers(orders: ir.Table, as_of: dt.datetime) -> ir.Table:
    """One row per buyer: customers with at least one paid order at ``as_of``, with spend."""
    paid = paid_orders(orders, as_of)
    return paid.group_by("customer_id").aggregate(
        paid_orders=paid.count(),
        spend=paid.amount.sum().fill_null(0),
        first_paid_at=paid.paid_at.min(),
        last_paid_at=paid.paid_at.max(),
    )
