"""Benchmark: load a ~1 GB CSV of events; rows/s and peak memory, beside bare DuckDB's floor.

    python bench/bench_load.py [--rows 15000000] [--repeat 3] [--dir /tmp/kequn-bench]

The CSV is written once by DuckDB (synthetic events, canonical headers). Each repeat then runs,
each in its own process timed from outside with its peak RSS from the kernel (``wait4``):

* the floor, twice: bare DuckDB reading the file with its own type detection and inserting it
  into a fresh table of a fresh database file, in one transaction, under the same memory cap as
  the load (no checks, no quarantine, no customers) — once with DuckDB's defaults
  (``default``: the checkpoint on closing then rewrites the table to merge the part-filled
  row groups the parallel insert leaves) and once reading 64 MB at a time as kequn does
  (``buffer64``, no rewrite);
* ``kequn load events FILE --json`` into a fresh workspace (``kequn_s``, the whole command;
  ``kequn_load_s``, the load itself as the command reports it, without starting Python and
  importing kequn).

The machine is shared and noisy, so the floors are measured in the same run as the load, right
before it, and the ratios are the figures to compare across runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from kequn.ingest._duckdb import CSV_BUFFER_BYTES

FLOOR = """
import sys, duckdb
csv, db, limit, buffer = sys.argv[1:5]
options = "" if buffer == "default" else f", buffer_size = {int(buffer)}"
con = duckdb.connect(db)
con.execute("SET enable_progress_bar = false")
con.execute("SET memory_limit = $m", {"m": limit})
con.execute("CREATE TABLE events AS SELECT * FROM read_csv($f) LIMIT 0", {"f": csv})
con.execute("BEGIN TRANSACTION")
rows = con.execute(f"INSERT INTO events SELECT * FROM read_csv($f{options})", {"f": csv})
print(rows.fetchone()[0])
con.execute("COMMIT")
con.close()
"""
FLOORS = {"default": "default", "buffer64": str(CSV_BUFFER_BYTES)}


def write_events_csv(path: Path, rows: int) -> None:
    """Synthetic events with canonical headers, ~65 bytes a row, one customer in 15 rows."""
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


def run_child(cmd: list[str]) -> tuple[float, int, str]:
    """Run one process; its wall seconds, peak RSS (MB) and stdout. Fails loudly if it fails."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this process's own peak, not all children's
        seconds = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code != 0:
            msg = f"{cmd[-1]}... failed ({code}): {err.read().strip()[-2000:]}"
            raise SystemExit(msg)
        return seconds, round(usage.ru_maxrss / 1024), out.read()


def fresh(path: Path) -> Path:
    for stale in (path, Path(str(path) + ".wal")):
        stale.unlink(missing_ok=True)
    return path


def one_round(csv_path: Path, work: Path, memory_limit: str) -> dict[str, Any]:
    """The two floors, then the kequn load, each into a fresh database file."""
    floors = {}
    for name, buffer in FLOORS.items():
        floors[name] = run_child(
            [sys.executable, "-c", FLOOR, str(csv_path), str(fresh(work / "floor.duckdb")),
             memory_limit, buffer])
    fresh(work / "floor.duckdb")
    ws = fresh(work / "bench_load.duckdb")
    kequn = [sys.executable, "-m", "kequn"]
    subprocess.run([*kequn, "config", "load_memory_limit", memory_limit, "-w", str(ws)],
                   check=True, capture_output=True)
    load_s, load_mb, load_out = run_child(
        [*kequn, "load", "events", str(csv_path), "--json", "-w", str(ws)])
    report = json.loads(load_out)
    rows = int(report["read"])
    if {int(out) for _, _, out in floors.values()} != {rows} or report["stored"] != rows:
        msg = f"row counts differ: floors {floors}, kequn {report}"
        raise SystemExit(msg)
    result: dict[str, Any] = {"rows": rows, "kequn_s": round(load_s, 2),
                              "kequn_rows_per_s": round(rows / load_s), "kequn_peak_mb": load_mb,
                              "kequn_load_s": report["seconds"]}
    for name, (seconds, peak_mb, _) in floors.items():
        result[f"floor_{name}_s"] = round(seconds, 2)
        result[f"floor_{name}_peak_mb"] = peak_mb
        result[f"ratio_{name}"] = round(load_s / seconds, 2)
    result["customers_added"] = report["customers_added"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=15_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/kequn-bench"))
    parser.add_argument("--memory-limit", default="512MB",
                        help="load_memory_limit of the workspace, and the floor's memory_limit")
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.dir / f"events_{args.rows}.csv"
    if not csv_path.exists():
        t0 = time.perf_counter()
        write_events_csv(csv_path, args.rows)
        print(f"wrote {csv_path} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)  # noqa: T201
    load_before = [round(x, 1) for x in os.getloadavg()]
    rounds = []
    for i in range(args.repeat):
        rounds.append(one_round(csv_path, args.dir, args.memory_limit))
        print(f"round {i + 1}: {json.dumps(rounds[-1])}", file=sys.stderr)  # noqa: T201
    result = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "load_average_before_after": [load_before, [round(x, 1) for x in os.getloadavg()]],
        "file_mb": round(csv_path.stat().st_size / 2**20),
        "memory_limit": args.memory_limit,
        "rounds": rounds,
        "best_kequn_rows_per_s": max(r["kequn_rows_per_s"] for r in rounds),
        "max_kequn_peak_mb": max(r["kequn_peak_mb"] for r in rounds),
        **{f"median_ratio_{name}": sorted(r[f"ratio_{name}"] for r in rounds)[len(rounds) // 2]
           for name in FLOORS},
    }
    print(json.dumps(result, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
