"""The one interface every channel implements, and the name → class table.

A channel turns a rendered :class:`Message` into a delivery (a row in a file, an email, an
HTTP request). It knows nothing about campaigns, guards or bookkeeping: the send loop decides
who gets what and records the outcome; the channel only delivers or raises
:class:`~kequn.campaigns.errors.ChannelError` saying what went wrong.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from kequn.campaigns.messages import Language

__all__ = ["Channel", "Message"]


@dataclass(frozen=True)
class Message:
    """One rendered message for one recipient."""

    idem_key: str
    """Idempotency key: campaign, trigger event and customer; the same on every retry."""
    campaign_id: str
    customer_id: str
    contact: str | None
    """Email address or phone number (the channel's contact field), never logged unmasked."""
    language: Language
    subject: str
    body: str
    coupon_code: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    """The template fields' values (coupon, deadline...), for providers with server templates."""
    created_at: dt.datetime | None = None


class Channel(Protocol):
    """What the send loop needs from a channel."""

    name: str
    """Registered name ('export', 'email', 'webhook', 'sms')."""
    contact_field: str | None
    """customers column a recipient must have ('email', 'phone'), or None."""
    idempotent: bool
    """Whether the receiver de-duplicates by idempotency key, so an in-doubt send can repeat."""

    def open(self) -> None:
        """Connect (called once before the first message of a send)."""
        ...

    def deliver(self, message: Message) -> None:
        """Deliver one message or raise ChannelError."""
        ...

    def close(self) -> None:
        """Flush and disconnect (called once, also after an error)."""
        ...
