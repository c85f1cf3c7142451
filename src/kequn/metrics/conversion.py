"""Conversion 转化 (SPEC §2.5) and new vs returning customers 新老客 (SPEC §2.6), per period.

Definitions (per period, split value):

- visitors 访客: customers with any event or order in the period (a buyer is a visitor);
- paying users 支付买家: customers with a paid order in the period; revenue 支付金额 their
  paid ``amount``;
- pay rate 支付转化率 = paying users / visitors; ARPU = revenue / visitors; ARPPU 客单价 =
  revenue / paying users (Taobao's 客单价: per buyer); AOV 笔单价 = revenue / paid orders;
- first-purchase users 首购: paying users whose first paid order ever is in the period;
- repurchase users 复购: paying users with two or more paid orders in the period;
- new customers 新客 are the first-purchase users; returning customers 老客 paid in the
  period and before it; acquisition cost 获客成本 = marketing cost of the period / new
  customers (split by channel when ``by`` is ``channel`` or ``source_channel``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from kequn.metrics._base import (
    MetricResult,
    MetricSpec,
    Sources,
    aggregate,
    attribute,
    by_keys,
    label_unknown,
    ratio,
    to_arrow,
    with_attribute,
)
from kequn.metrics._common import active_rows, bucket, buckets, in_window
from kequn.metrics._periods import Window, period_index, period_start

if TYPE_CHECKING:
    from kequn.workspace import Workspace

CHANNEL_SPLITS = ("channel", "source_channel")


def split_grid(src: Sources, window: Window, by: str | None) -> ir.Table:
    """Every period of the window × every value of the split attribute among customers."""
    grid = buckets(window)
    if by is None:
        return grid
    c = src.customers()
    values = c.select(**{by: label_unknown(attribute(c, by, src.as_of))}).distinct()
    return grid.cross_join(values)


def fill_join(grid: ir.Table, part: ir.Table, keys: list[str]) -> ir.Table:
    """Left-join ``part`` onto ``grid`` on ``keys``, with missing counts as 0."""
    j = grid.left_join(part, keys)
    cols = [c for c in part.columns if c not in keys]
    j = j.select(grid, *[part[c] for c in cols])
    return j.mutate(**{c: j[c].fill_null(0) for c in cols})


def paid_per_customer(src: Sources, window: Window, by: str | None) -> ir.Table:
    """Paid orders in the window per customer and period: orders, spend, first-paid period,
    time of the first paid order in the period, and the split column."""
    p = src.paid()
    first = p.group_by("customer_id").aggregate(first_paid=p.paid_at.min())
    first = first.mutate(first_p=period_index(period_start(first.first_paid, window.period),
                                              window.period))
    w = bucket(in_window(p, window, "paid_at"), window, "paid_at")
    per = w.group_by(["customer_id", "p", "period_start"]).aggregate(orders=w.count(),
                                                    spend=w.amount.fill_null(0).sum(),
                                                    t_first=w.paid_at.min())
    per = per.join(first, "customer_id").select(per, first.first_p)
    return with_attribute(per, src, by)


class ConversionSpec(MetricSpec):
    """Visitors, paying users, revenue and the conversion ratios per period.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> ConversionSpec(as_of=dt.datetime(2024, 3, 31)).run(ws).to_pylist()[0]["visitors"]
    0
    """

    def to_expr(self, src: Sources) -> ir.Table:
        """One row per period (and split value)."""
        w = self.window
        keys = ["p", *by_keys(self.by)]
        vis = with_attribute(bucket(in_window(active_rows(src, "any"), w), w), src, self.by)
        visitors = vis.group_by(keys).aggregate(visitors=vis.customer_id.nunique())
        o = src.orders()
        o = with_attribute(bucket(in_window(o, w, "created_at"), w, "created_at"), src, self.by)
        ordering = o.group_by(keys).aggregate(ordering_users=o.customer_id.nunique())
        per = paid_per_customer(src, w, self.by)
        pay = per.group_by(keys).aggregate(
            paying_users=per.count(), paid_orders=per.orders.sum(), revenue=per.spend.sum(),
            first_purchase_users=(per.first_p == per.p).sum().cast("int64"),
            repurchase_users=(per.orders >= 2).sum().cast("int64"))
        t = fill_join(split_grid(src, w, self.by), visitors, keys)
        t = fill_join(t, ordering, keys)
        t = fill_join(t, pay, keys)
        t = t.mutate(
            pay_rate=ratio(t.paying_users, t.visitors),
            order_rate=ratio(t.ordering_users, t.visitors),
            arpu=ratio(t.revenue, t.visitors),
            arppu=ratio(t.revenue, t.paying_users),
            aov=ratio(t.revenue, t.paid_orders),
            repurchase_rate=ratio(t.repurchase_users, t.paying_users),
        )
        return t.select("period_start", *by_keys(self.by), "visitors", "ordering_users",
                        "paying_users", "paid_orders", "revenue", "pay_rate", "order_rate",
                        "arpu", "arppu", "aov", "first_purchase_users", "repurchase_users",
                        "repurchase_rate").order_by(["period_start", *by_keys(self.by)])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult(
            "conversion", table,
            counts=("visitors", "ordering_users", "paying_users", "first_purchase_users",
                    "repurchase_users"),
            guarded={"paid_orders": "paying_users", "revenue": "paying_users",
                     "pay_rate": "paying_users", "order_rate": "ordering_users",
                     "arpu": "paying_users", "arppu": "paying_users", "aov": "paying_users",
                     "repurchase_rate": "repurchase_users"})


class NewReturningSpec(MetricSpec):
    """New and returning customers per period, acquisition cost and returning customers'
    frequency, recency, monetary value and repeat-purchase rate (seed 000 新老用户指标)."""

    def _costs(self, src: Sources, w: Window) -> tuple[ir.Table, list[str]]:
        m = src.ws.table("marketing_costs")
        m = m.filter(m.date >= w.start.date(), m.date <= w.as_of.date())
        start = m.date.truncate({"day": "D", "week": "W", "month": "M"}[w.period])
        m = m.mutate(p=period_index(start, w.period))
        if self.by in CHANNEL_SPLITS:
            m = m.mutate(**{self.by: label_unknown(m.channel)})
            keys = ["p", self.by]
        else:
            keys = ["p"]
        return m.group_by(keys).aggregate(marketing_cost=m.cost.sum()), keys

    def to_expr(self, src: Sources) -> ir.Table:
        """One row per period (and split value)."""
        w = self.window
        bk = by_keys(self.by)
        keys = ["p", *bk]
        per = paid_per_customer(src, w, self.by)
        per = per.mutate(new=per.first_p == per.p)
        agg = per.group_by(keys).aggregate(
            buyers=per.count(),
            new_customers=per.new.sum().cast("int64"),
            revenue=per.spend.sum(),
            new_revenue=per.spend.sum(where=per.new).fill_null(0),
            new_orders=per.orders.sum(where=per.new).fill_null(0),
            returning_orders=per.orders.sum(where=~per.new).fill_null(0),
        )
        agg = agg.mutate(returning_customers=agg.buyers - agg.new_customers,
                         returning_revenue=agg.revenue - agg.new_revenue)

        # Days from each returning buyer's previous paid order to their first in the period.
        p = src.paid()
        ret = per.filter(~per.new)
        ret = ret.mutate(p_start=ret.period_start.cast("timestamp"))
        prev = ret.join(p, [ret.customer_id == p.customer_id, p.paid_at < ret.p_start])
        prev = prev.select(ret.customer_id, *[ret[k] for k in keys], ret.t_first,
                           before=p.paid_at)
        prev = prev.group_by(["customer_id", *keys, "t_first"]).aggregate(
            last_before=prev.before.max())
        prev = prev.mutate(gap=(prev.t_first.epoch_seconds()
                                - prev.last_before.epoch_seconds()) / 86400)
        recency = prev.group_by(keys).aggregate(returning_recency_days=prev.gap.mean())

        prior = self._prior_buyers(src, w)
        t = fill_join(split_grid(src, w, self.by), agg, keys)
        t = t.left_join(recency, keys).select(t, recency.returning_recency_days)
        t = fill_join(t, prior, keys)
        costs, ckeys = self._costs(src, w)
        t = t.left_join(costs, ckeys).select(t, costs.marketing_cost)
        if self.by is None or self.by in CHANNEL_SPLITS:
            t = t.mutate(marketing_cost=t.marketing_cost.fill_null(0))
        t = t.mutate(
            acquisition_cost=ratio(t.marketing_cost, t.new_customers),
            new_customer_aov=ratio(t.new_revenue, t.new_orders),
            returning_share_buyers=ratio(t.returning_customers, t.buyers),
            returning_share_revenue=ratio(t.returning_revenue, t.revenue),
            returning_frequency=ratio(t.returning_orders, t.returning_customers),
            returning_monetary=ratio(t.returning_revenue, t.returning_customers),
            repeat_purchase_rate=ratio(t.returning_customers, t.prior_buyers),
        )
        return t.select("period_start", *bk, "buyers", "new_customers", "returning_customers",
                        "revenue", "new_revenue", "returning_revenue", "marketing_cost",
                        "acquisition_cost", "new_customer_aov", "returning_share_buyers",
                        "returning_share_revenue", "returning_frequency",
                        "returning_monetary", "returning_recency_days", "prior_buyers",
                        "repeat_purchase_rate").order_by(["period_start", *bk])

    def _prior_buyers(self, src: Sources, w: Window) -> ir.Table:
        """Customers who had paid before each period started (per split value)."""
        bk = by_keys(self.by)
        p = src.paid()
        first = p.group_by("customer_id").aggregate(first_paid=p.paid_at.min())
        first = with_attribute(first.mutate(fp=period_index(
            period_start(first.first_paid, w.period), w.period)), src, self.by)
        old = first.filter(first.fp < w.first_index)
        before = aggregate(old, bk, n0=old.count())
        inside = first.filter(first.fp >= w.first_index)
        new = inside.group_by(["fp", *bk]).aggregate(n=inside.count())
        grid = split_grid(src, w, self.by)
        g = grid.left_join(new, [grid.p == new.fp, *[grid[k] == new[k] for k in bk]])
        g = g.select(grid, n=new.n.fill_null(0))
        cum = g.n.sum().over(ibis.window(group_by=[g[k] for k in bk], order_by=g.p,
                                         preceding=None, following=0))
        g = g.mutate(prior=cum - g.n)
        if bk:
            g = g.left_join(before, bk).select(g, before.n0)
        else:
            g = g.cross_join(before)
        return g.select("p", *bk, prior_buyers=(g.prior + g.n0.fill_null(0)).cast("int64"))

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        notes = ()
        if self.by is not None and self.by not in CHANNEL_SPLITS:
            notes = (f"marketing costs are per channel, so they are not split by {self.by}",)
        return MetricResult(
            "new_returning", table,
            counts=("buyers", "new_customers", "returning_customers", "prior_buyers"),
            guarded={"revenue": "buyers", "new_revenue": "new_customers",
                     "returning_revenue": "returning_customers",
                     "acquisition_cost": "new_customers", "new_customer_aov": "new_customers",
                     "returning_share_buyers": "returning_customers",
                     "returning_share_revenue": "returning_customers",
                     "returning_frequency": "returning_customers",
                     "returning_monetary": "returning_customers",
                     "returning_recency_days": "returning_customers",
                     "repeat_purchase_rate": "returning_customers"},
            notes=notes)

