"""kequn on local Spark: the same Ibis code as on DuckDB, reading the exported Parquet.

The session starts before the clock (its start-up is reported apart); ``--set master=...``
and ``--set shuffle=...`` change the master and the shuffle partitions.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
from _impl_common import Args, Clock, run
from _impl_kequn import kequn_work

import kequn
from kequn.storage.engines import spark_session, stop_spark


def compute(args: Args, clock: Clock) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    master = args.extra.get("master", "local[2]")
    conf = {"spark.sql.shuffle.partitions": args.extra.get("shuffle", "8"),
            "spark.driver.memory": args.extra.get("driver_memory", "8g")}
    started = time.perf_counter()
    spark_session(master, conf)
    startup = round(time.perf_counter() - started, 1)
    state = args.out.with_suffix(".state.duckdb")
    state.unlink(missing_ok=True)
    with kequn.open(state) as ws:
        ws.use_engine("pyspark", data_url=str(args.parquet), spark_master=master,
                      spark_conf=conf)
        features, retention = kequn_work(ws, args.as_of, clock)
    state.unlink(missing_ok=True)
    stop_spark()  # the JVM exits and is reaped here, so its memory counts in ours
    return features, retention, {"spark_startup_s": startup, "master": master}


if __name__ == "__main__":
    run("kequn · Spark local[2]", compute)
