"""Message templates in Chinese and English, their fields, and masking of personal data.

A template is ordinary ``str.format`` text over a fixed set of fields, checked when the
campaign is created so a typo fails then, not in the middle of a send.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "FIELDS", "Language", "Template", "coupon_label", "deadline_label", "mask_contact", "mask_name",
    "mask_email", "mask_phone", "render",
]

Language = Literal["zh", "en"]

FIELDS: dict[str, str] = {
    "name": "customer's name (亲 / there when unknown)",
    "shop": "shop name (setting shop_name)",
    "coupon": "the coupon, e.g. 满200减30",
    "code": "the recipient's coupon code",
    "deadline": "the coupon's last valid day",
    "threshold": "coupon threshold 满",
    "discount": "coupon discount 减",
    "points": "points given (积分)",
    "order_id": "the unpaid order (催付)",
    "amount": "the unpaid order's amount (催付)",
    "campaign": "campaign name",
    "unsubscribe": "how to opt out (拒收请回复R / reply STOP)",
}

_SAMPLE: dict[str, Any] = {
    "name": "张三", "shop": "店", "coupon": "满200减30", "code": "K-ABC", "deadline": "3月15日",
    "threshold": 200.0, "discount": 30.0, "points": 100, "order_id": "o1", "amount": 99.0,
    "campaign": "c", "unsubscribe": "",
}

UNSUBSCRIBE_TEXT: dict[str, dict[str, str]] = {
    "sms": {"zh": "拒收请回复R", "en": "Reply STOP to opt out"},
    "email": {"zh": "如不想再收到此类邮件，请回复退订。",
              "en": "To stop these emails, reply unsubscribe."},
}
ANONYMOUS_NAME: dict[str, str] = {"zh": "亲", "en": "there"}


class Template(BaseModel):
    """A message in both languages, with an email subject line for each."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str = ("{name}您好，{shop}送您一张{coupon}优惠券（券码 {code}），{deadline}前有效。"
               "{unsubscribe}")
    en: str = ("Hi {name}, {shop} sends you a coupon: {coupon} (code {code}), valid until "
               "{deadline}. {unsubscribe}")
    subject_zh: str = "{shop}专属优惠券"
    subject_en: str = "Your coupon from {shop}"

    @model_validator(mode="after")
    def _known_fields(self) -> Template:
        for which in ("zh", "en", "subject_zh", "subject_en"):
            check_template(getattr(self, which), which=which)
        return self

    def body(self, lang: Language) -> str:
        """The message text in ``lang``."""
        return self.zh if lang == "zh" else self.en

    def subject(self, lang: Language) -> str:
        """The email subject in ``lang``."""
        return self.subject_zh if lang == "zh" else self.subject_en


def check_template(text: str, *, which: str = "template") -> None:
    """Fail on an unknown field, attribute access or a format that cannot render."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        msg = f"{which} {text!r} is not a valid template ({exc}); use {{field}} placeholders"
        raise ValueError(msg) from None
    for _, field, _, _ in parsed:
        if field is None:
            continue
        if field not in FIELDS:
            msg = (f"{which} uses unknown field {{{field}}}; choose from "
                   f"{', '.join('{' + f + '}' for f in FIELDS)}")
            raise ValueError(msg)
    try:
        text.format_map(_SAMPLE)
    except (ValueError, TypeError) as exc:
        msg = f"{which} {text!r} cannot be rendered: {exc}"
        raise ValueError(msg) from None


class _Blank(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return ""


def render(text: str, fields: dict[str, Any]) -> str:
    """Fill a checked template; a field without a value renders empty (never crashes a send)."""
    values = _Blank({k: ("" if v is None else v) for k, v in fields.items()})
    try:
        out = string.Formatter().vformat(text, (), values)
    except (ValueError, TypeError):
        out = string.Formatter().vformat(re.sub(r"\{(\w+):[^}]*\}", r"{\1}", text), (), values)
    return re.sub(r"[ \t]+$", "", out).strip()


def _money(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else f"{value:.2f}"


def coupon_label(threshold: float | None, discount: float | None, lang: Language) -> str:
    """满200减30 / 30 off orders of 200 or more; 无门槛减5 / 5 off, no minimum."""
    if discount is None:
        return ""
    if not threshold:
        if lang == "zh":
            return f"无门槛减{_money(discount)}"
        return f"{_money(discount)} off, no minimum"
    if lang == "zh":
        return f"满{_money(threshold)}减{_money(discount)}"
    return f"{_money(discount)} off orders of {_money(threshold)} or more"


def deadline_label(expires: dt.datetime | None, lang: Language) -> str:
    """The coupon's last valid day: 3月15日 / 2024-03-15."""
    if expires is None:
        return ""
    return f"{expires.month}月{expires.day}日" if lang == "zh" else expires.date().isoformat()


def mask_email(value: str | None) -> str | None:
    """alice@example.com → a***@example.com (SPEC §6: personal data masked in output)."""
    if not value:
        return value
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(value: str | None) -> str | None:
    """13812345678 → 138****5678."""
    if not value:
        return value
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return "***"
    return f"{digits[:3]}****{digits[-4:]}"


def mask_name(value: str | None) -> str | None:
    """张三丰 → 张**; Alice → A****."""
    if not value:
        return value
    return value[:1] + "*" * max(len(value) - 1, 1)


def mask_contact(value: str | None) -> str | None:
    """Mask an email or a phone number, whichever it looks like."""
    if value and "@" in value:
        return mask_email(value)
    return mask_phone(value)
