"""Channels behind one interface: list export, email (SMTP), webhook and SMS.

:data:`CHANNELS` maps each name to its class; :func:`make_channel` builds one from the
workspace's campaign settings and a campaign's channel options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kequn.campaigns.channels.base import Channel, Message
from kequn.campaigns.channels.email import EmailChannel, EmailOptions
from kequn.campaigns.channels.export import ExportChannel, ExportOptions
from kequn.campaigns.channels.sms import SmsChannel, SmsOptions
from kequn.campaigns.channels.webhook import WebhookChannel, WebhookOptions
from kequn.campaigns.errors import CampaignError
from kequn.campaigns.settings import CampaignSettings

__all__ = ["CHANNELS", "OPTIONS", "Channel", "Message", "contact_field", "make_channel"]

CHANNELS: dict[str, type[Any]] = {
    "export": ExportChannel,
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "sms": SmsChannel,
}

OPTIONS: dict[str, type[BaseModel]] = {
    "export": ExportOptions,
    "email": EmailOptions,
    "webhook": WebhookOptions,
    "sms": SmsOptions,
}


def _channel_class(name: str) -> type[Any]:
    try:
        return CHANNELS[name]
    except KeyError:
        msg = f"unknown channel {name!r}; choose one of {', '.join(CHANNELS)}"
        raise CampaignError(msg) from None


def make_channel(name: str, settings: CampaignSettings, options: dict[str, Any] | None = None,
                 *, target: str, workspace_dir: Path | None = None, **extra: Any) -> Channel:
    """The channel ``name`` configured by ``settings`` and per-campaign ``options``.

    ``workspace_dir`` anchors the list export's relative directories (the workspace file's
    folder), so exports land beside the shop's data.
    """
    cls = _channel_class(name)
    if name == "export" and workspace_dir is not None:
        extra["base_dir"] = workspace_dir
    try:
        return cls(settings, dict(options or {}), target=target, **extra)  # type: ignore[no-any-return]
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = f"{name} channel option {'.'.join(map(str, err['loc']))}: {err['msg'].lower()}"
        raise CampaignError(msg) from None


def contact_field(name: str, options: dict[str, Any] | None = None) -> str | None:
    """The customers column the channel needs, without connecting to anything."""
    cls = _channel_class(name)
    option = (options or {}).get("contact")
    if name in ("export", "webhook"):
        return option if option in ("phone", "email") else None
    return cls.contact_field  # type: ignore[no-any-return]
