"""User groups 用户分群 (SPEC §2.2, seed 000 "二、用户分群"): counts over the window.

Each group is a set of customer ids built as an Ibis expression; the metric counts them
(per split value). Rates (order conversion) are given beside the count they come from.
Drop-outs by stage are two-step funnels: customers who did the first action in the window
and had not done the second one after it by as_of.
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
from kequn.metrics._common import active_rows, in_window
from kequn.metrics.funnels import FunnelSpec

if TYPE_CHECKING:
    from kequn.workspace import Workspace

# Seed 000's 流失用户分群 stages, as (reached, then not) action pairs.
DROPOUT_STAGES: dict[str, tuple[str, str, str, str]] = {
    "banner": ("banner_view", "banner_click", "Banner流失用户", "banner drop-outs"),
    "order": ("cart", "order", "订单流失用户", "cart, no order"),
    "pay": ("order", "pay", "支付流失用户", "ordered, not paid"),
    "download": ("visit", "download", "下载流失用户", "visited, no download"),
    "register": ("visit", "register", "注册流失用户", "visited, not registered"),
    "login": ("register", "login", "登录流失用户", "registered, never logged in"),
}
RFM_STAGES: tuple[tuple[str, str, str], ...] = (
    ("rfm_junior", "初级用户", "junior buyers"),
    ("rfm_growing", "成长用户", "growing buyers"),
    ("rfm_mature", "成熟用户", "mature buyers"),
)


class GroupsSpec(MetricSpec):
    """Counts of SPEC §2.2's user groups over the window.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> rows = GroupsSpec(as_of=dt.datetime(2024, 3, 31)).run(ws).to_pylist()
    >>> rows[0]["group"], rows[0]["customers"]
    ('registered_new', 0)
    """

    rfm_stage_bounds: tuple[int, int] = (2, 5)
    """Paid orders where the 成长 and 成熟 stages start (SPEC §2.2: 1 / 2–4 / 5+)."""

    def groups(self, src: Sources) -> list[tuple[str, str, str, ir.Table]]:
        """``(group id, 中文, English, customer_id table)`` for every counted group."""
        w = self.window
        c = src.customers()
        lo = ibis.literal(w.start, type="timestamp")
        joined_in = c.filter(c.joined_at >= lo)
        active = in_window(active_rows(src, "any"), w)
        o = in_window(src.orders(), w, "created_at")
        paid = src.paid()
        first = paid.group_by("customer_id").aggregate(first=paid.paid_at.min())
        paid_in = in_window(paid, w, "paid_at")
        paid_before = paid.filter(paid.paid_at < lo)
        counts = paid.group_by("customer_id").aggregate(n=paid.count())
        out: list[tuple[str, str, str, ir.Table]] = [
            ("registered_new", "新增注册用户", "new registered users", joined_in),
            ("registered_total", "累计注册用户", "cumulative registered users", c),
            ("active_users", "活跃用户", "active users", active),
            ("ordering_users", "下单用户", "ordering users", o),
            ("new_buyers", "当期新增购买用户", "new buyers in the window",
             first.filter(first.first >= lo)),
            ("buyers_total", "累计购买用户", "cumulative buyers", first),
            ("returning_buyers", "老用户重复购买", "returning buyers",
             paid_in.semi_join(paid_before, "customer_id")),
        ]
        for stage, (a, b, zh, en) in DROPOUT_STAGES.items():
            spec = FunnelSpec(as_of=self.as_of, period=self.period, start=w.start,
                              steps=(a, b), conversion_days=max((self.as_of - w.start).days + 1,
                                                                1))
            out.append((f"dropout_{stage}", zh, en, spec.dropouts_expr(src, 1)))
        growing, mature = self.rfm_stage_bounds
        conds = (counts.n < growing, (counts.n >= growing) & (counts.n < mature),
                 counts.n >= mature)
        for (gid, zh, en), cond in zip(RFM_STAGES, conds, strict=True):
            out.append((gid, zh, en, counts.filter(cond)))
        return out

    def to_expr(self, src: Sources) -> ir.Table:
        """``group, name_zh, name_en, [by], customers, rate``."""
        keys = by_keys(self.by)
        parts = []
        groups = self.groups(src)
        for gid, zh, en, ids in groups:
            t = with_attribute(ids.select("customer_id").distinct(), src, self.by)
            g = aggregate(t, keys, customers=t.count())
            parts.append(g.mutate(group=ibis.literal(gid), name_zh=ibis.literal(zh),
                                  name_en=ibis.literal(en), value=ibis.null("string")))
        parts.append(self._source_channels(src))
        u = ibis.union(*parts)
        # Order conversion rate = ordering users / active users (seed 000 下单用户转化率).
        active = u.filter(u.group == "active_users").select(*keys, active=u.customers)
        u = u.left_join(active, keys) if keys else u.cross_join(active)
        u = u.mutate(rate=ibis.ifelse(u.group == "ordering_users",
                                      ratio(u.customers, u.active), ibis.null("float64")))
        order = {gid: i for i, (gid, *_rest) in enumerate(groups)}
        u = u.mutate(_order=u.group.substitute(order, else_=len(order)))
        return u.order_by(["_order", "value", *keys]).select(
            "group", "value", "name_zh", "name_en", *keys, "customers", "rate")

    def _source_channels(self, src: Sources) -> ir.Table:
        """Customers per source channel (seed 000 用户来源分群)."""
        c = src.customers()
        keys = by_keys(self.by)
        split = {} if self.by is None else {self.by: label_unknown(attribute(c, self.by,
                                                                             self.as_of))}
        t = c.select(**split, value=label_unknown(attribute(c, "source_channel", self.as_of)))
        g = t.group_by([*keys, "value"]).aggregate(customers=t.count())
        return g.mutate(group=ibis.literal("source_channel"), name_zh=ibis.literal("用户来源"),
                        name_en=ibis.literal("source channel")).select(
            *keys, "customers", "group", "name_zh", "name_en", "value")

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("groups", table, counts=("customers",),
                            guarded={"rate": "customers"})

