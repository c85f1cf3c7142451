"""Exactly-once delivery of a frozen recipient list, for campaigns and automations alike.

Each message has an idempotency key (campaign | trigger event | customer). Before a batch
leaves, its sends are committed to ``kq_sends`` as 'pending'; each message is then journalled
('try', then its outcome) around the channel call; when the batch is done, the outcomes are
committed and the journal is cleared. A send killed at any point and started again first
settles the journal against the pending rows: delivered ones become 'sent', never-tried ones
are sent now, and the single message that was in flight is 'unknown' (sent again only on
request, or at once for a channel whose receiver de-duplicates by key). Nobody gets a message
twice, and nobody who should get one is forgotten.

At delivery time the loop checks again what can change after the list was frozen: opt-outs,
unsubscribes, contact data and the frequency cap across campaigns. Quiet hours stop the loop
between batches; the rest waits for the next ``kequn run``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from kequn.campaigns.channels import CHANNELS, Channel, Message, contact_field, make_channel
from kequn.campaigns.errors import ChannelError
from kequn.campaigns.guards import (
    in_quiet_hours,
    quiet_until,
    recent_send_counts,
    unsubscribed,
)
from kequn.campaigns.journal import Journal
from kequn.campaigns.messages import (
    ANONYMOUS_NAME,
    UNSUBSCRIBE_TEXT,
    Language,
    Template,
    coupon_label,
    deadline_label,
    render,
)
from kequn.campaigns.settings import CampaignSettings
from kequn.campaigns.store import insert_arrow

if TYPE_CHECKING:
    from kequn.campaigns.audit import Clock
    from kequn.workspace import Workspace

__all__ = [
    "DeliveryReport", "SendContext", "count_remaining", "deliver_pending", "idem_key",
    "recover", "render_message", "send_counts",
]

Progress = Callable[[int, int], None]


def idem_key(campaign_id: str, event_key: str, customer_id: str) -> str:
    """The idempotency key of one message: the same for every attempt at it."""
    return f"{campaign_id}|{event_key}|{customer_id}"


@dataclass(frozen=True)
class SendContext:
    """What the loop needs to render and route the messages of one campaign or automation."""

    campaign_id: str
    name: str
    channel: str
    channel_options: dict[str, Any]
    templates: dict[str, Template]
    """Template per step ('' for a campaign; '1d', '7d'... for an automation's steps)."""
    language: Language | None = None

    def template(self, step: str) -> Template:
        """The template for ``step`` (falls back to the campaign's one)."""
        return self.templates.get(step) or self.templates[""]


@dataclass
class DeliveryReport:
    """What one call of the send loop did."""

    campaign_id: str
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    remaining: int = 0
    """Eligible target recipients still without a send (waiting, aborted or capped)."""
    waiting_until: dt.datetime | None = None
    """Set when quiet hours stopped the loop: when it can go on."""
    aborted: str | None = None
    """Why the channel stopped the whole send (quota, credentials), if it did."""

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and the audit trail."""
        return {
            "campaign_id": self.campaign_id, "sent": self.sent, "failed": self.failed,
            "unknown": self.unknown, "skipped": dict(self.skipped),
            "remaining": self.remaining,
            "waiting_until": self.waiting_until.isoformat() if self.waiting_until else None,
            "aborted": self.aborted,
        }


# -- recovery -----------------------------------------------------------------------------


def recover(ws: Workspace, journal: Journal) -> dict[str, int]:
    """Settle pending sends left by a killed process, using the journal.

    Returns how many became sent, failed, skipped, unknown, and how many are sent again.
    """
    pending = ws.raw.execute(
        "SELECT idem_key, channel, customer_id FROM kq_sends WHERE status = 'pending'"
    ).fetchall()
    counts = {"sent": 0, "failed": 0, "skipped": 0, "unknown": 0, "retry": 0}
    if not pending:
        journal.clear()
        return counts
    state = journal.read()
    updates: list[dict[str, Any]] = []
    unsubscribes: list[dict[str, Any]] = []
    release: list[str] = []
    for key, channel, customer_id in pending:
        kind, at, reason = state.get(key, ("", "", ""))
        when = dt.datetime.fromisoformat(at) if at else None
        if kind == "ok":
            updates.append({"idem_key": key, "status": "sent", "reason": None, "sent_at": when})
            counts["sent"] += 1
        elif kind == "fail":
            updates.append({"idem_key": key, "status": "failed", "reason": reason})
            counts["failed"] += 1
        elif kind == "skip":
            updates.append({"idem_key": key, "status": "skipped", "reason": reason})
            unsubscribes.append({"customer_id": customer_id, "channel": channel, "at": when,
                                 "source": "provider"})
            counts["skipped"] += 1
        elif kind == "unknown" or (kind == "try" and not _idempotent(channel)):
            updates.append({"idem_key": key, "status": "unknown",
                            "reason": reason or "interrupted while sending; it may have left"})
            counts["unknown"] += 1
        else:  # never tried, released, or in flight on a channel that de-duplicates
            release.append(key)
            counts["retry"] += 1
    with ws.transaction():
        _apply_updates(ws, updates)
        if release:
            ws.raw.execute("DELETE FROM kq_sends WHERE list_contains(?, idem_key)", [release])
        if unsubscribes:
            insert_arrow(ws.con, "kq_unsubscribes", unsubscribes)
    journal.clear()
    return counts


def _idempotent(channel: str) -> bool:
    cls = CHANNELS.get(channel)
    return bool(getattr(cls, "idempotent", False))


def _apply_updates(ws: Workspace, updates: list[dict[str, Any]]) -> None:
    if not updates:
        return
    batch = pa.table({
        "idem_key": pa.array([u["idem_key"] for u in updates], pa.string()),
        "status": pa.array([u["status"] for u in updates], pa.string()),
        "reason": pa.array([u.get("reason") for u in updates], pa.string()),
        "sent_at": pa.array([u.get("sent_at") for u in updates], pa.timestamp("us")),
    })
    ws.raw.register("kq_send_updates", batch)
    try:
        ws.raw.execute(
            "UPDATE kq_sends SET status = u.status, reason = u.reason, sent_at = u.sent_at "
            "FROM kq_send_updates AS u WHERE kq_sends.idem_key = u.idem_key")
    finally:
        ws.raw.unregister("kq_send_updates")


# -- the loop -----------------------------------------------------------------------------


def _todo(ws: Workspace, campaign_id: str) -> ir.Table:
    """Eligible target recipients of ``campaign_id`` with no send recorded yet."""
    r = ws.con.table("kq_recipients")
    s = ws.con.table("kq_sends")
    mine = r.filter(r.campaign_id == campaign_id, r.grp == "target", r.skip_reason.isnull())
    done = s.filter(s.campaign_id == campaign_id).select(
        s_event=s.event_key, s_customer=s.customer_id)
    return mine.anti_join(done, [mine.event_key == done.s_event,
                                 mine.customer_id == done.s_customer])


def count_remaining(ws: Workspace, campaign_id: str) -> int:
    """How many eligible target recipients still have no send."""
    return int(_todo(ws, campaign_id).count().to_pyarrow().as_py())


def _batch_query(ws: Workspace, ctx: SendContext, settings: CampaignSettings,
                 now: dt.datetime, size: int) -> ir.Table:
    """The next ``size`` recipients to send, with the unsubscribes and recent sends that
    delivery-time guards need: kequn's own state only, run on the state database.

    Built once per send and run for every batch: the data changes between batches (sends
    are recorded), the query does not.
    """
    todo = _todo(ws, ctx.campaign_id).order_by(["frozen_at", "event_key", "customer_id"])
    todo = todo.limit(size)
    unsub = unsubscribed(ws, ctx.channel).select(u_id="customer_id")
    counts = recent_send_counts(ws, now, settings.frequency_days).rename(
        n_id="customer_id")
    return (
        todo.left_join(unsub, todo.customer_id == unsub.u_id)
        .left_join(counts, todo.customer_id == counts.n_id)
        .mutate(unsubscribed=ibis._.u_id.notnull(),
                recent_sends=ibis._.recent_sends.fill_null(0))
        .drop("u_id", "n_id")
    )


_CUSTOMER_COLUMNS = ("c_name", "c_opted_out", "c_contact", "c_language")


def _with_customers(ws: Workspace, ctx: SendContext,
                    batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch's rows with each customer's name, opt-out, contact and language as they
    are now (read on the workspace's engine; NULL for a customer no longer known)."""
    if not batch:
        return batch
    customers = ws.table("customers")
    wanted = ibis.memtable({"w_id": sorted({row["customer_id"] for row in batch})},
                           schema={"w_id": "string"})  # any batch size: a join, no IN list
    mine = customers.semi_join(wanted, customers.customer_id == wanted.w_id)
    contact = contact_field(ctx.channel, ctx.channel_options)
    info = mine.select(
        c_id=mine.customer_id,
        c_name=mine.name,
        c_opted_out=mine.opted_out.fill_null(False),
        c_contact=mine[contact].cast("string") if contact else ibis.null("string"),
        c_language=(mine["language"].cast("string") if "language" in mine.columns
                    else ibis.null("string")),
    )
    found: dict[str, dict[str, Any]] = {}
    for row in info.to_pyarrow().to_pylist():
        found.setdefault(row.pop("c_id"), row)
    unknown = dict.fromkeys(_CUSTOMER_COLUMNS)
    return [{**row, **found.get(row["customer_id"], unknown)} for row in batch]


def render_message(ctx: SendContext, settings: CampaignSettings, row: dict[str, Any],
             now: dt.datetime) -> Message:
    """The message for one recipient row (recipient columns plus c_name, c_contact...)."""
    lang_raw = (row.get("c_language") or "").lower()[:2]
    lang: Language = (lang_raw if lang_raw in ("zh", "en")  # type: ignore[assignment]
                      else ctx.language or settings.default_language)
    extra = json.loads(row["fields"]) if row.get("fields") else {}
    fields: dict[str, Any] = {
        "name": row.get("c_name") or ANONYMOUS_NAME[lang],
        "shop": settings.shop_name,
        "coupon": coupon_label(row.get("coupon_threshold"), row.get("coupon_discount"), lang),
        "code": row.get("coupon_code"),
        "deadline": deadline_label(row.get("coupon_expires"), lang),
        "threshold": row.get("coupon_threshold"),
        "discount": row.get("coupon_discount"),
        "points": row.get("points"),
        "campaign": ctx.name,
        "unsubscribe": UNSUBSCRIBE_TEXT.get(ctx.channel, {}).get(lang, ""),
        **{k: v for k, v in extra.items() if k in ("order_id", "amount")},
    }
    template = ctx.template(row.get("step") or "")
    return Message(
        idem_key=idem_key(ctx.campaign_id, row["event_key"], row["customer_id"]),
        campaign_id=ctx.campaign_id, customer_id=row["customer_id"],
        contact=row.get("c_contact"), language=lang,
        subject=render(template.subject(lang), fields), body=render(template.body(lang), fields),
        coupon_code=row.get("coupon_code"), fields=fields, created_at=now,
    )


def _skip_reason(row: dict[str, Any], settings: CampaignSettings, contact: str | None,
                 planned: dict[str, int]) -> str | None:
    if row.get("c_opted_out"):
        return "opted_out"
    if row.get("unsubscribed"):
        return "unsubscribed"
    if contact and not (row.get("c_contact") or "").strip():
        return "no_contact"
    cap = settings.frequency_cap
    if cap is not None and row["recent_sends"] + planned.get(row["customer_id"], 0) >= cap:
        return "frequency_cap"
    return None


def deliver_pending(ws: Workspace, ctx: SendContext, *, settings: CampaignSettings,
                    clock: Clock, journal: Journal, batch_size: int = 1000,
                    channel: Channel | None = None,
                    progress: Progress | None = None) -> DeliveryReport:
    """Send every eligible target recipient of ``ctx`` that has no send yet.

    Stops early for quiet hours (``waiting_until``) or when the channel cannot send at all
    (``aborted``); calling it again carries on where it stopped.
    """
    report = DeliveryReport(ctx.campaign_id)
    now = clock()
    window = settings.quiet_window()
    total = count_remaining(ws, ctx.campaign_id)
    if total == 0:
        return report
    if in_quiet_hours(now, window):
        report.waiting_until = quiet_until(now, window)
        report.remaining = total
        return report
    contact = contact_field(ctx.channel, ctx.channel_options)
    try:
        chan = channel or make_channel(
            ctx.channel, settings, ctx.channel_options, target=ctx.campaign_id,
            workspace_dir=ws.path.parent if ws.path is not None else None)
        chan.open()
    except ChannelError as exc:
        report.aborted = str(exc)
        report.remaining = total
        return report
    done = 0
    # compiled once; the state database runs the same statement for every batch
    query = ws.con.compile(_batch_query(ws, ctx, settings, now, batch_size))
    try:
        while report.aborted is None:
            now = clock()
            if in_quiet_hours(now, window):
                report.waiting_until = quiet_until(now, window)
                break
            rows = ws.raw.execute(query).fetch_arrow_table().to_pylist()
            if not rows:
                break
            rows = _with_customers(ws, ctx, rows)
            _send_batch(ws, ctx, settings, chan, journal, rows, contact, report, clock)
            done += len(rows)
            if progress is not None:
                progress(done, total)
    finally:
        chan.close()
    report.remaining = count_remaining(ws, ctx.campaign_id)
    return report


def _send_batch(ws: Workspace, ctx: SendContext, settings: CampaignSettings, chan: Channel,
                journal: Journal, rows: list[dict[str, Any]], contact: str | None,
                report: DeliveryReport, clock: Clock) -> None:
    now = clock()
    planned: dict[str, int] = {}
    skipped: list[dict[str, Any]] = []
    to_send: list[dict[str, Any]] = []
    for row in rows:
        reason = _skip_reason(row, settings, contact, planned)
        base = {"idem_key": idem_key(ctx.campaign_id, row["event_key"], row["customer_id"]),
                "campaign_id": ctx.campaign_id, "event_key": row["event_key"],
                "customer_id": row["customer_id"], "channel": ctx.channel, "created_at": now}
        if reason is not None:
            skipped.append({**base, "status": "skipped", "reason": reason})
            report.skipped[reason] = report.skipped.get(reason, 0) + 1
            continue
        planned[row["customer_id"]] = planned.get(row["customer_id"], 0) + 1
        to_send.append({**base, "status": "pending", "_row": row})
    # Recorded before anything leaves: a crash from here on is settled by recover().
    with ws.transaction():
        insert_arrow(ws.con, "kq_sends", skipped + [
            {k: v for k, v in r.items() if k != "_row"} for r in to_send])
    updates: list[dict[str, Any]] = []
    unsubscribes: list[dict[str, Any]] = []
    release: list[str] = []
    for item in to_send:
        key = item["idem_key"]
        if report.aborted is not None:
            release.append(key)
            continue
        message = render_message(ctx, settings, item["_row"], now)
        journal.write("try", key)
        try:
            chan.deliver(message)
        except ChannelError as exc:
            outcome = _outcome(exc)
            journal.write(outcome[0], key, outcome[1], clock().isoformat())
            if exc.abort:
                report.aborted = str(exc)
                release.append(key)
                continue
            status = {"fail": "failed", "skip": "skipped", "unknown": "unknown"}[outcome[0]]
            updates.append({"idem_key": key, "status": status, "reason": outcome[1]})
            if status == "failed":
                report.failed += 1
            elif status == "unknown":
                report.unknown += 1
            else:
                report.skipped["unsubscribed"] = report.skipped.get("unsubscribed", 0) + 1
                unsubscribes.append({"customer_id": item["customer_id"],
                                     "channel": ctx.channel, "at": clock(),
                                     "source": "provider"})
            continue
        sent_at = clock()
        journal.write("ok", key, "", sent_at.isoformat())
        updates.append({"idem_key": key, "status": "sent", "reason": None, "sent_at": sent_at})
        report.sent += 1
    with ws.transaction():
        _apply_updates(ws, updates)
        if release:
            ws.raw.execute("DELETE FROM kq_sends WHERE list_contains(?, idem_key)", [release])
        if unsubscribes:
            insert_arrow(ws.con, "kq_unsubscribes", unsubscribes)
    journal.clear()


def _outcome(exc: ChannelError) -> tuple[str, str]:
    reason = str(exc)
    if exc.abort:
        return "release", reason
    if exc.unsubscribe:
        return "skip", "unsubscribed"
    if exc.in_doubt:
        return "unknown", reason
    return "fail", reason


def send_counts(ws: Workspace, campaign_id: str) -> dict[str, int]:
    """Sends of ``campaign_id`` by status."""
    rows = ws.raw.execute(
        "SELECT status, count(*) FROM kq_sends WHERE campaign_id = ? GROUP BY status",
        [campaign_id]).fetchall()
    return {status: int(n) for status, n in rows}

