"""Opening the workspace for one request, and letting go of it when another process waits.

DuckDB lets one process write a file at a time, a process reading it keeps others from
writing, and inside one process every connection to a file must use the same mode. So:

- requests that only read share the file read-only; a request that writes waits for them and
  has the file alone; a waiting writer goes first (readers arriving after it wait);
- between requests the file stays open read-only for up to :data:`LINGER_S` seconds, so the
  next request finds DuckDB's cache warm instead of reading the tables from disk again;
- another kequn process waiting for the file announces itself (:mod:`kequn.storage.writers`).
  While it does, no new request gets a connection (waiting at most :data:`YIELD_S` seconds),
  background work (the warm-up) is interrupted, and the file is closed as soon as the running
  requests are done, so ``kequn load`` or ``kequn run`` gets it within about one request's
  time however busy the server is. The requests then wait for it as it waited for them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from kequn.storage.writers import waiting
from kequn.workspace import Workspace

log = logging.getLogger("kequn.api")

LINGER_S = 60.0
"""Keep the file open this long after the last request (unless another process waits);
0 closes it after every request."""
YIELD_S = 15.0
"""The longest one request defers to another process's announcement before going ahead."""
POLL_S = 0.05


class WorkspaceGate:
    """Hands out short-lived connections to one workspace file (see the module docstring)."""

    def __init__(self, path: Path, *, linger_s: float = LINGER_S,
                 yield_s: float = YIELD_S) -> None:
        self.path = Path(path)
        self.linger_s = linger_s
        self.yield_s = yield_s
        self.released = 0
        """How many times the file was closed for another process (for logs and tests)."""
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0
        self._keeper: duckdb.DuckDBPyConnection | None = None
        self._idle_since = time.monotonic()
        self._background: set[Workspace] = set()
        self._watching = False

    @contextmanager
    def open(self, *, write: bool = False, background: bool = False) -> Iterator[Workspace]:
        """The workspace, open for this block only (read-only unless ``write``).

        ``background`` work (the dashboard's warm-up) is interrupted when another process
        waits for the file: it raises :class:`duckdb.InterruptException` and should try later.
        """
        self._enter(write)
        try:
            ws = Workspace(self.path, read_only=not write)
            try:
                if not write:
                    self._keep(ws, background)
                yield ws
            finally:
                with self._cond:
                    self._background.discard(ws)
                ws.close()
        finally:
            self._leave(write)

    def close(self) -> None:
        """Close the file now (the server stops; the next request would open it again)."""
        with self._cond:
            self._drop_keeper()

    # -- who may go --------------------------------------------------------------------------
    def others_waiting(self, *, write: bool) -> bool:
        """Whether another process announces it waits for the file in a mode that conflicts
        with a request of this one (any write, or a read when this one would write)."""
        return any(w.mode == "w" or write for w in waiting(self.path, exclude_pid=self._pid))

    def _enter(self, write: bool) -> None:
        deadline = time.monotonic() + self.yield_s
        with self._cond:
            if write:
                self._writers_waiting += 1
            try:
                while True:
                    busy = self._writing or (self._readers > 0 if write
                                             else self._writers_waiting > 0)
                    deferring = time.monotonic() < deadline and self.others_waiting(write=write)
                    if deferring and not self._readers and not self._writing:
                        self._release()
                    if not busy and not deferring:
                        break
                    self._cond.wait(POLL_S if deferring else 1.0)
            finally:
                if write:
                    self._writers_waiting -= 1
            if write:
                self._writing = True
                self._drop_keeper()  # this process opens the file read-write: alone
            else:
                self._readers += 1

    def _leave(self, write: bool) -> None:
        with self._cond:
            if write:
                self._writing = False
            else:
                self._readers -= 1
            self._idle_since = time.monotonic()
            self._cond.notify_all()

    # -- keeping the file open between requests ------------------------------------------------
    def _keep(self, ws: Workspace, background: bool) -> None:
        with self._cond:
            if background:
                self._background.add(ws)
            if self._keeper is None and self.linger_s > 0:
                # The file is open in this process: this joins it without taking a lock.
                self._keeper = duckdb.connect(str(self.path), read_only=True)
            if not self._watching and (self._keeper is not None or self._background):
                self._watching = True
                threading.Thread(target=self._watch, name="kequn-gate", daemon=True).start()

    def _watch(self) -> None:
        """While the file is kept open or background work runs: when another process waits
        for the file, interrupt the background work and let go of the file as soon as no
        request reads it; let go of it, too, after :data:`LINGER_S` seconds without one."""
        while True:
            time.sleep(POLL_S)
            with self._cond:
                if self._keeper is None and not self._background:
                    self._watching = False
                    return
                others = self.others_waiting(write=False)
                if others:
                    for ws in self._background:
                        with suppress(Exception):
                            ws.raw.interrupt()
                free = not self._readers and not self._writing
                if others and free:
                    self._release()
                    self._cond.notify_all()
                elif free and time.monotonic() - self._idle_since >= self.linger_s:
                    self._drop_keeper()

    def _release(self) -> None:
        """Close the kept file because another process waits for it."""
        if self._keeper is not None:
            self._drop_keeper()
            self.released += 1
            log.info("workspace closed for another kequn process waiting for it")

    def _drop_keeper(self) -> None:
        if self._keeper is not None:
            with suppress(duckdb.Error):
                self._keeper.close()
            self._keeper = None
