"""From paid orders to the per-customer summary the CLV models need, as one Ibis query.

The summary has one row per buyer with the four numbers of Fader, Hardie & Lee (2005):

- ``frequency`` (x): repeat purchases, i.e. purchase periods after the first one;
- ``recency`` (t_x): time from the first to the last purchase;
- ``T``: time from the first purchase to the end of the observation (``as_of``, or the
  calibration end when a holdout is asked for);
- ``monetary_value`` (m_x): mean spend of the repeat purchases (Fader & Hardie 2013), over
  ``monetary_frequency`` of them; ``first_spend`` is the first purchase's (the models leave
  it out, the small-shop fallback uses it).

What counts as a purchase follows SPEC §1: only paid orders (:func:`paid_orders`), so
cancelled and refunded orders never count. A purchase is one *period* with at least one paid
order: by default a calendar day, so two orders on the same day are one purchase (the CDNOW
convention, and how split orders look in shop data). Money is kept apart from counting: a
purchase whose paid amount is zero, negative or missing still counts for frequency and
recency, but stays out of ``monetary_value`` (a free sample or a refund line says nothing
about what the customer spends).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from kequn.clv.errors import PredictionError
from kequn.schema.conventions import as_of_literal, paid_orders

__all__ = ["UNIT_DAYS", "Period", "SummaryArrays", "TimeUnit", "rfm_summary"]

Period = Literal["order", "day", "week", "month"]
"""What one purchase is: every paid order, or at most one per calendar day / ISO week / month."""
TimeUnit = Literal["day", "week"]
"""The unit of recency and T (the fitted scale parameters depend on it)."""

UNIT_DAYS: dict[str, float] = {"day": 1.0, "week": 7.0}
_TRUNCATE: dict[str, str] = {"day": "D", "week": "W", "month": "M"}
_SECONDS_PER_DAY = 86_400.0


def rfm_summary(
    orders: ir.Table,
    *,
    as_of: dt.datetime,
    calibration_end: dt.datetime | None = None,
    period: Period = "day",
    time_unit: TimeUnit = "day",
) -> ir.Table:
    """Per-buyer frequency, recency, T and monetary value from the orders table.

    Parameters
    ----------
    orders
        The shop's ``orders`` table (SPEC §1).
    as_of
        End of the observation; orders paid later are ignored.
    calibration_end
        When given, the summary describes the calibration period (orders paid up to
        ``calibration_end``, customers whose first purchase is in it) and adds what each of
        those customers did in the holdout ``(calibration_end, as_of]``:
        ``frequency_holdout``, ``monetary_value_holdout`` and ``duration_holdout``.
    period
        What one purchase is (see :data:`Period`).
    time_unit
        Unit of ``recency``, ``T`` and ``duration_holdout``.

    Returns
    -------
    ibis.expr.types.Table
        ``customer_id, frequency, recency, T, monetary_value, monetary_frequency,
        first_spend, first_purchase_at, last_purchase_at`` (+ the holdout columns). With
        ``period`` other than ``"order"``, times are period starts, so recency and T count
        whole periods.

    Examples
    --------
    >>> import datetime as dt, kequn
    >>> ws = kequn.open(":memory:")
    >>> s = rfm_summary(ws.table("orders"), as_of=dt.datetime(2024, 1, 1))
    >>> s.columns[:4]
    ('customer_id', 'frequency', 'recency', 'T')
    """
    if period not in ("order", *_TRUNCATE):
        msg = f"unknown period {period!r}; use one of order, day, week, month"
        raise PredictionError(msg)
    if time_unit not in UNIT_DAYS:
        msg = f"unknown time unit {time_unit!r}; use day or week"
        raise PredictionError(msg)
    end = as_of if calibration_end is None else calibration_end
    if calibration_end is not None and calibration_end >= as_of:
        msg = (f"calibration end {calibration_end:%Y-%m-%d %H:%M} is not before as_of "
               f"{as_of:%Y-%m-%d %H:%M}; pick an earlier calibration end")
        raise PredictionError(msg)

    unit_seconds = UNIT_DAYS[time_unit] * _SECONDS_PER_DAY
    paid = paid_orders(orders, as_of)
    calibration = _purchases(paid.filter(paid.paid_at <= as_of_literal(end)), period)
    summary = _per_customer(calibration, _period_start(as_of_literal(end), period), unit_seconds)
    if calibration_end is None:
        return summary

    holdout = _purchases(paid.filter(paid.paid_at > as_of_literal(calibration_end)), period)
    per_customer = holdout.group_by("customer_id").aggregate(
        frequency_holdout=holdout.count(),
        _spend=holdout.amount.sum(),
        _spending=(holdout.amount > 0).sum(),
    )
    joined = summary.left_join(per_customer, "customer_id").drop("customer_id_right")
    duration = _between(_period_start(as_of_literal(as_of), period),
                        _period_start(as_of_literal(calibration_end), period), unit_seconds)
    return joined.mutate(
        frequency_holdout=joined.frequency_holdout.fill_null(0),
        monetary_value_holdout=ibis.ifelse(joined._spending > 0,
                                           joined._spend / joined._spending, ibis.null()),
        duration_holdout=duration,
    ).drop("_spend", "_spending")


def _period_start(t: ir.TimestampValue, period: Period) -> ir.TimestampValue:
    return t if period == "order" else t.truncate(_TRUNCATE[period])


def _purchases(paid: ir.Table, period: Period) -> ir.Table:
    """One row per purchase: ``customer_id, at, amount`` with amount >= 0 (0 = no spend)."""
    positive = ibis.ifelse(paid.amount > 0, paid.amount, 0.0).fill_null(0.0)
    if period == "order":
        return paid.select("customer_id", at=paid.paid_at, amount=positive)
    lines = paid.select("customer_id", at=_period_start(paid.paid_at, period), amount=positive)
    return lines.group_by(["customer_id", "at"]).aggregate(amount=lines.amount.sum())


def _between(later: ir.TimestampValue, earlier: ir.TimestampValue,
             unit_seconds: float) -> ir.FloatingValue:
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / unit_seconds


def _per_customer(purchases: ir.Table, end: ir.TimestampValue, unit_seconds: float) -> ir.Table:
    p = purchases
    agg = p.group_by("customer_id").aggregate(
        _n=p.count(),
        first_purchase_at=p.at.min(),
        last_purchase_at=p.at.max(),
        _spend=p.amount.sum(),
        _spending=(p.amount > 0).sum(),
        # the first purchase's spend, to leave it out of the repeat-purchase mean
        _first_spend=p.amount.argmin(p.at),
    )
    repeat_spending = agg._spending - (agg._first_spend > 0).cast("int64")
    return agg.select(
        "customer_id",
        frequency=(agg._n - 1).cast("int64"),
        recency=_between(agg.last_purchase_at, agg.first_purchase_at, unit_seconds),
        T=_between(end, agg.first_purchase_at, unit_seconds),
        monetary_value=ibis.ifelse(repeat_spending > 0,
                                   (agg._spend - agg._first_spend) / repeat_spending,
                                   ibis.null()).cast("float64"),
        monetary_frequency=repeat_spending.cast("int64"),
        first_spend=agg._first_spend.cast("float64"),
        first_purchase_at="first_purchase_at",
        last_purchase_at="last_purchase_at",
    )


@dataclass(frozen=True)
class SummaryArrays:
    """A computed summary as numpy columns (what the fitters take), ids kept as Arrow."""

    customer_id: pa.Array
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray  # noqa: N815
    monetary_value: np.ndarray
    monetary_frequency: np.ndarray
    first_spend: np.ndarray
    frequency_holdout: np.ndarray | None = None
    monetary_value_holdout: np.ndarray | None = None
    duration_holdout: float | None = None

    @classmethod
    def collect(cls, summary: ir.Table) -> SummaryArrays:
        """Run the summary query and keep its columns as arrays (nulls become NaN)."""
        table = summary.to_pyarrow()

        def col(name: str) -> np.ndarray:
            return np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=float)

        holdout = "frequency_holdout" in table.column_names
        duration = None
        if holdout and table.num_rows:
            duration = float(table["duration_holdout"][0].as_py())
        return cls(
            customer_id=table["customer_id"].combine_chunks(),
            frequency=col("frequency"),
            recency=col("recency"),
            T=col("T"),
            monetary_value=col("monetary_value"),
            monetary_frequency=col("monetary_frequency"),
            first_spend=col("first_spend"),
            frequency_holdout=col("frequency_holdout") if holdout else None,
            monetary_value_holdout=col("monetary_value_holdout") if holdout else None,
            duration_holdout=duration,
        )

    def __len__(self) -> int:
        return len(self.frequency)

    @property
    def repeat_buyers(self) -> int:
        """Customers with at least one repeat purchase."""
        return int((self.frequency > 0).sum())
