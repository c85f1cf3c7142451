"""Campaigns 定向运营 and automations (SPEC §5): target, hold out, send once, measure.

A campaign aims a benefit (a 满减 coupon, points) and a message at an audience — a segment or
any table of customer ids — through a channel (list export, email, webhook, SMS). When it
sends, the audience is frozen into a recipient list, a stable-hash holdout is kept out, and
opt-outs, unsubscribes, missing contacts, the frequency cap and quiet hours are honoured on
every message; each message leaves exactly once. Automations (催付, cart abandonment, win-back,
birthday care) enter customers as their triggers fire. After the attribution window,
:func:`measure` compares recipients with the holdout.

Examples
--------
>>> import ibis, kequn
>>> from kequn import campaigns
>>> ws = kequn.open(":memory:")
>>> c = campaigns.create_campaign(
...     ws, {"name": "回流券", "coupon": {"threshold": 200, "discount": 30}},
...     audience=ibis.memtable({"customer_id": ["c1", "c2"]}))
>>> c.spec.holdout
0.1
"""

from __future__ import annotations

from kequn.campaigns.audit import read_audit
from kequn.campaigns.automations import (
    Automation,
    AutomationSpec,
    configure_automation,
    disable_automation,
    enable_automation,
    get_automation,
    list_automations,
)
from kequn.campaigns.channels import CHANNELS, Channel, Message
from kequn.campaigns.errors import (
    CampaignError,
    CampaignNotFoundError,
    CampaignStateError,
    ChannelError,
)
from kequn.campaigns.measurement import CampaignReport, measure, summarize_campaigns
from kequn.campaigns.messages import Template
from kequn.campaigns.models import Campaign, CampaignSpec, Coupon, Schedule
from kequn.campaigns.runner import TickReport, run_tick
from kequn.campaigns.service import (
    Preview,
    SendReport,
    cancel_campaign,
    create_campaign,
    get_campaign,
    list_campaigns,
    plan_recipients,
    preview_campaign,
    recipients,
    send_campaign,
    unsubscribe,
    update_campaign,
)
from kequn.campaigns.settings import CampaignSettings, read_settings, write_settings
from kequn.campaigns.store import CAMPAIGN_TABLES, ensure_campaign_tables
from kequn.campaigns.targeting import audience_from, holdout_bucket, is_held_out
from kequn.campaigns.tiers import DEFAULT_PERKS, Perks, customer_perks, perks_table, value_tiers

__all__ = [
    "CAMPAIGN_TABLES", "CHANNELS", "DEFAULT_PERKS", "Automation", "AutomationSpec", "Campaign",
    "CampaignError", "CampaignNotFoundError", "CampaignReport", "CampaignSettings",
    "CampaignSpec", "CampaignStateError", "Channel", "ChannelError", "Coupon", "Message",
    "Perks", "Preview", "Schedule", "SendReport", "Template", "TickReport", "audience_from",
    "cancel_campaign", "configure_automation", "create_campaign", "customer_perks",
    "disable_automation", "enable_automation", "ensure_campaign_tables", "get_automation",
    "get_campaign", "holdout_bucket", "is_held_out", "list_automations", "list_campaigns",
    "measure", "perks_table", "plan_recipients", "preview_campaign", "read_audit",
    "read_settings", "recipients", "run_tick", "send_campaign", "summarize_campaigns",
    "unsubscribe", "update_campaign", "value_tiers", "write_settings",
]
