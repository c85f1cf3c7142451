"""Activity 活跃 (SPEC §2.3): active users per period and action, active rates, active days.

DAU, WAU and MAU are the same count with ``period`` day, week and month. The active rate is
active users over cumulative registered customers at the end of the period (seed 000
"日活跃用户率"); a customer without ``registered_at`` counts as registered from its first
event or order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

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
from kequn.metrics._common import active_rows, bucket, buckets, in_window
from kequn.metrics._periods import period_index

if TYPE_CHECKING:
    from kequn.workspace import Workspace

DEFAULT_ACTIONS: tuple[str, ...] = ("visit", "purchase", "login", "cart", "review", "any")


class ActivitySpec(MetricSpec):
    """Active users per period for each action, with the active rate.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> spec = ActivitySpec(as_of=dt.datetime(2024, 3, 31), period="day", actions=("visit",))
    >>> spec.run(ws).to_pylist()[0]["active_users"]
    0
    """

    actions: tuple[str, ...] = DEFAULT_ACTIONS

    def registered(self, src: Sources) -> ir.Table:
        """Cumulative registered customers at the end of each period (per split value)."""
        w = self.window
        c = with_attribute(src.customers(), src, self.by)
        # Customers who joined before the window (or at an unknown time) start the count.
        joined_p = period_index(c.joined_at.date(), w.period)
        c = c.mutate(p=ibis.greatest(joined_p.fill_null(w.first_index), w.first_index))
        keys = by_keys(self.by)
        new = c.group_by(["p", *keys]).aggregate(new=c.count())
        grid = buckets(w)
        if keys:
            grid = grid.cross_join(new.select(*keys).distinct())
        g = grid.left_join(new, ["p", *keys]).select(grid, new.new)
        g = g.mutate(new=g.new.fill_null(0))
        cum = g.new.sum().over(ibis.window(group_by=[g[k] for k in keys], order_by=g.p,
                                           preceding=None, following=0))
        return g.mutate(registered=cum).drop("new")

    def to_expr(self, src: Sources) -> ir.Table:
        """Active users, registered customers and the active rate per period and action."""
        w = self.window
        keys = by_keys(self.by)
        parts = []
        for action in self.actions:
            a = bucket(in_window(active_rows(src, action), w), w)
            parts.append(a.select("customer_id", "p", action=ibis.literal(action)))
        acts = with_attribute(ibis.union(*parts, distinct=True), src, self.by)
        active = acts.group_by(["p", "action", *keys]).aggregate(
            active_users=acts.customer_id.nunique())
        reg = self.registered(src)
        grid = reg.cross_join(memtable({"action": list(self.actions)}))
        j = grid.left_join(active, ["p", "action", *keys]).select(grid, active.active_users)
        j = j.mutate(active_users=j.active_users.fill_null(0))
        out = j.mutate(active_rate=ratio(j.active_users, j.registered))
        return out.select("period_start", *keys, "action", "active_users", "registered",
                          "active_rate").order_by(["period_start", *keys, "action"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("activity", table, counts=("active_users", "registered"),
                            guarded={"active_rate": "active_users"})


class ActiveDaysSpec(MetricSpec):
    """How many distinct days each customer was active in the window (seed 000 每个用户活跃天数).

    Returns the distribution: ``active_days`` → customers and their share among the active.
    """

    action: str = "any"

    def to_expr(self, src: Sources) -> ir.Table:
        """Customers per number of active days in the window."""
        w = self.window
        a = in_window(active_rows(src, self.action), w)
        a = with_attribute(a.mutate(day=a.t.date()), src, self.by)
        keys = by_keys(self.by)
        per = a.group_by(["customer_id", *keys]).aggregate(active_days=a.day.nunique())
        dist = per.group_by(["active_days", *keys]).aggregate(customers=per.count())
        total = dist.customers.sum().over(ibis.window(group_by=[dist[k] for k in keys]))
        dist = dist.mutate(share=ratio(dist.customers, total))
        return dist.select(*keys, "active_days", "customers", "share").order_by(
            [*keys, "active_days"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("active_days", table, counts=("customers",),
                            guarded={"share": "customers"})
