"""Campaign lifecycle: create, change, preview, send, cancel, and the unsubscribe list.

Every function takes the workspace first and records what it did in the audit trail. The
clock is injectable (``clock=lambda: datetime(...)``) so tests control quiet hours and
schedules; by default it is the real clock in the shop's time zone.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
from pydantic import ValidationError

from kequn._suggest import did_you_mean
from kequn.campaigns import audit
from kequn.campaigns.channels import CHANNELS, Channel, contact_field
from kequn.campaigns.errors import CampaignError, CampaignNotFoundError, CampaignStateError
from kequn.campaigns.guards import apply_guards, in_quiet_hours, quiet_until, summarize
from kequn.campaigns.journal import Journal
from kequn.campaigns.messages import mask_contact, mask_name
from kequn.campaigns.models import Campaign, CampaignSpec
from kequn.campaigns.sending import (
    DeliveryReport,
    Progress,
    SendContext,
    deliver_pending,
    recover,
    render_message,
    send_counts,
)
from kequn.campaigns.settings import CampaignSettings, read_settings
from kequn.campaigns.store import CAMPAIGN_TABLES, ensure_campaign_tables, insert_arrow
from kequn.campaigns.targeting import (
    assign_groups,
    audience_from,
    coupon_code_expr,
    evaluate_segment,
)
from kequn.storage.engines import on_engine, to_state

if TYPE_CHECKING:
    from kequn.campaigns.audit import Clock
    from kequn.workspace import Workspace

__all__ = [
    "Preview", "SendReport", "cancel_campaign", "create_campaign", "get_campaign",
    "list_campaigns", "plan_recipients", "preview_campaign", "send_campaign",
    "unsubscribe", "update_campaign",
]

EDITABLE_STATUSES = ("ready", "scheduled")


def _clock(ws: Workspace, clock: Clock | None) -> Clock:
    return clock or audit.shop_clock(ws)


def _spec(spec: CampaignSpec | dict[str, Any]) -> CampaignSpec:
    if isinstance(spec, CampaignSpec):
        return spec
    try:
        return CampaignSpec(**spec)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "campaign"
        msg = f"campaign {where}: {err['msg'].lower().removeprefix('value error, ')}"
        raise CampaignError(msg) from None


def _check_channel(spec: CampaignSpec) -> None:
    from kequn.campaigns.channels import OPTIONS

    try:
        OPTIONS[spec.channel](**spec.channel_options)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = (f"{spec.channel} channel option {'.'.join(map(str, err['loc']))}: "
               f"{err['msg'].lower()}")
        raise CampaignError(msg) from None


# -- stored campaigns -----------------------------------------------------------------------


def _row_to_campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(
        campaign_id=row["campaign_id"], name=row["name"], status=row["status"],
        spec=CampaignSpec.model_validate_json(row["spec"]), created_at=row["created_at"],
        created_by=row["created_by"], updated_at=row["updated_at"], run_key=row["run_key"],
        next_run_at=row["next_run_at"], runs=row["runs"] or 0,
    )


def get_campaign(ws: Workspace, campaign_id: str) -> Campaign:
    """The stored campaign ``campaign_id``."""
    ensure_campaign_tables(ws.con)
    t = ws.con.table("kq_campaigns")
    rows = t.filter(t.campaign_id == campaign_id).to_pyarrow().to_pylist()
    if not rows:
        known = t.select("campaign_id").to_pyarrow().column(0).to_pylist()
        hint = did_you_mean(campaign_id, known) or "; see 'kequn campaign list'"
        msg = f"no campaign {campaign_id!r}{hint}"
        raise CampaignNotFoundError(msg)
    return _row_to_campaign(rows[0])


def list_campaigns(ws: Workspace) -> list[Campaign]:
    """Every campaign, oldest first."""
    ensure_campaign_tables(ws.con)
    t = ws.con.table("kq_campaigns").order_by("campaign_id")
    return [_row_to_campaign(r) for r in t.to_pyarrow().to_pylist()]


def _next_id(ws: Workspace) -> str:
    ids = ws.raw.execute("SELECT campaign_id FROM kq_campaigns").fetchall()
    numbers = [int(m.group(1)) for (i,) in ids if (m := re.fullmatch(r"cmp-(\d+)", i))]
    return f"cmp-{max(numbers, default=0) + 1:04d}"


def create_campaign(ws: Workspace, spec: CampaignSpec | dict[str, Any], *,
                    audience: ir.Table | None = None, actor: str | None = None,
                    clock: Clock | None = None) -> Campaign:
    """Store a new campaign aimed at ``spec.segment`` or at a fixed ``audience``.

    ``audience`` is any Ibis table with a ``customer_id`` column; its members are kept as
    the campaign's list. Warnings (coupon quantity and validity, a zero holdout) are in
    ``campaign.spec.warnings()`` and in the audit trail; they never block.

    Examples
    --------
    >>> import ibis, kequn
    >>> from kequn.campaigns import create_campaign
    >>> ws = kequn.open(":memory:")
    >>> c = create_campaign(ws, {"name": "回流券"},
    ...                     audience=ibis.memtable({"customer_id": ["c1", "c2"]}))
    >>> c.campaign_id, c.status
    ('cmp-0001', 'ready')
    """
    spec = _spec(spec)
    if (spec.segment is None) == (audience is None):
        msg = ("a campaign targets either a segment or an audience table; "
               "pass exactly one of segment= and audience=")
        raise CampaignError(msg)
    _check_channel(spec)
    ensure_campaign_tables(ws.con)
    now = _clock(ws, clock)()
    first = spec.schedule.first_run(now)
    campaign = Campaign(
        campaign_id=_next_id(ws), name=spec.name,
        status="ready" if first is None else "scheduled", spec=spec, created_at=now,
        created_by=actor or audit.current_actor(), updated_at=now, next_run_at=first,
    )
    members = None
    with ws.transaction():
        _write(ws, campaign, insert=True)
        if audience is not None:
            members = _store_audience(ws, campaign.campaign_id, audience)
    audit.record(ws, "campaign.create", campaign.campaign_id, {
        "name": spec.name, "segment": spec.segment, "audience": members,
        "channel": spec.channel, "holdout": spec.holdout, "schedule": spec.schedule.kind,
        "coupon": spec.coupon.model_dump() if spec.coupon else None,
        "warnings": spec.warnings(),
    }, actor=campaign.created_by, at=now)
    return campaign


def _store_audience(ws: Workspace, campaign_id: str, audience: ir.Table) -> int:
    ids = audience_from(audience).to_pyarrow().column("customer_id").to_pylist()
    insert_arrow(ws.con, "kq_audiences",
                 [{"campaign_id": campaign_id, "customer_id": i} for i in ids])
    return len(ids)


def _write(ws: Workspace, c: Campaign, *, insert: bool = False) -> None:
    values = [c.name, c.status, c.spec.model_dump_json(), c.updated_at, c.run_key,
              c.next_run_at, c.runs]
    if insert:
        ws.raw.execute(
            "INSERT INTO kq_campaigns (campaign_id, created_at, created_by, name, status, spec,"
            " updated_at, run_key, next_run_at, runs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [c.campaign_id, c.created_at, c.created_by, *values])
    else:
        ws.raw.execute(
            "UPDATE kq_campaigns SET name = ?, status = ?, spec = ?, updated_at = ?, "
            "run_key = ?, next_run_at = ?, runs = ? WHERE campaign_id = ?",
            [*values, c.campaign_id])


def update_campaign(ws: Workspace, campaign_id: str, *, actor: str | None = None,
                    clock: Clock | None = None, **changes: Any) -> Campaign:
    """Change a campaign's spec fields before it sends (e.g. ``holdout=0.2``)."""
    campaign = get_campaign(ws, campaign_id)
    if campaign.status not in EDITABLE_STATUSES:
        msg = (f"campaign {campaign_id} is {campaign.status}; only a ready or scheduled "
               f"campaign can change — create a new one instead")
        raise CampaignStateError(msg)
    data = campaign.spec.model_dump()
    unknown = [k for k in changes if k not in data]
    if unknown:
        msg = f"campaign has no field {unknown[0]!r}; choose one of {', '.join(data)}"
        raise CampaignError(msg)
    data.update(changes)
    spec = _spec(data)
    _check_channel(spec)
    now = _clock(ws, clock)()
    first = spec.schedule.first_run(campaign.created_at if spec.schedule.at is None else now)
    updated = campaign.model_copy(update={
        "spec": spec, "name": spec.name, "updated_at": now, "next_run_at": first,
        "status": "ready" if first is None else "scheduled"})
    _write(ws, updated)
    audit.record(ws, "campaign.update", campaign_id,
                 {"fields": sorted(changes), "warnings": spec.warnings()}, actor=actor, at=now)
    return updated


def cancel_campaign(ws: Workspace, campaign_id: str, *, actor: str | None = None,
                    clock: Clock | None = None) -> Campaign:
    """Stop a campaign: nothing more is sent, what was sent stays measured."""
    campaign = get_campaign(ws, campaign_id)
    if campaign.status == "cancelled":
        return campaign
    now = _clock(ws, clock)()
    updated = campaign.model_copy(update={"status": "cancelled", "updated_at": now,
                                          "next_run_at": None})
    _write(ws, updated)
    audit.record(ws, "campaign.cancel", campaign_id,
                 {"was": campaign.status, "sends": send_counts(ws, campaign_id)},
                 actor=actor, at=now)
    return updated


# -- planning -------------------------------------------------------------------------------


def _audience(ws: Workspace, campaign: Campaign, as_of: dt.datetime | None) -> ir.Table:
    if campaign.spec.segment is not None:
        when = campaign.spec.as_of or as_of or ws.default_as_of()
        return evaluate_segment(ws, campaign.spec.segment, as_of=when)
    a = ws.con.table("kq_audiences")
    return on_engine(ws, a.filter(a.campaign_id == campaign.campaign_id).select("customer_id"))


def plan_recipients(ws: Workspace, campaign: Campaign, *, now: dt.datetime,
                    settings: CampaignSettings | None = None,
                    as_of: dt.datetime | None = None) -> ir.Table:
    """The recipient list the campaign would freeze at ``now``: group, guards, coupon.

    Columns are those of ``kq_recipients`` plus ``contact`` (never stored). The expression
    runs on the workspace's engine, where the shop's customers are.
    """
    settings = settings or read_settings(ws)
    spec = campaign.spec
    groups = assign_groups(_audience(ws, campaign, as_of), campaign.campaign_id, spec.holdout)
    guarded = apply_guards(ws, groups, channel=spec.channel,
                           contact=contact_field(spec.channel, spec.channel_options),
                           settings=settings, now=now)
    run_key = now.isoformat(timespec="seconds")
    coupon = spec.coupon
    target = guarded.grp == "target"
    if coupon is not None:
        expires = dt.datetime.combine(now.date() + dt.timedelta(days=coupon.validity_days),
                                      dt.time(23, 59, 59))
        code = coupon_code_expr(campaign.coupon_id or campaign.campaign_id, spec.code_salt,
                                guarded.customer_id)
        coupon_cols: dict[str, Any] = {
            "coupon_id": ibis.ifelse(target, campaign.coupon_id, ibis.null("string")),
            "coupon_code": ibis.ifelse(target, code, ibis.null("string")),
            "coupon_threshold": ibis.ifelse(target, coupon.threshold, ibis.null("float64")),
            "coupon_discount": ibis.ifelse(target, coupon.discount, ibis.null("float64")),
            "coupon_expires": ibis.ifelse(target, ibis.literal(expires, "timestamp"),
                                          ibis.null("timestamp")),
        }
    else:
        coupon_cols = {"coupon_id": ibis.null("string"), "coupon_code": ibis.null("string"),
                       "coupon_threshold": ibis.null("float64"),
                       "coupon_discount": ibis.null("float64"),
                       "coupon_expires": ibis.null("timestamp")}
    points = (ibis.ifelse(target, spec.points, ibis.null("int64")) if spec.points
              else ibis.null("int64"))
    columns: dict[str, Any] = {
        "campaign_id": ibis.literal(campaign.campaign_id),
        "event_key": ibis.literal(run_key), "step": ibis.literal(""),
        "customer_id": guarded.customer_id, "grp": guarded.grp, "bucket": guarded.bucket,
        "skip_reason": guarded.skip_reason, **coupon_cols, "points": points,
        "fields": ibis.null("string"), "frozen_at": ibis.literal(now, "timestamp"),
    }
    schema = CAMPAIGN_TABLES["kq_recipients"]
    typed = {name: value.cast(schema[name]) if isinstance(value, ir.Value) else value
             for name, value in columns.items()}
    return guarded.select(**typed, contact=guarded.contact)


# -- preview --------------------------------------------------------------------------------


@dataclass
class Preview:
    """What a send would do now, before anything is sent."""

    campaign_id: str
    name: str
    channel: str
    counts: dict[str, Any]
    quiet_now: bool
    sends_from: dt.datetime
    warnings: list[str]
    sample: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON (contacts in the sample are masked)."""
        return {"campaign_id": self.campaign_id, "name": self.name, "channel": self.channel,
                **self.counts, "quiet_now": self.quiet_now,
                "sends_from": self.sends_from.isoformat(), "warnings": self.warnings,
                "sample": self.sample}


def preview_campaign(ws: Workspace, campaign_id: str, *, clock: Clock | None = None,
                     sample: int = 3, actor: str | None = None,
                     as_of: dt.datetime | None = None) -> Preview:
    """Audience, holdout, how many each rule removes, and sample messages (masked)."""
    campaign = get_campaign(ws, campaign_id)
    settings = read_settings(ws)
    now = _clock(ws, clock)()
    planned = plan_recipients(ws, campaign, now=now, settings=settings, as_of=as_of)
    counts = summarize(planned)
    window = settings.quiet_window()
    warnings = campaign.spec.warnings(counts["to_send"])
    if 0 < counts["holdout_eligible"] < 100 and campaign.spec.holdout > 0:
        warnings.append(f"only {counts['holdout_eligible']} customers in the holdout: the "
                        f"uplift will be uncertain (对照组人数少)")
    rows = _sample_rows(ws, planned, sample)
    ctx = _context(campaign)
    messages = [render_message(ctx, settings, row, now) for row in rows]
    preview = Preview(
        campaign_id=campaign_id, name=campaign.name, channel=campaign.spec.channel,
        counts=counts, quiet_now=in_quiet_hours(now, window),
        sends_from=quiet_until(now, window), warnings=warnings,
        sample=[{"customer_id": m.customer_id, "contact": mask_contact(m.contact),
                 "language": m.language, "subject": m.subject, "message": m.body}
                for m in messages],
    )
    audit.record(ws, "campaign.preview", campaign_id,
                 {k: v for k, v in counts.items()}, actor=actor, at=now)
    return preview


def _sample_rows(ws: Workspace, planned: ir.Table, n: int) -> list[dict[str, Any]]:
    if n <= 0:
        return []
    eligible = planned.filter(planned.grp == "target", planned.skip_reason.isnull())
    eligible = eligible.order_by("bucket").limit(n)
    customers = ws.table("customers")
    language = (customers["language"].cast("string") if "language" in customers.columns
                else ibis.null("string"))
    info = customers.select(c_id=customers.customer_id, c_name=customers.name,
                            c_language=language)
    rows = eligible.left_join(info, eligible.customer_id == info.c_id).drop("c_id")
    out = rows.mutate(c_contact=rows.contact).to_pyarrow().to_pylist()
    for row in out:  # the sample is shown on screen: no personal data in the clear
        row["c_name"] = mask_name(row["c_name"])
    return out


def _context(campaign: Campaign) -> SendContext:
    spec = campaign.spec
    return SendContext(campaign_id=campaign.campaign_id, name=campaign.name,
                       channel=spec.channel, channel_options=spec.channel_options,
                       templates={"": spec.effective_template()}, language=spec.language)


# -- sending --------------------------------------------------------------------------------


@dataclass
class SendReport:
    """What ``send_campaign`` did: the run it froze or resumed, and the deliveries."""

    campaign_id: str
    status: str
    run_key: str | None
    frozen: dict[str, Any] | None
    delivery: DeliveryReport
    recovered: dict[str, int]
    totals: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and the audit trail."""
        return {"campaign_id": self.campaign_id, "status": self.status,
                "run_key": self.run_key, "frozen": self.frozen,
                "delivery": self.delivery.as_dict(), "recovered": self.recovered,
                "totals": self.totals}


_JOURNALS: weakref.WeakKeyDictionary[Workspace, Journal] = weakref.WeakKeyDictionary()


def journal_for(ws: Workspace) -> Journal:
    """The send journal of ``ws`` (a file beside the workspace; memory for ':memory:').

    One per open workspace, so an in-memory workspace keeps its journal between calls.
    """
    journal = _JOURNALS.get(ws)
    if journal is None:
        journal = _JOURNALS[ws] = Journal.for_workspace(ws.path)
    return journal


def _freeze(ws: Workspace, campaign: Campaign, now: dt.datetime,
            settings: CampaignSettings, actor: str | None) -> tuple[Campaign, dict[str, Any]]:
    planned = plan_recipients(ws, campaign, now=now, settings=settings)
    run_key = now.isoformat(timespec="seconds")
    stored = planned.drop("contact")
    nxt = campaign.spec.schedule.after(campaign.next_run_at or now, now)
    updated = campaign.model_copy(update={
        "status": "sending", "run_key": run_key, "runs": campaign.runs + 1,
        "next_run_at": nxt, "updated_at": now})
    with ws.transaction():
        ws.con.insert("kq_recipients", to_state(ws, stored))
        _write(ws, updated)
    counts = summarize(ws.con.table("kq_recipients").filter(
        ibis._.campaign_id == campaign.campaign_id, ibis._.event_key == run_key))
    audit.record(ws, "campaign.freeze", campaign.campaign_id, {"run": run_key, **counts},
                 actor=actor, at=now)
    return updated, counts


def send_campaign(ws: Workspace, campaign_id: str, *, clock: Clock | None = None,
                  now: bool = False, resend_unknown: bool = False, retry_failed: bool = False,
                  batch_size: int = 1000, progress: Progress | None = None,
                  actor: str | None = None, channel: Channel | None = None) -> SendReport:
    """Freeze the recipient list (first call of a run) and deliver what is due, exactly once.

    Safe to call again at any time: a run that stopped (killed, quiet hours, quota) carries
    on where it stopped, and nobody gets a message twice. ``now`` sends a scheduled campaign
    before its time; ``resend_unknown`` and ``retry_failed`` send again the messages whose
    fate is unknown (interrupted mid-send) or that failed.
    """
    campaign = get_campaign(ws, campaign_id)
    if campaign.status == "cancelled":
        msg = f"campaign {campaign_id} is cancelled; nothing is sent"
        raise CampaignStateError(msg)
    tick = _clock(ws, clock)
    settings = read_settings(ws)
    journal = journal_for(ws)
    recovered = recover(ws, journal)
    statuses = [s for s, flag in (("unknown", resend_unknown), ("failed", retry_failed)) if flag]
    if statuses:
        ws.raw.execute("DELETE FROM kq_sends WHERE campaign_id = ? AND list_contains(?, status)",
                       [campaign_id, statuses])
    at = tick()
    frozen = None
    if campaign.status in EDITABLE_STATUSES:
        due = campaign.status == "ready" or (
            campaign.next_run_at is not None and campaign.next_run_at <= at)
        if not due and not now:
            when = f"{campaign.next_run_at:%Y-%m-%d %H:%M}"
            msg = (f"campaign {campaign_id} is scheduled for {when}; 'kequn run' sends it "
                   f"then, or pass --now to send it already")
            raise CampaignStateError(msg)
        campaign, frozen = _freeze(ws, campaign, at, settings, actor)
    try:
        delivery = deliver_pending(ws, _context(campaign), settings=settings, clock=tick,
                                   journal=journal, batch_size=batch_size, channel=channel,
                                   progress=progress)
    finally:
        journal.close()
    finished = delivery.remaining == 0
    if finished and campaign.status == "sending":
        campaign = campaign.model_copy(update={
            "status": "scheduled" if campaign.next_run_at else "sent", "updated_at": tick()})
        _write(ws, campaign)
    report = SendReport(campaign_id=campaign_id, status=campaign.status,
                        run_key=campaign.run_key, frozen=frozen, delivery=delivery,
                        recovered=recovered, totals=send_counts(ws, campaign_id))
    action = ("campaign.wait" if delivery.waiting_until else
              "campaign.abort" if delivery.aborted else "campaign.send")
    audit.record(ws, action, campaign_id, {"run": campaign.run_key, **delivery.as_dict(),
                                           "recovered": recovered}, actor=actor, at=tick())
    return report


def due_campaigns(ws: Workspace, now: dt.datetime) -> list[Campaign]:
    """Campaigns ``kequn run`` should send at ``now``: due schedules and unfinished runs."""
    return [c for c in list_campaigns(ws)
            if c.status == "sending"
            or (c.status == "scheduled" and c.next_run_at is not None and c.next_run_at <= now)]


# -- opt-outs -------------------------------------------------------------------------------


def unsubscribe(ws: Workspace, customer_id: str, *, channel: str | None = None,
                source: str = "manual", actor: str | None = None,
                clock: Clock | None = None) -> None:
    """Add a customer to the unsubscribe list (for one channel, or all when None)."""
    if channel is not None and channel not in CHANNELS:
        msg = f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)} or none for all"
        raise CampaignError(msg)
    ensure_campaign_tables(ws.con)
    now = _clock(ws, clock)()
    insert_arrow(ws.con, "kq_unsubscribes", [{"customer_id": customer_id, "channel": channel,
                                              "at": now, "source": source}])
    audit.record(ws, "customer.unsubscribe", customer_id,
                 {"channel": channel or "all", "source": source}, actor=actor, at=now)


def recipients(ws: Workspace, campaign_id: str) -> ir.Table:
    """A campaign's frozen recipient list with each one's send status (no contact data)."""
    get_campaign(ws, campaign_id)
    r = ws.con.table("kq_recipients")
    s = ws.con.table("kq_sends")
    mine = r.filter(r.campaign_id == campaign_id)
    sends = s.filter(s.campaign_id == campaign_id).select(
        s_event=s.event_key, s_customer=s.customer_id, send_status=s.status,
        send_reason=s.reason, sent_at=s.sent_at)
    joined = mine.left_join(sends, [mine.event_key == sends.s_event,
                                    mine.customer_id == sends.s_customer])
    return joined.drop("s_event", "s_customer").order_by(["event_key", "customer_id"])

