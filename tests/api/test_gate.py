"""The workspace gate with other processes: it keeps the file open between requests, and lets
go of it at once when another kequn process announces that it waits (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

import kequn
from kequn.api.gate import WorkspaceGate
from kequn.storage.writers import STALE_S, marker_dir, waiting

# A process that only tries DuckDB itself (it does not announce, as a foreign tool would not).
TRY_WRITE = ("import duckdb, sys\n"
             "try:\n    duckdb.connect(sys.argv[1]).close()\nexcept duckdb.Error:\n"
             "    sys.exit(3)\n")
# A kequn process writing a setting: prints how long it waited for the file.
KEQUN_WRITE = ("import sys, time, kequn\n"
               "t = time.perf_counter()\n"
               "with kequn.open(sys.argv[1]) as ws:\n"
               "    waited = time.perf_counter() - t\n"
               "    ws.set(small_cell_k=7)\n"
               "print(f'{waited:.3f}')\n")


def _foreign_write_works(path: Path) -> bool:
    return subprocess.run([sys.executable, "-c", TRY_WRITE, str(path)],
                          timeout=60).returncode == 0


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """Another live process, whose pid an announcement can carry."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def _announce(path: Path, pid: int, mode: str = "w") -> Path:
    folder = marker_dir(path)
    folder.mkdir(exist_ok=True)
    marker = folder / f"{mode}.{pid}.test"
    marker.touch()
    return marker


def test_the_file_stays_open_between_requests_and_closes_after_the_linger(ws_path: Path):
    gate = WorkspaceGate(ws_path, linger_s=60)
    with gate.open() as ws:
        assert ws.table("customers").count().to_pyarrow().as_py() == 120
    assert not _foreign_write_works(ws_path)  # kept open (read-only): DuckDB's cache stays warm
    gate.linger_s = 0.2
    time.sleep(0.5)
    assert _foreign_write_works(ws_path)  # nobody asked for a while: closed


def test_with_keep_open_0_the_file_is_free_between_requests(ws_path: Path):
    gate = WorkspaceGate(ws_path, linger_s=0)
    with gate.open() as ws:
        ws.table("orders").count().to_pyarrow()
    with kequn.open(ws_path) as other:  # another writer (here, this very process) at once
        other.set(small_cell_k=3)


def test_a_kequn_writer_gets_the_file_from_a_gate_busy_with_overlapping_reads(ws_path: Path):
    gate = WorkspaceGate(ws_path, linger_s=60)
    stop = threading.Event()
    reads: list[int] = []
    failures: list[BaseException] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                with gate.open() as ws:
                    reads.append(ws.table("customers").count().to_pyarrow().as_py())
                    time.sleep(0.15)  # requests overlap: the file is never idle on its own
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    try:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", KEQUN_WRITE, str(ws_path)],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "KEQUN_LOCK_WAIT": "60"})
        took = time.perf_counter() - started
        time.sleep(0.5)  # the readers go on after it
        before = len(reads)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 5, f"the writer waited {done.stdout}s for the file"
    assert took < 30
    assert failures == []
    assert len(reads) > before  # reading resumed
    assert gate.released >= 1
    with gate.open() as ws:
        assert ws.settings.small_cell_k == 7  # the reads after it see its write
    assert not marker_dir(ws_path).exists()  # the writer withdrew its announcement


def test_a_waiting_process_announces_itself_until_it_has_the_file(ws_path: Path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\nc = duckdb.connect(sys.argv[1])\n"
         "print('ready', flush=True)\ntime.sleep(1.5)\nc.close()\n", str(ws_path)],
        stdout=subprocess.PIPE)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"ready"
    seen: list[list[str]] = []
    opened = threading.Event()

    def watch() -> None:
        while not opened.is_set():
            folder = marker_dir(ws_path)
            if folder.exists():
                seen.append(sorted(os.listdir(folder)))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with kequn.open(ws_path) as ws:
            opened.set()
            ws.set(small_cell_k=4)
    finally:
        opened.set()
        watcher.join()
        holder.wait(30)
    names = {name for listing in seen for name in listing}
    assert any(name.startswith(f"w.{os.getpid()}.") for name in names)
    assert not marker_dir(ws_path).exists()  # withdrawn, and the empty folder removed


def test_requests_wait_while_another_process_announces_a_write(ws_path: Path, sleeper):
    gate = WorkspaceGate(ws_path, linger_s=60)
    with gate.open():
        pass
    marker = _announce(ws_path, sleeper.pid)
    entered = threading.Event()

    def request() -> None:
        with gate.open():
            entered.set()

    t = threading.Thread(target=request)
    t.start()
    time.sleep(0.5)
    assert not entered.is_set()  # no new connection while it waits
    assert _foreign_write_works(ws_path)  # and the file was closed for it
    marker.unlink()
    t.join(10)
    assert entered.is_set()


def test_a_request_defers_to_an_announcement_for_a_bounded_time(ws_path: Path, sleeper):
    gate = WorkspaceGate(ws_path, yield_s=0.3)
    _announce(ws_path, sleeper.pid)
    started = time.perf_counter()
    with gate.open() as ws:
        assert ws.table("customers").count().to_pyarrow().as_py() == 120
    assert 0.25 < time.perf_counter() - started < 5


def test_announcements_of_dead_and_silent_processes_do_not_count(ws_path: Path, sleeper):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = _announce(ws_path, dead.pid)
    silent = _announce(ws_path, sleeper.pid)
    old = time.time() - STALE_S - 5
    os.utime(silent, (old, old))
    assert waiting(ws_path) == []
    assert not gone.exists()  # tidied up: its process is gone
    _announce(ws_path, sleeper.pid, mode="r")
    assert [(w.pid, w.mode) for w in waiting(ws_path)] == [(sleeper.pid, "r")]
    assert waiting(ws_path, exclude_pid=sleeper.pid) == []
    gate = WorkspaceGate(ws_path)
    assert not gate.others_waiting(write=False)  # a reader does not conflict with reads
    assert gate.others_waiting(write=True)


@pytest.mark.parametrize("linger_s", [60, 0])
def test_background_work_is_interrupted_when_another_process_waits(ws_path: Path, sleeper,
                                                                   linger_s: float):
    gate = WorkspaceGate(ws_path, linger_s=linger_s)
    outcome: list[object] = []

    def long_background_query() -> None:
        try:
            with gate.open(background=True) as ws:
                ws.raw.execute("SELECT sum(i * i) FROM range(100000000000) t(i)").fetchone()
                outcome.append("finished")
        except duckdb.InterruptException as exc:
            outcome.append(exc)

    t = threading.Thread(target=long_background_query)
    t.start()
    time.sleep(0.5)
    started = time.perf_counter()
    marker = _announce(ws_path, sleeper.pid)
    t.join(20)
    marker.unlink()
    assert len(outcome) == 1
    assert isinstance(outcome[0], duckdb.InterruptException)
    assert time.perf_counter() - started < 5
