"""Value tiers and differentiated service 差异化服务 (SPEC §5, seed 004).

Seed 004 splits customers by spend into 至尊VIP 10% / VIP 15% / 高级会员 25% / 普通会员 50%
and serves each tier differently in four ways: customer service (一对一客服, return window),
shipping (包邮, 顺丰), discounts (会员折扣, 会员日) and care (生日, 节日, 天气关怀). The tiers size
the 催付 coupon; the perks table is what the shop exports per customer.

The tiers are the labels of the built-in group ``vip_pyramid`` (12-month spend of paid orders,
ranked among that year's buyers), evaluated by the segment engine: a campaign's 至尊VIP are the
group's, ties at a cut included.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict

from kequn.schema.conventions import paid_orders, within_last
from kequn.segments import evaluate

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = ["DEFAULT_PERKS", "TIERS", "Perks", "customer_perks", "perks_table", "value_tiers"]

# (tier id, 中文, share of buyers from the top) — seed 004's pyramid
TIERS: tuple[tuple[str, str, float], ...] = (
    ("supreme_vip", "至尊VIP", 0.10),
    ("vip", "VIP", 0.15),
    ("senior", "高级会员", 0.25),
    ("regular", "普通会员", 0.50),
)
TIER_LABELS: dict[str, str] = {tier: zh for tier, zh, _ in TIERS}
SPEND_DAYS = 365  # SPEC §1: 12 months = 365 days


class Perks(BaseModel):
    """What one tier gets (seed 004's four directions of differentiated service)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    """Customer-service priority 客服."""
    return_days: int
    """Return and exchange window 退换货期限."""
    shipping: str
    """Shipping 物流."""
    discount: float
    """Member price multiplier 会员折扣 (0.9 = 10% off)."""
    care: str
    """Care messages 关怀."""


DEFAULT_PERKS: dict[str, Perks] = {
    "supreme_vip": Perks(service="一对一专属客服 dedicated agent", return_days=30,
                         shipping="顺丰包邮 free express", discount=0.85,
                         care="生日+节日+天气关怀 birthday, holidays, weather"),
    "vip": Perks(service="优先客服 priority queue", return_days=15,
                 shipping="包邮 free shipping", discount=0.9,
                 care="生日+节日关怀 birthday, holidays"),
    "senior": Perks(service="优先客服 priority queue", return_days=7,
                    shipping="满99包邮 free over 99", discount=0.95,
                    care="生日关怀 birthday"),
    "regular": Perks(service="标准客服 standard", return_days=7,
                     shipping="标准运费 standard", discount=1.0, care="—"),
}


# vip_pyramid's labels → tier ids
_GROUP_LABELS: dict[str, str] = {"supreme": "supreme_vip", "vip": "vip", "senior": "senior",
                                 "regular": "regular"}


def value_tiers(ws: Workspace, as_of: dt.datetime) -> ir.Table:
    """Buyers of the last 12 months with their spend and tier (seed 004 pyramid).

    The tier is the customer's label in the built-in group ``vip_pyramid``: ranked by
    12-month spend among that year's buyers, ties sharing the best rank, top 10% 至尊VIP, next
    15% VIP, next 25% 高级会员, the rest 普通会员. ``spend`` is in cents, like the group's.
    """
    labels = evaluate(ws, "vip_pyramid", as_of=as_of)
    paid = paid_orders(ws.table("orders"), as_of)
    recent = paid.filter(within_last(paid.paid_at, as_of, SPEND_DAYS))
    spend = recent.group_by("customer_id").aggregate(
        spend=recent.amount.sum().fill_null(0).round(2))
    joined = labels.join(spend, labels.customer_id == spend.customer_id)
    tier = ibis.cases(*((joined.label == label, tier) for label, tier in _GROUP_LABELS.items()))
    return joined.select(joined.customer_id, joined.spend, tier=tier)


def perks_table(perks: dict[str, Perks] | None = None) -> list[dict[str, Any]]:
    """The tier → perks table as rows (what ``kequn campaign perks --table`` prints)."""
    table = perks or DEFAULT_PERKS
    return [{"tier": tier, "tier_zh": zh, "share": share, **table[tier].model_dump()}
            for tier, zh, share in TIERS]


def customer_perks(ws: Workspace, as_of: dt.datetime,
                   perks: dict[str, Perks] | None = None) -> ir.Table:
    """Every customer with their tier and perks (non-buyers of the year are 普通会员)."""
    rows = perks_table(perks)
    lookup = ibis.memtable(rows).drop("share")
    customers = ws.table("customers").select("customer_id")
    tiers = value_tiers(ws, as_of).rename(t_id="customer_id")
    joined = customers.left_join(tiers, customers.customer_id == tiers.t_id)
    with_tier = joined.mutate(tier=joined.tier.fill_null(TIERS[-1][0]),
                              spend_12m=joined.spend.fill_null(0)).drop("t_id", "spend")
    out = with_tier.left_join(lookup, with_tier.tier == lookup.tier).drop("tier_right")
    return out.order_by("customer_id")
