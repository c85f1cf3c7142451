"""Processes waiting for the workspace file say so, so that a server holding it lets go.

DuckDB lets one process write a file at a time, and a process that only reads keeps others
from writing while it has the file open. A busy ``kequn serve`` always has a request reading,
so a ``kequn load`` that merely retried would wait until the server happened to be idle. So a
kequn process that finds the file locked *announces* itself: it keeps a small file
``<workspace>.kq-writers/<mode>.<pid>.<token>`` while it waits (``w`` to write, ``r`` to read),
touching it at each retry and removing it once it has the file. The server's
:class:`~kequn.api.gate.WorkspaceGate` hands out no new connection while another process
announces a write (nor a write while one announces a read), and closes the file as soon as
its running requests are done.

An announcement counts only while its process is alive and it was touched in the last
:data:`STALE_S` seconds, so a crashed or stopped writer cannot stop the server for longer;
announcements of dead processes are removed by whoever sees them. This module only uses the
standard library: :func:`kequn.workspace._connect` imports it on its waiting path.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["r", "w"]
STALE_S = 5.0
"""An announcement not touched for this long no longer counts (its process hangs)."""
SUFFIX = ".kq-writers"


def marker_dir(workspace: str | os.PathLike[str]) -> Path:
    """The folder of announcements beside a workspace file (``shop.duckdb.kq-writers``)."""
    path = Path(workspace)
    return path.with_name(path.name + SUFFIX)


@dataclass(frozen=True)
class Waiting:
    """One live announcement: which process waits, and to read or to write."""

    pid: int
    mode: Mode
    age_s: float


class Announcement:
    """This process's announcement that it waits for a workspace (see the module docstring).

    Best effort: where the folder cannot be written (a read-only directory), nothing is
    announced and the waiter simply retries as before.
    """

    def __init__(self, workspace: str | os.PathLike[str], *, read_only: bool) -> None:
        self.folder = marker_dir(workspace)
        mode = "r" if read_only else "w"
        self.path: Path | None = self.folder / f"{mode}.{os.getpid()}.{secrets.token_hex(4)}"
        self._touched = 0.0
        for _ in range(3):  # another process may remove the empty folder in between
            try:
                self.folder.mkdir(exist_ok=True)
                self.path.touch()
                self._touched = time.monotonic()
                return
            except FileNotFoundError:
                continue
            except OSError:
                break
        self.path = None

    def refresh(self) -> None:
        """Show that this process still waits (at most every half second)."""
        if self.path is None or time.monotonic() - self._touched < 0.5:
            return
        try:
            os.utime(self.path)
        except FileNotFoundError:  # removed by someone tidying up: announce again
            with contextlib.suppress(OSError):
                self.folder.mkdir(exist_ok=True)
                self.path.touch()
        except OSError:
            return
        self._touched = time.monotonic()

    def close(self) -> None:
        """Withdraw the announcement (and the folder, when it was the last one)."""
        if self.path is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.folder.rmdir()  # fails while others wait: they keep the folder
        self.path = None

    def __enter__(self) -> Announcement:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process, but alive
        return True
    return True


def waiting(workspace: str | os.PathLike[str], *, exclude_pid: int | None = None,
            ) -> list[Waiting]:
    """The live announcements for ``workspace`` of processes other than ``exclude_pid``.

    Announcements of processes that are gone are removed on the way.
    """
    folder = marker_dir(workspace)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    now = time.time()
    found = []
    for name in names:
        mode, _, rest = name.partition(".")
        pid_text = rest.partition(".")[0]
        if mode not in ("r", "w") or not pid_text.isdigit():
            continue
        pid = int(pid_text)
        if pid == exclude_pid:
            continue
        try:
            age = now - (folder / name).stat().st_mtime
        except OSError:
            continue
        if not _alive(pid):
            with contextlib.suppress(OSError):
                (folder / name).unlink()
            continue
        if age <= STALE_S:
            found.append(Waiting(pid, mode, age))  # type: ignore[arg-type]
    return found
