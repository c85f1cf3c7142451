"""Opening the workspace for one request, so the server never holds the file between requests.

DuckDB lets one process write a file at a time, and inside one process every connection to a
file must use the same mode. So requests that only read share read-only connections, a
request that writes waits for them and has the file alone, and a waiting writer goes first
(readers arriving after it wait). Between requests the file is closed, and ``kequn load`` or
``kequn run`` in another process gets it (:func:`kequn.open` waits while someone holds it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kequn.workspace import Workspace


class WorkspaceGate:
    """Hands out short-lived connections to one workspace file (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def open(self, *, write: bool = False) -> Iterator[Workspace]:
        """The workspace, open for this block only (read-only unless ``write``)."""
        self._enter(write)
        try:
            ws = Workspace(self.path, read_only=not write)
            try:
                yield ws
            finally:
                ws.close()
        finally:
            self._leave(write)

    def _enter(self, write: bool) -> None:
        with self._cond:
            if write:
                self._writers_waiting += 1
                try:
                    while self._writing or self._readers:
                        self._cond.wait()
                finally:
                    self._writers_waiting -= 1
                self._writing = True
            else:
                while self._writing or self._writers_waiting:
                    self._cond.wait()
                self._readers += 1

    def _leave(self, write: bool) -> None:
        with self._cond:
            if write:
                self._writing = False
            else:
                self._readers -= 1
            self._cond.notify_all()
