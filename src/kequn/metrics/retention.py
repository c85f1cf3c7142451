"""Retention 留存 (SPEC §2.4, §2.6): cohort matrices, N-day retention, store repurchase retention.

A cohort is the customers whose first action (``cohort_by="first"``) — or any action
(``cohort_by="any"``) — fell in one period. Column ``k`` of the matrix counts the cohort's
customers who did the return action in period ``cohort + k`` (``mode="in"``), or at least
once in periods ``1..k`` (``mode="within"``; column 0 is the same in both modes). A cell is
present only once its period has started by as_of, so the matrix is a triangle and a past
as_of never sees later data.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import Field

from kequn.metrics._base import (
    MetricError,
    MetricResult,
    MetricSpec,
    Sources,
    aggregate,
    by_keys,
    ratio,
    to_arrow,
    with_attribute,
)
from kequn.metrics._common import active_rows, offsets
from kequn.metrics._periods import index_of, period_index, period_start, start_of_index
from kequn.schema.conventions import DAYS_PER_MONTH

if TYPE_CHECKING:
    from kequn.workspace import Workspace

RetentionMode = Literal["in", "within"]
CohortBy = Literal["first", "any"]
DEFAULT_PERIODS = {"day": 30, "week": 12, "month": 12}


class RetentionSpec(MetricSpec):
    """A cohort retention matrix.

    ``periods`` is the number of columns after column 0 (default 30 days, 12 weeks or 12
    months); the default window holds that many cohorts up to as_of.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> RetentionSpec(as_of=dt.datetime(2024, 3, 31), action="visit").run(ws).table.num_rows
    0
    """

    action: str = "any"
    return_action: str | None = None
    cohort_by: CohortBy = "first"
    mode: RetentionMode = "in"
    periods: int | None = Field(default=None, ge=0, le=400)

    def span(self) -> int:
        """Default window: as many cohorts as there are columns."""
        return self.n_periods + 1

    @property
    def n_periods(self) -> int:
        """Columns after column 0."""
        return DEFAULT_PERIODS[self.period] if self.periods is None else self.periods

    def _per_period(self, src: Sources, action: str, since: dt.datetime | None = None) -> ir.Table:
        a = active_rows(src, action)
        if since is not None:
            a = a.filter(a.t >= ibis.literal(since, type="timestamp"))
        start = period_start(a.t, self.period)
        a = a.mutate(ps=start, p=period_index(start, self.period))
        return a.select("customer_id", "p", "ps").distinct()

    def _first_day(self) -> dt.datetime:
        """The start of the window's first period (no cohort or return is earlier)."""
        first = start_of_index(self.window.first_index, self.period)
        return dt.datetime.combine(first, dt.time())

    def cohorts(self, src: Sources) -> ir.Table:
        """``customer_id, cohort, cohort_start`` (+ split column) for cohorts in the window."""
        w = self.window
        if self.cohort_by == "first":
            # The first period is the period of the first action: no need to list them all.
            a = active_rows(src, self.action)
            first = a.group_by("customer_id").aggregate(t=a.t.min())
            start = period_start(first.t, self.period)
            c = first.select("customer_id", cohort=period_index(start, self.period),
                             cohort_start=start)
        else:
            per = self._per_period(src, self.action, since=self._first_day())
            c = per.select("customer_id", cohort=per.p, cohort_start=per.ps)
        c = c.filter(c.cohort >= w.first_index, c.cohort <= w.last_index)
        return with_attribute(c, src, self.by)

    def to_expr(self, src: Sources) -> ir.Table:
        """The matrix in long form: one row per cohort (and split value) and offset."""
        n = self.n_periods
        keys = by_keys(self.by)
        last = index_of(self.as_of.date(), self.period)
        cohorts = self.cohorts(src)
        group = ["cohort", "cohort_start", *keys]
        sizes = cohorts.group_by(group).aggregate(cohort_size=cohorts.customer_id.nunique())

        # Returns count from a cohort's own period on: none before the window's first one.
        back = self._per_period(src, self.return_action or self.action,
                                since=self._first_day())
        j = cohorts.join(back, [cohorts.customer_id == back.customer_id,
                                back.p >= cohorts.cohort, back.p <= cohorts.cohort + n])
        hits = j.select(*[cohorts[c] for c in ("customer_id", *group)],
                        k=back.p - cohorts.cohort)
        in_period = hits.group_by([*group, "k"]).aggregate(retained=hits.customer_id.nunique())
        if self.mode == "in":
            cells = in_period
        else:
            later = hits.filter(hits.k >= 1)
            first_back = later.group_by(["customer_id", *group]).aggregate(m=later.k.min())
            ks = offsets(n, first=1)
            reach = first_back.join(ks, first_back.m <= ks.k)
            cum = reach.group_by([*group, "k"]).aggregate(retained=reach.customer_id.nunique())
            cells = ibis.union(in_period.filter(in_period.k == 0), cum)

        grid = sizes.cross_join(offsets(n))
        grid = grid.filter(grid.cohort + grid.k <= last)
        out = grid.left_join(cells, [*group, "k"]).select(grid, cells.retained)
        out = out.mutate(retained=out.retained.fill_null(0))
        out = out.mutate(rate=ratio(out.retained, out.cohort_size))
        return out.select("cohort_start", *keys, "cohort_size", period=out.k,
                          retained=out.retained, rate=out.rate).order_by(
            ["cohort_start", *keys, "period"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> RetentionResult:
        """Execute into a :class:`RetentionResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return RetentionResult("retention", table, counts=("cohort_size", "retained"),
                               guarded={"rate": "retained"}, by=self.by)


@dataclass(frozen=True)
class RetentionResult(MetricResult):
    """A cohort matrix in long form (``cohort_start, [by], cohort_size, period, retained,
    rate``), with :meth:`wide` for the familiar triangle."""

    by: str | None = None

    def wide(self, value: Literal["retained", "rate"] = "rate") -> pa.Table:
        """One row per cohort, one column per period offset (``p0``, ``p1``, ...)."""
        import pandas as pd

        df = self.table.to_pandas()
        index = ["cohort_start", *by_keys(self.by), "cohort_size"]
        if df.empty:
            return pa.table({c: pa.array([], pa.string()) for c in index})
        wide = df.pivot_table(index=index, columns="period", values=value, aggfunc="first")
        wide.columns = [f"p{int(c)}" for c in wide.columns]
        wide = wide.reset_index()
        return pa.Table.from_pandas(pd.DataFrame(wide), preserve_index=False)


class DayRetentionSpec(MetricSpec):
    """Next-day 次日, 7-day and 30-day retention of daily cohorts, pooled over the window.

    For each ``n`` in ``days``: of the customers in daily cohorts whose day ``n`` has been
    reached by as_of, the share active on day ``n`` (or within days 1..n with
    ``mode="within"``). The default window is the last 60 days.
    """

    period: Literal["day"] = "day"
    action: str = "any"
    return_action: str | None = None
    cohort_by: CohortBy = "first"
    mode: RetentionMode = "in"
    days: tuple[int, ...] = (1, 7, 30)

    def span(self) -> int:
        """Default window: the last 60 daily cohorts."""
        return 60

    def matrix(self) -> RetentionSpec:
        """The daily cohort matrix this summary pools."""
        return RetentionSpec(as_of=self.as_of, period="day", start=self.window.start,
                             by=self.by, action=self.action, return_action=self.return_action,
                             cohort_by=self.cohort_by, mode=self.mode, periods=max(self.days))

    def to_expr(self, src: Sources) -> ir.Table:
        """Cohort customers, retained customers and the rate per ``n``."""
        keys = by_keys(self.by)
        m = self.matrix().to_expr(src)
        m = m.filter(m.period.isin(list(self.days)))
        out = m.group_by(["period", *keys]).aggregate(cohort_customers=m.cohort_size.sum(),
                                                      retained=m.retained.sum())
        out = out.mutate(rate=ratio(out.retained, out.cohort_customers))
        return out.select(*keys, day=out.period, cohort_customers=out.cohort_customers,
                          retained=out.retained, rate=out.rate).order_by([*keys, "day"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("day_retention", table, counts=("cohort_customers", "retained"),
                            guarded={"rate": "retained"})


class RepurchaseRetentionSpec(MetricSpec):
    """Store repurchase retention (seed 002, SPEC §2.4): buyers of the ``months`` before a
    date who paid again in the ``months`` after it, over the first count.

    ``date`` defaults to as_of minus ``months`` (so the "after" half ends at as_of); months
    are SPEC §1's 30 days. ``complete`` is false while the after half is still running.
    Split ``by="member_band"`` for seed 002's retention by member level (V0 / V1–V3 / V4+).
    """

    date: dt.datetime | None = None
    months: int = Field(default=6, ge=1, le=60)

    @property
    def pivot(self) -> dt.datetime:
        """The date that splits before from after."""
        return self.date or self.as_of - dt.timedelta(days=self.months * DAYS_PER_MONTH)

    def to_expr(self, src: Sources) -> ir.Table:
        """Buyers before, of them buyers after, and the rate (per split value)."""
        span = dt.timedelta(days=self.months * DAYS_PER_MONTH)
        pivot = self.pivot
        if pivot > self.as_of:
            msg = f"retention date {pivot} is after as_of {self.as_of}; pick an earlier --date"
            raise MetricError(msg)
        lo = ibis.literal(pivot - span, type="timestamp")
        mid = ibis.literal(pivot, type="timestamp")
        hi = ibis.literal(pivot + span, type="timestamp")
        p = src.paid()
        before = p.filter(p.paid_at > lo, p.paid_at <= mid).select("customer_id").distinct()
        after = p.filter(p.paid_at > mid, p.paid_at <= hi).select("customer_id").distinct()
        base = with_attribute(before, src, self.by)
        back = base.mutate(again=base.customer_id.isin(after.customer_id))
        keys = by_keys(self.by)
        out = aggregate(back, keys, buyers_before=back.count(),
                        bought_again=back.again.sum().fill_null(0).cast("int64"))
        out = out.mutate(rate=ratio(out.bought_again, out.buyers_before),
                         date=ibis.literal(pivot.date(), type="date"),
                         complete=ibis.literal(pivot + span <= self.as_of))
        return out.select(*keys, "date", "buyers_before", "bought_again", "rate",
                          "complete").order_by(keys or ["date"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        notes = () if self.pivot + dt.timedelta(days=self.months * DAYS_PER_MONTH) <= self.as_of \
            else ("the after half is not over yet at as_of; the rate can still rise",)
        return MetricResult("repurchase_retention", table,
                            counts=("buyers_before", "bought_again"),
                            guarded={"rate": "bought_again"}, notes=notes)
