"""What every benchmark implementation shares: its arguments, its clock and its answer.

Each ``_impl_*.py`` runs in its own process (so its peak memory is its own), computes the
same two things at the same ``as_of``: the standard per-customer feature table (kequn's
``customer_features``: R/F/M, windowed counts, intent score, top categories) and the monthly
purchase retention matrix (12 months, cohort = month of the first paid order), and writes a
JSON answer with the seconds each took and checksums that ``run.py`` compares across
implementations, so a fast wrong answer shows up as a disagreement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

FEATURE_COLUMNS = (
    "paid_orders", "spend", "aov", "first_paid_at", "last_paid_at", "recency_days",
    "mean_gap_days", "paid_orders_365d", "spend_365d", "paid_orders_720d", "events_30d",
    "active_days_30d", "last_event_at", "intent_score_14d", "top_category_viewed",
    "top_category_viewed_share", "top_category_bought", "top_category_bought_share",
)
RETENTION_COLUMNS = ("cohort_start", "cohort_size", "period", "retained", "rate")
INTENT_WEIGHTS = {"list_view": 0.05, "view": 0.1, "favorite": 0.5, "cart": 1.0, "order": 3.0}
RETENTION_PERIODS = 12


@dataclass
class Args:
    """Where the shop is and when to compute it."""

    data: Path  # the demo generator's <table>-NNN.parquet files
    workspace: Path  # a DuckDB workspace holding the same shop
    parquet: Path  # the same tables as <table>/part-*.parquet (kequn engine export)
    as_of: dt.datetime
    out: Path
    extra: dict[str, str] = field(default_factory=dict)


def parse_args() -> Args:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--workspace", type=Path, required=True)
    p.add_argument("--parquet", type=Path, required=True)
    p.add_argument("--as-of", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--set", action="append", default=[], help="KEY=VALUE for one impl")
    a = p.parse_args()
    extra = dict(item.split("=", 1) for item in a.set)
    return Args(a.data, a.workspace, a.parquet, dt.datetime.fromisoformat(a.as_of), a.out, extra)


class Clock:
    """Wall seconds of each named step."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 3)


def feature_checksum(table: pa.Table) -> dict[str, Any]:
    """Per column: the sum of a numeric column, the count of a text or time one."""
    out: dict[str, Any] = {"rows": table.num_rows}
    for name in FEATURE_COLUMNS:
        col = table.column(name)
        if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
            total = pc.sum(pc.cast(col, pa.float64())).as_py()
            out[name] = 0.0 if total is None else total
        else:
            out[name] = table.num_rows - col.null_count
    return out


def retention_checksum(table: pa.Table) -> dict[str, Any]:
    """Cells, customers in cohorts and retained customers of the matrix."""
    return {"cells": table.num_rows,
            "cohort_size": pc.sum(table.column("cohort_size")).as_py() or 0,
            "retained": pc.sum(table.column("retained")).as_py() or 0}


def agree(a: dict[str, Any], b: dict[str, Any], *, rel: float = 1e-6) -> list[str]:
    """The keys where two checksums differ (numbers to ``rel``)."""
    wrong = []
    for key in a.keys() | b.keys():
        x, y = a.get(key), b.get(key)
        if isinstance(x, float | int) and isinstance(y, float | int):
            if not math.isclose(x, y, rel_tol=rel, abs_tol=1e-6):
                wrong.append(key)
        elif x != y:
            wrong.append(key)
    return sorted(wrong)


def write_answer(args: Args, name: str, clock: Clock, features: pa.Table,
                 retention: pa.Table, **more: Any) -> None:
    answer = {"impl": name, "seconds": clock.seconds,
              "features": feature_checksum(features),
              "retention": retention_checksum(retention), **more}
    args.out.write_text(json.dumps(answer, indent=1, default=str), encoding="utf-8")


def run(name: str, compute: Callable[[Args, Clock], tuple[pa.Table, pa.Table, dict[str, Any]]],
        ) -> None:
    """Parse the arguments, compute, and write the answer."""
    args = parse_args()
    clock = Clock()
    features, retention, more = compute(args, clock)
    write_answer(args, name, clock, features, retention, **more)
