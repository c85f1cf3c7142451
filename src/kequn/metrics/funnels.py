"""Funnels 漏斗 (SPEC §2.2, §2.8): ordered steps within a conversion window, and the drop-outs.

A customer enters the funnel with a first-step action inside the window and reaches step
``k`` when steps ``2..k`` follow in order, each at or after the previous one, all within
``conversion_days`` of the entry. Every first-step action is tried as an entry and the
customer counts at the furthest step any entry reached; taking the earliest next step is
optimal for a fixed entry, so the furthest step is exact.

``order="loose"`` lets other actions happen between steps; ``order="strict"`` requires each
step to be the customer's very next action. Customers who reached step ``k`` but not
``k+1`` are the drop-outs of SPEC §3 (注册未加购, 加购未下单, 下单未付款, ...).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field, field_validator

from kequn.metrics._base import (
    UNKNOWN,
    MetricError,
    MetricResult,
    MetricSpec,
    Sources,
    aggregate,
    by_keys,
    memtable,
    ratio,
    to_arrow,
    with_attribute,
)
from kequn.metrics._common import in_window

if TYPE_CHECKING:
    from kequn.workspace import Workspace

DEFAULT_STEPS: tuple[str, ...] = ("visit", "view", "cart", "order", "pay")
FunnelOrder = Literal["loose", "strict"]


class FunnelSpec(MetricSpec):
    """An ordered funnel. ``by="channel"`` splits by the channel of the entry action;
    any other ``by`` is a customer attribute.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> FunnelSpec(as_of=dt.datetime(2024, 3, 31)).run(ws).table.column_names[:3]
    ['step', 'event', 'customers']
    """

    steps: tuple[str, ...] = DEFAULT_STEPS
    conversion_days: float = Field(default=7, gt=0, le=365)
    order: FunnelOrder = "loose"

    @field_validator("steps")
    @classmethod
    def _two_steps(cls, steps: tuple[str, ...]) -> tuple[str, ...]:
        if len(steps) < 2 or any(not s.strip() for s in steps):
            msg = f"a funnel needs at least two named steps, got {list(steps)!r}"
            raise ValueError(msg)
        return steps

    def _actions(self, src: Sources) -> ir.Table:
        a = src.actions()
        a = a.mutate(channel=a.channel.fill_null(UNKNOWN))
        if self.order == "strict":
            a = a.distinct()  # an order logged as an event and as an order is one action
            # Rank every action of a customer; a strict next step has the next rank.
            rank = ibis.row_number().over(group_by=a.customer_id, order_by=[a.t, a.event])
            a = a.mutate(rank=rank)
        return a.filter(a.t <= ibis.literal(self.as_of, type="timestamp"))

    def reached(self, src: Sources) -> list[ir.Table]:
        """For each step, the entries that reached it: ``customer_id, t0, channel``."""
        acts = self._actions(src)
        window = timedelta_days(self.conversion_days)
        entry = in_window(acts.filter(acts.event == self.steps[0]), self.window)
        cur = entry.select("customer_id", "channel", t0=entry.t, tk=entry.t,
                           **({"rk": entry["rank"]} if self.order == "strict" else {}))
        cur = cur.distinct()
        out = [cur.select("customer_id", "t0", "channel")]
        # A later step is never before the entry: actions before the window do not matter.
        later = acts.filter(acts.t >= ibis.literal(self.window.start, type="timestamp"))
        for k in range(1, len(self.steps)):
            nxt = later.filter(later.event == self.steps[k])
            cond = [cur.customer_id == nxt.customer_id, nxt.t <= cur.t0 + window]
            if self.order == "strict":
                cond.append(nxt["rank"] == cur.rk + 1)
            elif self.steps[k] == self.steps[k - 1]:
                cond.append(nxt.t > cur.tk)
            else:
                cond.append(nxt.t >= cur.tk)
            j = cur.join(nxt, cond)
            keys = [j.customer_id, j.t0, j.channel]
            if self.order == "strict":
                cur = j.select(*keys, tk=nxt.t, rk=nxt["rank"]).distinct()
            else:
                cur = j.group_by(keys).aggregate(tk=nxt.t.min())
            out.append(cur.select("customer_id", "t0", "channel"))
        return out

    def _split(self, t: ir.Table, src: Sources) -> ir.Table:
        if self.by == "channel":
            return t.select("customer_id", channel=t.channel)
        return with_attribute(t.select("customer_id"), src, self.by)

    def to_expr(self, src: Sources) -> ir.Table:
        """Customers reaching each step, conversion from the previous and from the first."""
        keys = by_keys(self.by)
        parts = []
        for i, r in enumerate(self.reached(src)):
            s = self._split(r, src)
            parts.append(aggregate(s, keys, customers=s.customer_id.nunique())
                         .mutate(step=ibis.literal(i + 1), event=ibis.literal(self.steps[i])))
        counts = ibis.union(*parts)
        grid = memtable({"step": list(range(1, len(self.steps) + 1)),
                              "event": list(self.steps)})
        if keys:
            first = counts.filter(counts.step == 1)
            grid = grid.cross_join(first.select(*keys).distinct())
        j = grid.left_join(counts, ["step", "event", *keys]).select(grid, counts.customers)
        j = j.mutate(customers=j.customers.fill_null(0))
        w = ibis.window(group_by=[j[k] for k in keys], order_by=j.step)
        prev = j.customers.lag().over(w)
        first_count = j.customers.first().over(w)
        nxt = j.customers.lead().over(w)
        out = j.mutate(conversion=ratio(j.customers, prev.fill_null(j.customers)),
                       overall=ratio(j.customers, first_count),
                       dropped=(j.customers - nxt.fill_null(j.customers)))
        return out.select(*keys, "step", "event", "customers", "conversion", "overall",
                          "dropped").order_by([*keys, "step"])

    def dropouts_expr(self, src: Sources, step: int | str) -> ir.Table:
        """``customer_id``: customers who reached ``step`` but not the next one."""
        k = self._step_number(step)
        if k == len(self.steps):
            msg = f"step {step!r} is the last step; nobody can drop out after it"
            raise MetricError(msg)
        reached = self.reached(src)
        here = reached[k - 1].select("customer_id").distinct()
        there = reached[k].select("customer_id").distinct()
        return here.anti_join(there, "customer_id")

    def _step_number(self, step: int | str) -> int:
        if isinstance(step, int):
            if 1 <= step <= len(self.steps):
                return step
        elif step in self.steps:
            return self.steps.index(step) + 1
        msg = f"unknown funnel step {step!r}; use 1..{len(self.steps)} or one of " \
              f"{', '.join(self.steps)}"
        raise MetricError(msg)

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("funnel", table, counts=("customers", "dropped"),
                            guarded={"conversion": "customers", "overall": "customers"})


def timedelta_days(days: float) -> ir.IntervalScalar:
    """An interval of ``days`` days (fractional days allowed) as an Ibis literal."""
    return ibis.interval(seconds=round(dt.timedelta(days=days).total_seconds()))


def funnel_dropouts(ws: Workspace, spec: FunnelSpec, step: int | str, *,
                    segment: ir.Table | None = None) -> ir.Table:
    """Customers who reached ``step`` of the funnel but not the next one (an Ibis table of
    ``customer_id``), e.g. step ``cart`` of the default funnel is 加购未下单."""
    return spec.dropouts_expr(spec.sources(ws, segment), step)
