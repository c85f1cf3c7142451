"""Campaigns 定向运营 and automations (SPEC §5): create, preview, send, report; the audit."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from kequn import campaigns as cp
from kequn.api.deps import (
    Admin,
    Analyst,
    AsOfQuery,
    LimitQuery,
    OffsetQuery,
    ReadWs,
    Viewer,
    WriteWs,
)
from kequn.api.pages import Page, page_of, page_of_list
from kequn.api.privacy import erase_customer, log_personal
from kequn.campaigns.guards import SKIP_REASONS
from kequn.campaigns.sending import send_counts
from kequn.schema.conventions import parse_as_of

router = APIRouter(prefix="/api", tags=["campaigns"])

_EXAMPLE = {"name": "回流券 interest win-back", "segment": "interest",
            "coupon": {"threshold": 200, "discount": 30, "validity_days": 10},
            "channel": "export", "holdout": 0.1}


class SendRequest(BaseModel):
    """Options of a send."""

    now: bool = Field(default=False, description="Send a scheduled campaign already.")
    resend_unknown: bool = False
    retry_failed: bool = False


def summary(ws: Any, c: cp.Campaign) -> dict[str, Any]:
    """A campaign as the list shows it (its coupon, not its code salt)."""
    spec = c.spec
    return {
        "campaign_id": c.campaign_id, "name": c.name, "status": c.status,
        "channel": spec.channel, "segment": spec.segment, "holdout": spec.holdout,
        "coupon": spec.coupon.model_dump() if spec.coupon else None,
        "points": spec.points, "schedule": spec.schedule.kind,
        "next_run_at": c.next_run_at, "runs": c.runs, "created_at": c.created_at,
        "created_by": c.created_by, "sent": send_counts(ws, c.campaign_id).get("sent", 0),
    }


def detail(ws: Any, c: cp.Campaign) -> dict[str, Any]:
    """A campaign with its spec, recipients per group, sends per status and warnings."""
    groups = dict(ws.raw.execute(
        "SELECT grp, count(*) FROM kq_recipients WHERE campaign_id = ? GROUP BY grp",
        [c.campaign_id]).fetchall())
    return {**summary(ws, c), "spec": json.loads(c.spec.model_dump_json(exclude={"code_salt"})),
            "recipients": groups, "sends": send_counts(ws, c.campaign_id),
            "warnings": c.spec.warnings()}


def preview_dict(preview: cp.Preview) -> dict[str, Any]:
    """The preview with each guard's removals labelled in both languages."""
    data = preview.as_dict()
    data["removed_labels"] = {k: {"en": en, "zh": zh} for k, (en, zh) in SKIP_REASONS.items()}
    return data


@router.get("/campaigns", summary="Every campaign, oldest first", response_model=Page)
def list_campaigns(who: Viewer, ws: ReadWs, limit: LimitQuery = 50,
                   offset: OffsetQuery = 0) -> Page:
    """计划列表."""
    rows = [summary(ws, c) for c in cp.list_campaigns(ws)]
    return page_of_list(rows, limit=limit, offset=offset)


@router.post("/campaigns", summary="Create a campaign aimed at a segment", status_code=201)
def create_campaign(who: Analyst, ws: WriteWs,
                    body: Annotated[dict[str, Any], Body(examples=[_EXAMPLE])]) -> dict[str, Any]:
    """新建运营计划: name, segment (id or rule), coupon (满 threshold / 减 discount /
    validity_days), points, channel (export, email, webhook, sms), channel_options,
    template, language, schedule, holdout (default 0.1), as_of."""
    if "code_salt" in body:
        msg = "code_salt is chosen by kequn; leave it out"
        raise cp.CampaignError(msg)
    campaign = cp.create_campaign(ws, body, actor=who.actor)
    return detail(ws, campaign)


@router.get("/campaigns/summary", summary="Headline results of every campaign and automation")
def summarize(who: Viewer, ws: ReadWs, as_of: AsOfQuery = None) -> list[dict[str, Any]]:
    """效果汇总."""
    return cp.summarize_campaigns(ws, as_of=parse_as_of(as_of) if as_of else None)


@router.get("/campaigns/{campaign_id}", summary="A campaign: spec, recipients, sends")
def read_campaign(who: Viewer, ws: ReadWs, campaign_id: str) -> dict[str, Any]:
    """计划详情."""
    return detail(ws, cp.get_campaign(ws, campaign_id))


@router.post("/campaigns/{campaign_id}/preview",
             summary="Who would be sent, and how many each rule removes (sends nothing)")
def preview_campaign(who: Analyst, ws: WriteWs, campaign_id: str,
                     as_of: AsOfQuery = None) -> dict[str, Any]:
    """发送前预览 (sample contacts masked)."""
    preview = cp.preview_campaign(ws, campaign_id, actor=who.actor,
                                  as_of=parse_as_of(as_of) if as_of else None)
    return preview_dict(preview)


@router.post("/campaigns/{campaign_id}/send", summary="Freeze the recipients and send, once")
def send_campaign(who: Admin, ws: WriteWs, campaign_id: str,
                  body: SendRequest | None = None) -> dict[str, Any]:
    """发送 (admins only; safe to call again: nobody gets a message twice)."""
    opts = body or SendRequest()
    report = cp.send_campaign(ws, campaign_id, now=opts.now, resend_unknown=opts.resend_unknown,
                              retry_failed=opts.retry_failed, actor=who.actor)
    return report.as_dict()


@router.post("/campaigns/{campaign_id}/cancel", summary="Stop a campaign")
def cancel_campaign(who: Admin, ws: WriteWs, campaign_id: str) -> dict[str, Any]:
    """取消计划."""
    return detail(ws, cp.cancel_campaign(ws, campaign_id, actor=who.actor))


@router.get("/campaigns/{campaign_id}/report",
            summary="Recipients against the holdout: conversion, uplift, revenue, ROI")
def campaign_report(who: Viewer, ws: ReadWs, campaign_id: str, as_of: AsOfQuery = None,
                    window: Annotated[int | None, Query(ge=1, le=365,
                                                        description="Attribution days.")]
                    = None) -> dict[str, Any]:
    """效果报告."""
    report = cp.measure(ws, campaign_id, as_of=parse_as_of(as_of) if as_of else None,
                        window_days=window)
    return report.as_dict()


@router.get("/campaigns/{campaign_id}/recipients",
            summary="The frozen recipient list with each send's status", response_model=Page)
def campaign_recipients(who: Analyst, ws: WriteWs, campaign_id: str,
                        limit: LimitQuery = 50, offset: OffsetQuery = 0) -> Page:
    """收件人 (no contact data; logged in the audit)."""
    page = page_of(cp.recipients(ws, campaign_id), limit=limit, offset=offset)
    if not who.sees_personal:
        for row in page.items:  # a coupon code is a bearer credential: admins only
            row["coupon_code"] = None if row.get("coupon_code") is None else "***"
    log_personal(ws, who, "personal.view", f"campaign:{campaign_id}", rows=len(page.items),
                 what="campaign recipients")
    return page


# -- automations ------------------------------------------------------------------------------


def automation_dict(a: cp.Automation) -> dict[str, Any]:
    """An automation without its code salt."""
    return {"automation_id": a.automation_id, "enabled": a.enabled,
            "updated_at": a.updated_at, "last_run_at": a.last_run_at,
            "spec": json.loads(a.spec.model_dump_json(exclude={"code_salt"}))}


@router.get("/automations", summary="The automations: unpaid reminders, cart, win-back, ...")
def list_automations(who: Viewer, ws: ReadWs) -> list[dict[str, Any]]:
    """自动化营销."""
    return [automation_dict(a) for a in cp.list_automations(ws)]


@router.get("/automations/{automation_id}", summary="One automation")
def read_automation(who: Viewer, ws: ReadWs, automation_id: str) -> dict[str, Any]:
    """自动化详情."""
    return automation_dict(cp.get_automation(ws, automation_id))


@router.patch("/automations/{automation_id}", summary="Change an automation's settings")
def configure_automation(who: Admin, ws: WriteWs, automation_id: str,
                         body: Annotated[dict[str, Any], Body(examples=[{"holdout": 0.2}])],
                         ) -> dict[str, Any]:
    """修改自动化 (channel, channel_options, holdout, language, steps, labels)."""
    return automation_dict(cp.configure_automation(ws, automation_id, actor=who.actor, **body))


@router.post("/automations/{automation_id}/enable", summary="Turn an automation on")
def enable_automation(who: Admin, ws: WriteWs, automation_id: str) -> dict[str, Any]:
    """启用 (it sends from the next 'kequn run' tick)."""
    return automation_dict(cp.enable_automation(ws, automation_id, actor=who.actor))


@router.post("/automations/{automation_id}/disable", summary="Turn an automation off")
def disable_automation(who: Admin, ws: WriteWs, automation_id: str) -> dict[str, Any]:
    """停用."""
    return automation_dict(cp.disable_automation(ws, automation_id, actor=who.actor))


@router.get("/automations/{automation_id}/report", summary="An automation's measured effect")
def automation_report(who: Viewer, ws: ReadWs, automation_id: str,
                      as_of: AsOfQuery = None) -> dict[str, Any]:
    """自动化效果."""
    cp.get_automation(ws, automation_id)
    return cp.measure(ws, automation_id, as_of=parse_as_of(as_of) if as_of else None).as_dict()


# -- audit and personal data ----------------------------------------------------------------


@router.get("/audit", summary="The audit trail, newest first", response_model=Page)
def read_audit(who: Admin, ws: ReadWs,
               object: Annotated[str | None, Query(max_length=200)] = None,  # noqa: A002
               action: Annotated[str | None, Query(max_length=100,
                                                   description="An action prefix.")] = None,
               limit: LimitQuery = 100, offset: OffsetQuery = 0) -> Page:
    """审计日志 (admins only)."""
    return page_of(cp.read_audit(ws, obj=object, action=action, limit=None),
                   limit=limit, offset=offset)


@router.delete("/customers/{customer_id}/personal-data",
               summary="Erase a customer's personal data everywhere")
def erase(who: Admin, ws: WriteWs, customer_id: str) -> dict[str, Any]:
    """删除个人信息 (phone, email, name, address, birthday; quarantined raw rows)."""
    return {"customer_id": customer_id, "erased": erase_customer(ws, customer_id,
                                                                 actor=who.actor)}
