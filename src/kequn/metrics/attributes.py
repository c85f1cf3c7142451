"""User attributes 用户属性 (SPEC §2.1): the distribution of each attribute, unknowns included.

Seed 003 reads the share of unknowns ("未知人群的占比") as how precise the shop's data is, so
a missing or blank value is its own row, ``unknown``. Age comes from birthday at as_of, in
bands. The customers counted are those known at as_of (see :meth:`Sources.customers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from kequn.metrics._base import (
    MetricResult,
    MetricSpec,
    Sources,
    attribute,
    by_keys,
    label_unknown,
    ratio,
    to_arrow,
)

if TYPE_CHECKING:
    from kequn.workspace import Workspace

DEFAULT_ATTRIBUTES: tuple[str, ...] = (
    "gender", "age_band", "province", "city_tier", "member_level", "source_channel", "device",
)


class AttributesSpec(MetricSpec):
    """Customers per value of each attribute, with the share of all customers.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> spec = AttributesSpec(as_of=dt.datetime(2024, 3, 31), attributes=("gender",))
    >>> spec.run(ws).table.num_rows
    0
    """

    attributes: tuple[str, ...] = DEFAULT_ATTRIBUTES

    def to_expr(self, src: Sources) -> ir.Table:
        """``attribute, [by], value, customers, share, is_unknown``."""
        c = src.customers()
        keys = by_keys(self.by)
        split = {} if self.by is None else {self.by: label_unknown(attribute(c, self.by,
                                                                             self.as_of))}
        parts = []
        for name in self.attributes:
            t = c.select(**split, value=attribute(c, name, self.as_of))
            t = t.mutate(is_unknown=t.value.isnull(), value=label_unknown(t.value))
            g = t.group_by([*keys, "value", "is_unknown"]).aggregate(customers=t.count())
            parts.append(g.mutate(attribute=ibis.literal(name)))
        u = ibis.union(*parts)
        total = u.customers.sum().over(ibis.window(group_by=[u.attribute, *[u[k] for k in keys]]))
        u = u.mutate(share=ratio(u.customers, total))
        return u.select("attribute", *keys, "value", "customers", "share", "is_unknown").order_by(
            ["attribute", *keys, "is_unknown", ibis.desc("customers"), "value"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("attributes", table, counts=("customers",),
                            guarded={"share": "customers"})
