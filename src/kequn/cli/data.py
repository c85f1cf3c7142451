"""Commands that bring data in and show what is there: load, status, quarantine, config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

import kequn
from kequn.cli._app import AsOfOpt, JsonOpt, WorkspaceOpt, app, echo_json
from kequn.errors import KequnError
from kequn.ingest.load import LoadReport
from kequn.ingest.mapping import preset_names


class CliError(KequnError, ValueError):
    """A command-line argument that cannot be used as given."""


@app.command("load")
def load_command(
    table: Annotated[str, typer.Argument(help="customers, products, orders, order_items, "
                                              "events or marketing_costs. 表名")],
    files: Annotated[list[Path], typer.Argument(help="CSV/TSV/Parquet/JSON Lines/.xlsx files, "
                                                     "optionally .gz. 数据文件")],
    mapping: Annotated[Path | None, typer.Option("--mapping", "-m",
                       help="TOML column mapping file. 字段映射文件")] = None,
    preset: Annotated[str | None, typer.Option(
        "--preset", "-p", help=f"A shipped mapping: {', '.join(preset_names())}. 预设映射")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load files into a table: bad rows go to the quarantine, reloading changes nothing.
    加载数据文件。"""
    with kequn.open(workspace) as ws:
        report = ws.load(table, files, mapping=mapping, preset=preset, progress=not as_json)
    if as_json:
        echo_json(report.to_dict())
    else:
        _print_report(report)


def _print_report(report: LoadReport) -> None:
    n = len(report.files)
    typer.echo(f"{report.table} ← {n} file{'s' if n > 1 else ''} in {report.seconds:.1f}s")
    typer.echo(f"  read 读取 {report.read:,} · stored 入库 {report.stored:,} "
               f"({report.inserted:,} new 新增, {report.unchanged:,} unchanged 未变"
               f"{f', {report.merged:,} merged 合并' if report.merged else ''}) · "
               f"updated 更新 {report.updated:,} · quarantined 隔离 {report.quarantined:,}")
    if report.customers_added:
        typer.echo(f"  {report.customers_added:,} customers added from their ids "
                   "(按编号新建客户)")
    for f in report.files:
        if f.ignored_columns:
            typer.echo(f"  {Path(f.file).name}: ignored columns 忽略的列: "
                       f"{', '.join(f.ignored_columns)}")
        if f.custom_attributes:
            typer.echo(f"  {Path(f.file).name}: custom attributes 自定义属性: "
                       f"{', '.join(f.custom_attributes)}")
    if report.reasons:
        typer.echo("  first reasons 主要原因:")
        for reason, rows in report.reasons:
            typer.echo(f"    {rows:>8,} × {reason}")
        typer.echo(f"  see them 查看: kequn quarantine --table {report.table}")


@app.command("status")
def status_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Rows per table, date ranges, last loads and quarantine counts. 工作区概况"""
    with kequn.open(workspace, read_only=True) as ws:
        tables = ws.status()
        loads = ws.loads().limit(5).to_pyarrow().to_pylist()
        q = ws.con.table("kq_quarantine")
        per_table = q.group_by("table_name").aggregate(n=q.count()).to_pyarrow().to_pylist()
        counts = {row["table_name"]: row["n"] for row in per_table}
        info = {
            "workspace": str(ws.path or ":memory:"),
            "time_zone": ws.settings.time_zone,
            "tables": {t.table: {"rows": t.rows, "first": t.first, "last": t.last}
                       for t in tables},
            "quarantine": {name: int(counts.get(name, 0)) for name in (t.table for t in tables)},
            "last_loads": [{k: v for k, v in row.items() if k in (
                "load_id", "table_name", "started_at", "read", "stored", "updated",
                "quarantined")} for row in loads],
        }
    if as_json:
        echo_json(info)
        return
    typer.echo(f"workspace 工作区: {info['workspace']}  (time zone 时区 {info['time_zone']})")
    typer.echo(f"{'table 表':<18}{'rows 行数':>14}  {'from 起':<20}{'to 止':<20}"
               f"{'quarantined 隔离':>16}")
    for t in tables:
        typer.echo(f"{t.table:<18}{t.rows:>14,}  {(t.first or '-')[:19]:<20}"
                   f"{(t.last or '-')[:19]:<20}{info['quarantine'][t.table]:>16,}")
    if loads:
        typer.echo("last loads 最近加载:")
        for row in info["last_loads"]:
            typer.echo(f"  {str(row['started_at'])[:19]}  {row['table_name']:<16} read "
                       f"{row['read']:,} stored {row['stored']:,} updated {row['updated']:,} "
                       f"quarantined {row['quarantined']:,}")
    elif not any(t.rows for t in tables):
        typer.echo("empty: try 'kequn demo' or 'kequn load orders FILE'. 尚无数据")


@app.command("quarantine")
def quarantine_command(
    table: Annotated[str | None,
                     typer.Option("--table", "-t", help="Only this table. 表名")] = None,
    load_id: Annotated[str | None,
                       typer.Option("--load", help="Only this load id. 加载编号")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to print. 显示行数")] = 20,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Export all matching rows to .csv, .parquet or .json. 导出")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rows that broke a rule, with file, line, column and reason. 隔离区（被拒绝的行）"""
    with kequn.open(workspace, read_only=True) as ws:
        q = ws.quarantine(table)
        if load_id is not None:
            q = q.filter(q.load_id == load_id)
        if output is not None:
            writers = {".csv": q.to_csv, ".parquet": q.to_parquet}
            suffix = output.suffix.lower()
            if suffix == ".json":
                rows = q.to_pyarrow().to_pylist()
                output.write_text(json.dumps(rows, ensure_ascii=False, default=str, indent=1),
                                  encoding="utf-8")
            elif suffix in writers:
                writers[suffix](output)
            else:
                msg = f"cannot export to {output.name!r}; use a .csv, .parquet or .json file name"
                raise CliError(msg)
            total = q.count().to_pyarrow().as_py()
            typer.echo(f"{total:,} quarantined rows written to {output} (已导出)")
            return
        total = q.count().to_pyarrow().as_py()
        rows = q.limit(limit).to_pyarrow().to_pylist()
    if as_json:
        echo_json({"total": total, "rows": rows})
        return
    if not total:
        typer.echo("the quarantine is empty. 隔离区为空")
        return
    for row in rows:
        typer.echo(f"{Path(row['file']).name}:{row['line']}  [{row['table_name']}"
                   f"{'.' + row['column_name'] if row['column_name'] else ''}]  {row['reason']}")
    if total > len(rows):
        typer.echo(f"… {total - len(rows):,} more; export all with --output FILE.csv "
                   f"(共 {total:,} 行)")


@app.command("optimize")
def optimize_command(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Store the events and orders in time order, so time windows read only their part.
    按时间重排事件与订单表，加快时间窗口查询。

    Worth it once after loading a large history that is not in time order (loads day by day
    stay in order); a table already in order is left alone.
    """
    from kequn.storage.layout import optimize

    with kequn.open(workspace) as ws:
        done = optimize(ws)
    if as_json:
        echo_json([d.to_dict() for d in done])
        return
    for d in done:
        what = (f"rewritten in time order in {d.seconds:.1f}s" if d.rewritten
                else "already in time order, left as it is")
        typer.echo(f"{d.table}: {d.rows:,} rows in {d.blocks:,} blocks, each spanning "
                   f"{d.span_before:.1%} of the time range → {d.span_after:.1%}; {what}. "
                   f"{'已按时间重排' if d.rewritten else '已是时间顺序'}")


@app.command("refresh")
def refresh_command(
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    full: Annotated[bool, typer.Option("--full", help="Rebuild from scratch. 全量重建")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bring the kept feature table and every built-in group's members to as_of, merging the
    new data instead of reading history again (the first time, or after history changed, a
    full build). 增量刷新特征表与内置人群。"""
    from kequn.storage.incremental import FeatureStore

    with kequn.open(workspace) as ws:
        store = FeatureStore(ws)
        moment = ws.resolve_as_of(as_of)
        report = store.build(moment, reason="asked for") if full else store.refresh(moment)
    if as_json:
        echo_json({"as_of": report.as_of.isoformat(), "mode": report.mode,
                   "previous_as_of": report.previous_as_of.isoformat()
                   if report.previous_as_of else None,
                   "seconds": round(report.seconds, 3), "customers": report.customers,
                   "reason": report.reason, "merged": list(report.merged),
                   "dirty": report.dirty, "volatile": report.volatile,
                   "timings": report.timings})
        return
    how = ("merged the new data 增量刷新" if report.mode == "incremental"
           else f"built in full 全量构建 ({report.reason})")
    typer.echo(f"features and {len(store.segments)} groups at {report.as_of:%Y-%m-%d %H:%M}: "
               f"{how}, {report.seconds:.1f}s, {report.customers:,} customers")
    if report.mode == "incremental":
        most = max(report.dirty.values(), default=0)
        typer.echo(f"{len(report.merged)} measures merged from the new and leaving rows; "
                   f"at most {most:,} customers recomputed per column 重算客户数")


@app.command("config")
def config_command(
    key: Annotated[str | None, typer.Argument(help="Setting name. 设置项")] = None,
    value: Annotated[str | None, typer.Argument(help="New value (omit to show). 新值")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show or change workspace settings, e.g. 'kequn config time_zone Asia/Shanghai'. 工作区设置"""
    with kequn.open(workspace) as ws:
        settings = ws.settings.model_dump()
        if key is not None and key not in settings:
            msg = f"unknown setting {key!r}; choose one of {', '.join(settings)}"
            raise CliError(msg)
        if key is not None and value is not None:
            parsed: object = None if value.lower() in ("none", "null", "") else value
            if isinstance(parsed, str) and parsed.isdigit():
                parsed = int(parsed)
            try:
                ws.set(**{key: parsed})
            except ValueError as exc:
                msg = f"{key}: {_first_error(exc)}"
                raise CliError(msg) from None
            settings = ws.settings.model_dump()
    shown = settings if key is None else {key: settings[key]}
    if as_json:
        echo_json(shown)
    else:
        for name, val in shown.items():
            typer.echo(f"{name} = {val}")


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first.get("msg", exc)).removeprefix("Value error, ")
    return str(exc)
