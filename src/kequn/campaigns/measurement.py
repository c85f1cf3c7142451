"""What a campaign earned: recipients against the holdout, after the attribution window.

Both groups are the customers the guards let through when the list was frozen — those who
were sent, and those who would have been sent but were held out — so the comparison is
like for like. A customer's window starts when they entered the campaign and ends
``attribution_days`` (default 14) after their last entry; their paid orders in it
(:func:`kequn.schema.conventions.paid_orders`, as of the report's ``as_of``) count.

- conversion: share of the group with a paid order in the window;
- revenue per customer: paid amount in the window over the group size;
- coupon redemption: the target's paid orders carrying its coupon (``orders.coupon_id``
  equal to the campaign's coupon id or the recipient's own code);
- uplift: target minus holdout, with a 95% Wald interval (Welch for revenue), and the
  probability that the target's conversion is the higher one (Beta-Binomial, closed form);
- incremental revenue: revenue-per-customer uplift × target size;
- incremental margin: ``margin_rate × (incremental revenue + coupon cost) − coupon cost −
  message cost`` (margin_rate is the margin at full price; a coupon order paid ``amount``
  after ``discount``), and ROI = incremental margin / (coupon cost + message cost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from kequn.campaigns.errors import CampaignNotFoundError
from kequn.campaigns.sending import send_counts
from kequn.campaigns.settings import CampaignSettings, read_settings
from kequn.campaigns.stats import mean_diff_ci, prob_beats, proportion_diff_ci, sample_variance
from kequn.campaigns.store import ensure_campaign_tables
from kequn.schema.conventions import paid_orders
from kequn.storage.engines import on_engine

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = ["CampaignReport", "GroupOutcome", "measure", "outcomes", "summarize_campaigns"]


@dataclass
class GroupOutcome:
    """One group's results in the window."""

    customers: int
    converters: int
    orders: int
    revenue: float
    conversion: float | None
    revenue_per_customer: float | None
    revenue_variance: float
    redeemers: int = 0
    redeemed_orders: int = 0
    coupon_cost: float = 0.0


@dataclass
class CampaignReport:
    """The measured effect of one campaign or automation."""

    campaign_id: str
    name: str
    kind: str
    channel: str
    as_of: dt.datetime
    window_days: int
    window_complete: bool
    window_end: dt.datetime | None
    target: GroupOutcome
    holdout: GroupOutcome
    sends: dict[str, int]
    conversion_uplift: float | None = None
    conversion_ci: tuple[float, float] | None = None
    relative_uplift: float | None = None
    prob_positive: float | None = None
    revenue_uplift_per_customer: float | None = None
    revenue_uplift_ci: tuple[float, float] | None = None
    incremental_revenue: float | None = None
    incremental_revenue_ci: tuple[float, float] | None = None
    redemption_rate: float | None = None
    coupon_cost: float = 0.0
    message_cost: float = 0.0
    margin_rate: float = 0.0
    incremental_margin: float | None = None
    roi: float | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat()
        out["window_end"] = self.window_end.isoformat() if self.window_end else None
        return out


def outcomes(ws: Workspace, campaign_id: str, *, as_of: dt.datetime,
             window_days: int) -> ir.Table:
    """One row per measured customer: group, window, orders, revenue, redemptions.

    Runs on the workspace's engine, with the campaign's recipients brought over from the
    state database.
    """
    r = ws.con.table("kq_recipients")
    mine = on_engine(ws, r.filter(r.campaign_id == campaign_id, r.skip_reason.isnull()).select(
        "customer_id", "grp", "frozen_at", "coupon_id", "coupon_code", "coupon_discount"))
    people = mine.group_by("customer_id").aggregate(
        grp=mine.grp.max(), start=mine.frozen_at.min(),
        end=mine.frozen_at.max() + ibis.interval(days=window_days))
    paid = paid_orders(ws.table("orders"), as_of)
    windows = people.select(p_id="customer_id", p_start="start", p_end="end")
    in_window = paid.join(windows, [paid.customer_id == windows.p_id,
                                    paid.paid_at > windows.p_start,
                                    paid.paid_at <= windows.p_end])
    per_customer = in_window.group_by("customer_id").aggregate(
        orders=in_window.count(), revenue=in_window.amount.fill_null(0).sum())
    coupons = mine.filter(mine.coupon_discount.notnull()).select(
        k_id="customer_id", k_coupon="coupon_id", k_code="coupon_code",
        k_discount="coupon_discount")
    matched = in_window.join(coupons, [
        in_window.customer_id == coupons.k_id,
        (in_window.coupon_id == coupons.k_coupon) | (in_window.coupon_id == coupons.k_code)])
    redeemed_orders = matched.group_by(["order_id", "customer_id"]).aggregate(
        discount=matched.k_discount.max())
    redeemed = redeemed_orders.group_by("customer_id").aggregate(
        redeemed_orders=redeemed_orders.count(), coupon_cost=redeemed_orders.discount.sum())
    o = per_customer.rename(o_id="customer_id")
    c = redeemed.rename(c_id="customer_id")
    joined = (people.left_join(o, people.customer_id == o.o_id)
              .left_join(c, people.customer_id == c.c_id))
    return joined.select(
        "customer_id", "grp", "start", "end",
        orders=joined.orders.fill_null(0), revenue=joined.revenue.fill_null(0.0),
        redeemed_orders=joined.redeemed_orders.fill_null(0),
        coupon_cost=joined.coupon_cost.fill_null(0.0),
    )


def _group(rows: dict[str, Any] | None) -> GroupOutcome:
    if not rows or not rows["customers"]:
        return GroupOutcome(0, 0, 0, 0.0, None, None, 0.0)
    n = int(rows["customers"])
    revenue = float(rows["revenue"])
    return GroupOutcome(
        customers=n, converters=int(rows["converters"]), orders=int(rows["orders"]),
        revenue=revenue, conversion=rows["converters"] / n, revenue_per_customer=revenue / n,
        revenue_variance=sample_variance(n, revenue, float(rows["revenue_sq"])),
        redeemers=int(rows["redeemers"]), redeemed_orders=int(rows["redeemed_orders"]),
        coupon_cost=float(rows["coupon_cost"]),
    )


def _describe(ws: Workspace, campaign_id: str) -> tuple[str, str, str]:
    c = ws.raw.execute("SELECT name, spec FROM kq_campaigns WHERE campaign_id = ?",
                       [campaign_id]).fetchone()
    if c is not None:
        from kequn.campaigns.models import CampaignSpec

        return c[0], "campaign", CampaignSpec.model_validate_json(c[1]).channel
    a = ws.raw.execute("SELECT spec FROM kq_automations WHERE automation_id = ?",
                       [campaign_id]).fetchone()
    if a is not None:
        from kequn.campaigns.automations import AutomationSpec

        spec = AutomationSpec.model_validate_json(a[0])
        return spec.label_zh, "automation", spec.channel
    msg = f"no campaign or automation {campaign_id!r}; see 'kequn campaign list'"
    raise CampaignNotFoundError(msg)


def measure(ws: Workspace, campaign_id: str, *, as_of: dt.datetime | None = None,
            window_days: int | None = None,
            settings: CampaignSettings | None = None) -> CampaignReport:
    """The report of ``campaign_id`` (a campaign or an automation) at ``as_of``.

    ``as_of`` defaults to the latest data in the workspace (SPEC §1); before the window is
    over the report says so (``window_complete`` False) and counts what there is.
    """
    ensure_campaign_tables(ws.con)
    name, kind, channel = _describe(ws, campaign_id)
    settings = settings or read_settings(ws)
    days = window_days or settings.attribution_days
    when = ws.resolve_as_of(as_of)
    per = outcomes(ws, campaign_id, as_of=when, window_days=days)
    agg = per.group_by("grp").aggregate(
        customers=per.count(), converters=(per.orders > 0).cast("int64").sum(),
        orders=per.orders.sum(), revenue=per.revenue.sum(),
        revenue_sq=(per.revenue * per.revenue).sum(),
        redeemers=(per.redeemed_orders > 0).cast("int64").sum(),
        redeemed_orders=per.redeemed_orders.sum(), coupon_cost=per.coupon_cost.sum(),
        window_start=per.start.min(), window_end=per.end.max(),
    ).to_pyarrow().to_pylist()
    by_grp = {row["grp"]: row for row in agg}
    target, holdout = _group(by_grp.get("target")), _group(by_grp.get("holdout"))
    ends = [row["window_end"] for row in agg if row["window_end"] is not None]
    window_end = max(ends) if ends else None
    sends = send_counts(ws, campaign_id)
    report = CampaignReport(
        campaign_id=campaign_id, name=name, kind=kind, channel=channel, as_of=when,
        window_days=days, window_complete=window_end is not None and when >= window_end,
        window_end=window_end, target=target, holdout=holdout, sends=sends,
        coupon_cost=target.coupon_cost,
        message_cost=sends.get("sent", 0) * settings.message_cost.get(channel, 0.0),
        margin_rate=settings.margin_rate,
    )
    starts = [row["window_start"] for row in agg if row["window_start"] is not None]
    if starts and when < min(starts):
        report.notes.append(f"as_of {when:%Y-%m-%d %H:%M} is before anyone entered the "
                            f"campaign ({min(starts):%Y-%m-%d %H:%M}): nothing to measure yet")
    _effects(report)
    return report


def _effects(rep: CampaignReport) -> None:
    t, h = rep.target, rep.holdout
    if t.customers:
        rep.redemption_rate = t.redeemers / t.customers
    if not t.customers:
        rep.notes.append("nobody was measured yet: the campaign has not sent")
        return
    if not rep.window_complete:
        rep.notes.append(f"the {rep.window_days}-day attribution window is not over at "
                         f"{rep.as_of:%Y-%m-%d %H:%M}; numbers will still change")
    if not h.customers:
        rep.notes.append("no holdout: the uplift cannot be measured")
        return
    conv = proportion_diff_ci(t.converters, t.customers, h.converters, h.customers)
    if conv is not None:
        rep.conversion_uplift, lo, hi = conv
        rep.conversion_ci = (lo, hi)
    if h.conversion:
        rep.relative_uplift = (t.conversion or 0.0) / h.conversion - 1
    rep.prob_positive = prob_beats(t.converters, t.customers, h.converters, h.customers)
    rev = mean_diff_ci(t.revenue_per_customer or 0.0, t.revenue_variance, t.customers,
                       h.revenue_per_customer or 0.0, h.revenue_variance, h.customers)
    if rev is not None:
        diff, lo, hi = rev
        rep.revenue_uplift_per_customer = diff
        rep.revenue_uplift_ci = (lo, hi)
        rep.incremental_revenue = diff * t.customers
        rep.incremental_revenue_ci = (lo * t.customers, hi * t.customers)
        cost = rep.coupon_cost + rep.message_cost
        rep.incremental_margin = (rep.margin_rate * (rep.incremental_revenue + rep.coupon_cost)
                                  - cost)
        rep.roi = rep.incremental_margin / cost if cost > 0 else None
    if h.customers < 100:
        rep.notes.append(f"only {h.customers} customers in the holdout: read the probability "
                         f"of a positive effect rather than the interval")


def summarize_campaigns(ws: Workspace, *, as_of: dt.datetime | None = None,
                        settings: CampaignSettings | None = None) -> list[dict[str, Any]]:
    """One line per campaign and automation that has recipients: the headline numbers."""
    ensure_campaign_tables(ws.con)
    ids = [i for (i,) in ws.raw.execute(
        "SELECT DISTINCT campaign_id FROM kq_recipients ORDER BY campaign_id").fetchall()]
    settings = settings or read_settings(ws)
    when = ws.resolve_as_of(as_of)
    out = []
    for campaign_id in ids:
        rep = measure(ws, campaign_id, as_of=when, settings=settings)
        out.append({
            "campaign_id": campaign_id, "name": rep.name, "kind": rep.kind,
            "channel": rep.channel, "sent": rep.sends.get("sent", 0),
            "target": rep.target.customers, "holdout": rep.holdout.customers,
            "conversion_target": rep.target.conversion,
            "conversion_holdout": rep.holdout.conversion,
            "uplift": rep.conversion_uplift, "prob_positive": rep.prob_positive,
            "incremental_revenue": rep.incremental_revenue,
            "incremental_margin": rep.incremental_margin, "roi": rep.roi,
            "window_complete": rep.window_complete,
        })
    return out
