"""The rules every send follows (SPEC §5, seed 001: SMS gets blocked when shops over-send).

In order, a recipient is skipped when they are not a known customer, opted out
(``customers.opted_out``), on the unsubscribe list for the channel, lack the channel's contact
(missing or malformed), or already got ``frequency_cap`` messages in the last
``frequency_days`` across all campaigns. Each skip keeps its reason, so the preview shows how
many each rule removes before anything is sent. Quiet hours never skip anyone: sends wait.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir

from kequn.campaigns.settings import CampaignSettings
from kequn.storage.engines import on_engine

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = [
    "SKIP_REASONS", "apply_guards", "in_quiet_hours", "quiet_until", "recent_send_counts",
    "summarize",
]

SKIP_REASONS: dict[str, tuple[str, str]] = {
    "unknown_customer": ("not a known customer", "非已知客户"),
    "opted_out": ("opted out", "已拒收"),
    "unsubscribed": ("unsubscribed from this channel", "已退订"),
    "no_contact": ("no usable contact for the channel", "缺少联系方式"),
    "frequency_cap": ("frequency cap reached", "触达频次已满"),
}
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_DIGITS = (6, 15)


def _usable_contact(value: ir.StringValue, field: str) -> ir.BooleanValue:
    text = value.strip()
    if field == "email":
        return text.re_search(EMAIL_PATTERN).fill_null(False)
    digits = text.re_replace(r"[^0-9]", "").length()
    lo, hi = PHONE_DIGITS
    return ((digits >= lo) & (digits <= hi)).fill_null(False)


def recent_send_counts(ws: Workspace, now: dt.datetime, days: int) -> ir.Table:
    """Messages sent per customer since ``days`` before ``now``, across campaigns (on the
    state database).

    No upper bound: a send loop computes ``now`` once, and what it sends after that
    moment must count too.
    """
    sends = ws.con.table("kq_sends")
    since = ibis.literal(now - dt.timedelta(days=days), "timestamp")
    recent = sends.filter(sends.status == "sent", sends.sent_at > since)
    return recent.group_by("customer_id").aggregate(recent_sends=recent.count())


def unsubscribed(ws: Workspace, channel: str) -> ir.Table:
    """Customers who left ``channel`` or every channel (on the state database)."""
    unsub = ws.con.table("kq_unsubscribes")
    mine = unsub.filter(unsub.channel.isnull() | (unsub.channel == channel))
    return mine.select("customer_id").distinct()


def apply_guards(ws: Workspace, recipients: ir.Table, *, channel: str,
                 contact: str | None, settings: CampaignSettings,
                 now: dt.datetime) -> ir.Table:
    """Add ``skip_reason`` (NULL = eligible) and ``contact`` to a table of recipients.

    Applied to target and holdout alike, so that measurement compares the customers who were
    sent with the customers who would have been (SPEC §5's uplift over holdout). Runs on the
    workspace's engine: ``recipients`` is an expression there, and the unsubscribe list and
    the recent send counts are brought over from the state database.
    """
    customers = ws.table("customers")
    contact_value = (customers[contact].cast("string") if contact
                     else ibis.null("string"))
    known = customers.select(
        kq_known_id=customers.customer_id,
        kq_opted_out=customers.opted_out.fill_null(False),
        kq_contact=contact_value,
    )
    unsub = on_engine(ws, unsubscribed(ws, channel).rename(kq_unsub_id="customer_id"))
    counts = on_engine(ws, recent_send_counts(ws, now, settings.frequency_days).rename(
        kq_count_id="customer_id"))
    joined = (
        recipients
        .left_join(known, recipients.customer_id == known.kq_known_id)
        .left_join(unsub, recipients.customer_id == unsub.kq_unsub_id)
        .left_join(counts, recipients.customer_id == counts.kq_count_id)
    )
    branches: list[tuple[ir.BooleanValue, str]] = [
        (joined.kq_known_id.isnull(), "unknown_customer"),
        (joined.kq_opted_out, "opted_out"),
        (joined.kq_unsub_id.notnull(), "unsubscribed"),
    ]
    if contact:
        branches.append((~_usable_contact(joined.kq_contact, contact), "no_contact"))
    if settings.frequency_cap is not None:
        branches.append((joined.recent_sends.fill_null(0) >= settings.frequency_cap,
                         "frequency_cap"))
    reason = ibis.cases(*branches, else_=ibis.null("string"))
    return joined.mutate(skip_reason=reason, contact=joined.kq_contact).drop(
        "kq_known_id", "kq_opted_out", "kq_contact", "kq_unsub_id", "kq_count_id",
        "recent_sends")


def summarize(guarded: ir.Table) -> dict[str, Any]:
    """Counts for the preview: audience, holdout, each skip reason, and who would be sent."""
    counts = (guarded.group_by(["grp", "skip_reason"]).aggregate(n=guarded.count())
              .to_pyarrow().to_pylist())
    target = {r["skip_reason"]: r["n"] for r in counts if r["grp"] == "target"}
    holdout = sum(r["n"] for r in counts if r["grp"] == "holdout")
    removed = {reason: target.get(reason, 0) for reason in SKIP_REASONS}
    return {
        "audience": sum(r["n"] for r in counts),
        "holdout": holdout,
        "holdout_eligible": sum(r["n"] for r in counts
                                if r["grp"] == "holdout" and r["skip_reason"] is None),
        "target": sum(target.values()),
        "removed": removed,
        "to_send": target.get(None, 0),
    }


def in_quiet_hours(now: dt.datetime, window: tuple[dt.time, dt.time] | None) -> bool:
    """Whether ``now`` (shop time) falls in the quiet hours, which may wrap midnight."""
    if window is None:
        return False
    start, end = window
    t = now.time()
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_until(now: dt.datetime, window: tuple[dt.time, dt.time] | None) -> dt.datetime:
    """When the current quiet period ends (``now`` when it is not quiet)."""
    if window is None or not in_quiet_hours(now, window):
        return now
    end = dt.datetime.combine(now.date(), window[1])
    return end if end > now else end + dt.timedelta(days=1)
