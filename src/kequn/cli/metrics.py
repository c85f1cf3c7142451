"""``kequn metrics NAME`` and ``kequn report``: the operations metrics from the command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kequn.cli._app import AsOfOpt, JsonOpt, WorkspaceOpt, echo_json, make_app
from kequn.cli._app import app as root
from kequn.metrics import METRICS, MetricError, MetricResult, Metrics, resolve_as_of
from kequn.metrics._periods import Period

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kequn.workspace import Workspace

app = make_app("metrics", "Operations metrics (SPEC §2). 运营指标: 属性、分群、活跃、留存、转化、"
                          "新老客、销售额拆解、渠道、RFM。")
root.add_typer(app, name="metrics")

PeriodOpt = Annotated[Period, typer.Option("--period", help="day | week | month. 统计周期")]
FromOpt = Annotated[str | None, typer.Option("--from", help="First day of the window "
                                                            "(YYYY-MM-DD). 开始日期")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last day of the window; the data cut "
                                                        "is the end of that day. 结束日期")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Split by a customer attribute: "
                                                        "source_channel, member_level, "
                                                        "member_band, city_tier, gender, "
                                                        "age_band ... 拆分维度")]
SegmentOpt = Annotated[str | None, typer.Option("--segment", help="Only the customers of this "
                                                                  "segment (id or rule). 人群")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Print the result as CSV. 输出 CSV")]


def _list(value: str | None, cast: type = str) -> tuple[Any, ...] | None:
    if value is None:
        return None
    return tuple(cast(v.strip()) for v in value.split(",") if v.strip())


def _open(workspace: str | None) -> Workspace:
    import kequn

    return kequn.open(workspace, read_only=True)


def _segment(ws: Workspace, segment: str | None, as_of: dt.datetime) -> ir.Table | None:
    if segment is None:
        return None
    try:
        from kequn.segments import evaluate  # written alongside; imported only when asked
    except ImportError:
        msg = f"segments are not available in this install yet, so --segment {segment!r} " \
              "cannot be evaluated; run without --segment"
        raise MetricError(msg) from None
    return evaluate(ws, segment, as_of=as_of)


def _emit(result: MetricResult, ws: Workspace, *, as_json: bool, as_csv: bool,
          meta: dict[str, Any]) -> None:
    k = ws.settings.small_cell_k
    if as_json and as_csv:
        msg = "choose one of --json and --csv"
        raise MetricError(msg)
    records = result.to_records(small_cell_k=k)
    if as_csv:
        typer.echo(result.to_csv(small_cell_k=k), nl=False)
        return
    if as_json:
        echo_json({"metric": result.metric, **meta, "small_cell_k": k,
                   "notes": list(result.notes), "rows": records})
        return
    _print_table(result, records, meta)


def _print_table(result: MetricResult, records: list[dict[str, Any]],
                 meta: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    info = METRICS.get(result.metric)
    title = f"{info.title_zh} {info.title_en}" if info else result.metric
    table = Table(title=f"{title} — as of {meta['as_of']}", title_justify="left")
    for col in result.table.column_names:
        table.add_column(col, justify="right" if _numeric(result, col) else "left")
    for rec in records:
        table.add_row(*[_fmt(rec.get(c)) for c in result.table.column_names])
    console = Console()
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", style="yellow")


def _numeric(result: MetricResult, col: str) -> bool:
    import pyarrow.types as pt

    typ = result.table.schema.field(col).type
    return pt.is_integer(typ) or pt.is_floating(typ)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _run(name: str, *, workspace: str | None, period: Period, start: str | None,
         end: str | None, as_of: str | None, by: str | None, segment: str | None,
         as_json: bool, as_csv: bool, **options: Any) -> None:
    options = {k: v for k, v in options.items() if v is not None}
    ws = _open(workspace)
    try:
        moment = resolve_as_of(ws, as_of=as_of, end=end)
        metrics = Metrics(ws)
        spec = metrics.spec(name, as_of=moment, start=start, period=period, by=by, **options)
        result = spec.run(ws, segment=_segment(ws, segment, moment))
        meta = {"as_of": moment.isoformat(sep=" "), "period": period,
                "window": spec.window.label(), "by": by, "segment": segment,
                "options": {k: list(v) if isinstance(v, tuple) else v
                            for k, v in options.items()}}
        _emit(result, ws, as_json=as_json, as_csv=as_csv, meta=meta)
    finally:
        ws.close()


@app.command("list")
def list_metrics(
    as_json: JsonOpt = False,
    lang: Annotated[str, typer.Option("--lang", help="zh | en | both. 语言")] = "both",
) -> None:
    """Name every metric with its definition. 列出所有指标及其定义。"""
    if as_json:
        echo_json([{"name": i.name, "section": i.section, "title_zh": i.title_zh,
                    "title_en": i.title_en, "definition_zh": i.definition_zh,
                    "definition_en": i.definition_en} for i in METRICS.values()])
        return
    for info in METRICS.values():
        typer.secho(f"{info.name}  ({info.section})  {info.title_zh} / {info.title_en}",
                    bold=True)
        if lang in ("zh", "both"):
            typer.echo(f"    {info.definition_zh}")
        if lang in ("en", "both"):
            typer.echo(f"    {info.definition_en}")


@app.command("attributes")
def attributes(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
    attributes: Annotated[str | None, typer.Option(
        "--attributes", help="Comma-separated attributes (default: the usual ones). 属性")] = None,
) -> None:
    """User attribute distributions with the share unknown. 用户属性分布（含未知占比）。"""
    _run("attributes", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv,
         attributes=_list(attributes))


@app.command("groups")
def groups(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
) -> None:
    """User group counts (SPEC §2.2). 用户分群人数。"""
    _run("groups", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv)


@app.command("activity")
def activity(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "day", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
    actions: Annotated[str | None, typer.Option(
        "--actions", help="Comma-separated actions: visit,purchase,login,cart,review,any. "
                          "行为")] = None,
) -> None:
    """DAU / WAU / MAU and active rates per action. 日活/周活/月活与活跃率。"""
    _run("activity", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv, actions=_list(actions))


@app.command("active_days")
def active_days(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
    action: Annotated[str | None, typer.Option("--action", help="Action counted. 行为")] = None,
) -> None:
    """Distribution of active days per customer. 用户活跃天数分布。"""
    _run("active_days", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv, action=action)


ActionOpt = Annotated[str | None, typer.Option(
    "--action", help="visit | login | purchase | any | an event name. 行为")]
ReturnOpt = Annotated[str | None, typer.Option(
    "--return-action", help="Action that counts as coming back (default: --action). 回访行为")]
CohortOpt = Annotated[str | None, typer.Option(
    "--cohort-by", help="first (first action ever) | any (any action in the period). 分组方式")]
ModeOpt = Annotated[str | None, typer.Option(
    "--mode", help="in (active in period N) | within (active within N periods). 口径")]


@app.command("retention")
def retention(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "week", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False, action: ActionOpt = None,
    return_action: ReturnOpt = None, cohort_by: CohortOpt = None, mode: ModeOpt = None,
    periods: Annotated[int | None, typer.Option("--periods", help="Columns after period 0. "
                                                                  "期数")] = None,
    wide: Annotated[bool, typer.Option("--wide", help="One row per cohort (rates). 宽表")] = False,
) -> None:
    """Cohort retention matrix. 同期群留存矩阵。"""
    if wide:
        _run_wide(workspace=workspace, period=period, start=start, end=end, as_of=as_of, by=by,
                  segment=segment, as_json=as_json, as_csv=as_csv, action=action,
                  return_action=return_action, cohort_by=cohort_by, mode=mode, periods=periods)
        return
    _run("retention", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv, action=action,
         return_action=return_action, cohort_by=cohort_by, mode=mode, periods=periods)


def _run_wide(*, workspace: str | None, period: Period, start: str | None, end: str | None,
              as_of: str | None, by: str | None, segment: str | None, as_json: bool,
              as_csv: bool, **options: Any) -> None:
    from kequn.metrics.retention import RetentionResult

    options = {k: v for k, v in options.items() if v is not None}
    ws = _open(workspace)
    try:
        moment = resolve_as_of(ws, as_of=as_of, end=end)
        spec = Metrics(ws).spec("retention", as_of=moment, start=start, period=period, by=by,
                                **options)
        long = spec.run(ws, segment=_segment(ws, segment, moment))
        assert isinstance(long, RetentionResult)
        # Suppress on the long table first, then pivot, so a hidden cell stays hidden.
        k = ws.settings.small_cell_k
        rows = long.to_records(small_cell_k=k)
        wide_rows = _pivot(rows, by)
        columns = list(wide_rows[0]) if wide_rows else ["cohort_start", "cohort_size"]
        result = MetricResult("retention", _strings(wide_rows, columns), notes=long.notes)
        meta = {"as_of": moment.isoformat(sep=" "), "period": period,
                "window": spec.window.label(), "by": by, "segment": segment}
        _emit(result, ws, as_json=as_json, as_csv=as_csv, meta=meta)
    finally:
        ws.close()


def _pivot(rows: list[dict[str, Any]], by: str | None) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        key = (r["cohort_start"], r.get(by) if by else None)
        row = out.setdefault(key, {"cohort_start": r["cohort_start"],
                                   **({by: r[by]} if by else {}),
                                   "cohort_size": r["cohort_size"]})
        row[f"p{r['period']}"] = r["rate"]
    return list(out.values())


def _strings(rows: list[dict[str, Any]], columns: list[str]) -> Any:
    import pyarrow as pa

    cols = list(dict.fromkeys(c for r in rows for c in r)) or columns
    return pa.table({c: pa.array([_cell(r.get(c)) for r in rows], pa.string()) for c in cols})


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


@app.command("day_retention")
def day_retention(
    workspace: WorkspaceOpt = None, start: FromOpt = None, end: ToOpt = None,
    as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False, action: ActionOpt = None,
    return_action: ReturnOpt = None, cohort_by: CohortOpt = None, mode: ModeOpt = None,
    days: Annotated[str | None, typer.Option("--days", help="Days after, e.g. 1,7,30. "
                                                            "天数")] = None,
) -> None:
    """Next-day, 7-day and 30-day retention. 次日/7日/30日留存率。"""
    _run("day_retention", workspace=workspace, period="day", start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv, action=action,
         return_action=return_action, cohort_by=cohort_by, mode=mode, days=_list(days, int))


@app.command("repurchase_retention")
def repurchase_retention(
    workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, end: ToOpt = None,
    by: ByOpt = None, segment: SegmentOpt = None, as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    date: Annotated[str | None, typer.Option("--date", help="Date between the two halves "
                                                            "(default: as_of − months). 基准日")]
    = None,
    months: Annotated[int | None, typer.Option("--months", help="Months on each side (30 days "
                                                                "each; default 6). 月数")] = None,
) -> None:
    """Store repurchase retention (seed 002); --by member_band for V0 / V1–V3 / V4+.
    店铺复购留存率。"""
    from kequn.schema.conventions import parse_as_of

    _run("repurchase_retention", workspace=workspace, period="month", start=None, end=end,
         as_of=as_of, by=by, segment=segment, as_json=as_json, as_csv=as_csv,
         date=None if date is None else parse_as_of(date), months=months)


StepsOpt = Annotated[str | None, typer.Option(
    "--steps", help="Comma-separated steps (default visit,view,cart,order,pay). 步骤")]
WindowDaysOpt = Annotated[float | None, typer.Option(
    "--window-days", help="Conversion window in days (default 7). 转化窗口")]
OrderOpt = Annotated[str | None, typer.Option(
    "--order", help="loose (other actions may come between) | strict. 顺序")]


@app.command("funnel")
def funnel(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False, steps: StepsOpt = None,
    window_days: WindowDaysOpt = None, order: OrderOpt = None,
) -> None:
    """Ordered funnel with drop-outs per step; --by channel splits by entry channel.
    转化漏斗。"""
    _run("funnel", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv, steps=_list(steps),
         conversion_days=window_days, order=order)


@app.command("conversion")
def conversion(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
) -> None:
    """Paying users, pay rate, ARPU, ARPPU, AOV, first purchase and repurchase. 转化指标。"""
    _run("conversion", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=by, segment=segment, as_json=as_json, as_csv=as_csv)


@app.command("new_returning")
def new_returning(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
) -> None:
    """New vs returning customers and acquisition cost. 新老客指标。"""
    _run("new_returning", workspace=workspace, period=period, start=start, end=end,
         as_of=as_of, by=by, segment=segment, as_json=as_json, as_csv=as_csv)


@app.command("decomposition")
def decomposition(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "week", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, by: ByOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False,
    method: Annotated[str | None, typer.Option("--method", help="lmdi | shapley. 分解方法")]
    = None,
) -> None:
    """Revenue change vs the previous period, split into visitors × conversion × 客单价.
    销售额拆解。"""
    _run("decomposition", workspace=workspace, period=period, start=start, end=end,
         as_of=as_of, by=by, segment=segment, as_json=as_json, as_csv=as_csv, method=method)


@app.command("channels")
def channels(
    workspace: WorkspaceOpt = None, period: PeriodOpt = "month", start: FromOpt = None,
    end: ToOpt = None, as_of: AsOfOpt = None, segment: SegmentOpt = None,
    as_json: JsonOpt = False, as_csv: CsvOpt = False, steps: StepsOpt = None,
    window_days: WindowDaysOpt = None, order: OrderOpt = None,
) -> None:
    """Channel traffic × conversion quadrant with advice (seed 003). 渠道象限与建议。"""
    _run("channels", workspace=workspace, period=period, start=start, end=end, as_of=as_of,
         by=None, segment=segment, as_json=as_json, as_csv=as_csv, steps=_list(steps),
         conversion_days=window_days, order=order)


@app.command("rfm")
def rfm(
    workspace: WorkspaceOpt = None, as_of: AsOfOpt = None, end: ToOpt = None,
    by: ByOpt = None, segment: SegmentOpt = None, as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    window_days: Annotated[int | None, typer.Option(
        "--window-days", help="Only paid orders of the last N days (default: all). 时间范围")]
    = None,
    r_split: Annotated[float | None, typer.Option("--r-split", help="R is high below these "
                                                                    "days (default: median)")]
    = None,
    f_split: Annotated[float | None, typer.Option("--f-split", help="F is high above this "
                                                                    "(default: median)")] = None,
    m_split: Annotated[float | None, typer.Option("--m-split", help="M is high above this "
                                                                    "(default: median)")] = None,
) -> None:
    """RFM 8 classes with customers and revenue (seed 004). RFM 八类客户。"""
    _run("rfm", workspace=workspace, period="month", start=None, end=end, as_of=as_of, by=by,
         segment=segment, as_json=as_json, as_csv=as_csv, window_days=window_days,
         r_split=r_split, f_split=f_split, m_split=m_split)


@root.command("report")
def report(
    output: Annotated[Path, typer.Option("--output", "-o", help="HTML file to write. 输出文件")],
    workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
    lang: Annotated[str, typer.Option("--lang", help="zh | en. 语言")] = "zh",
    period: Annotated[Period, typer.Option("--period", help="week | month | day. 报告周期")]
    = "week",
) -> None:
    """Write the weekly operations report as one self-contained HTML file. 生成运营周报。"""
    from kequn.report import write_report

    if lang not in ("zh", "en"):
        msg = f"unknown language {lang!r}; use zh or en"
        raise MetricError(msg)
    ws = _open(workspace)
    try:
        path = write_report(ws, output, as_of=as_of, lang=lang, period=period)  # type: ignore[arg-type]
    finally:
        ws.close()
    typer.echo(f"wrote {path}")
