"""The send journal: one line per attempt and outcome, written before the workspace knows.

A workspace commit costs about a millisecond, so sends are recorded in the workspace in small
batches; between two commits the journal (a plain append-only file beside the workspace) says,
message by message, what was tried and what came back. Each line is handed to the operating
system before the next step, so it survives the process being killed (not a power cut).
After a crash, :func:`read_journal` tells the send loop which pending sends left ('ok'),
failed, or are in doubt ('try' without an outcome): at most the one message in flight.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["Journal", "read_journal"]

OUTCOMES = ("ok", "fail", "unknown", "skip", "release")


class Journal:
    """Append-only journal of one workspace's sends (in memory for an in-memory workspace)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fd: int | None = None
        self._memory: list[str] = []

    @classmethod
    def for_workspace(cls, workspace_path: Path | None) -> Journal:
        """The journal file beside ``workspace_path`` (``<file>.sends.journal``)."""
        if workspace_path is None:
            return cls(None)
        return cls(workspace_path.with_name(workspace_path.name + ".sends.journal"))

    def write(self, kind: str, key: str, reason: str = "", at: str = "") -> None:
        """Record one line: 'try', or an outcome, for idempotency key ``key``."""
        fields = (kind, key, at, reason)
        line = "\t".join(f.replace("\n", " ").replace("\t", " ") for f in fields) + "\n"
        if self.path is None:
            self._memory.append(line)
            return
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.write(self._fd, line.encode())

    def read(self) -> dict[str, tuple[str, str, str]]:
        """Last state per key: (kind, at, reason); kind is 'try' or an outcome."""
        if self.path is None:
            return _parse(self._memory)
        return read_journal(self.path)

    def clear(self) -> None:
        """Forget everything (called once the workspace has committed what it says)."""
        self._memory.clear()
        if self.path is None:
            return
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
        elif self.path.exists():
            self.path.unlink()

    def close(self) -> None:
        """Close the file (and remove it when empty)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None and self.path.exists() and self.path.stat().st_size == 0:
            self.path.unlink()


def read_journal(path: Path) -> dict[str, tuple[str, str, str]]:
    """Parse a journal file; a torn last line (killed mid-write) is ignored."""
    if not path.exists():
        return {}
    text = path.read_bytes().decode("utf-8", errors="replace")
    return _parse(text.splitlines(keepends=True))


def _parse(lines: list[str]) -> dict[str, tuple[str, str, str]]:
    state: dict[str, tuple[str, str, str]] = {}
    for line in lines:
        if not line.endswith("\n"):
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 4 or parts[0] not in ("try", *OUTCOMES):
            continue
        kind, key, at, reason = parts
        state[key] = (kind, at, reason)
    return state
