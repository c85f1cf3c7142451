"""``kequn campaign ...``, ``kequn automation ...``, ``kequn run`` and ``kequn audit``.

Every command opens the workspace for its piece of work and closes it, so ``kequn run
--every 5m`` leaves the workspace free between ticks. Contacts and names are masked in all
output; secrets are shown as '***'.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

import kequn
from kequn.campaigns import (
    CampaignError,
    audit,
    automations,
    measurement,
    runner,
    service,
)
from kequn.campaigns import (
    settings as csettings,
)
from kequn.campaigns.models import Campaign, parse_duration
from kequn.campaigns.tiers import customer_perks, perks_table
from kequn.cli._app import AsOfOpt, JsonOpt, WorkspaceOpt, echo_json, make_app
from kequn.cli._app import app as root
from kequn.schema.conventions import parse_as_of

app = make_app("campaign", "Targeted campaigns: create, preview, send once, measure. "
                           "定向运营：创建、预览、发送、效果")
automation_app = make_app("automation", "Triggered messages: 催付, cart abandonment, win-back, "
                                        "birthday. 自动化营销")
root.add_typer(app, name="campaign")
root.add_typer(automation_app, name="automation")

OptionsOpt = Annotated[list[str] | None, typer.Option(
    "--option", "-o", help="Channel option key=value (e.g. format=xlsx, contact=phone). "
                           "渠道选项")]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _options(pairs: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            msg = f"option {pair!r} is not key=value; e.g. --option format=xlsx"
            raise CampaignError(msg)
        out[key.strip()] = _value(value.strip())
    return out


def _coupon_arg(text: str) -> tuple[float, float]:
    """'200-30' (满200减30) or '0-5' (无门槛减5)."""
    parts = text.replace("减", "-").replace("满", "").split("-")
    try:
        threshold, discount = (float(p) for p in parts)
    except ValueError:
        msg = f"coupon {text!r} is not THRESHOLD-DISCOUNT; use e.g. 200-30 for 满200减30"
        raise CampaignError(msg) from None
    return threshold, discount


def _progress(done: int, total: int) -> None:
    step = max(total // 10, 1)
    if done == total or done // step != (done - 1) // step:
        typer.echo(f"  … {min(done, total):,}/{total:,}", err=True)


# -- campaign -------------------------------------------------------------------------------


@app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="Campaign name. 计划名称")],
    segment: Annotated[str | None, typer.Option("--segment", "-s",
                       help="Segment id or rule. 目标人群")] = None,
    customers: Annotated[Path | None, typer.Option(
        "--customers", help="CSV or Parquet file with a customer_id column. 客户名单文件")] = None,
    channel: Annotated[str, typer.Option("--channel", "-c", help="export, email, webhook or "
                                         "sms. 渠道")] = "export",
    option: OptionsOpt = None,
    coupon: Annotated[str | None, typer.Option("--coupon", help="THRESHOLD-DISCOUNT, e.g. "
                                               "200-30 for 满200减30. 优惠券")] = None,
    validity: Annotated[int, typer.Option("--validity", help="Coupon validity in days. "
                                          "有效天数")] = 10,
    quantity: Annotated[int | None, typer.Option("--quantity", help="Coupons issued. "
                                                 "发行张数")] = None,
    coupon_id: Annotated[str | None, typer.Option("--coupon-id", help="Platform coupon id "
                                                  "orders carry. 优惠券编号")] = None,
    points: Annotated[int | None, typer.Option("--points", help="Points given. 积分")] = None,
    holdout: Annotated[float, typer.Option("--holdout", help="Share kept out to measure "
                                           "(0 = none, on purpose). 对照组比例")] = 0.1,
    message_zh: Annotated[str | None, typer.Option("--message-zh", help="Message template "
                                                   "(中文), fields like {name} {coupon}.")] = None,
    message_en: Annotated[str | None, typer.Option("--message-en", help="Message template "
                                                   "(English).")] = None,
    subject_zh: Annotated[str | None, typer.Option("--subject-zh", help="Email subject.")] = None,
    subject_en: Annotated[str | None, typer.Option("--subject-en", help="Email subject.")] = None,
    language: Annotated[str | None, typer.Option("--language", help="zh or en when a "
                                                 "customer has none. 语言")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Send at this shop time. "
                                           "定时发送")] = None,
    every: Annotated[str | None, typer.Option("--every", help="Repeat every period, e.g. 7d. "
                                              "周期发送")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a campaign. 创建定向运营计划"""
    spec: dict[str, Any] = {"name": name, "segment": segment, "channel": channel,
                            "channel_options": _options(option), "holdout": holdout,
                            "language": language, "points": points}
    if coupon is not None:
        threshold, discount = _coupon_arg(coupon)
        spec["coupon"] = {"threshold": threshold, "discount": discount,
                          "validity_days": validity, "quantity": quantity,
                          "coupon_id": coupon_id}
    texts = {"zh": message_zh, "en": message_en, "subject_zh": subject_zh,
             "subject_en": subject_en}
    if any(texts.values()):
        from kequn.campaigns.messages import Template
        from kequn.campaigns.models import MESSAGE_ONLY_TEMPLATE

        base = (Template() if coupon is not None else MESSAGE_ONLY_TEMPLATE).model_dump()
        try:
            spec["template"] = Template(**{**base, **{k: v for k, v in texts.items() if v}})
        except ValueError as exc:
            raise CampaignError(str(exc).splitlines()[-1].removeprefix("  Value error, ")) \
                from None
    if at or every:
        spec["schedule"] = {"kind": "every" if every else "at",
                            "at": parse_as_of(at) if at else None, "every": every}
    with kequn.open(workspace) as ws:
        audience = ws.con.read_csv(customers) if customers and customers.suffix in (
            ".csv", ".gz", ".tsv") else ws.con.read_parquet(customers) if customers else None
        campaign = service.create_campaign(ws, spec, audience=audience)
    warnings = campaign.spec.warnings()
    if as_json:
        echo_json({**_summary(campaign), "warnings": warnings})
        return
    typer.echo(f"created 已创建 {campaign.campaign_id} · {campaign.name} · {campaign.status}")
    for w in warnings:
        typer.secho(f"warning 注意: {w}", fg=typer.colors.YELLOW, err=True)


def _summary(c: Campaign) -> dict[str, Any]:
    spec = c.spec
    return {
        "campaign_id": c.campaign_id, "name": c.name, "status": c.status,
        "channel": spec.channel, "segment": spec.segment, "holdout": spec.holdout,
        "coupon": spec.coupon.model_dump() if spec.coupon else None,
        "schedule": spec.schedule.kind,
        "next_run_at": c.next_run_at.isoformat() if c.next_run_at else None,
        "runs": c.runs, "created_at": c.created_at.isoformat(), "created_by": c.created_by,
    }


@app.command("preview")
def preview_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id. 计划编号")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who would be sent, and how many each rule removes — nothing is sent. 发送前预览"""
    with kequn.open(workspace) as ws:
        preview = service.preview_campaign(ws, campaign_id)
    data = preview.as_dict()
    if as_json:
        echo_json(data)
        return
    from kequn.campaigns.guards import SKIP_REASONS

    typer.echo(f"{preview.campaign_id} · {preview.name} · {preview.channel}")
    typer.echo(f"  {data['audience']:>10,}   audience 目标人群")
    typer.echo(f"− {data['holdout']:>10,}   holdout 对照组 (receives nothing 不发送)")
    for reason, n in data["removed"].items():
        en, zh = SKIP_REASONS[reason]
        typer.echo(f"− {n:>10,}   {en} {zh}")
    typer.echo(f"= {data['to_send']:>10,}   to send 将发送")
    if preview.quiet_now:
        typer.echo(f"  quiet hours now: sends wait until {preview.sends_from:%H:%M} "
                   f"(免打扰时段，{preview.sends_from:%H:%M} 后发送)")
    for w in preview.warnings:
        typer.secho(f"warning 注意: {w}", fg=typer.colors.YELLOW)
    for s in preview.sample:
        typer.echo(f"  e.g. {s['customer_id']} {s['contact'] or ''}: {s['message']}")


@app.command("send")
def send_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id. 计划编号")],
    now: Annotated[bool, typer.Option("--now", help="Send a scheduled campaign already. "
                                      "立即发送")] = False,
    resend_unknown: Annotated[bool, typer.Option(
        "--resend-unknown", help="Send again messages interrupted mid-send (may duplicate "
                                 "one). 重发状态未知的消息")] = False,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Send failed messages "
                                               "again. 重试失败")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Messages per committed "
                                            "batch. 每批条数")] = 1000,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Freeze the recipients and send, exactly once (safe to run again). 发送"""
    with kequn.open(workspace) as ws:
        report = service.send_campaign(
            ws, campaign_id, now=now, resend_unknown=resend_unknown, retry_failed=retry_failed,
            batch_size=batch_size, progress=None if as_json else _progress)
    data = report.as_dict()
    if as_json:
        echo_json(data)
        return
    d = report.delivery
    typer.echo(f"{campaign_id} · {report.status} · sent 已发送 {d.sent:,} · failed 失败 "
               f"{d.failed:,} · unknown 未知 {d.unknown:,} · skipped 跳过 "
               f"{sum(d.skipped.values()):,} · remaining 待发 {d.remaining:,}")
    if d.waiting_until:
        typer.echo(f"  quiet hours: the rest waits until {d.waiting_until:%Y-%m-%d %H:%M}; "
                   f"'kequn run' sends it (免打扰时段)")
    if d.aborted:
        typer.secho(f"  stopped 已停止: {d.aborted}", fg=typer.colors.RED, err=True)
    if report.totals.get("unknown"):
        typer.echo(f"  {report.totals['unknown']} message(s) may or may not have left when a "
                   f"send was interrupted; '--resend-unknown' sends them again")


@app.command("list")
def list_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """All campaigns. 计划列表"""
    with kequn.open(workspace) as ws:
        rows = []
        for c in service.list_campaigns(ws):
            counts = service.send_counts(ws, c.campaign_id)
            rows.append({**_summary(c), "sent": counts.get("sent", 0)})
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no campaigns yet 暂无计划; create one with 'kequn campaign create'")
    for r in rows:
        typer.echo(f"{r['campaign_id']}  {r['status']:<9}  {r['channel']:<7}  "
                   f"sent {r['sent']:>8,}  {r['name']}")


@app.command("show")
def show_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id. 计划编号")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A campaign's definition, runs and send counts. 计划详情"""
    with kequn.open(workspace) as ws:
        c = service.get_campaign(ws, campaign_id)
        counts = service.send_counts(ws, campaign_id)
        groups = dict(ws.raw.execute(
            "SELECT grp, count(*) FROM kq_recipients WHERE campaign_id = ? GROUP BY grp",
            [campaign_id]).fetchall())
    spec = json.loads(c.spec.model_dump_json(exclude={"code_salt"}))
    data = {**_summary(c), "spec": spec, "recipients": groups, "sends": counts,
            "warnings": c.spec.warnings()}
    if as_json:
        echo_json(data)
        return
    for key in ("campaign_id", "name", "status", "channel", "segment", "holdout", "schedule",
                "next_run_at", "runs", "created_at", "created_by"):
        typer.echo(f"{key:<12} {data[key]}")
    typer.echo(f"{'coupon':<12} {data['coupon']}")
    typer.echo(f"{'recipients':<12} {groups}")
    typer.echo(f"{'sends':<12} {counts}")


@app.command("report")
def report_command(
    campaign_id: Annotated[str | None, typer.Argument(
        help="Campaign or automation id (omit for a summary of all). 计划编号")] = None,
    window: Annotated[int | None, typer.Option("--window", help="Attribution window in days "
                                               "(default: the setting). 归因窗口")] = None,
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recipients against the holdout: conversion, revenue, coupons, uplift, ROI. 效果报告"""
    with kequn.open(workspace) as ws:
        if campaign_id is None:
            rows = measurement.summarize_campaigns(ws, as_of=as_of and parse_as_of(as_of))
            if as_json:
                echo_json(rows)
                return
            if not rows:
                typer.echo("nothing sent yet 暂无数据")
            for r in rows:
                typer.echo(f"{r['campaign_id']:<16} sent {r['sent']:>8,}  conv "
                           f"{_pct(r['conversion_target'])} vs {_pct(r['conversion_holdout'])}"
                           f"  uplift {_pct(r['uplift'])}  incr. revenue "
                           f"{_money(r['incremental_revenue'])}  ROI {_num(r['roi'])}  "
                           f"{r['name']}")
            return
        rep = measurement.measure(ws, campaign_id, as_of=as_of and parse_as_of(as_of),
                                  window_days=window)
    if as_json:
        echo_json(rep.as_dict())
        return
    t, h = rep.target, rep.holdout
    typer.echo(f"{rep.campaign_id} · {rep.name} · {rep.kind} · {rep.channel} · as of "
               f"{rep.as_of:%Y-%m-%d %H:%M} · {rep.window_days}-day window")
    typer.echo(f"{'':<28}{'recipients 发送组':>18}{'holdout 对照组':>18}")
    typer.echo(f"{'customers 人数':<28}{t.customers:>18,}{h.customers:>18,}")
    typer.echo(f"{'conversion 转化率':<28}{_pct(t.conversion):>18}{_pct(h.conversion):>18}")
    typer.echo(f"{'revenue/customer 人均收入':<28}{_money(t.revenue_per_customer):>18}"
               f"{_money(h.revenue_per_customer):>18}")
    typer.echo(f"coupon redemption 用券率 {_pct(rep.redemption_rate)} "
               f"({t.redeemed_orders} orders, cost {_money(rep.coupon_cost)})")
    if rep.conversion_uplift is not None and rep.conversion_ci is not None:
        lo, hi = rep.conversion_ci
        typer.echo(f"uplift 提升 {_pct(rep.conversion_uplift)} (95% CI {_pct(lo)} … {_pct(hi)})"
                   f" · P(effect > 0) {_pct(rep.prob_positive)}")
    if rep.incremental_revenue is not None and rep.incremental_revenue_ci is not None:
        lo, hi = rep.incremental_revenue_ci
        typer.echo(f"incremental revenue 增量收入 {_money(rep.incremental_revenue)} "
                   f"(95% CI {_money(lo)} … {_money(hi)})")
        typer.echo(f"incremental margin 增量毛利 {_money(rep.incremental_margin)} · ROI "
                   f"{_num(rep.roi)} (margin {rep.margin_rate:.0%}, messages "
                   f"{_money(rep.message_cost)})")
    for note in rep.notes:
        typer.secho(f"note: {note}", fg=typer.colors.YELLOW)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


@app.command("cancel")
def cancel_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id. 计划编号")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Stop a campaign: nothing more is sent. 取消计划"""
    with kequn.open(workspace) as ws:
        c = service.cancel_campaign(ws, campaign_id)
    typer.echo(f"{c.campaign_id} cancelled 已取消")


@app.command("edit")
def edit_command(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id. 计划编号")],
    changes: Annotated[list[str], typer.Argument(help="field=value, e.g. holdout=0.2. 修改项")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Change a campaign before it sends. 修改计划"""
    with kequn.open(workspace) as ws:
        c = service.update_campaign(ws, campaign_id, **_options(changes))
    typer.echo(f"{c.campaign_id} updated 已修改 ({', '.join(_options(changes))})")
    for w in c.spec.warnings():
        typer.secho(f"warning 注意: {w}", fg=typer.colors.YELLOW, err=True)


@app.command("unsubscribe")
def unsubscribe_command(
    customer_id: Annotated[str, typer.Argument(help="Customer id. 客户编号")],
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel "
                                                "(default all). 渠道")] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Add a customer to the unsubscribe list. 退订"""
    with kequn.open(workspace) as ws:
        service.unsubscribe(ws, customer_id, channel=channel)
    typer.echo(f"{customer_id} unsubscribed 已退订 ({channel or 'all channels 全部渠道'})")


@app.command("perks")
def perks_command(
    out: Annotated[Path | None, typer.Option("--out", help="Write every customer's tier and "
                                             "perks to a .csv or .xlsx file. 导出文件")] = None,
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Differentiated service: the tier → perks table, or every customer's perks. 差异化服务"""
    with kequn.open(workspace) as ws:
        table = perks_table()
        if out is None:
            if as_json:
                echo_json(table)
                return
            for row in table:
                typer.echo(f"{row['tier_zh']:<6} {row['share']:>4.0%}  {row['service']} · "
                           f"退换 {row['return_days']}天 · {row['shipping']} · "
                           f"{row['discount']:g} · {row['care']}")
            return
        rows = customer_perks(ws, ws.resolve_as_of(as_of))
        frame = rows.to_pandas()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".xlsx":
        frame.to_excel(out, index=False)
    else:
        frame.to_csv(out, index=False, encoding="utf-8-sig")
    counts = frame["tier"].value_counts().to_dict()
    if as_json:
        echo_json({"file": str(out), "customers": len(frame), "tiers": counts})
    else:
        typer.echo(f"{len(frame):,} customers → {out} ({counts})")


@app.command("config")
def config_command(
    key: Annotated[str | None, typer.Argument(help="Setting name. 设置项")] = None,
    value: Annotated[str | None, typer.Argument(
        help="New value; '-' asks for it without echo (for secrets); 'none' resets. 新值")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or change campaign settings (secrets print as ***). 营销设置"""
    with kequn.open(workspace) as ws:
        if key is not None and value is not None:
            if value == "-":
                value = typer.prompt(key, hide_input=True)
            parsed = None if value.lower() in ("none", "null") else _value(value)
            if isinstance(parsed, int | float) and key.endswith(("_host", "_user", "_from",
                                                                 "_id", "_name", "_code")):
                parsed = value
            csettings.write_settings(ws, **{key: parsed})
            audit.record(ws, "settings.change", f"campaign.{key}", {"key": key})
        shown = csettings.public_settings(csettings.read_settings(ws))
    if key is not None and key not in shown:
        msg = f"unknown campaign setting {key!r}; choose one of {', '.join(shown)}"
        raise CampaignError(msg)
    data = shown if key is None else {key: shown[key]}
    if as_json:
        echo_json(data)
    else:
        for name, val in data.items():
            typer.echo(f"{name} = {val}")


# -- automations ----------------------------------------------------------------------------


@automation_app.command("list")
def automation_list(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The automations and whether they run. 自动化列表"""
    with kequn.open(workspace) as ws:
        rows = [{"automation_id": a.automation_id, "label_zh": a.spec.label_zh,
                 "label_en": a.spec.label_en, "enabled": a.enabled, "channel": a.spec.channel,
                 "holdout": a.spec.holdout, "steps": [s.key for s in a.spec.steps],
                 "last_run_at": a.last_run_at.isoformat() if a.last_run_at else None}
                for a in automations.list_automations(ws)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = "on  开" if r["enabled"] else "off 关"
        typer.echo(f"{r['automation_id']:<16} {state}  {r['channel']:<7} steps "
                   f"{'/'.join(r['steps']):<10} {r['label_zh']} {r['label_en']}")


@automation_app.command("show")
def automation_show(
    automation_id: Annotated[str, typer.Argument(help="Automation id. 编号")],
    workspace: WorkspaceOpt = None,
) -> None:
    """An automation's definition (steps, benefits, templates) as JSON. 自动化详情"""
    with kequn.open(workspace) as ws:
        a = automations.get_automation(ws, automation_id)
        counts = service.send_counts(ws, automation_id)
    data = json.loads(a.spec.model_dump_json(exclude={"code_salt"}))
    echo_json({"enabled": a.enabled, **data, "sends": counts})


@automation_app.command("enable")
def automation_enable(
    automation_id: Annotated[str, typer.Argument(help="Automation id. 编号")],
    channel: Annotated[str | None, typer.Option("--channel", "-c", help="export, email, "
                                                "webhook or sms. 渠道")] = None,
    holdout: Annotated[float | None, typer.Option("--holdout", help="Share kept out. "
                                                  "对照组比例")] = None,
    option: OptionsOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Turn an automation on ('kequn run' then sends it). 开启自动化"""
    changes: dict[str, Any] = {}
    if channel is not None:
        changes["channel"] = channel
    if holdout is not None:
        changes["holdout"] = holdout
    if option:
        changes["channel_options"] = _options(option)
    with kequn.open(workspace) as ws:
        a = automations.enable_automation(ws, automation_id, **changes)
    typer.echo(f"{a.automation_id} enabled 已开启 · {a.spec.channel} · holdout "
               f"{a.spec.holdout:.0%}")
    if a.spec.holdout == 0:
        typer.secho("warning 注意: holdout is 0: nothing this automation does can be measured",
                    fg=typer.colors.YELLOW, err=True)


@automation_app.command("disable")
def automation_disable(
    automation_id: Annotated[str, typer.Argument(help="Automation id. 编号")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Turn an automation off. 关闭自动化"""
    with kequn.open(workspace) as ws:
        a = automations.disable_automation(ws, automation_id)
    typer.echo(f"{a.automation_id} disabled 已关闭")


# -- run and audit --------------------------------------------------------------------------


@root.command("run")
def run_command(
    every: Annotated[str | None, typer.Option("--every", help="Keep running, one tick per "
                                              "period (e.g. 5m). 周期运行")] = None,
    ticks: Annotated[int | None, typer.Option("--ticks", help="Stop after this many ticks. "
                                              "运行次数")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One tick: enter automation triggers and send what is due (cron-friendly). 运行一次调度"""
    period = parse_duration(every).total_seconds() if every else None
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    previous = signal.signal(signal.SIGTERM, _stop)  # finish the tick, then stop
    done = 0
    try:
        while True:
            started = time.monotonic()
            with kequn.open(workspace) as ws:  # closed between ticks: other commands can run
                report = runner.run_tick(ws)
            done += 1
            _print_tick(report, as_json)
            if period is None or stop["now"] or (ticks is not None and done >= ticks):
                return
            try:
                time.sleep(max(period - (time.monotonic() - started), 0))
            except KeyboardInterrupt:
                return
            if stop["now"]:
                return
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_tick(report: runner.TickReport, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, default=str))
        return
    entered = sum(sum(s["entered"] for s in steps.values()) for steps in report.entered.values())
    typer.echo(f"{report.at:%Y-%m-%d %H:%M:%S} tick: {entered} entered 进入自动化 · "
               f"{len(report.campaigns)} campaign(s) · {report.sent()} sent 已发送")
    for err in report.errors:
        typer.secho(f"  error: {err}", fg=typer.colors.RED, err=True)
    sys.stdout.flush()


@root.command("audit")
def audit_command(
    obj: Annotated[str | None, typer.Option("--object", help="Only this campaign or "
                                            "automation. 对象")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only actions starting so, "
                                               "e.g. campaign.send. 操作")] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most recent rows. 条数")] = 50,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Who created, changed, previewed and sent what, when, to how many. 操作审计"""
    with kequn.open(workspace) as ws:
        from kequn.campaigns.store import ensure_campaign_tables

        ensure_campaign_tables(ws.con)
        rows = audit.read_audit(ws, obj=obj, action=action, limit=limit).to_pyarrow().to_pylist()
    if as_json:
        echo_json([{**r, "detail": json.loads(r["detail"] or "{}")} for r in rows])
        return
    for r in rows:
        detail = json.loads(r["detail"] or "{}")
        brief = ", ".join(f"{k}={v}" for k, v in detail.items()
                          if isinstance(v, int | float | str) and k not in ("name",))
        typer.echo(f"{r['at']:%Y-%m-%d %H:%M:%S}  {r['actor']:<10} {r['action']:<20} "
                   f"{r['object']:<14} {brief[:120]}")

