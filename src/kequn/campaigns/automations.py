"""Automations 自动化营销: messages triggered by what a customer did or stopped doing.

Built in, from the seeds (all off until enabled):

- ``unpaid_reminder`` 催付 (seed 000): an order still unpaid 1 day after it was placed gets a
  reminder, after 7 days points, after 30 days a cash coupon sized by value tier;
- ``cart_abandon`` 加购未下单 (seed 000): a cart a day old without an order since;
- ``winback`` 挽留 (seed 000): no paid order for 1 / 3 / 6 months — new arrivals, points, coupon;
- ``birthday`` 生日关怀 (seed 004): on the customer's birthday.

A customer enters an automation once per trigger event (the order, the cart day, the lapse, the
birthday year): the event key is part of the recipient row, so a tick that runs twice adds
nobody twice. Each automation keeps its own holdout, decided by the same stable hash as a
campaign's (automation id, customer). Entries are frozen like a campaign's recipient list and
go through the same guards and exactly-once send loop; they are measured the same way.

Triggers compare the shop's data with the real clock (operations, not analytics): a step fires
for events between ``after_days`` and ``after_days + grace_days`` ago, so a scheduler that
missed a tick still catches up, and enabling an automation does not message years of history.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kequn.campaigns import audit
from kequn.campaigns.channels import OPTIONS, contact_field
from kequn.campaigns.errors import CampaignError, CampaignNotFoundError
from kequn.campaigns.guards import apply_guards
from kequn.campaigns.messages import Language, Template
from kequn.campaigns.models import ChannelName, Coupon
from kequn.campaigns.sending import SendContext
from kequn.campaigns.settings import CampaignSettings, read_settings
from kequn.campaigns.store import ensure_campaign_tables, insert_arrow, to_json
from kequn.campaigns.targeting import assign_groups, coupon_code
from kequn.campaigns.tiers import value_tiers
from kequn.schema.conventions import paid_orders
from kequn.storage.engines import on_engine

if TYPE_CHECKING:
    from kequn.campaigns.audit import Clock
    from kequn.workspace import Workspace

__all__ = [
    "BUILTIN_AUTOMATIONS", "Automation", "AutomationSpec", "Step", "TRIGGERS",
    "automation_context", "configure_automation", "disable_automation", "enable_automation",
    "enter_automation", "get_automation", "list_automations",
]

AutomationKind = Literal["unpaid", "cart_abandon", "winback", "birthday"]


class Step(BaseModel):
    """One step of an automation: when it fires, what it gives, what it says."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[\w-]+$")
    after_days: float = Field(ge=0)
    grace_days: float = Field(default=1.0, gt=0)
    points: int | None = Field(default=None, ge=1)
    coupon: Coupon | None = None
    coupons_by_tier: dict[str, Coupon] | None = None
    """A coupon per value tier (supreme_vip, vip, senior, regular), sized by customer value."""
    template: Template


class AutomationSpec(BaseModel):
    """An automation's definition (stored as JSON in ``kq_automations``)."""

    model_config = ConfigDict(extra="forbid")

    automation_id: str
    kind: AutomationKind
    label_zh: str
    label_en: str
    channel: ChannelName = "export"
    channel_options: dict[str, Any] = Field(default_factory=dict)
    holdout: float = Field(default=0.1, ge=0, le=0.5)
    language: Language | None = None
    steps: list[Step]
    code_salt: str = Field(default_factory=lambda: secrets.token_hex(8))
    """Random salt of the coupon codes (fixed when the automation is first stored)."""

    def step(self, key: str) -> Step:
        """The step called ``key``."""
        for s in self.steps:
            if s.key == key:
                return s
        msg = f"automation {self.automation_id} has no step {key!r}"
        raise CampaignError(msg)


def _cash(discount: float, days: int = 7) -> Coupon:
    return Coupon(threshold=0, discount=discount, validity_days=days)


_UNSUB = "{unsubscribe}"
BUILTIN_AUTOMATIONS: dict[str, AutomationSpec] = {a.automation_id: a for a in (
    AutomationSpec(
        automation_id="unpaid_reminder", kind="unpaid", label_zh="催付", label_en="unpaid order",
        steps=[
            Step(key="1d", after_days=1, template=Template(
                zh="{name}您好，您在{shop}的订单{order_id}还未付款，商品为您保留中，记得完成支付哦。"
                   + _UNSUB,
                en="Hi {name}, your order {order_id} at {shop} is waiting for payment. " + _UNSUB,
                subject_zh="您的订单还未付款", subject_en="Your order is waiting for payment")),
            Step(key="7d", after_days=7, points=100, template=Template(
                zh="{name}您好，订单{order_id}还未付款，现在完成支付再送您{points}积分。" + _UNSUB,
                en="Hi {name}, pay order {order_id} now and get {points} points. " + _UNSUB,
                subject_zh="付款送积分", subject_en="Points for your order")),
            Step(key="30d", after_days=30, coupons_by_tier={
                "supreme_vip": _cash(30), "vip": _cash(20), "senior": _cash(10),
                "regular": _cash(5)}, template=Template(
                zh="{name}您好，订单{order_id}还在等您，送您一张{coupon}现金券（{code}），"
                   "{deadline}前有效。" + _UNSUB,
                en="Hi {name}, order {order_id} is still waiting: here is a {coupon} coupon "
                   "({code}), valid until {deadline}. " + _UNSUB,
                subject_zh="送您一张现金券", subject_en="A coupon for your order")),
        ]),
    AutomationSpec(
        automation_id="cart_abandon", kind="cart_abandon", label_zh="加购未下单",
        label_en="cart abandonment",
        steps=[Step(key="1d", after_days=1, template=Template(
            zh="{name}您好，您加入购物车的商品还在等您，库存有限，早下单早发货。" + _UNSUB,
            en="Hi {name}, the items in your cart at {shop} are waiting for you. " + _UNSUB,
            subject_zh="购物车里的商品在等您", subject_en="Your cart is waiting"))]),
    AutomationSpec(
        automation_id="winback", kind="winback", label_zh="挽留", label_en="win-back",
        steps=[
            Step(key="1m", after_days=30, template=Template(
                zh="{name}您好，{shop}上新啦，快来看看最新款。" + _UNSUB,
                en="Hi {name}, {shop} has new arrivals for you. " + _UNSUB,
                subject_zh="新品上架", subject_en="New arrivals")),
            Step(key="3m", after_days=90, points=200, template=Template(
                zh="{name}您好，好久不见，送您{points}积分，回店即可使用。" + _UNSUB,
                en="Hi {name}, we miss you: {points} points are waiting at {shop}. " + _UNSUB,
                subject_zh="送您积分", subject_en="Points for you")),
            Step(key="6m", after_days=180, coupon=Coupon(threshold=100, discount=20,
                                                         validity_days=10),
                 template=Template(
                zh="{name}您好，{shop}为您准备了{coupon}优惠券（{code}），{deadline}前有效。"
                   + _UNSUB,
                en="Hi {name}, {shop} saved you a coupon: {coupon} ({code}), valid until "
                   "{deadline}. " + _UNSUB,
                subject_zh="专属回归礼", subject_en="A welcome-back coupon")),
        ]),
    AutomationSpec(
        automation_id="birthday", kind="birthday", label_zh="生日关怀", label_en="birthday care",
        steps=[Step(key="day", after_days=0, coupon=_cash(10, 7), template=Template(
            zh="{name}，生日快乐！{shop}送您一张{coupon}生日券（{code}），{deadline}前有效。"
               + _UNSUB,
            en="Happy birthday, {name}! {shop} sends you a {coupon} coupon ({code}), valid "
               "until {deadline}. " + _UNSUB,
            subject_zh="生日快乐", subject_en="Happy birthday"))]),
)}


# -- triggers: (workspace, step, now) → customer_id, event_key, order_id, amount ---------------

Trigger = Callable[["Workspace", Step, dt.datetime], ir.Table]


def _window(t: ir.TimestampValue, step: Step, now: dt.datetime) -> ir.BooleanValue:
    newest = now - dt.timedelta(days=step.after_days)
    oldest = newest - dt.timedelta(days=step.grace_days)
    return ((t <= ibis.literal(newest, "timestamp"))
            & (t > ibis.literal(oldest, "timestamp")))


def _shape(t: ir.Table, event_key: ir.StringValue, order_id: ir.Value | None = None,
           amount: ir.Value | None = None) -> ir.Table:
    return t.select(
        customer_id=t.customer_id.cast("string"), event_key=event_key,
        order_id=(order_id if order_id is not None else ibis.null()).cast("string"),
        amount=(amount if amount is not None else ibis.null()).cast("float64"),
    )


def unpaid_trigger(ws: Workspace, step: Step, now: dt.datetime) -> ir.Table:
    """Orders placed ``after_days`` ago and still unpaid (not cancelled or refunded)."""
    o = ws.table("orders")
    open_ = o.filter(o.paid_at.isnull(), o.status.isnull() | (o.status == "created"),
                     _window(o.created_at, step, now))
    return _shape(open_, open_.order_id + f"/{step.key}", open_.order_id, open_.amount)


def cart_trigger(ws: Workspace, step: Step, now: dt.datetime) -> ir.Table:
    """Customers whose last cart of a day is ``after_days`` old, with no order placed since."""
    e = ws.table("events")
    carts = e.filter(e.event == "cart", _window(e.event_time, step, now))
    per_day = carts.group_by(["customer_id", carts.event_time.date().name("day")]).aggregate(
        cart_at=carts.event_time.max())
    o = ws.table("orders")
    later = o.filter(o.created_at <= ibis.literal(now, "timestamp")).select(
        o_customer=o.customer_id, o_at=o.created_at)
    abandoned = per_day.anti_join(later, [per_day.customer_id == later.o_customer,
                                          later.o_at > per_day.cart_at])
    key = "cart/" + abandoned.day.cast("string") + f"/{step.key}"
    return _shape(abandoned, key)


def winback_trigger(ws: Workspace, step: Step, now: dt.datetime) -> ir.Table:
    """Buyers whose last paid order is ``after_days`` old (1 / 3 / 6 months by default)."""
    paid = paid_orders(ws.table("orders"), now)
    last = paid.group_by("customer_id").aggregate(last_paid_at=paid.paid_at.max())
    lapsed = last.filter(_window(last.last_paid_at, step, now))
    # "T" joined outside the format: Spark's date patterns read a bare T as a field letter
    at = lapsed.last_paid_at
    key = f"{step.key}/" + at.strftime("%Y%m%d") + "T" + at.strftime("%H%M%S")
    return _shape(lapsed, key)


def birthday_trigger(ws: Workspace, step: Step, now: dt.datetime) -> ir.Table:
    """Customers whose birthday fell in the last ``grace_days`` days (29 Feb → 28 Feb)."""
    days = [now.date() - dt.timedelta(days=step.after_days + i)
            for i in range(max(1, int(step.grace_days)))]
    month_days = set()
    for d in days:
        month_days.add(d.month * 100 + d.day)
        if (d.month, d.day) == (2, 28) and not _leap(d.year):
            month_days.add(229)
    c = ws.table("customers")
    born = c.filter(c.birthday.notnull())
    md = born.birthday.month() * 100 + born.birthday.day()
    hits = born.filter(md.isin(sorted(month_days)))
    return _shape(hits, ibis.literal(f"birthday/{days[0].year}"))


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


TRIGGERS: dict[str, Trigger] = {
    "unpaid": unpaid_trigger,
    "cart_abandon": cart_trigger,
    "winback": winback_trigger,
    "birthday": birthday_trigger,
}


# -- stored automations ---------------------------------------------------------------------


@dataclass
class Automation:
    """A stored automation: its spec and whether it runs."""

    spec: AutomationSpec
    enabled: bool
    updated_at: dt.datetime | None
    last_run_at: dt.datetime | None

    @property
    def automation_id(self) -> str:
        """The automation's id (also its id in recipients, sends and reports)."""
        return self.spec.automation_id


def _ensure(ws: Workspace) -> None:
    ensure_campaign_tables(ws.con)
    have = {r[0] for r in ws.raw.execute("SELECT automation_id FROM kq_automations").fetchall()}
    missing = [{"automation_id": a.automation_id, "enabled": False,
                "spec": a.model_dump_json(), "updated_at": None, "last_run_at": None}
               for a in BUILTIN_AUTOMATIONS.values() if a.automation_id not in have]
    insert_arrow(ws.con, "kq_automations", missing)


def list_automations(ws: Workspace) -> list[Automation]:
    """Every automation (the built-ins appear on first use, disabled)."""
    _ensure(ws)
    rows = ws.con.table("kq_automations").order_by("automation_id").to_pyarrow().to_pylist()
    return [Automation(spec=AutomationSpec.model_validate_json(r["spec"]),
                       enabled=bool(r["enabled"]), updated_at=r["updated_at"],
                       last_run_at=r["last_run_at"]) for r in rows]


def get_automation(ws: Workspace, automation_id: str) -> Automation:
    """The automation ``automation_id``."""
    for a in list_automations(ws):
        if a.automation_id == automation_id:
            return a
    known = ", ".join(a.automation_id for a in list_automations(ws))
    msg = f"no automation {automation_id!r}; choose one of {known}"
    raise CampaignNotFoundError(msg)


def _store(ws: Workspace, a: Automation) -> None:
    ws.raw.execute(
        "UPDATE kq_automations SET enabled = ?, spec = ?, updated_at = ?, last_run_at = ? "
        "WHERE automation_id = ?",
        [a.enabled, a.spec.model_dump_json(), a.updated_at, a.last_run_at, a.automation_id])


def configure_automation(ws: Workspace, automation_id: str, *, actor: str | None = None,
                         clock: Clock | None = None, **changes: Any) -> Automation:
    """Change an automation's spec fields (channel, channel_options, holdout, steps...)."""
    current = get_automation(ws, automation_id)
    data = current.spec.model_dump()
    unknown = [k for k in changes
               if k not in data or k in ("automation_id", "kind", "code_salt")]
    if unknown:
        msg = f"automation field {unknown[0]!r} cannot be set; choose from channel, " \
              f"channel_options, holdout, language, steps, label_zh, label_en"
        raise CampaignError(msg)
    data.update(changes)
    try:
        spec = AutomationSpec(**data)
        OPTIONS[spec.channel](**spec.channel_options)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = (f"automation {automation_id} {'.'.join(map(str, err['loc']))}: "
               f"{err['msg'].lower()}")
        raise CampaignError(msg) from None
    now = (clock or audit.shop_clock(ws))()
    updated = Automation(spec=spec, enabled=current.enabled, updated_at=now,
                         last_run_at=current.last_run_at)
    _store(ws, updated)
    audit.record(ws, "automation.update", automation_id, {"fields": sorted(changes)},
                 actor=actor, at=now)
    return updated


def _set_enabled(ws: Workspace, automation_id: str, enabled: bool, actor: str | None,
                 clock: Clock | None, changes: dict[str, Any]) -> Automation:
    current = (configure_automation(ws, automation_id, actor=actor, clock=clock, **changes)
               if changes else get_automation(ws, automation_id))
    now = (clock or audit.shop_clock(ws))()
    updated = Automation(spec=current.spec, enabled=enabled, updated_at=now,
                         last_run_at=current.last_run_at)
    _store(ws, updated)
    audit.record(ws, "automation.enable" if enabled else "automation.disable", automation_id,
                 {"channel": current.spec.channel, "holdout": current.spec.holdout},
                 actor=actor, at=now)
    return updated


def enable_automation(ws: Workspace, automation_id: str, *, actor: str | None = None,
                      clock: Clock | None = None, **changes: Any) -> Automation:
    """Turn an automation on (optionally changing channel, holdout... at the same time)."""
    return _set_enabled(ws, automation_id, True, actor, clock, changes)


def disable_automation(ws: Workspace, automation_id: str, *, actor: str | None = None,
                       clock: Clock | None = None) -> Automation:
    """Turn an automation off: no new entries, no further sends."""
    return _set_enabled(ws, automation_id, False, actor, clock, {})


# -- entering -------------------------------------------------------------------------------


@dataclass
class Entered:
    """New entries of one automation at one tick."""

    automation_id: str
    by_step: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self) -> int:
        """New entries over all steps (target and holdout)."""
        return sum(v["entered"] for v in self.by_step.values())


def enter_automation(ws: Workspace, automation: Automation, now: dt.datetime, *,
                     settings: CampaignSettings | None = None) -> Entered:
    """Add the customers whose trigger fired to the automation's recipient list.

    Target and holdout are both recorded (the holdout receives nothing); each entry keeps
    its guard verdict, coupon and fields, frozen at ``now``.
    """
    settings = settings or read_settings(ws)
    spec = automation.spec
    trigger = TRIGGERS[spec.kind]
    result = Entered(spec.automation_id)
    existing = ws.con.table("kq_recipients")
    existing = on_engine(ws, existing.filter(existing.campaign_id == spec.automation_id).select(
        x_event="event_key", x_customer="customer_id"))
    tiers = None
    for step in spec.steps:
        fired = trigger(ws, step, now).view()  # a fresh relation: triggers end in joins
        new = fired.anti_join(existing, [fired.event_key == existing.x_event,
                                         fired.customer_id == existing.x_customer])
        new = new.distinct(on=["customer_id", "event_key"], keep="first")
        grouped = assign_groups(new, spec.automation_id, spec.holdout)
        guarded = apply_guards(ws, grouped, channel=spec.channel,
                               contact=contact_field(spec.channel, spec.channel_options),
                               settings=settings, now=now)
        if step.coupons_by_tier:
            tiers = tiers if tiers is not None else value_tiers(ws, now).select(
                t_id="customer_id", tier="tier")
            guarded = guarded.left_join(tiers, guarded.customer_id == tiers.t_id).drop("t_id")
        rows = guarded.drop("contact").to_pyarrow().to_pylist()
        records = [_entry(spec, step, row, now) for row in rows]
        insert_arrow(ws.con, "kq_recipients", records)
        result.by_step[step.key] = {
            "entered": len(records),
            "holdout": sum(r["grp"] == "holdout" for r in records),
            "skipped": sum(r["grp"] == "target" and r["skip_reason"] is not None
                           for r in records),
        }
    return result


def _entry(spec: AutomationSpec, step: Step, row: dict[str, Any],
           now: dt.datetime) -> dict[str, Any]:
    target = row["grp"] == "target"
    coupon = step.coupon
    coupon_id = f"{spec.automation_id}-{step.key}"
    if step.coupons_by_tier:
        tier = row.get("tier") or "regular"
        coupon = step.coupons_by_tier.get(tier) or step.coupons_by_tier.get("regular")
        coupon_id = f"{coupon_id}-{tier}"
    fields = {k: row[k] for k in ("order_id", "amount") if row.get(k) is not None}
    if row.get("tier"):
        fields["tier"] = row["tier"]
    record: dict[str, Any] = {
        "campaign_id": spec.automation_id, "event_key": row["event_key"], "step": step.key,
        "customer_id": row["customer_id"], "grp": row["grp"], "bucket": row["bucket"],
        "skip_reason": row["skip_reason"], "fields": to_json(fields) if fields else None,
        "frozen_at": now, "points": step.points if target else None,
    }
    if coupon is not None and target:
        expires = dt.datetime.combine(now.date() + dt.timedelta(days=coupon.validity_days),
                                      dt.time(23, 59, 59))
        record.update(coupon_id=coupon_id,
                      coupon_code=coupon_code(coupon_id, spec.code_salt, row["customer_id"]),
                      coupon_threshold=coupon.threshold, coupon_discount=coupon.discount,
                      coupon_expires=expires)
    return record


def automation_context(automation: Automation) -> SendContext:
    """How the send loop renders and routes this automation's messages."""
    spec = automation.spec
    templates = {s.key: s.template for s in spec.steps}
    templates[""] = spec.steps[0].template
    return SendContext(campaign_id=spec.automation_id, name=spec.label_zh,
                       channel=spec.channel, channel_options=spec.channel_options,
                       templates=templates, language=spec.language)


def touch(ws: Workspace, automation: Automation, now: dt.datetime) -> None:
    """Record that the automation ran at ``now``."""
    automation.last_run_at = now
    _store(ws, automation)

