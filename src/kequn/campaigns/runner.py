"""One tick of ``kequn run``: enter automation triggers, send what is due, exactly once.

A tick is idempotent and self-contained, so cron, systemd timers or any scheduler can drive it
(``kequn run``), or kequn itself (``kequn run --every 5m``). Each tick first settles sends a
killed process left pending, then adds new automation entries, then sends due campaigns
(scheduled, recurring, or resumed after quiet hours) and pending automation messages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kequn.campaigns import audit
from kequn.campaigns.automations import (
    automation_context,
    enter_automation,
    list_automations,
    touch,
)
from kequn.campaigns.sending import deliver_pending, recover
from kequn.campaigns.service import due_campaigns, journal_for, send_campaign
from kequn.campaigns.settings import read_settings
from kequn.errors import KequnError

if TYPE_CHECKING:
    from kequn.campaigns.audit import Clock
    from kequn.workspace import Workspace

__all__ = ["TickReport", "run_tick"]


@dataclass
class TickReport:
    """What one tick did."""

    at: dt.datetime
    recovered: dict[str, int] = field(default_factory=dict)
    entered: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    automations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def sent(self) -> int:
        """Messages sent in this tick."""
        return (sum(c["delivery"]["sent"] for c in self.campaigns)
                + sum(a["sent"] for a in self.automations))

    def as_dict(self) -> dict[str, Any]:
        """Plain values for JSON and the audit trail."""
        return {"at": self.at.isoformat(), "recovered": self.recovered,
                "entered": self.entered, "campaigns": self.campaigns,
                "automations": self.automations, "errors": self.errors, "sent": self.sent()}


def run_tick(ws: Workspace, *, clock: Clock | None = None, actor: str | None = None,
             batch_size: int = 1000) -> TickReport:
    """Evaluate every enabled automation's triggers and send everything that is due."""
    tick = clock or audit.shop_clock(ws)
    settings = read_settings(ws)
    journal = journal_for(ws)
    report = TickReport(at=tick())
    report.recovered = recover(ws, journal)
    enabled = [a for a in list_automations(ws) if a.enabled]
    for automation in enabled:
        entered = enter_automation(ws, automation, report.at, settings=settings)
        if entered.total():
            report.entered[automation.automation_id] = entered.by_step
    for campaign in due_campaigns(ws, report.at):
        try:
            sent = send_campaign(ws, campaign.campaign_id, clock=tick, actor=actor,
                                 batch_size=batch_size)
        except KequnError as exc:  # one broken campaign does not stop the others
            report.errors.append(f"{campaign.campaign_id}: {exc}")
            continue
        report.campaigns.append(sent.as_dict())
    try:
        for automation in enabled:
            delivery = deliver_pending(ws, automation_context(automation), settings=settings,
                                       clock=tick, journal=journal, batch_size=batch_size)
            if delivery.sent or delivery.failed or delivery.unknown or delivery.skipped \
                    or delivery.remaining or delivery.aborted:
                report.automations.append(delivery.as_dict())
            touch(ws, automation, report.at)
    finally:
        journal.close()
    audit.record(ws, "run.tick", "kequn run", {
        "entered": {k: sum(s["entered"] for s in v.values()) for k, v in report.entered.items()},
        "campaigns": [c["campaign_id"] for c in report.campaigns],
        "sent": report.sent(), "errors": len(report.errors)}, actor=actor, at=tick())
    return report
