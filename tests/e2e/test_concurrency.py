"""The server, ``kequn load`` and ``kequn run`` on one workspace at the same time: real
processes, no errors, no lost writes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from e2e_server import KEQUN, build_shop, start_server, stop_server

from kequn.storage.writers import marker_dir

pytestmark = pytest.mark.slow

LOADS = 4
ROWS = 400


def _events_file(folder: Path, n: int) -> Path:
    path = folder / f"events_{n}.csv"
    lines = ["event_time,customer_id,event,session_id"]
    lines += [f"2026-10-{1 + i % 28:02d} {i % 24:02d}:{n:02d}:{i % 60:02d},C{i % 150:07d},view,"
              f"s{n}-{i}" for i in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_server_loads_and_runs_share_the_workspace(tmp_path: Path):
    ws = build_shop(tmp_path, customers=150)
    server = start_server(ws, tmp_path / "serve.log")
    env = {**os.environ, "KEQUN_LOCK_WAIT": "120"}
    try:
        before = {t["table"]: t["rows"] for t in server.get("/api/status").json()["tables"]}
        files = [_events_file(tmp_path, n) for n in range(LOADS)]
        statuses: list[tuple[str, int]] = []
        stop = threading.Event()

        def hammer(worker: int) -> None:
            client = httpx.Client(base_url=server.url, timeout=120)
            i = 0
            while not stop.is_set() or i < 3:
                i += 1
                rule = f"events(view, last: {i + worker}d) > 0"
                for method, path, kw in (
                    ("GET", "/api/status", {}),
                    ("POST", "/api/segments/count", {"json": {"rule": rule}}),
                    ("POST", "/groups/count", {"data": {"rule": rule}}),
                    ("GET", "/api/segments/active/members?limit=5", {}),
                    ("POST", "/api/segments", {"json": {"id": f"w{worker}_{i}",
                                                        "rule": rule}}),
                ):
                    r = client.request(method, path, **kw)
                    statuses.append((f"{method} {path}", r.status_code))
                time.sleep(0.25)  # busy operators clicking, not a flood
            client.close()

        with ThreadPoolExecutor(2) as pool:
            workers = [pool.submit(hammer, w) for w in range(2)]
            time.sleep(0.5)
            procs = [subprocess.Popen([*KEQUN, "load", "events", str(f), "--workspace",
                                       str(ws), "--json"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE) for f in files]
            procs.append(subprocess.Popen([*KEQUN, "run", "--ticks", "3", "--every", "1s",
                                           "--workspace", str(ws)], env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            outcomes = [(p.wait(300), p.stderr.read().decode() if p.stderr else "")
                        for p in procs]
            stop.set()
            for w in workers:
                w.result(300)

        assert [code for code, _ in outcomes] == [0] * (LOADS + 1), outcomes
        bad = [s for s in statuses if s[1] >= 300]
        assert bad == [], bad
        after = {t["table"]: t["rows"] for t in server.get("/api/status").json()["tables"]}
        assert after["events"] == before["events"] + LOADS * ROWS  # every row present
        saved = {p.split("/")[-1] for p, code in statuses if code == 201}
        listed = server.get("/api/segments?sizes=false&limit=1000").json()["items"]
        created = sum(1 for name, code in statuses if code == 201 and "segments" in name)
        assert created == sum(1 for s in listed if s["origin"] == "saved")  # no lost writes
        assert saved  # the writers really wrote
        assert server.get("/api/loads").json()["total"] == LOADS
    finally:
        stop_server(server)


def test_a_load_gets_the_workspace_from_a_server_busy_with_reads(tmp_path: Path):
    """Issue 7: a busy server keeps the file open for its reads, yet ``kequn load`` in another
    process gets it within about one request's time (the load announces that it waits;
    see kequn.api.gate), and every row it read is stored or quarantined."""
    ws = build_shop(tmp_path, customers=150)
    env = {**os.environ, "KEQUN_LOCK_WAIT": "120"}

    def load(n: int) -> tuple[float, dict]:
        data = _events_file(tmp_path, n)  # new rows each time
        started = time.perf_counter()
        done = subprocess.run([*KEQUN, "load", "events", str(data), "--workspace", str(ws),
                               "--json"], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return time.perf_counter() - started, json.loads(done.stdout)

    alone, _ = load(0)
    server = start_server(ws, tmp_path / "serve.log")
    stop = threading.Event()
    statuses: list[int] = []
    try:
        before = {t["table"]: t["rows"] for t in server.get("/api/status").json()["tables"]}

        def reads() -> None:  # overlapping quick reads, no pause: the file is never idle
            with httpx.Client(base_url=server.url, timeout=120) as client:
                while not stop.is_set():
                    for path in ("/api/status", "/rfm", "/api/segments?sizes=false&limit=5",
                                 "/api/metrics"):
                        statuses.append(client.get(path).status_code)

        announced: dict[str, list[float]] = {}  # name: first and last time seen

        def watch() -> None:  # how long the load announced that it waited for the file
            while not stop.is_set():
                now = time.perf_counter()
                with contextlib.suppress(OSError):
                    for name in os.listdir(marker_dir(ws)):
                        announced.setdefault(name, [now, now])[1] = now
                time.sleep(0.02)

        with ThreadPoolExecutor(4) as pool:
            readers = [pool.submit(reads) for _ in range(3)]
            watcher = pool.submit(watch)
            time.sleep(1.5)
            served = len(statuses)
            beside, report = load(1)
            time.sleep(1)
            stop.set()
            for r in [*readers, watcher]:
                r.result(120)
        after = {t["table"]: t["rows"] for t in server.get("/api/status").json()["tables"]}
    finally:
        stop.set()
        stop_server(server)
    waited = max((last - first for name, (first, last) in announced.items()
                  if name.startswith("w.")), default=0.0)
    print(f"kequn load alone {alone:.1f}s, beside a busy server {beside:.1f}s, "  # noqa: T201
          f"waiting for the file {waited:.1f}s")
    assert served > 10  # the server really was busy
    assert beside < 15, f"the load took {beside:.1f}s beside a busy server ({alone:.1f}s alone)"
    assert waited < 5, f"the load waited {waited:.1f}s for the file"
    assert report["read"] == report["stored"] + report["quarantined"] + report.get("updated", 0)
    assert after["events"] == before["events"] + report["stored"]  # nothing lost
    assert len(statuses) > served + 10  # the server kept answering after the load
    assert set(statuses) == {200}


def test_after_a_load_in_another_process_the_server_warms_the_new_data(tmp_path: Path):
    """The warm-up sees the workspace file change, computes the default pages for the new
    data and stores its kept feature table, without any request asking."""
    ws = build_shop(tmp_path, customers=150)
    env = {**os.environ, "KEQUN_LOCK_WAIT": "120"}

    def load(n: int) -> None:
        done = subprocess.run([*KEQUN, "load", "events", str(_events_file(tmp_path, n)),
                               "--workspace", str(ws)], env=env, capture_output=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def warmed(within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            pages = [server.get(p).text for p in ("/", "/rfm", "/groups")]
            if not any('hx-get="/panel/' in text for text in pages):
                return True
            time.sleep(0.5)
        return False

    def kept_fingerprints() -> set[str]:
        import kequn

        with kequn.open(ws, read_only=True) as w:
            return {row[2] for row in w.raw.execute(
                "SELECT * FROM kq_features_cache_key").fetchall()}

    load(0)  # a load history: the kept feature table needs one
    server = start_server(ws, tmp_path / "serve.log")
    try:
        assert warmed(120)
        first = kept_fingerprints()
        load(1)
        assert warmed(120)  # the new data's pages, computed in the background
        second = kept_fingerprints()
        assert second
        assert second.isdisjoint(first)  # stored again for the new data
    finally:
        stop_server(server)
