"""kequn on its embedded DuckDB: ``customer_features`` and the retention metric, as shipped."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from _impl_common import Args, Clock, run
from _impl_kequn import kequn_work

import kequn


def compute(args: Args, clock: Clock) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    with kequn.open(args.workspace, read_only=True, engine="duckdb") as ws:
        features, retention = kequn_work(ws, args.as_of, clock)
    return features, retention, {}


if __name__ == "__main__":
    run("kequn · DuckDB", compute)
