"""``kequn demo``: generate the synthetic demo shop, load it and print what it holds."""

from __future__ import annotations

import time
import unicodedata
from pathlib import Path
from typing import Annotated, Any

import typer

import kequn
from kequn.cli._app import JsonOpt, WorkspaceOpt, echo_json
from kequn.cli._app import app as root
from kequn.config import workspace_path
from kequn.demo.generate import DemoError, generate_shop
from kequn.demo.summary import ShopSummary, summarize
from kequn.schema.tables import TABLES

DEMO_TIME_ZONE = "Asia/Shanghai"
DATA_DIR_NAME = "kequn-demo-data"
_GROUP_LABELS = {"active": "活跃", "sleeping": "睡眠", "pre_churn": "预流失", "churned": "流失"}
_NEXT = (
    ("kequn status", "what was loaded · 数据概况"),
    ("kequn segment list", "the built-in customer groups · 内置人群"),
    ("kequn report", "the operations report · 运营报告"),
    ("kequn serve", "the dashboard · 打开看板"),
)


@root.command("demo")
def demo_command(
    customers: Annotated[int, typer.Option(
        "--customers", min=1, help="Customers in the shop (about 10 orders and 100 events "
                                   "each). 客户数")] = 100_000,
    months: Annotated[int, typer.Option(
        "--months", min=1, max=120, help="Months of history. 月数")] = 18,
    seed: Annotated[int, typer.Option(
        "--seed", min=0, help="Random seed: the same seed gives the same shop. 随机种子")] = 0,
    workspace: WorkspaceOpt = None,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help=f"Where the Parquet files go (default: {DATA_DIR_NAME}/ next to "
                           "the workspace). 数据文件目录")] = None,
    serve: Annotated[bool, typer.Option(
        "--serve", help="End by serving the dashboard on the demo shop. 完成后打开看板")] = False,
    report: Annotated[bool, typer.Option(
        "--report/--no-report", help="End by writing the weekly report next to the workspace. "
                                     "生成运营周报")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Generate a realistic demo shop, load it into a new workspace and summarise it.

    生成演示店铺数据，加载到新的工作区并汇总。
    """
    path = workspace_path(workspace)
    _refuse_non_empty(path)
    folder = data_dir if data_dir is not None else path.parent / DATA_DIR_NAME
    started = time.perf_counter()
    files = generate_shop(folder, customers=customers, months=months, seed=seed,
                          progress=not as_json)
    generated = time.perf_counter()
    loads: dict[str, dict[str, int]] = {}
    with kequn.open(path) as ws:
        ws.set(time_zone=DEMO_TIME_ZONE)
        for table in TABLES:  # SPEC §1 order: customers first, so orders find their customer
            report = ws.load(table, files[table], progress=not as_json)
            loads[table] = {"read": report.read, "stored": report.stored,
                            "updated": report.updated, "quarantined": report.quarantined}
        loaded = time.perf_counter()
        summary = summarize(ws)
        report_path = None
        if report:
            from kequn.report import write_report

            report_path = path.parent / "kequn-report.html"
            write_report(ws, report_path)
    timing = {"generate_s": round(generated - started, 1), "load_s": round(loaded - generated, 1)}
    if as_json:
        echo_json({"workspace": str(path), "data_dir": str(folder), **timing, "loads": loads,
                   "summary": summary.to_dict(),
                   "report": str(report_path) if report_path else None})
    else:
        _print_summary(path, folder, timing, loads, summary, report_path)
    if serve:
        from kequn.api.config import ServerConfig
        from kequn.cli.serve import run_server

        run_server(ServerConfig(workspace=path))


def _refuse_non_empty(path: Path) -> None:
    """A demo never mixes into a workspace that already holds a shop."""
    if not path.exists():
        return
    with kequn.open(path, read_only=True) as ws:
        held = {t: ws.table(t).count().to_pyarrow().as_py() for t in ("customers", "orders")}
    if any(held.values()):
        msg = (f"workspace {path} already holds data ({held['customers']:,} customers, "
               f"{held['orders']:,} orders); pass another --workspace or delete it first")
        raise DemoError(msg)


def _print_summary(path: Path, folder: Path, timing: dict[str, float],
                   loads: dict[str, dict[str, int]], s: ShopSummary,
                   report_path: Path | None = None) -> None:
    echo = typer.echo
    echo(f"Demo shop 演示店铺 → {path}  (files 数据文件: {folder}/; generated 生成 "
         f"{timing['generate_s']}s, loaded 加载 {timing['load_s']}s)")
    echo("  loaded 已加载: " + " · ".join(f"{t} {r['stored']:,}" for t, r in loads.items()))
    quarantined = sum(r["quarantined"] for r in loads.values())
    if quarantined:
        echo(f"  quarantined 隔离 {quarantined:,} rows; see: kequn quarantine")
    share = s.buyers / s.customers if s.customers else 0.0
    rows: list[tuple[str, Any]] = [
        ("customers 客户", f"{s.customers:,}"),
        ("buyers 成交客户", f"{s.buyers:,}  ({share:.1%} of customers)"),
        ("revenue 成交金额", f"¥{s.revenue:,.2f}"),
        ("repeat-purchase rate 复购率", f"{s.repeat_rate:.1%}  (buyers with 2+ paid orders)"),
        ("returning share 老客占比", f"{s.returning_share:.1%}  of {s.recent_buyers:,} buyers "
                                   f"in the last 30 days 近30天成交客户"),
    ]
    echo(f"As of 截至 {s.as_of:%Y-%m-%d %H:%M}:")
    for label, value in rows:
        echo(f"  {_pad(label, 30)}{value}")
    if s.groups:
        groups = " · ".join(f"{name} {_GROUP_LABELS.get(name, '')} {n:,}"
                            for name, n in s.groups.items())
        echo(f"  largest groups 最大人群: {groups}")
    if report_path:
        echo(f"Report 运营周报: {report_path.resolve()}  (open it in a browser 用浏览器打开)")
    echo("Next 下一步:")
    for command, what in _NEXT:
        echo(f"  {command:<22}{what}")


def _pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 1)
