"""Benchmark: summary, fit and scoring of the prediction models at shop scale.

Generates about 10 orders per customer from the BG/NBD + Gamma-Gamma model with numpy (plus
2% cancelled/refunded/unpaid noise), writes them into a DuckDB workspace file under /tmp, then
times each phase of ``fit_predictions``. The target (issue 5): 1 M customers / 10 M orders in
under 30 s for summary + fit + scoring.

    .venv/bin/python bench/bench_predict.py                  # 1 M customers
    .venv/bin/python bench/bench_predict.py --customers 100000 --model auto
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import kequn
from kequn.clv import PredictionWarning, fit_predictions
from kequn.clv.simulate import SimulationParams, simulate_orders

# about 10 paid orders per customer over two years
PARAMS = SimulationParams(r=1.4, alpha=30.0, a=1.0, b=14.0, p=6.0, q=4.0, gamma=50.0)
START, END = dt.datetime(2022, 1, 1), dt.datetime(2024, 1, 1)


def say(text: str) -> None:
    """One line of the benchmark's report."""
    print(text)  # noqa: T201


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--path", default="/tmp/kequn_bench_predict.duckdb")
    parser.add_argument("--model", default="bgnbd", choices=["auto", "bgnbd", "mbgnbd"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--period", default="day", choices=["order", "day"],
                        help="day (the default) merges same-day orders, which biases the fit "
                             "slightly away from the per-order truth; order recovers it")
    parser.add_argument("--reuse", action="store_true",
                        help="keep an existing workspace file instead of regenerating it")
    args = parser.parse_args()
    path = Path(args.path)

    say(f"# bench_predict  {dt.datetime.now():%Y-%m-%d %H:%M}  "
        f"python {platform.python_version()}  nproc {os.cpu_count()}")
    if not (args.reuse and path.exists()):
        path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        orders = simulate_orders(args.customers, start=START, end=END, params=PARAMS,
                                 seed=args.seed, unpaid_share=0.02)
        t1 = time.perf_counter()
        with kequn.open(path) as ws:
            ws.con.insert("orders", orders)
        t2 = time.perf_counter()
        say(f"generate   {t1 - t0:7.2f} s   {orders.num_rows:,} orders "
              f"for {args.customers:,} customers (numpy)")
        say(f"write      {t2 - t1:7.2f} s   into {path}")
        del orders

    with kequn.open(path) as ws:
        n_orders = ws.table("orders").count().to_pyarrow().as_py()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PredictionWarning)
            run = fit_predictions(ws, as_of=END, model=args.model, period=args.period)
        total = time.perf_counter() - start
    for phase, seconds in run.timings.items():
        say(f"{phase:<10} {seconds:7.2f} s")
    budget = sum(v for k, v in run.timings.items() if k in ("summary", "fit", "score"))
    say(f"summary+fit+score {budget:.2f} s · total fit_predictions {total:.2f} s "
          f"· {n_orders:,} orders, {run.customers:,} customers, {run.repeat_buyers:,} repeat")
    say(f"model {run.model} ({run.chosen_by}); params "
          + ", ".join(f"{k}={v:.4g}" for k, v in run.frequency_model.params_.items())
          + " (true " + f"r={PARAMS.r}, alpha={PARAMS.alpha}, a={PARAMS.a}, b={PARAMS.b})")
    for w in run.warnings:
        say(f"warning: {w}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
