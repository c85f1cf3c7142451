"""Incremental refresh against a full rebuild, after one more day of data.

On a copy of the workspace: hold back the last day (rows dated after ``as_of - 1 day``; orders
paid since are un-paid), build the feature store there, put the day back, then time
``FeatureStore.refresh`` against two full rebuilds at the new ``as_of`` (kequn's standard path:
the feature table plus every built-in group through the segment evaluator; and the store's own
single-pass build), and check the refreshed members equal the evaluator's exactly.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

import kequn
from kequn import segments as sg
from kequn.storage import features as ft
from kequn.storage.incremental import FeatureStore

# the same hold-back/replay the incremental tests use
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "storage"))
from incremental_helpers import hold_back, replay  # noqa: E402


def members(table: object) -> list[tuple]:
    return sorted(tuple(r.values()) for r in table.to_pylist())  # type: ignore[attr-defined]


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    copy = out.with_suffix(".duckdb")
    shutil.copy(source, copy)
    with kequn.open(copy, engine="duckdb") as ws:
        after = ws.default_as_of()
        before = after - dt.timedelta(days=1)
        total = sum(ws.table(t).count().execute() for t in ("orders", "order_items", "events"))
        held = hold_back(ws, before)
        store = FeatureStore(ws)
        store.build(before)
        added = replay(ws, held)

        report = store.refresh(after)
        refreshed = {s: members(store.members(s).to_pyarrow()) for s in store.segments}

        started = time.perf_counter()
        ws.con.create_table("_bench_features", ft.customer_features(ws, after, predictions=False),
                            temp=True)
        with sg.Evaluator(ws, after) as evaluator:
            evaluator.prepare(store.segments)
            standard = {s: members(evaluator.evaluate(s).to_pyarrow()) for s in store.segments}
        full_standard = time.perf_counter() - started

        rebuilt = store.build(after)
    copy.unlink(missing_ok=True)
    wrong = sorted(s for s in refreshed if refreshed[s] != standard[s])
    answer = {
        "as_of": after.isoformat(), "rows_added": added, "rows_before": total - added,
        "share_added": added / max(total - added, 1),
        "refresh_s": round(report.seconds, 2), "refresh_mode": report.mode,
        "full_standard_s": round(full_standard, 2), "full_store_s": round(rebuilt.seconds, 2),
        "groups": len(store.segments), "groups_differing": wrong,
        "merged": list(report.merged),
        "dirty": report.dirty, "volatile": report.volatile, "timings": report.timings,
        "customers": report.customers,
    }
    out.write_text(json.dumps(answer, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
