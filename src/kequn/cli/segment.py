"""``kequn segment``: list, show, create, count, members, explain, snapshot, history, delete,
sql. Every command that prints data takes ``--as-of`` and ``--json``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

import kequn
from kequn import segments as sg
from kequn.cli._app import AsOfOpt, JsonOpt, WorkspaceOpt, echo_json, make_app
from kequn.cli._app import app as root
from kequn.errors import KequnError, RuleSyntaxError
from kequn.segments.export import ExportFormat, member_table, write_members

app = make_app("segment", "Customer segments 人群: list, define, count, export, explain, "
                          "track over time.")
root.add_typer(app, name="segment")

RuleArg = Annotated[str, typer.Argument(
    help="A segment id (interest, vip_pyramid.supreme) or a rule in quotes. 人群编号或规则")]
IdArg = Annotated[str, typer.Argument(help="Segment id. 人群编号")]


class SegmentCliError(KequnError, ValueError):
    """Command-line arguments that do not fit together."""


@contextlib.contextmanager
def _positioned() -> Iterator[None]:
    """Rule errors with the line of the rule and a caret, since the terminal shows one line."""
    try:
        yield
    except RuleSyntaxError as exc:
        where = f" (line {exc.line}, col {exc.col})" if f"line {exc.line}," not in str(exc) else ""
        snippet = "\n".join("  " + line for line in exc.snippet.splitlines())
        msg = f"{exc}{where}" + (f"\n{snippet}" if exc.snippet else "")
        raise RuleSyntaxError(msg, line=exc.line, col=exc.col, snippet=exc.snippet,
                              expected=exc.expected, suggestion=exc.suggestion) from None


def _sizes(ev: sg.Evaluator, seg: sg.SegmentDef) -> dict[str, Any]:
    try:
        if seg.is_family:
            labels = ev.sizes(seg.id)
            return {"size": sum(labels.values()), "labels": labels}
        return {"size": ev.count(seg.id)}
    except KequnError as exc:
        return {"size": None, "error": str(exc)}


@app.command("list")
def list_command(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False,
                 sizes: Annotated[bool, typer.Option(
                     "--sizes/--no-sizes", help="Count the members. 统计人数")] = True) -> None:
    """Built-in and saved segments, with their sizes. 列出人群及人数"""
    with kequn.open(workspace, read_only=True) as ws:
        segs = sg.list_segments(ws)
        rows = []
        ev = sg.Evaluator(ws, as_of) if sizes else None
        if ev is not None:
            ev.prepare([s.id for s in segs])
        for seg in segs:
            row = {"id": seg.id, "origin": seg.origin, "name_zh": seg.name_zh,
                   "name_en": seg.name_en, "family": seg.is_family}
            if ev is not None:
                row.update(_sizes(ev, seg))
            rows.append(row)
        if ev is not None:
            ev.close()
    if as_json:
        echo_json({"as_of": ev.as_of.isoformat() if ev else None, "segments": rows})
        return
    if ev is not None:
        typer.echo(f"as of 截至 {ev.as_of:%Y-%m-%d %H:%M}")
    for row in rows:
        size = "" if not sizes else (f"{row['size']:>9,}" if row.get("size") is not None
                                     else "    error")
        origin = "saved" if row["origin"] == "saved" else "     "
        names = " / ".join(n for n in (row["name_zh"], row["name_en"]) if n)
        typer.echo(f"{row['id']:<22} {size} {origin}  {names}")
        for label, n in row.get("labels", {}).items():
            typer.echo(f"  .{label:<19} {n:>9,}")
        if row.get("error"):
            typer.echo(f"  {row['error']}")


@app.command("show")
def show_command(seg_id: IdArg, workspace: WorkspaceOpt = None,
                 as_json: JsonOpt = False) -> None:
    """A segment's rule, names and labels. 查看人群定义"""
    with kequn.open(workspace, read_only=True) as ws:
        seg = sg.get_segment(ws, seg_id)
    if as_json:
        echo_json(seg.to_dict())
        return
    names = " / ".join(n for n in (seg.name_zh, seg.name_en) if n)
    typer.echo(f"{seg.id}  {names}  ({seg.origin}"
               f"{', overrides the built-in' if seg.overrides_builtin else ''})")
    if seg.description:
        typer.echo(seg.description)
    if seg.labels:
        typer.echo("labels 标签: " + ", ".join(
            f"{seg.id}.{n} ({seg.labels.get(n, ('', ''))[0]})" for n in seg.label_names))
    typer.echo("")
    typer.echo(seg.text.rstrip("\n"))


@app.command("create")
def create_command(
    seg_id: IdArg,
    text: Annotated[str | None, typer.Argument(help="The rule. 规则")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f",
                    help="Read the rule (text, or .json) from a file. 从文件读取")] = None,
    name_zh: Annotated[str | None, typer.Option("--name-zh", help="中文名")] = None,
    name_en: Annotated[str | None, typer.Option("--name-en", help="English name")] = None,
    description: Annotated[str | None, typer.Option("--description", help="说明")] = None,
    replace: Annotated[bool, typer.Option("--replace",
                       help="Change an existing segment. 覆盖已有人群")] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Save a segment from a rule (or copy a built-in one and change it). 新建人群"""
    if (text is None) == (file is None):
        msg = "give the rule either as an argument or with --file, not both"
        raise SegmentCliError(msg)
    rule_text = file.read_text(encoding="utf-8") if file is not None else text
    with _positioned(), kequn.open(workspace) as ws:
        seg = sg.save_segment(ws, seg_id, rule_text or "", name_zh=name_zh, name_en=name_en,
                              description=description, replace=replace)
    if as_json:
        echo_json(seg.to_dict())
    else:
        typer.echo(f"saved 已保存 {seg.id}")


@app.command("count")
def count_command(rule: RuleArg, workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
                  as_json: JsonOpt = False) -> None:
    """How many customers are in a segment (per label for a family). 人数"""
    with _positioned(), kequn.open(workspace, read_only=True) as ws:
        ev = sg.Evaluator(ws, as_of)
        target = ev.target(rule)
        labels = ev.sizes(rule) if target.is_family else None
        total = sum(labels.values()) if labels is not None else ev.count(rule)
    if as_json:
        out: dict[str, Any] = {"as_of": ev.as_of.isoformat(), "count": total}
        if labels is not None:
            out["labels"] = labels
        echo_json(out)
        return
    typer.echo(f"{total}")
    for label, n in (labels or {}).items():
        typer.echo(f"  {label:<20} {n}")


@app.command("members")
def members_command(
    rule: RuleArg,
    fmt: Annotated[str, typer.Option("--format", help="csv, json or parquet. 格式")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o",
                      help="Write to this file. 输出文件")] = None,
    with_attributes: Annotated[bool, typer.Option(
        "--with-attributes", help="Add the customers' columns. 附带客户属性")] = False,
    show_personal: Annotated[bool, typer.Option(
        "--show-personal", help="Do not mask phone, email, name, address, birthday. "
                                "显示个人信息")] = False,
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The members of a segment, as csv (default), json or parquet. 导出人群"""
    chosen: ExportFormat = "json" if as_json else fmt  # type: ignore[assignment]
    if chosen not in ("csv", "json", "parquet"):
        msg = f"unknown format {fmt!r}; use csv, json or parquet"
        raise SegmentCliError(msg)
    with _positioned(), kequn.open(workspace, read_only=True) as ws:
        members = sg.evaluate(ws, rule, as_of=as_of).order_by("customer_id")
        table = member_table(ws, members, with_attributes=with_attributes,
                             show_personal=show_personal)
        text = write_members(table, chosen, output)
    if text is not None:
        typer.echo(text, nl=False)


@app.command("explain")
def explain_command(rule: RuleArg,
                    customer_id: Annotated[str, typer.Argument(help="Customer id. 客户编号")],
                    workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
                    as_json: JsonOpt = False) -> None:
    """Each condition with this customer's value and whether it held. 解释为何入选"""
    with _positioned(), kequn.open(workspace, read_only=True) as ws:
        result = sg.explain(ws, rule, customer_id, as_of=as_of)
    if as_json:
        echo_json(result.to_dict())
        return
    verdict = "in 在人群中" if result.member else "not in 不在人群中"
    if result.label:
        verdict += f" (label 标签 {result.label})"
    typer.echo(f"{result.customer_id}: {verdict}, as of 截至 {result.as_of:%Y-%m-%d %H:%M}")
    for line in result.lines:
        mark = {True: "✓", False: "✗", None: " "}[line.held]
        value = "" if line.value is None else f"   [value 值: {line.to_dict()['value']}]"
        typer.echo(f"{'  ' * line.depth}{mark} {line.text}{value}")


@app.command("snapshot")
def snapshot_command(
    seg_ids: Annotated[list[str] | None, typer.Argument(
        help="Segments to snapshot (default: every saved segment). 人群编号")] = None,
    workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, as_json: JsonOpt = False,
) -> None:
    """Store who is in each segment now, to follow it over time. 保存人群快照"""
    with kequn.open(workspace) as ws:
        snaps = sg.take_snapshots(ws, seg_ids or None, as_of=as_of)
    if as_json:
        echo_json([s.to_dict() for s in snaps])
        return
    if not snaps:
        typer.echo("no saved segments to snapshot; name some: kequn segment snapshot interest")
    for s in snaps:
        typer.echo(f"{s.segment_id:<22} {s.members:>9,}  as of 截至 {s.as_of:%Y-%m-%d %H:%M}")


@app.command("history")
def history_command(
    seg_id: IdArg,
    since: Annotated[str | None, typer.Option(
        "--from", help="Compare from this snapshot (id or as_of date). 起始快照")] = None,
    until: Annotated[str | None, typer.Option(
        "--to", help="Compare to this snapshot (id or as_of date). 结束快照")] = None,
    workspace: WorkspaceOpt = None, as_json: JsonOpt = False,
) -> None:
    """Size over time, and who entered and left between two snapshots. 人群变化"""
    with kequn.open(workspace, read_only=True) as ws:
        history = sg.segment_history(ws, seg_id)
        if not history:
            sg.get_segment(ws, seg_id)  # an unknown id is a clearer error than "no snapshots"
        changes = None
        if len(history) >= 2 or (since and until):
            changes = sg.snapshot_changes(ws, seg_id, since, until)
    if as_json:
        echo_json({"segment_id": seg_id, "snapshots": [s.to_dict() for s in history],
                   "changes": changes.to_dict() if changes else None})
        return
    if not history:
        typer.echo(f"no snapshots of {seg_id} yet; take one: kequn segment snapshot {seg_id}")
        return
    for s in history:
        typer.echo(f"{s.as_of:%Y-%m-%d %H:%M}  {s.members:>9,}  {s.snapshot_id}")
    if changes is not None:
        typer.echo(f"{changes.before.as_of:%Y-%m-%d} → {changes.after.as_of:%Y-%m-%d}: "
                   f"+{len(changes.entered)} entered 进入, -{len(changes.left)} left 离开"
                   + (f", {len(changes.moved)} changed label 换标签" if changes.moved else ""))
        for title, ids in (("entered 进入", changes.entered), ("left 离开", changes.left)):
            if ids:
                shown = ", ".join(ids[:20]) + (f" … (+{len(ids) - 20})" if len(ids) > 20 else "")
                typer.echo(f"  {title}: {shown}")


@app.command("delete")
def delete_command(seg_id: IdArg, force: Annotated[bool, typer.Option(
        "--force", help="Delete even if other segments use it. 强制删除")] = False,
                   workspace: WorkspaceOpt = None) -> None:
    """Delete a saved segment (a built-in one comes back if you had replaced it). 删除人群"""
    with kequn.open(workspace) as ws:
        sg.delete_segment(ws, seg_id, force=force)
    typer.echo(f"deleted 已删除 {seg_id}")


@app.command("sql")
def sql_command(rule: RuleArg, workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
                dialect: Annotated[str, typer.Option("--dialect",
                                   help="SQL dialect (duckdb, spark, ...). SQL方言")] = "duckdb",
                ) -> None:
    """The SQL that finds a segment's members. 查看 SQL"""
    with _positioned(), kequn.open(workspace, read_only=True) as ws:
        typer.echo(sg.sql(ws, rule, as_of=as_of, dialect=dialect))
