"""kequn at scale: every figure measured in one run, beside its peers.

    python bench/run.py --customers 1000000 [--months 18] [--seed 0] [--skip spark]

1. Generates the demo shop (``kequn.demo.generate.generate_shop``), loads it into a DuckDB
   workspace and exports it as Parquet for Spark (``kequn.storage.engines.export_tables``).
2. Computes the standard feature table and the monthly purchase retention matrix with kequn
   on DuckDB, plain pandas, polars, and kequn on local Spark (local[2]), each in its own
   process; its peak memory is the kernel's ru_maxrss for that process and the processes it
   waited for (Spark's JVM included). Each answer carries checksums, compared with kequn's.
3. Times an incremental refresh after one more day of data against a full rebuild.

The results go to stdout and to ``bench/out/scale-<customers>-<date>.md`` (and ``.json``).
Generated data is kept under ``bench/out/work-<customers>/`` and reused by later runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
IMPLS = {
    "kequn_duckdb": "kequn · DuckDB",
    "pandas": "pandas",
    "polars": "polars",
    "kequn_spark": "kequn · Spark local[2]",
}
SOURCE_TABLES = ("customers", "products", "orders", "order_items", "events", "marketing_costs")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--months", type=int, default=18)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", action="append", default=[],
                   help=f"leave out: {', '.join(IMPLS)}, incremental (repeatable)")
    p.add_argument("--work", type=Path, default=None, help="data folder (default bench/out/)")
    a = p.parse_args()
    work = a.work or OUT / f"work-{a.customers}"
    work.mkdir(parents=True, exist_ok=True)
    OUT.mkdir(exist_ok=True)

    data, workspace, parquet, sizes, prep = prepare(work, a.customers, a.months, a.seed)
    as_of = shop_as_of(workspace)
    say(f"shop: {a.customers:,} customers, {sizes['events']:,} events, "
        f"{sizes['orders']:,} orders; as_of {as_of}")
    results: dict[str, dict[str, Any]] = {}
    for key, label in IMPLS.items():
        if key in a.skip:
            continue
        say(f"running {label} ...")
        results[key] = run_impl(key, data, workspace, parquet, as_of, work)
        say(f"  {summary(results[key])}")
    incremental = None
    if "incremental" not in a.skip:
        say("running incremental refresh vs full rebuild ...")
        incremental = run_incremental(workspace, work)
    report = render(a.customers, sizes, as_of, prep, results, incremental)
    stamp = dt.date.today().isoformat()
    md = OUT / f"scale-{a.customers}-{stamp}.md"
    md.write_text(report, encoding="utf-8")
    (OUT / f"scale-{a.customers}-{stamp}.json").write_text(json.dumps(
        {"customers": a.customers, "sizes": sizes, "as_of": as_of, "prepare": prep,
         "machine": machine(), "results": results, "incremental": incremental},
        indent=1, default=str), encoding="utf-8")
    print(report)  # noqa: T201  the report is this script's output
    say(f"written to {md}")


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)  # noqa: T201  progress, on stderr


# -- the shop -------------------------------------------------------------------------------


def prepare(work: Path, customers: int, months: int,
            seed: int) -> tuple[Path, Path, Path, dict[str, int], dict[str, float]]:
    """Demo Parquet, a DuckDB workspace holding it, and its export for Spark (made once)."""
    import kequn
    from kequn.demo.generate import generate_shop
    from kequn.storage.engines import export_tables

    data, workspace, parquet = work / "demo", work / "shop.duckdb", work / "parquet"
    done = work / "ready.json"
    key = {"customers": customers, "months": months, "seed": seed}
    if done.exists() and json.loads(done.read_text())["key"] == key:
        saved = json.loads(done.read_text())
        return data, workspace, parquet, saved["sizes"], saved["prepare"]
    timings: dict[str, float] = {}
    started = time.perf_counter()
    say(f"generating {customers:,} customers ...")
    generate_shop(data, customers=customers, months=months, seed=seed)
    timings["generate_s"] = round(time.perf_counter() - started, 1)
    workspace.unlink(missing_ok=True)
    started = time.perf_counter()
    with kequn.open(workspace) as ws:
        for name in SOURCE_TABLES:
            files = sorted(glob.glob(str(data / f"{name}-*.parquet")))
            # a constant table name; the file list is a parameter
            ws.raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet(?)", [files])
        timings["duckdb_load_s"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        export_tables(ws, parquet)
        timings["export_s"] = round(time.perf_counter() - started, 1)
        sizes = {n: int(ws.table(n).count().execute()) for n in SOURCE_TABLES}
    done.write_text(json.dumps({"key": key, "sizes": sizes, "prepare": timings}))
    return data, workspace, parquet, sizes, timings


def shop_as_of(workspace: Path) -> str:
    import kequn

    with kequn.open(workspace, read_only=True, engine="duckdb") as ws:
        return ws.default_as_of().isoformat()


# -- running one implementation ------------------------------------------------------------


def run_impl(key: str, data: Path, workspace: Path, parquet: Path, as_of: str,
             work: Path) -> dict[str, Any]:
    out = work / f"answer-{key}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / f"_impl_{key}.py"), "--data", str(data),
           "--workspace", str(workspace), "--parquet", str(parquet), "--as-of", as_of,
           "--out", str(out)]
    wall, peak, code, err = measured(cmd)
    if code != 0 or not out.exists():
        return {"impl": IMPLS[key], "error": err.strip().splitlines()[-1][:200] if err
                else f"exit {code}", "peak_mb": peak, "wall_s": wall}
    answer = json.loads(out.read_text())
    answer.update(peak_mb=peak, wall_s=wall)
    return answer


def measured(cmd: list[str]) -> tuple[float, float, int, str]:
    """Run ``cmd``; its wall time, peak memory (MB) with its waited-for children, exit code
    and standard error."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    err_lines: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        err_lines.append(line)
        del err_lines[:-50]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = round(time.perf_counter() - started, 1)
    return wall, round(usage.ru_maxrss / 1024, 0), proc.returncode, "".join(err_lines)


def run_incremental(workspace: Path, work: Path) -> dict[str, Any]:
    out = work / "answer-incremental.json"
    out.unlink(missing_ok=True)
    wall, peak, code, err = measured([sys.executable, str(HERE / "_impl_incremental.py"),
                                      str(workspace), str(out)])
    if code != 0 or not out.exists():
        return {"error": err.strip().splitlines()[-1][:300] if err else f"exit {code}"}
    answer = json.loads(out.read_text())
    answer.update(peak_mb=peak, wall_s=wall)
    return answer


def summary(r: dict[str, Any]) -> str:
    if "error" in r:
        return f"failed: {r['error']}"
    s = r["seconds"]
    return f"features {s['features']} s, retention {s['retention']} s, peak {r['peak_mb']:.0f} MB"


# -- the report -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    versions = {}
    for pkg in ("kequn", "duckdb", "ibis-framework", "pandas", "polars", "pyspark", "pyarrow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "-"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True,
                              check=False).stderr.splitlines()[0]
    except (OSError, IndexError):
        java = "-"
    return {"date": dt.datetime.now().isoformat(timespec="minutes"), "cpu": cpu,
            "cores": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "python": platform.python_version(), "os": platform.platform(),
            "load_average": os.getloadavg()[0], "java": java, "versions": versions}


def render(customers: int, sizes: dict[str, int], as_of: str, prep: dict[str, float],
           results: dict[str, dict[str, Any]], inc: dict[str, Any] | None) -> str:
    from _impl_common import agree

    m = machine()
    v = m["versions"]
    lines = [
        f"# kequn at {customers:,} customers — {m['date']}",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; {m['os']}; "
        f"Python {m['python']}; load average at the end {m['load_average']:.1f}.",
        f"Versions: kequn {v['kequn']}, DuckDB {v['duckdb']}, Ibis {v['ibis-framework']}, "
        f"pandas {v['pandas']}, polars {v['polars']}, PySpark {v['pyspark']} "
        f"({m['java']}), PyArrow {v['pyarrow']}.",
        "",
        f"Shop (demo generator): {sizes['customers']:,} customers, {sizes['orders']:,} orders, "
        f"{sizes['order_items']:,} order lines, {sizes['events']:,} events; as_of {as_of}. "
        f"Prepared once: generate {prep.get('generate_s', '-')} s, DuckDB load "
        f"{prep.get('duckdb_load_s', '-')} s, Parquet export {prep.get('export_s', '-')} s.",
        "",
        "Work: the standard per-customer feature table (18 columns: R/F/M, 365/720-day "
        "counts, 30-day activity, 14-day intent score, top viewed and bought category) and "
        "the monthly purchase retention matrix (13 cohorts × 12 months). Each row is one "
        "process; memory is its peak resident set (with Spark's JVM).",
        "",
        "| implementation | feature table (s) | retention matrix (s) | process wall (s) "
        "| peak memory (MB) | same answer as kequn · DuckDB |",
        "|---|---:|---:|---:|---:|---|",
    ]
    base = results.get("kequn_duckdb")
    for key, r in results.items():
        if "error" in r:
            lines.append(f"| {IMPLS[key]} | failed | | {r.get('wall_s', '')} | "
                         f"{r.get('peak_mb', 0):.0f} | {r['error']} |")
            continue
        s = r["seconds"]
        if base is None or "error" in base:
            same = "-"
        else:
            wrong = agree(base["features"], r["features"]) + [
                f"retention.{k}" for k in agree(base["retention"], r["retention"])]
            same = "yes" if not wrong else "NO: " + ", ".join(wrong)
        note = f" (+{r['spark_startup_s']} s session start)" if "spark_startup_s" in r else ""
        lines.append(f"| {IMPLS[key]}{note} | {s['features']:.1f} | {s['retention']:.1f} | "
                     f"{r['wall_s']:.1f} | {r['peak_mb']:.0f} | {same} |")
    if inc is not None:
        lines += ["", "## Incremental refresh", ""]
        if "error" in inc:
            lines.append(f"failed: {inc['error']}")
        else:
            ratio_std = inc["refresh_s"] / inc["full_standard_s"]
            ratio_store = inc["refresh_s"] / inc["full_store_s"]
            lines += [
                f"One more day of data: {inc['rows_added']:,} rows appended to "
                f"{inc['rows_before']:,} ({inc['share_added']:.2%}); {inc['groups']} built-in "
                f"groups, {inc['customers']:,} customers.",
                "",
                "| what | seconds | refresh as a share of it |",
                "|---|---:|---:|",
                f"| full rebuild: feature table + every group through the segment evaluator "
                f"| {inc['full_standard_s']:.1f} | {ratio_std:.0%} |",
                f"| full rebuild: the feature store's single pass | {inc['full_store_s']:.1f} "
                f"| {ratio_store:.0%} |",
                f"| incremental refresh ({inc['refresh_mode']}) | {inc['refresh_s']:.1f} | |",
                "",
                f"Members equal to the full rebuild's: "
                f"{'all groups' if not inc['groups_differing'] else inc['groups_differing']}. "
                f"Recomputed for everyone (as_of arithmetic or shop-wide inputs): "
                f"{', '.join(sorted(set(inc['volatile'].values()))) or 'nothing'}.",
                "",
                "Refresh phases (s): " + ", ".join(
                    f"{k} {val}" for k, val in inc["timings"].items()),
            ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
