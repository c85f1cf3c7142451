"""The few numbers ``kequn demo`` prints about a loaded shop, computed with Ibis.

Paid orders and buyers come from :mod:`kequn.schema.conventions`, so these numbers agree with
every metric and group (SPEC §1).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from kequn.schema.conventions import buyers, paid_orders, within_last

if TYPE_CHECKING:
    from kequn.workspace import Workspace

LIFECYCLE_GROUPS: tuple[str, ...] = ("active", "sleeping", "pre_churn", "churned")
RECENT_DAYS = 30  # "returning share" looks at the buyers of the last 30 days


@dataclass(frozen=True)
class ShopSummary:
    """Headline numbers of a shop at ``as_of``."""

    as_of: dt.datetime
    customers: int
    orders: int
    events: int
    buyers: int
    revenue: float
    repeat_rate: float
    """Buyers with two or more paid orders, over all buyers (复购率)."""
    recent_buyers: int
    returning_share: float
    """Of the buyers of the last 30 days, the share who had paid before (老客占比, SPEC §2.6)."""
    groups: dict[str, int] = field(default_factory=dict)
    """Members of the lifecycle groups active / sleeping / pre_churn / churned, largest first."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat(sep=" ")
        return out


def summarize(ws: Workspace, *, as_of: dt.datetime | None = None) -> ShopSummary:
    """Customers, buyers, revenue, repeat-purchase rate and returning share at ``as_of``.

    ``as_of`` defaults to the latest data (SPEC §1).
    """
    as_of = ws.resolve_as_of(as_of)
    orders = ws.table("orders")
    paid = paid_orders(orders, as_of)
    per_buyer = buyers(orders, as_of)
    totals = per_buyer.aggregate(
        buyers=per_buyer.count(),
        repeaters=(per_buyer.paid_orders >= 2).sum(),
        revenue=per_buyer.spend.sum(),
    ).to_pyarrow().to_pylist()[0]
    recent = paid.filter(within_last(paid.paid_at, as_of, RECENT_DAYS)).select("customer_id")
    recent = recent.distinct().join(per_buyer, "customer_id")
    before = as_of - dt.timedelta(days=RECENT_DAYS)
    back = recent.aggregate(n=recent.count(),
                            returning=(recent.first_paid_at <= before).sum())
    back_row = back.to_pyarrow().to_pylist()[0]
    n_buyers = totals["buyers"] or 0
    n_recent = back_row["n"] or 0
    return ShopSummary(
        as_of=as_of,
        customers=_count(ws, "customers"),
        orders=_count(ws, "orders"),
        events=_count(ws, "events"),
        buyers=n_buyers,
        revenue=round(float(totals["revenue"] or 0.0), 2),
        repeat_rate=(totals["repeaters"] or 0) / n_buyers if n_buyers else 0.0,
        recent_buyers=n_recent,
        returning_share=(back_row["returning"] or 0) / n_recent if n_recent else 0.0,
        groups=_lifecycle_groups(ws, as_of),
    )


def _count(ws: Workspace, table: str) -> int:
    return int(ws.table(table).count().to_pyarrow().as_py())


def _lifecycle_groups(ws: Workspace, as_of: dt.datetime) -> dict[str, int]:
    """Sizes of the built-in lifecycle groups (SPEC §3, seed 004), largest first."""
    from kequn.segments import count  # the segment compiler, only when a summary is asked for

    sizes = {name: int(count(ws, name, as_of=as_of)) for name in LIFECYCLE_GROUPS}
    return dict(sorted(sizes.items(), key=lambda kv: -kv[1]))
