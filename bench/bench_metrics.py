"""Benchmark: the weekly retention matrix (Ibis on DuckDB) beside a plain pandas version of the
same matrix on the same inputs, and the time to build the weekly report.

Usage::

    .venv/bin/python bench/bench_metrics.py [--customers 100000] [--days 365] [--keep]

Synthetic data comes from tests/report/shopgen.py (numpy) into a DuckDB workspace under /tmp.
The pandas and Ibis matrices must be equal, or the script fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

import kequn
from kequn.metrics import Metrics
from kequn.metrics._periods import index_of
from kequn.report import write_report

ROOT = Path(__file__).resolve().parents[1]


def _shopgen():
    spec = importlib.util.spec_from_file_location("kq_shopgen", ROOT / "tests/report/shopgen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pandas_matrix(events: pd.DataFrame, as_of: dt.datetime, first: int, last: int,
                  n: int) -> pd.DataFrame:
    """Weekly first-visit cohorts, "active in week N": the straightforward pandas way."""
    e = events[(events.event == "visit") & (events.event_time <= as_of)]
    day = e.event_time.dt.normalize()
    monday = day - pd.to_timedelta(day.dt.day_of_week.to_numpy(), unit="D")
    week = (monday - pd.Timestamp("1970-01-05")).dt.days // 7
    per = pd.DataFrame({"customer_id": e.customer_id.to_numpy(), "p": week.to_numpy()})
    per = per.drop_duplicates()
    cohort = per.groupby("customer_id").p.min().rename("cohort")
    per = per.join(cohort, on="customer_id")
    per = per[(per.cohort >= first) & (per.cohort <= last)]
    per["k"] = per.p - per.cohort
    per = per[(per.k >= 0) & (per.k <= n)]
    cells = per.groupby(["cohort", "k"]).customer_id.nunique().rename("retained")
    sizes = cohort[(cohort >= first) & (cohort <= last)].value_counts().rename("cohort_size")
    grid = pd.MultiIndex.from_product([sizes.index, range(n + 1)], names=["cohort", "k"])
    out = pd.DataFrame(index=grid).join(cells).fillna(0).reset_index()
    out = out[out.cohort + out.k <= index_of(as_of.date(), "week")]
    out = out.join(sizes, on="cohort")
    out["retained"] = out.retained.astype("int64")
    return out.sort_values(["cohort", "k"]).reset_index(drop=True)


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def timed(fn, repeat: int = 3):
    best, value = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="keep the workspace file")
    args = parser.parse_args()

    gen = _shopgen()
    path = Path(tempfile.mkdtemp(prefix="kq_bench_")) / "bench.duckdb"
    t = time.perf_counter()
    tables = gen.synth_tables(args.customers, args.days, seed=1)
    ws = gen.fill_workspace(kequn.open(path), tables)
    made = time.perf_counter() - t
    as_of = ws.default_as_of()
    rows = {k: v.num_rows for k, v in tables.items()}
    say(f"data: {rows} in {made:.1f}s at {path}")

    n = 12
    spec = Metrics(ws).spec("retention", as_of=as_of, period="week", action="visit", periods=n)
    w = spec.window
    ibis_s, result = timed(lambda: spec.run(ws))
    # pandas gets the same rows already in memory: only the matrix itself is timed.
    events = ws.table("events").select("customer_id", "event_time", "event").to_pandas()
    pandas_s, expected = timed(lambda: pandas_matrix(events, as_of, w.first_index,
                                                     w.last_index, n))
    got = result.to_pandas()
    got = pd.DataFrame({"cohort": [index_of(d, "week") for d in got.cohort_start],
                        "k": got.period, "retained": got.retained,
                        "cohort_size": got.cohort_size})
    pd.testing.assert_frame_equal(got.reset_index(drop=True),
                                  expected[["cohort", "k", "retained", "cohort_size"]],
                                  check_dtype=False)
    say(f"retention matrix ({len(got)} cells, {got.cohort.nunique()} weekly cohorts): "
          f"ibis/duckdb {ibis_s:.3f}s, pandas {pandas_s:.3f}s (best of 3; equal results)")

    out = path.with_suffix(".html")
    report_s, _ = timed(lambda: write_report(ws, out, as_of=as_of, lang="zh"), repeat=1)
    say(f"weekly report: {report_s:.1f}s, {out.stat().st_size / 1e6:.1f} MB -> {out}")
    say(f"machine: {platform.platform()}, python {platform.python_version()}, "
          f"{os.cpu_count()} cpus; {dt.datetime.now():%Y-%m-%d %H:%M}; "
          f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    ws.close()
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
