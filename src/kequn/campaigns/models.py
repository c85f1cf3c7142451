"""What a campaign is (SPEC §5): target, benefit, channel, message, schedule and holdout.

A :class:`CampaignSpec` is what the user writes; a :class:`Campaign` is a stored one with its
id and state. Specs are plain pydantic models, stored as JSON in ``kq_campaigns``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kequn.campaigns.messages import Language, Template

__all__ = [
    "MESSAGE_ONLY_TEMPLATE", "Campaign", "CampaignSpec", "CampaignStatus", "ChannelName",
    "Coupon", "Schedule", "parse_duration",
]

ChannelName = Literal["export", "email", "webhook", "sms"]
CampaignStatus = Literal["ready", "scheduled", "sending", "sent", "cancelled"]

MIN_COUPONS = 1000  # SPEC §5 / seed 001: the seller platform issues at least 1,000 coupons
VALIDITY_DAYS = (7, 15)  # seed 001: "发行时间...一般是7-15天"

MESSAGE_ONLY_TEMPLATE = Template(
    zh="{name}您好，{shop}有新品和活动，欢迎回店看看。{unsubscribe}",
    en="Hi {name}, {shop} has new arrivals and offers for you. {unsubscribe}",
    subject_zh="{shop}上新了",
    subject_en="New at {shop}",
)


def parse_duration(text: str | float | dt.timedelta) -> dt.timedelta:
    """'5m', '2h', '7d', '1w' (or seconds as a number) → timedelta."""
    if isinstance(text, dt.timedelta):
        return text
    if isinstance(text, int | float):
        return dt.timedelta(seconds=float(text))
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        msg = f"duration {text!r} is not understood; use e.g. 30s, 5m, 2h, 7d or 1w"
        raise ValueError(msg)
    value, unit = float(match.group(1)), match.group(2)
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    return dt.timedelta(seconds=value * seconds)


class Coupon(BaseModel):
    """A 满减 coupon: ``discount`` off an order of at least ``threshold`` (0 = 无门槛)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    threshold: float = Field(ge=0)
    """满: the order amount the coupon needs (0 = no minimum)."""
    discount: float = Field(gt=0)
    """减: the amount taken off."""
    validity_days: int = Field(default=10, ge=1)
    """Days the coupon stays valid after it is sent."""
    quantity: int | None = Field(default=None, ge=1)
    """Coupons issued on the platform (None = one per recipient)."""
    coupon_id: str | None = None
    """The platform's coupon id, as orders carry it in ``coupon_id`` (None: the campaign id)."""

    @model_validator(mode="after")
    def _discount_below_threshold(self) -> Coupon:
        if self.threshold and self.discount >= self.threshold:
            msg = (f"coupon discount {self.discount:g} is not below its threshold "
                   f"{self.threshold:g}; use threshold 0 for a no-minimum coupon")
            raise ValueError(msg)
        return self

    def warnings(self, recipients: int | None = None) -> list[str]:
        """What the seed's rules of thumb would flag (never blocks the campaign)."""
        out = []
        issued = self.quantity if self.quantity is not None else recipients
        if issued is not None and issued < MIN_COUPONS:
            out.append(f"coupon quantity {issued} is below {MIN_COUPONS}: the seller platform "
                       f"issues at least {MIN_COUPONS} coupons (发行张数最少1000张)")
        lo, hi = VALIDITY_DAYS
        if not lo <= self.validity_days <= hi:
            out.append(f"coupon validity {self.validity_days} days is outside {lo}–{hi} days "
                       f"(一般7-15天)")
        if recipients is not None and self.quantity is not None and self.quantity < recipients:
            out.append(f"{self.quantity} coupons for {recipients} recipients: "
                       f"{recipients - self.quantity} may find none left")
        return out


class Schedule(BaseModel):
    """When a campaign sends: on demand (``now``), once at a time, or every period."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["now", "at", "every"] = "now"
    at: dt.datetime | None = None
    """Shop-time moment of the (first) send for ``at`` and ``every``."""
    every: dt.timedelta | None = None
    """Period between sends for ``every``."""

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.upper().startswith("P"):  # P7D: ISO 8601
            return parse_duration(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Schedule:
        if self.kind == "at" and self.at is None:
            msg = "schedule 'at' needs a time; pass at='2024-03-05 10:00'"
            raise ValueError(msg)
        if self.kind == "every" and (self.every is None or self.every.total_seconds() <= 0):
            msg = "schedule 'every' needs a positive period; pass every='7d'"
            raise ValueError(msg)
        return self

    def first_run(self, created: dt.datetime) -> dt.datetime | None:
        """The first due time (None: sent when asked)."""
        if self.kind == "now":
            return None
        return self.at or created

    def after(self, run_at: dt.datetime, now: dt.datetime) -> dt.datetime | None:
        """The due time following a run at ``run_at`` (None when there is none)."""
        if self.kind != "every" or self.every is None:
            return None
        nxt = run_at + self.every
        while nxt <= now:  # a scheduler that was down does not fire every missed period
            nxt += self.every
        return nxt


class CampaignSpec(BaseModel):
    """A targeted campaign 定向运营 as the user defines it (SPEC §5).

    Examples
    --------
    >>> spec = CampaignSpec(name="回流券", segment="interest",
    ...                     coupon=Coupon(threshold=200, discount=30, validity_days=10))
    >>> spec.holdout
    0.1
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    segment: str | None = None
    """A segment id or rule text, evaluated when the campaign sends (None: a fixed list)."""
    coupon: Coupon | None = None
    points: int | None = Field(default=None, ge=1)
    channel: ChannelName = "export"
    channel_options: dict[str, Any] = Field(default_factory=dict)
    template: Template | None = None
    """The message (None: the default coupon or message-only template)."""
    language: Language | None = None
    """Message language when a customer has none (None: the workspace default)."""
    schedule: Schedule = Field(default_factory=Schedule)
    holdout: float = Field(default=0.1, ge=0, le=0.5)
    """Share of the audience kept out at random; 0 only on purpose (nothing can be measured)."""
    as_of: dt.datetime | None = None
    """Evaluate the segment at this time (None: the latest data when the campaign sends)."""
    code_salt: str = Field(default_factory=lambda: secrets.token_hex(8))
    """Random salt of the per-recipient coupon codes, so codes cannot be guessed."""

    @field_validator("name")
    @classmethod
    def _strip(cls, value: str) -> str:
        if not value.strip():
            msg = "campaign name is empty; give it a name"
            raise ValueError(msg)
        return value.strip()

    def effective_template(self) -> Template:
        """The template messages use."""
        if self.template is not None:
            return self.template
        return Template() if self.coupon is not None else MESSAGE_ONLY_TEMPLATE

    def warnings(self, recipients: int | None = None) -> list[str]:
        """Warnings about the benefit and the holdout (shown at create and preview)."""
        out = self.coupon.warnings(recipients) if self.coupon is not None else []
        if self.holdout == 0:
            out.append("holdout is 0: nobody is kept out, so nothing this campaign does can be "
                       "measured (无对照组，无法衡量效果)")
        return out


class Campaign(BaseModel):
    """A stored campaign: its spec, id and state."""

    model_config = ConfigDict(extra="forbid")

    campaign_id: str
    name: str
    status: CampaignStatus
    spec: CampaignSpec
    created_at: dt.datetime
    created_by: str
    updated_at: dt.datetime
    run_key: str | None = None
    """The current or last run (one send of the campaign; recurring ones have several)."""
    next_run_at: dt.datetime | None = None
    runs: int = 0

    @property
    def coupon_id(self) -> str | None:
        """The coupon id orders carry when they use this campaign's coupon."""
        if self.spec.coupon is None:
            return None
        return self.spec.coupon.coupon_id or self.campaign_id
