"""``kequn engine``: choose where the shop's tables are computed, and export them for Spark."""

from __future__ import annotations

from typing import Annotated

import typer

import kequn
from kequn.cli._app import JsonOpt, WorkspaceOpt, echo_json, make_app
from kequn.cli._app import app as root
from kequn.storage.engines import ENGINES, EngineError, export_tables, gaps_for

app = make_app("engine", "Where the shop's tables are computed: DuckDB or Spark. 计算引擎")
root.add_typer(app, name="engine")

EngineOpt = Annotated[
    str | None,
    typer.Option("--engine", envvar="KEQUN_ENGINE",
                 help=f"Use this engine for this command: {' or '.join(ENGINES)}. 计算引擎"),
]


@app.command("show")
def show_command(workspace: WorkspaceOpt = None, engine: EngineOpt = None,
                 as_json: JsonOpt = False) -> None:
    """The engine in use, its settings and what it cannot do yet. 当前引擎"""
    with kequn.open(workspace, read_only=True, engine=engine) as ws:
        settings = ws.engine_settings
    gaps = gaps_for(settings.engine)
    info = {**settings.model_dump(), "known_gaps": [
        {"feature": g.feature, "reason": g.reason, "workaround": g.workaround} for g in gaps]}
    if as_json:
        echo_json(info)
        return
    typer.echo(f"engine 引擎 = {settings.engine}")
    if settings.engine == "pyspark":
        typer.echo(f"spark_master = {settings.spark_master}")
        typer.echo(f"data_url 数据地址 = {settings.data_url}")
        for key, value in settings.spark_conf.items():
            typer.echo(f"spark_conf.{key} = {value}")
    for g in gaps:
        typer.echo(f"not on {settings.engine} 暂不支持: {g.feature} — {g.reason}; "
                   f"instead 替代: {g.workaround}")


@app.command("use")
def use_command(
    engine: Annotated[str, typer.Argument(help=f"{' or '.join(ENGINES)}. 引擎")],
    data_url: Annotated[str | None, typer.Option(
        "--data-url", help="Folder or URL of <table>/*.parquet (pyspark). 数据地址")] = None,
    master: Annotated[str | None, typer.Option(
        "--master", help="Spark master: local[2] or spark://host:7077. Spark 主节点")] = None,
    conf: Annotated[list[str] | None, typer.Option(
        "--conf", help="Extra Spark setting KEY=VALUE (repeatable). Spark 配置")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Store the engine for this workspace, e.g. 'kequn engine use pyspark --data-url DIR'.
    设置计算引擎"""
    if engine not in ENGINES:
        msg = f"unknown engine {engine!r}; choose {' or '.join(ENGINES)}"
        raise EngineError(msg)
    extra = None
    if conf:
        extra = {}
        for item in conf:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                msg = f"--conf {item!r} is not KEY=VALUE; e.g. spark.executor.memory=4g"
                raise EngineError(msg)
            extra[key.strip()] = value.strip()
    with kequn.open(workspace, engine="duckdb") as ws:
        settings = ws.use_engine(engine, data_url=data_url, spark_master=master,  # type: ignore[arg-type]
                                 spark_conf=extra)
    if as_json:
        echo_json(settings.model_dump())
        return
    where = f" on {settings.spark_master}, data at {settings.data_url}" \
        if settings.engine == "pyspark" else ""
    typer.echo(f"engine 引擎 = {settings.engine}{where}")


@app.command("export")
def export_command(
    to: Annotated[str, typer.Option(
        "--to", help="Folder or URL (s3://, hdfs://) for <table>/part-00000.parquet. 导出地址")],
    table: Annotated[list[str] | None, typer.Option(
        "--table", "-t", help="Only these tables (repeatable). 表名")] = None,
    use: Annotated[bool, typer.Option(
        "--use", help="Then switch this workspace to pyspark on the exported data. 导出后启用")
    ] = False,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write the embedded shop tables as Parquet for Spark. 导出数据供 Spark 使用"""
    with kequn.open(workspace, engine="duckdb") as ws:
        done = export_tables(ws, to, tables=table)
        if use:
            ws.use_engine("pyspark", data_url=to)
    rows = [{"table": d.table, "url": d.url, "rows": d.rows, "bytes": d.bytes} for d in done]
    if as_json:
        echo_json({"to": to, "tables": rows, "engine": "pyspark" if use else None})
        return
    for d in done:
        typer.echo(f"{d.table:<16}{d.rows:>14,} rows  {d.bytes / 1e6:>9.1f} MB  → {d.url}")
    if use:
        typer.echo(f"engine 引擎 = pyspark, data_url = {to}")
    else:
        typer.echo(f"to compute on Spark 切换到 Spark: kequn engine use pyspark --data-url {to}")
