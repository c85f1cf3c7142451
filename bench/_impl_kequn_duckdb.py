"""kequn on its embedded DuckDB: ``customer_features`` and the retention metric, as shipped."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from _impl_common import RETENTION_PERIODS, Args, Clock, run

import kequn
from kequn.metrics.retention import RetentionSpec
from kequn.storage import features as ft


def compute(args: Args, clock: Clock) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    with kequn.open(args.workspace, read_only=True, engine="duckdb") as ws:
        with clock.step("features"):
            features = ft.customer_features(ws, args.as_of, predictions=False).to_pyarrow()
        with clock.step("retention"):
            spec = RetentionSpec(as_of=args.as_of, period="month", action="purchase",
                                 periods=RETENTION_PERIODS)
            retention = spec.to_expr(spec.sources(ws)).to_pyarrow()
    return features, retention, {}


if __name__ == "__main__":
    run("kequn · DuckDB", compute)
