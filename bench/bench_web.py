"""Benchmark: dashboard pages and the group builder's live count on the demo shop.

Starts ``kequn serve`` (a real uvicorn process, background warming off) on a workspace and
times, over HTTP:

1. every page cold: the page itself (answers at once, drawing "computing…" where a figure is
   not computed yet) and the panel it fetches;
2. every page warm (figures computed for the current data): the targets of issue 7 are
   under 1 s per page;
3. the builder's live count for rules typed one after another (each new to the server, so
   nothing is cached) and for a rule asked again: the target is under 300 ms;
4. how long the background warm-up takes after a start (a second server with warming on).

    .venv/bin/python bench/bench_web.py                                 # demo shop, 100 000
    .venv/bin/python bench/bench_web.py --workspace /tmp/shop.duckdb    # an existing workspace

Without ``--workspace`` the demo shop is made first with ``kequn demo`` (about 30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

KEQUN = [sys.executable, "-c", "import kequn.cli.serve, kequn.cli.demo; "
                               "from kequn.cli import main; main()"]
PAGES = [
    ("overview", "/", "/panel/overview?period=week"),
    ("groups", "/groups", "/panel/groups"),
    ("rfm", "/rfm", "/panel/rfm"),
    ("retention", "/retention", "/panel/retention?action=any&period=week&mode=in"),
    ("funnel", "/funnel", "/panel/funnel?period=month"),
    ("channels", "/channels", "/panel/channels?period=month"),
    ("builder", "/groups/builder?segment=interest", None),
    ("predictions", "/predictions", None),
    ("campaigns", "/campaigns", None),
    ("load", "/load", None),
]
# what an operator types, step by step, in the builder (each a new rule for the server)
TYPED = [
    "member_level IN ('V4', 'V5', 'V6')",
    "member_level IN ('V4', 'V5', 'V6')\nAND city_tier <= 2",
    "member_level IN ('V4', 'V5', 'V6')\nAND city_tier <= 2\nAND paid_orders(last: 365d) >= 2",
    "paid_orders(last: 720d) = 1 AND last_paid_at > -180d",
    "events(cart, last: 14d) > 0",
    "events(cart, last: 14d) > 0 AND NOT opted_out",
    "spend(last: 365d) > 500",
    "intent_score(last: 14d) > 5",
    "segment(active) AND member_level = 'V0'",
]


def say(text: str) -> None:
    """One line of the report."""
    print(text, flush=True)  # noqa: T201


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workspace: Path, *, warm: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([*KEQUN, "serve", "--workspace", str(workspace), "--port", str(port),
                             "--warm" if warm else "--no-warm"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/api/status", timeout=30).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    msg = "kequn serve did not start"
    raise SystemExit(msg)


def timed(client: httpx.Client, method: str, path: str, **kw: object) -> tuple[float, int, str]:
    started = time.perf_counter()
    r = client.request(method, path, **kw)  # type: ignore[arg-type]
    return time.perf_counter() - started, r.status_code, r.text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=None)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/out/web.json"))
    args = parser.parse_args()

    workspace = args.workspace
    if workspace is None:
        workspace = Path(f"/tmp/kequn_bench_web_{args.customers}.duckdb")
        if not workspace.exists():
            say(f"making the demo shop ({args.customers:,} customers) at {workspace} ...")
            subprocess.run([*KEQUN, "demo", "--customers", str(args.customers), "--workspace",
                            str(workspace)], check=True, stdout=subprocess.DEVNULL)
    say(f"kequn web benchmark · {workspace} · {platform.processor() or platform.machine()} · "
        f"{os.cpu_count()} cores · load average {os.getloadavg()[0]:.1f}")
    results: dict[str, object] = {"workspace": str(workspace)}

    proc, url = serve(workspace, warm=False)
    try:
        client = httpx.Client(base_url=url, timeout=600)
        status = client.get("/api/status").json()
        rows = {t["table"]: t["rows"] for t in status["tables"]}
        say(f"shop: {rows['customers']:,} customers · {rows['orders']:,} orders · "
            f"{rows['events']:,} events")
        results["rows"] = rows

        say("\n1. pages, cold (nothing computed yet)      page      panel")
        cold = {}
        for name, page, panel in PAGES:
            t_page, code, _ = timed(client, "GET", page)
            t_panel = None
            if panel is not None:
                t_panel, pcode, _ = timed(client, "GET", panel)
                code = max(code, pcode)
            cold[name] = {"page_s": t_page, "panel_s": t_panel, "status": code}
            panel_text = f"{t_panel:8.2f}s" if t_panel is not None else "        –"
            say(f"   {name:<38}{t_page:8.3f}s {panel_text}  [{code}]")
        results["cold"] = cold

        say(f"\n2. pages, warm (median and max of {args.repeat})            target < 1 s")
        warm = {}
        for name, page, _ in PAGES:
            times = [timed(client, "GET", page)[0] for _ in range(args.repeat)]
            warm[name] = {"median_s": statistics.median(times), "max_s": max(times)}
            ok = "ok" if max(times) < 1 else "SLOW"
            say(f"   {name:<38}{statistics.median(times):8.3f}s {max(times):8.3f}s  {ok}")
        results["warm"] = warm

        say("\n3. builder live count                                     target < 300 ms")
        counts = []
        for rule in TYPED:
            t, code, text = timed(client, "POST", "/groups/count", data={"rule": rule})
            n = text.split('data-count="')[1].split('"')[0] if "data-count" in text else "?"
            counts.append({"rule": rule, "first_s": t, "count": n, "status": code})
            again = timed(client, "POST", "/groups/count", data={"rule": rule})[0]
            counts[-1]["again_s"] = again
            ok = "ok" if t < 0.3 else "SLOW"
            say(f"   {t * 1000:7.0f} ms (again {again * 1000:4.0f} ms) {n:>8}  "
                f"{rule.replace(chr(10), ' ')[:58]:<58} {ok}")
        results["count"] = counts
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)

    say("\n4. background warm-up after a start")
    proc, url = serve(workspace, warm=True)
    try:
        started = time.perf_counter()
        client = httpx.Client(base_url=url, timeout=600)
        while time.perf_counter() - started < 900:
            if 'hx-get="/panel/' not in client.get("/channels").text and \
                    'hx-get="/panel/' not in client.get("/groups").text:
                break
            time.sleep(1)
        took = time.perf_counter() - started
        results["warm_up_s"] = took
        say(f"   every default page drawn from the cache {took:.1f}s after the server answered")
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    say(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
