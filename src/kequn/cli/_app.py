"""The root Typer app, the shared options and one-line error handling."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup

from kequn.errors import KequnError


class _KequnGroup(TyperGroup):
    """Turns every :class:`KequnError` into one red line and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KequnError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None


def make_app(name: str, help: str) -> typer.Typer:  # noqa: A002
    """A Typer app (root or sub-command group) with kequn's error handling."""
    return typer.Typer(name=name, help=help, cls=_KequnGroup, no_args_is_help=True,
                       pretty_exceptions_enable=False, add_completion=False)


app = make_app("kequn", "kequn 客群 — customer groups, metrics, predictions and campaigns "
                        "for online shops.")

@app.callback()
def _root(
    engine: Annotated[str | None, typer.Option(
        "--engine", envvar="KEQUN_ENGINE",
        help="Compute on this engine for this command only: duckdb or pyspark (see 'kequn "
             "engine'). 本次命令使用的计算引擎")] = None,
) -> None:
    """kequn 客群 — customer groups, metrics, predictions and campaigns for online shops."""
    if engine is not None:
        # kequn.open() reads it, wherever in the command the workspace is opened.
        os.environ["KEQUN_ENGINE"] = engine


WorkspaceOpt = Annotated[
    str | None,
    typer.Option("--workspace", "-w", envvar="KEQUN_WORKSPACE",
                 help="Workspace file (default ./kequn.duckdb). 工作区文件"),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Compute as of this date or time (default: the latest data). "
                                 "截至时间"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON. 输出 JSON")]


def echo_json(value: Any) -> None:
    """Print ``value`` as JSON (dates as ISO text, Chinese unescaped)."""
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def main() -> None:
    """Entry point of the ``kequn`` script."""
    app()
