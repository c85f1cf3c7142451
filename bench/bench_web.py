"""Benchmark: dashboard pages and the group builder's live count on the demo shop.

Starts ``kequn serve`` (a real uvicorn process, background warming off) on a workspace and
times, over HTTP:

1. every page cold: the page itself (answers at once, drawing "computing…" where a figure is
   not computed yet) and the panel it fetches;
2. every page warm (figures computed for the current data): the targets of issue 7 are
   under 1 s per page;
3. the builder's live count for rules typed one after another (each new to the server, so
   nothing is cached) and for a rule asked again: the target is under 300 ms. First the
   palette's conditions and rules over the customers' fields, then rules whose measures no
   group or palette condition has (read from the orders or events themselves);
4. how long the background warm-up takes after a start (a second server with warming on):
   the landing page, the groups page, every default page;
5. ``kequn load`` beside a busy server: a server answering a steady stream of quick reads
   (three clients, no pause) while a small file is loaded into a copy of the workspace; the
   load's time against the same load with no server, and how long it waited for the file
   (issue 7: the server lets go of the file when a load waits for it).

    .venv/bin/python bench/bench_web.py                                 # demo shop, 100 000
    .venv/bin/python bench/bench_web.py --workspace /tmp/shop.duckdb    # an existing workspace

Without ``--workspace`` the demo shop is made first with ``kequn demo`` (about 30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

KEQUN = [sys.executable, "-c", "import kequn.cli.serve, kequn.cli.demo; "
                               "from kequn.cli import main; main()"]
PAGES = [
    ("overview", "/", "/panel/overview?period=week"),
    ("groups", "/groups", "/panel/groups?part=now"),
    ("groups, change over 30 days", "/groups", "/panel/groups?part=all"),
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
# measures no group or palette condition has: computed from the orders or events per request
NOVEL = [
    "events(cart, last: 7d) > 0",
    "events(view, last: 3d) >= 5",
    "events(visit, last: 60d) >= 10 AND city_tier <= 2",
    "paid_orders(last: 90d) >= 1",
    "spend(last: 60d) > 200 AND NOT opted_out",
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


def fresh_copy(workspace: Path, folder: Path) -> Path:
    """A copy of the workspace as right after its data changed: no kept feature table."""
    import kequn
    from kequn.segments import cache

    copy = folder / "shop.duckdb"
    shutil.copy(workspace, copy)
    with kequn.open(copy) as ws:
        cache.drop(ws)
    return copy


def warm_up(workspace: Path) -> dict[str, float]:
    """Seconds after a start until the landing page, the groups page and every default page
    are drawn from the cache (no "computing…" panel left)."""
    proc, url = serve(workspace, warm=True)
    marks: dict[str, float] = {}
    try:
        started = time.perf_counter()
        client = httpx.Client(base_url=url, timeout=600)
        waiting = {name: page for name, page, panel in PAGES if panel is not None}
        while waiting and time.perf_counter() - started < 900:
            for name, page in list(waiting.items()):
                text = client.get(page).text
                # the groups page first shows the sizes, then fetches their 30-day change
                if ('class="lazy"' if name == "groups" else 'hx-get="/panel/') not in text:
                    marks[name] = time.perf_counter() - started
                    del waiting[name]
            time.sleep(0.25)
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)
    for name, took in marks.items():
        say(f"   {name:<38}{took:8.1f}s after the server answered")
    marks["all"] = max(marks.values(), default=float("nan"))
    say(f"   {'every default page':<38}{marks['all']:8.1f}s")
    return marks


def _load(workspace: Path, data: Path) -> float:
    started = time.perf_counter()
    subprocess.run([*KEQUN, "load", "events", str(data), "--workspace", str(workspace)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "KEQUN_LOCK_WAIT": "300"})
    return time.perf_counter() - started


def _watch_announcements(workspace: Path, stop: threading.Event,
                         lifetimes: dict[str, list[float]]) -> None:
    """Note when each announcement of a process waiting for the file appears and goes."""
    folder = workspace.with_name(workspace.name + ".kq-writers")
    while not stop.is_set():
        now = time.perf_counter()
        try:
            names = set(os.listdir(folder))
        except OSError:
            names = set()
        for name in names:
            lifetimes.setdefault(name, [now, now])[1] = now
        time.sleep(0.02)


def writer_beside_server(workspace: Path, repeat: int = 3) -> dict[str, object]:
    """A small ``kequn load`` into a copy of the workspace, alone and beside a busy server.

    The server answers quick reads (pages and API calls already computed) from three clients
    without pause, so it always has a request reading the file. The load's time includes
    starting a Python process on a machine whose cores the server keeps busy; the time it
    waited for the file is how long its announcement (``shop.duckdb.kq-writers/w.PID.…``)
    was there.
    """
    folder = Path(tempfile.mkdtemp(prefix="kq_bench_writer_"))
    copy = fresh_copy(workspace, folder)
    out: dict[str, object] = {}

    def data(n: int) -> Path:
        path = folder / f"events_{n}.csv"
        path.write_text("event_time,customer_id,event,session_id\n" + "".join(
            f"2026-10-30 10:{i % 60:02d}:{n % 60:02d},C{i:07d},view,bench{n}-{i}\n"
            for i in range(200)), encoding="utf-8")
        return path

    try:
        alone = [_load(copy, data(n)) for n in range(repeat)]
        proc, url = serve(copy, warm=False)
        stop = threading.Event()
        served: list[float] = []
        quick = ("/api/status", "/rfm", "/api/segments?sizes=false&limit=5", "/api/metrics")

        def busy() -> None:
            with httpx.Client(base_url=url, timeout=600) as c:
                while not stop.is_set():
                    for path in quick:
                        t0 = time.perf_counter()
                        c.get(path)
                        served.append(time.perf_counter() - t0)

        lifetimes: dict[str, list[float]] = {}
        try:
            for path in quick:
                httpx.get(url + path, timeout=600)
            clients = [threading.Thread(target=busy) for _ in range(3)]
            clients.append(threading.Thread(target=_watch_announcements,
                                            args=(copy, stop, lifetimes)))
            for c in clients:
                c.start()
            time.sleep(2)
            beside = [_load(copy, data(repeat + n)) for n in range(repeat)]
            stop.set()
            for c in clients:
                c.join(600)
        finally:
            proc.terminate()
            proc.wait(30)
        waits = [end - begin for name, (begin, end) in lifetimes.items() if name.startswith("w.")]
        out = {"alone_s": alone, "beside_busy_server_s": beside, "requests_served": len(served),
               "announced_wait_s": waits}
        say(f"   load alone            {' '.join(f'{t:6.1f}s' for t in alone)}")
        say(f"   beside a busy server  {' '.join(f'{t:6.1f}s' for t in beside)}   "
            f"({len(served)} requests answered meanwhile)")
        if waits:
            say(f"   waited for the file   {' '.join(f'{t:6.1f}s' for t in waits)}   "
                "(its announcement's lifetime)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return out


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
    folder = Path(tempfile.mkdtemp(prefix="kq_bench_web_"))
    try:
        measure(fresh_copy(workspace, folder), args.repeat, results)
        (folder / "shop.duckdb").unlink()
        say("\n4. background warm-up after a start (after the data changed)")
        results["warm_up"] = warm_up(fresh_copy(workspace, folder))
        (folder / "shop.duckdb").unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    say("\n5. kequn load beside a busy server")
    results["writer"] = writer_beside_server(workspace)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    say(f"\nwritten {args.out}")
    return 0


def measure(workspace: Path, repeat: int, results: dict[str, object]) -> None:
    """Sections 1 to 3 on one server without background warm-up."""
    proc, url = serve(workspace, warm=False)
    try:
        client = httpx.Client(base_url=url, timeout=600)
        status = client.get("/api/status").json()
        rows = {t["table"]: t["rows"] for t in status["tables"]}
        say(f"shop: {rows['customers']:,} customers · {rows['orders']:,} orders · "
            f"{rows['events']:,} events")
        results["rows"] = rows

        say("\n1. pages, cold (data just changed, nothing computed)  page   panel")
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

        say(f"\n2. pages, warm (median and max of {repeat})            target < 1 s")
        warm = {}
        for name, page, _ in PAGES:
            times = [timed(client, "GET", page)[0] for _ in range(repeat)]
            warm[name] = {"median_s": statistics.median(times), "max_s": max(times)}
            ok = "ok" if max(times) < 1 else "SLOW"
            say(f"   {name:<38}{statistics.median(times):8.3f}s {max(times):8.3f}s  {ok}")
        results["warm"] = warm

        say("\n3. builder live count                                     target < 300 ms")
        counts = []
        for rule in [*TYPED, *NOVEL]:
            if rule == NOVEL[0]:
                say("   measures of no group or palette condition:")
            t, code, text = timed(client, "POST", "/groups/count", data={"rule": rule})
            n = text.split('data-count="')[1].split('"')[0] if "data-count" in text else "?"
            counts.append({"rule": rule, "first_s": t, "count": n, "status": code,
                           "novel": rule in NOVEL})
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


if __name__ == "__main__":
    sys.exit(main())
