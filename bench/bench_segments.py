"""Benchmark: segment evaluation against one hand-written DuckDB aggregation (issue 3).

Usage::

    .venv/bin/python bench/bench_segments.py [--customers 100000] [--dir /tmp/kq-bench-segments]

The demo shop (``kequn.demo.generate.generate_shop``, about 10 orders and 100 events per
customer) is generated and loaded once into ``DIR/N/shop.duckdb`` and reused by later runs.
Each phase runs in its own process, so its peak memory (``ru_maxrss``) is its own:

1. ``hand``: one hand-written DuckDB query that aggregates the paid orders, placed orders and
   events per customer (the plain measures the built-in groups read), into a table;
2. ``hand_full``: the like-for-like baseline, ``bench/hand_features.sql``: what an analyst would
   write by hand in DuckDB SQL for the same answer as phase 3 — every column the built-in groups
   read (order lines and products, repurchase cycles, category shares, sequences, ranks and
   medians) into a temp table, then every group's size (each label's for a family) from it.
   Its sizes must equal phase 3's: any difference is printed and the run exits with status 1;
3. ``builtin``: from cold (the feature cache dropped), the feature table plus the size of every
   built-in group, as ``kequn segment list`` computes them;
4. ``adhoc``: a new process, as a ``kequn segment count`` call would be: ad-hoc segments that
   read customer attributes, orders and events, each counted once (the first over the cache
   the ``builtin`` phase left), then again in the same process.

The target: phase 3 within 2 x phase 1, and each ad-hoc count under 300 ms; the ratio to
phase 2 is the like-for-like one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()

HAND_SQL = """
CREATE OR REPLACE TEMP TABLE hand_features AS
WITH paid AS (
    SELECT customer_id,
        count(*) AS paid_orders, sum(amount) AS spend, min(paid_at) AS first_paid_at,
        max(paid_at) AS last_paid_at,
        count(*) FILTER (WHERE paid_at > $a - INTERVAL 365 DAY) AS paid_orders_365d,
        sum(amount) FILTER (WHERE paid_at > $a - INTERVAL 365 DAY) AS spend_365d,
        count(*) FILTER (WHERE paid_at > $a - INTERVAL 720 DAY) AS paid_orders_720d,
        count(*) FILTER (WHERE promotion IS NOT NULL
                         OR discount / nullif(amount + discount, 0) >= 0.2) AS promo_orders,
        count(DISTINCT promotion || '|' || strftime(paid_at, '%Y-%m'))
            FILTER (WHERE promotion IS NOT NULL) AS promotion_periods
    FROM orders
    WHERE paid_at IS NOT NULL AND paid_at <= $a
      AND (status IS NULL OR status NOT IN ('cancelled', 'refunded'))
    GROUP BY customer_id
), placed AS (
    SELECT customer_id, count(*) AS placed_orders,
        count(*) FILTER (WHERE created_at > $a - INTERVAL 30 DAY
                         AND (paid_at IS NULL OR paid_at > $a)
                         AND (status IS NULL OR status NOT IN ('cancelled', 'refunded')))
            AS unpaid_30d
    FROM orders WHERE created_at <= $a GROUP BY customer_id
), ev AS (
    SELECT customer_id,
        count(*) FILTER (WHERE event = 'cart') AS carts,
        count(*) FILTER (WHERE event = 'favorite') AS favorites,
        count(*) FILTER (WHERE event_time > $a - INTERVAL 30 DAY) AS events_30d,
        count(DISTINCT CAST(event_time AS DATE))
            FILTER (WHERE event_time > $a - INTERVAL 30 DAY) AS active_days_30d,
        count(*) FILTER (WHERE event = 'view'
                         AND event_time > $a - INTERVAL 90 DAY) AS views_90d,
        sum(CASE event WHEN 'list_view' THEN 0.05 WHEN 'view' THEN 0.1
                       WHEN 'favorite' THEN 0.5 WHEN 'cart' THEN 1 WHEN 'order' THEN 3
                       ELSE 0 END)
            FILTER (WHERE event_time > $a - INTERVAL 14 DAY) AS intent_score_14d,
        max(event_time) AS last_event_at
    FROM events WHERE event_time <= $a GROUP BY customer_id
)
SELECT c.customer_id, c.member_level, c.registered_at, paid.* EXCLUDE (customer_id),
       placed.* EXCLUDE (customer_id), ev.* EXCLUDE (customer_id)
FROM customers c
LEFT JOIN paid USING (customer_id)
LEFT JOIN placed USING (customer_id)
LEFT JOIN ev USING (customer_id)
WHERE c.registered_at IS NULL OR c.registered_at <= $a
"""

AD_HOC = {
    "attribute": "member_level IN ('V4', 'V5') AND city_tier <= 2",
    "orders": "paid_orders(last: 720d) >= 2 AND spend > 300",
    "events": "intent_score(last: 14d) > 3 AND events(view, last: 90d) >= 10",
    "orders, new window": "spend(last: 60d) >= 200",
    "events, new window": "events(cart, last: 7d) > 0 AND active_days(last: 7d) >= 3",
}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def build_workspace(path: Path, customers: int) -> None:
    """Generate the demo shop and load it (skipped when the workspace is already there)."""
    import kequn
    from kequn.demo.generate import generate_shop

    done = path.with_suffix(".done")
    if done.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    files = generate_shop(path.parent / "data", customers=customers, seed=0)
    say(f"generated in {time.perf_counter() - started:.0f}s")
    ws = kequn.open(path)
    for table, paths in files.items():
        ws.load(table, paths)
    ws.close()
    done.write_text("ok\n")
    say(f"generated and loaded in {time.perf_counter() - started:.0f}s")


# -- phases, each in its own process ------------------------------------------------------------


def phase_hand(path: Path) -> dict[str, Any]:
    import kequn

    ws = kequn.open(path)
    as_of = ws.default_as_of()
    t = time.perf_counter()
    ws.raw.execute(HAND_SQL.replace("$a", "$1"), [as_of])
    seconds = time.perf_counter() - t
    rows = ws.raw.execute("SELECT count(*) FROM hand_features").fetchone()[0]
    return {"seconds": seconds, "rows": rows}


def hand_full_statements() -> tuple[str, str]:
    """The two statements of ``hand_features.sql``: the per-customer table, then the sizes."""
    text = (HERE.parent / "hand_features.sql").read_text(encoding="utf-8")
    statements = [s for s in text.split(";\n") if s.strip()]
    if len(statements) != 2:
        msg = f"hand_features.sql holds {len(statements)} statements, expected 2"
        raise SystemExit(msg)
    return statements[0], statements[1]


def nest_sizes(flat: dict[str, int]) -> dict[str, Any]:
    """``{"family.label": n}`` → ``{"family": {"label": n}}``, as the ``builtin`` phase gives."""
    out: dict[str, Any] = {}
    for name, n in flat.items():
        family, _, label = name.partition(".")
        if label:
            out.setdefault(family, {})[label] = int(n)
        else:
            out[name] = int(n)
    return out


def phase_hand_full(path: Path) -> dict[str, Any]:
    """The like-for-like baseline: every column the built-in groups read, then their sizes."""
    import kequn

    create, sizes = hand_full_statements()
    ws = kequn.open(path)
    params = {"as_of": ws.default_as_of()}
    t = time.perf_counter()
    ws.raw.execute(create, params)
    cur = ws.raw.execute(sizes, params)
    row = cur.fetchone()
    seconds = time.perf_counter() - t
    names = [d[0] for d in cur.description]
    rows = ws.raw.execute("SELECT count(*) FROM hand_full").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "sizes": nest_sizes(dict(zip(names, row,
                                                                           strict=True)))}


def size_differences(kequn_sizes: dict[str, Any], hand_sizes: dict[str, Any]) -> list[str]:
    """One line per group (or family label) whose size differs between the two phases."""
    out = []
    for name in sorted(set(kequn_sizes) | set(hand_sizes)):
        k, h = kequn_sizes.get(name), hand_sizes.get(name)
        if isinstance(k, dict) or isinstance(h, dict):
            k, h = k if isinstance(k, dict) else {}, h if isinstance(h, dict) else {}
            out += [f"{name}.{label}: kequn {k.get(label)}, hand-written {h.get(label)}"
                    for label in sorted(set(k) | set(h)) if k.get(label) != h.get(label)]
        elif k != h:
            out.append(f"{name}: kequn {k}, hand-written {h}")
    return out


def phase_builtin(path: Path) -> dict[str, Any]:
    import kequn
    from kequn import segments as sg
    from kequn.segments.cache import drop

    ws = kequn.open(path)
    drop(ws)  # from cold: no feature table kept by an earlier run
    t = time.perf_counter()
    ev = sg.Evaluator(ws, None)
    segs = sg.list_segments(ws)
    ev.prepare([s.id for s in segs])
    prepared = time.perf_counter() - t
    sizes = {}
    for seg in segs:
        sizes[seg.id] = ev.sizes(seg.id) if seg.is_family else ev.count(seg.id)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "prepare": prepared, "groups": len(segs), "sizes": sizes}


def phase_adhoc(path: Path) -> dict[str, Any]:
    import kequn
    from kequn import segments as sg

    ws = kequn.open(path)
    out: dict[str, Any] = {}
    for kind, rule in AD_HOC.items():
        t = time.perf_counter()
        n = sg.Evaluator(ws, None).count(rule)  # what `kequn segment count` does
        first = time.perf_counter() - t
        t = time.perf_counter()
        sg.Evaluator(ws, None).count(rule)
        again = time.perf_counter() - t
        out[kind] = {"first": first, "again": again, "members": n}
    return out


def phase_optimize(path: Path) -> dict[str, Any]:
    """``kequn optimize``: the events and orders in time order (once; then a no-op)."""
    import kequn
    from kequn.storage.layout import optimize

    with kequn.open(path) as ws:
        done = optimize(ws)
    return {"seconds": sum(d.seconds for d in done), "tables": [d.to_dict() for d in done]}


PHASES = {"hand": phase_hand, "hand_full": phase_hand_full, "builtin": phase_builtin,
          "adhoc": phase_adhoc, "optimize": phase_optimize}


def run_phase(name: str, path: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(HERE), "--phase", name, "--workspace", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        msg = f"phase {name} failed"
        raise SystemExit(msg)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--dir", default="/tmp/kq-bench-segments")
    parser.add_argument("--phase", choices=sorted(PHASES))
    parser.add_argument("--workspace")
    args = parser.parse_args()
    if args.phase:
        result = PHASES[args.phase](Path(args.workspace))
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        sys.stdout.write(json.dumps(result, default=str) + "\n")
        return

    path = Path(args.dir) / str(args.customers) / "shop.duckdb"
    build_workspace(path, args.customers)
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
              for t in ("customers", "orders", "events")}
    con.close()

    optimized = run_phase("optimize", path)
    hand = run_phase("hand", path)
    hand_full = run_phase("hand_full", path)
    builtin = run_phase("builtin", path)
    adhoc = run_phase("adhoc", path)

    say(f"\n## Segments benchmark — {time.strftime('%Y-%m-%d %H:%M %Z')}\n")
    say(f"`{' '.join(['.venv/bin/python', 'bench/bench_segments.py', *sys.argv[1:]])}` on "
        f"{platform.node()}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
        f", Python {platform.python_version()}, DuckDB {duckdb.__version__}")
    say(f"\nshop: {counts['customers']:,} customers, {counts['orders']:,} orders, "
        f"{counts['events']:,} events\n")
    for d in optimized["tables"]:
        say(f"`kequn optimize`, {d['table']}: "
            + (f"rewritten in time order in {d['seconds']:.1f} s (block span "
               f"{d['span_before']:.1%} → {d['span_after']:.2%})" if d["rewritten"]
               else f"already in time order (block span {d['span_before']:.2%})"))
    say("")
    say("| phase | time | peak memory (MB) |")
    say("|---|---:|---:|")
    say(f"| hand-written DuckDB aggregation of the orders and events | {hand['seconds']:.2f} s"
        f" | {hand['max_rss_mb']:.0f} |")
    say(f"| hand-written DuckDB query, same answer as every built-in group "
        f"(`bench/hand_features.sql`) | {hand_full['seconds']:.2f} s | "
        f"{hand_full['max_rss_mb']:.0f} |")
    say(f"| feature table + every built-in group ({builtin['groups']}), cold | "
        f"{builtin['seconds']:.2f} s (prepare {builtin['prepare']:.2f} s) | "
        f"{builtin['max_rss_mb']:.0f} |")
    for kind, rule in AD_HOC.items():
        r = adhoc[kind]
        say(f"| ad-hoc count, {kind}: `{rule}` → {r['members']:,} | "
            f"{r['first'] * 1000:.0f} ms (again {r['again'] * 1000:.0f} ms) | "
            f"{adhoc['max_rss_mb']:.0f} |")
    say(f"\nratio built-in / hand-written aggregation of orders and events: "
        f"{builtin['seconds'] / hand['seconds']:.2f} (target ≤ 2)")
    say(f"ratio built-in / hand-written query with the same answer (like for like): "
        f"{builtin['seconds'] / hand_full['seconds']:.2f}")
    differences = size_differences(builtin["sizes"], hand_full["sizes"])
    if differences:
        say(f"\nthe hand-written query disagrees with kequn on {len(differences)} sizes:")
        for line in differences:
            say(f"- {line}")
        raise SystemExit(1)
    say(f"every size of the {builtin['groups']} built-in groups agrees with the hand-written "
        f"query")


if __name__ == "__main__":
    main()
