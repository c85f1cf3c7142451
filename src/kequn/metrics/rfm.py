"""RFM (seed 004, SPEC §3 ``rfm_8``): recency, frequency, monetary scores and the 8 classes.

Over the buyers at as_of (paid orders in the last ``window_days``, or all history): R =
days since the last paid order, F = paid orders, M = spend. Scores run 1..5, higher is
better: by quintile (the share of buyers strictly worse, so ties share a score and the
lowest value always scores 1) or by chosen cut-offs. The 8 classes split each of R, F, M
into high and low: F and M are high above the split, R is high when recency is at or below it
(a more recent buyer), exactly as the built-in group ``rfm_8`` writes it; the split defaults
to the median over the buyers. Spend is summed in cents, like the groups' ``spend``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir
from pydantic import Field, field_validator

from kequn.metrics._base import (
    MetricResult,
    MetricSpec,
    Sources,
    by_keys,
    memtable,
    ratio,
    to_arrow,
    with_attribute,
)
from kequn.schema.conventions import as_of_literal

if TYPE_CHECKING:
    from kequn.workspace import Workspace

# (R high, F high, M high) → class id, 中文, English (seed 004's 8 customer classes).
RFM_CLASSES: dict[tuple[bool, bool, bool], tuple[str, str, str]] = {
    (True, True, True): ("important_value", "重要价值", "Important value"),
    (True, False, True): ("important_develop", "重要发展", "Important to develop"),
    (False, True, True): ("important_keep", "重要保持", "Important to keep"),
    (False, False, True): ("important_retain", "重要挽留", "Important to win back"),
    (True, True, False): ("general_value", "一般价值", "General value"),
    (True, False, False): ("general_develop", "一般发展", "General to develop"),
    (False, True, False): ("general_keep", "一般保持", "General to keep"),
    (False, False, False): ("general_retain", "一般挽留", "General to win back"),
}


class RFMSpec(MetricSpec):
    """RFM scores per buyer and the 8-class grid with customers and revenue.

    ``r_cuts`` (days, ascending) give R scores 5..1: within the first cut scores 5, beyond
    the last scores 1. ``f_cuts`` and ``m_cuts`` (ascending) give F and M scores 1..5: a
    value reaching the i-th cut scores i + 1. ``r_split``/``f_split``/``m_split`` replace
    the medians of the 8-class split.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> [r["name_zh"] for r in RFMSpec(as_of=dt.datetime(2024, 3, 31)).run(ws).to_pylist()][:2]
    ['重要价值', '重要发展']
    """

    window_days: int | None = Field(default=None, gt=0)
    r_cuts: tuple[float, float, float, float] | None = None
    f_cuts: tuple[float, float, float, float] | None = None
    m_cuts: tuple[float, float, float, float] | None = None
    r_split: float | None = None
    f_split: float | None = None
    m_split: float | None = None

    @field_validator("r_cuts", "f_cuts", "m_cuts")
    @classmethod
    def _ascending(cls, cuts: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if cuts is not None and list(cuts) != sorted(cuts):
            msg = f"cut-offs must be ascending, got {list(cuts)!r}"
            raise ValueError(msg)
        return cuts

    def values_expr(self, src: Sources) -> ir.Table:
        """``customer_id, recency_days, frequency, monetary`` per buyer."""
        p = src.paid()
        if self.window_days is not None:
            start = self.as_of - dt.timedelta(days=self.window_days)
            p = p.filter(p.paid_at > ibis.literal(start, type="timestamp"))
        b = p.group_by("customer_id").aggregate(last=p.paid_at.max(), frequency=p.count(),
                                                monetary=p.amount.fill_null(0).sum().round(2))
        recency = (as_of_literal(self.as_of).epoch_seconds() - b.last.epoch_seconds()) / 86400
        return b.select("customer_id", recency_days=recency, frequency=b.frequency,
                        monetary=b.monetary)

    def scores_expr(self, src: Sources) -> ir.Table:
        """Per buyer: R, F, M values, their 1..5 scores, high/low flags and the class."""
        v = self.values_expr(src)
        everyone = ibis.window()
        v = v.mutate(
            r_score=_score(v.recency_days, self.r_cuts, reverse=True),
            f_score=_score(v.frequency, self.f_cuts),
            m_score=_score(v.monetary, self.m_cuts),
            r_high=v.recency_days <= (self.r_split if self.r_split is not None
                                      else v.recency_days.median().over(everyone)),
            f_high=v.frequency > (self.f_split if self.f_split is not None
                                  else v.frequency.median().over(everyone)),
            m_high=v.monetary > (self.m_split if self.m_split is not None
                                 else v.monetary.median().over(everyone)),
        )
        codes = [((v.r_high == r) & (v.f_high == f) & (v.m_high == m), code)
                 for (r, f, m), (code, _, _) in RFM_CLASSES.items()]
        return with_attribute(v.mutate(rfm_class=ibis.cases(*codes)), src, self.by)

    def to_expr(self, src: Sources) -> ir.Table:
        """The 8-class grid: customers, revenue, shares and mean R, F, M per class."""
        s = self.scores_expr(src)
        keys = by_keys(self.by)
        g = s.group_by(["rfm_class", *keys]).aggregate(
            customers=s.count(), revenue=s.monetary.sum(),
            avg_recency_days=s.recency_days.mean(), avg_frequency=s.frequency.mean(),
            avg_monetary=s.monetary.mean())
        labels = memtable([
            {"order": i, "rfm_class": code, "name_zh": zh, "name_en": en,
             "r_high": r, "f_high": f, "m_high": m}
            for i, ((r, f, m), (code, zh, en)) in enumerate(RFM_CLASSES.items())])
        grid = labels
        if keys:
            grid = grid.cross_join(g.select(*keys).distinct())
        t = grid.left_join(g, ["rfm_class", *keys]).select(
            grid, g.customers, g.revenue, g.avg_recency_days, g.avg_frequency, g.avg_monetary)
        t = t.mutate(customers=t.customers.fill_null(0), revenue=t.revenue.fill_null(0.0))
        w = ibis.window(group_by=[t[k] for k in keys])
        t = t.mutate(customer_share=ratio(t.customers, t.customers.sum().over(w)),
                     revenue_share=ratio(t.revenue, t.revenue.sum().over(w)))
        t = t.order_by([*keys, "order"])
        return t.select(*keys, "rfm_class", "name_zh", "name_en", "r_high", "f_high", "m_high",
                        "customers", "revenue", "customer_share", "revenue_share",
                        "avg_recency_days", "avg_frequency", "avg_monetary")

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("rfm", table, counts=("customers",),
                            guarded={c: "customers" for c in (
                                "revenue", "customer_share", "revenue_share",
                                "avg_recency_days", "avg_frequency", "avg_monetary")})


def _score(value: ir.NumericValue, cuts: tuple[float, ...] | None, *,
           reverse: bool = False) -> ir.IntegerValue:
    """1..5: by cut-offs, or by the share of buyers strictly worse (quintiles with ties)."""
    if cuts is not None:
        if reverse:  # recency: within the first cut is best
            return 5 - sum((value > c).cast("int64") for c in cuts)
        return 1 + sum((value >= c).cast("int64") for c in cuts)
    order = ibis.desc(value) if reverse else value
    worse = ibis.percent_rank().over(order_by=order)
    return ibis.least((worse * 5).floor().cast("int64") + 1, 5)
