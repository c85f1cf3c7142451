"""Benchmark: load a ~1 GB CSV of events; report rows/s and the loader's peak memory.

    python bench/bench_load.py [--rows 15000000] [--dir /tmp/kequn-bench]

The CSV is written once by DuckDB (synthetic events, canonical headers); the load runs as a
real `kequn load` subprocess into a fresh workspace, timed, with its peak RSS from the kernel.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb


def write_events_csv(path: Path, rows: int) -> None:
    """Synthetic events with canonical headers, ~70 bytes a row."""
    con = duckdb.connect()
    con.execute(f"""
        COPY (
            SELECT TIMESTAMP '2025-01-01' + to_seconds(CAST(i * 7 % 31536000 AS BIGINT))
                       AS event_time,
                   'c' || (hash(i) % 1000000) AS customer_id,
                   (['view','visit','cart','favorite','order','pay','login','search'])
                       [1 + CAST(hash(i * 3) % 8 AS INTEGER)] AS event,
                   'p' || (hash(i * 5) % 20000) AS product_id,
                   (['自然搜索','直通车','淘宝客','聚划算'])[1 + CAST(i % 4 AS INTEGER)] AS channel,
                   's' || (i // 6) AS session_id,
                   round((hash(i * 11) % 3000) / 10.0, 1) AS duration_s
            FROM range({int(rows)}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')""")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=15_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/kequn-bench"))
    parser.add_argument("--memory-limit", default="none",
                        help="workspace memory_limit setting, e.g. 600MB (default: DuckDB's)")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.dir / f"events_{args.rows}.csv"
    if not csv_path.exists():
        t0 = time.perf_counter()
        write_events_csv(csv_path, args.rows)
        print(f"wrote {csv_path} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)  # noqa: T201
    size = csv_path.stat().st_size
    ws = args.dir / "bench_load.duckdb"
    for stale in (ws, Path(str(ws) + ".wal")):
        stale.unlink(missing_ok=True)
    kequn = [sys.executable, "-m", "kequn"]
    if args.memory_limit != "none":
        subprocess.run([*kequn, "config", "memory_limit", args.memory_limit, "-w", str(ws)],
                       check=True, capture_output=True)
    t0 = time.perf_counter()
    out = subprocess.run([*kequn, "load", "events", str(csv_path), "--json", "-w", str(ws)],
                         check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    report = json.loads(out.stdout)
    result = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "file_mb": round(size / 2**20),
        "rows": report["read"],
        "stored": report["stored"],
        "seconds": round(seconds, 1),
        "rows_per_s": round(report["read"] / seconds),
        "peak_rss_mb": round(peak_kb / 1024),
        "memory_limit": args.memory_limit,
    }
    print(json.dumps(result, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
