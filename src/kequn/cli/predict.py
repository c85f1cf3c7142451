"""``kequn predict fit|show|customers``: fit the prediction models, show a run, list customers."""

from __future__ import annotations

import warnings
from typing import Annotated, Any

import ibis
import typer

import kequn
from kequn.cli._app import AsOfOpt, JsonOpt, WorkspaceOpt, echo_json, make_app
from kequn.cli._app import app as root
from kequn.clv.errors import PredictionError, PredictionWarning
from kequn.clv.store import latest_run, predictions
from kequn.schema.conventions import parse_as_of

app = make_app("predict", "Predict repeat orders, churn risk and CLV per customer. 预测复购、"
                          "流失风险和客户终身价值")
root.add_typer(app, name="predict")

SORTABLE = ("clv", "p_alive", "expected_orders", "expected_spend", "next_purchase_at")
_BANDS_ZH = {"low": "低", "medium": "中", "high": "高"}


@app.command("fit")
def fit_command(
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Days ahead for expected orders. "
                                         "预测天数")] = 90,
    clv_horizon: Annotated[int, typer.Option("--clv-horizon", help="Days of future spend in "
                                             "CLV. 终身价值天数")] = 365,
    discount_rate: Annotated[float, typer.Option("--discount-rate", help="Yearly discount "
                                                 "rate for CLV. 年折现率")] = 0.10,
    model: Annotated[str, typer.Option("--model", help="auto (choose by holdout fit), bgnbd, "
                                       "mbgnbd or rfm. 模型")] = "auto",
    calibration_end: Annotated[str | None, typer.Option(
        "--calibration-end", help="Validate: fit up to this date, compare with what happened "
                                  "after it. 校准期截止")] = None,
    period: Annotated[str, typer.Option("--period", help="One purchase per order, day, week "
                                        "or month. 购买计数周期")] = "day",
    min_repeat_buyers: Annotated[int, typer.Option(
        "--min-repeat-buyers", help="Below this, use the RFM-based estimate. 最少复购客户数")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Fit the models and store predictions for every buyer. 拟合模型并保存每位客户的预测"""
    from kequn.clv.fit import fit_predictions  # SciPy: only for this command

    with kequn.open(workspace) as ws, warnings.catch_warnings():
        # the run's warnings are printed below (and kept in its report), not as tracebacks
        warnings.simplefilter("ignore", PredictionWarning)
        run = fit_predictions(ws, as_of=as_of, horizon_days=horizon,
                              clv_horizon_days=clv_horizon, discount_rate=discount_rate,
                              model=model,  # type: ignore[arg-type]  # checked inside
                              calibration_end=calibration_end,
                              period=period,  # type: ignore[arg-type]
                              min_repeat_buyers=min_repeat_buyers)
    report = run.to_dict()
    if as_json:
        echo_json(report)
    else:
        _print_run(report)


@app.command("show")
def show_command(workspace: WorkspaceOpt = None, as_of: AsOfOpt = None,
                 as_json: JsonOpt = False) -> None:
    """The latest run: models, parameters, validation and totals. 查看最近一次预测"""
    with kequn.open(workspace) as ws:
        record = latest_run(ws)
    _check_as_of(record["as_of"], as_of)
    if as_json:
        echo_json(record["report"])
    else:
        _print_run(record["report"])


@app.command("customers")
def customers_command(
    workspace: WorkspaceOpt = None,
    as_of: AsOfOpt = None,
    customer: Annotated[list[str] | None, typer.Option(
        "--customer", "-c", help="Only these customer ids (repeatable). 客户编号")] = None,
    churn_risk: Annotated[str | None, typer.Option(
        "--churn-risk", help="Only low, medium or high churn risk. 流失风险")] = None,
    sort: Annotated[str, typer.Option("--sort", help=f"Sort by {', '.join(SORTABLE)} "
                                      "(descending). 排序")] = "clv",
    limit: Annotated[int, typer.Option("--limit", "-n", help="Rows to show. 行数")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Per-customer predictions of the latest run. 每位客户的预测"""
    if sort not in SORTABLE:
        msg = f"cannot sort by {sort!r}; use one of {', '.join(SORTABLE)}"
        raise PredictionError(msg)
    if churn_risk is not None and churn_risk not in _BANDS_ZH:
        msg = f"unknown churn risk {churn_risk!r}; use low, medium or high"
        raise PredictionError(msg)
    with kequn.open(workspace) as ws:
        record = latest_run(ws)
        _check_as_of(record["as_of"], as_of)
        t = predictions(ws)
        if customer:
            t = t.filter(t.customer_id.isin(customer))
        if churn_risk is not None:
            t = t.filter(t.churn_risk == churn_risk)
        t = t.order_by([ibis.desc(sort), "customer_id"]).limit(limit)
        rows = t.to_pyarrow().to_pylist()
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no customers match 无匹配客户")
        return
    typer.echo(f"{'customer 客户':<16}{'p_alive':>8}{'orders':>8}{'spend':>10}{'clv':>11}"
               f"  {'next 下次购买':<12}{'risk 风险':>8}")
    for r in rows:
        nxt = r["next_purchase_at"].date().isoformat() if r["next_purchase_at"] else "-"
        typer.echo(f"{r['customer_id']:<16}{r['p_alive']:>8.2f}{r['expected_orders']:>8.2f}"
                   f"{r['expected_spend']:>10.2f}{r['clv']:>11.2f}  {nxt:<12}"
                   f"{r['churn_risk'] + ' ' + _BANDS_ZH[r['churn_risk']]:>8}")


def _check_as_of(stored: Any, asked: str | None) -> None:
    if asked is None:
        return
    wanted = parse_as_of(asked)
    if wanted != stored:
        msg = (f"the stored predictions are as of {stored:%Y-%m-%d %H:%M}, not "
               f"{wanted:%Y-%m-%d %H:%M}; run 'kequn predict fit --as-of {asked}' first")
        raise PredictionError(msg)


def _print_run(r: dict[str, Any]) -> None:
    opts = r["options"]
    typer.echo(f"predictions 预测 as of {r['as_of'][:16]} · model 模型 {r['model']} "
               f"({r['chosen_by']})")
    typer.echo(f"  customers 客户 {r['customers']:,} · repeat buyers 复购客户 "
               f"{r['repeat_buyers']:,} · time unit {r['time_unit']}")
    for key in ("frequency_model", "spend_model"):
        typer.echo(f"  {_params_line(r[key])}")
    for v in r["validation"]:
        typer.echo(f"  holdout 验证 {v['model']}: fitted to {v['calibration_end'][:10]}, "
                   f"{v['holdout_duration']:g} {v['time_unit']}s after")
        typer.echo(f"    {_params_line(v['fit'])}")
        typer.echo(f"    {'repeats before':<14}{'customers':>10}{'actual':>10}{'predicted':>11}"
                   "   (repeat orders after the calibration end 校准期后复购)")
        for b in v["buckets"]:
            typer.echo(f"    {b['frequency']:<14}{b['customers']:>10,}{b['actual']:>10,.0f}"
                       f"{b['predicted']:>11,.1f}")
        t = v["total"]
        err = f" ({t['error_pct']:+.1f}%)" if t["error_pct"] is not None else ""
        typer.echo(f"    {'total 合计':<12}{t['customers']:>10,}{t['actual']:>10,.0f}"
                   f"{t['predicted']:>11,.1f}{err}")
    totals = r["totals"]
    bands = totals.get("churn_risk", {})
    typer.echo("  churn risk 流失风险: " + " · ".join(
        f"{b} {_BANDS_ZH[b]} {bands.get(b, 0):,}" for b in ("low", "medium", "high")))
    typer.echo(f"  expected orders in {opts['horizon_days']} days 预计订单 "
               f"{totals['expected_orders']:,.1f} · CLV over {opts['clv_horizon_days']} days "
               f"客户终身价值 {totals['clv']:,.2f}")
    for w in r["warnings"]:
        typer.secho(f"  warning 警告: {w}", fg=typer.colors.YELLOW)


def _params_line(fit: dict[str, Any]) -> str:
    ses = fit.get("standard_errors", {})
    parts = []
    for name, value in fit.get("params", {}).items():
        se = ses.get(name)
        parts.append(f"{name} = {value:.4g}" + (f" ± {se:.2g}" if se is not None else ""))
    extra = f" (penalizer {fit['penalizer']:g})" if fit.get("penalizer") else ""
    if fit.get("frequency_spend_correlation") is not None:
        extra += f"; corr(frequency, spend) = {fit['frequency_spend_correlation']:.2f}"
    return f"{fit['model']}: " + ", ".join(parts) + extra
