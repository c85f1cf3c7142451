"""Membership history: snapshots of who is in a segment at an ``as_of``, and what changed.

A snapshot stores the members (and labels, for a family) in ``kq_segment_members`` and one
row in ``kq_segment_snapshots`` with the size and the rule text used, so an empty segment still
has a point in its history. Taking a snapshot again for the same segment and ``as_of``
replaces the earlier one. The members are computed on the workspace's engine and kept in its
embedded state database (on Spark their ids come back as Arrow), so history and changes
read only kequn's own state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis

from kequn.errors import NotFoundError
from kequn.segments.evaluate import Evaluator
from kequn.segments.registry import ensure_segment_tables, get_segment, list_segments
from kequn.storage.engines import to_state


@dataclass(frozen=True)
class Snapshot:
    """One stored snapshot of a segment."""

    snapshot_id: str
    segment_id: str
    as_of: dt.datetime
    taken_at: dt.datetime
    members: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"snapshot_id": self.snapshot_id, "segment_id": self.segment_id,
                "as_of": self.as_of.isoformat(), "taken_at": self.taken_at.isoformat(),
                "members": self.members}


@dataclass(frozen=True)
class Changes:
    """Who entered and who left a segment between two snapshots (a label change in a family
    counts as ``moved``)."""

    segment_id: str
    before: Snapshot
    after: Snapshot
    entered: list[str]
    left: list[str]
    moved: list[tuple[str, str | None, str | None]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"segment_id": self.segment_id, "from": self.before.to_dict(),
                "to": self.after.to_dict(), "entered": self.entered, "left": self.left,
                "moved": [{"customer_id": c, "from": a, "to": b} for c, a, b in self.moved]}


def take_snapshots(ws: Any, segment_ids: Sequence[str] | None = None, *,
                   as_of: str | dt.date | dt.datetime | None) -> list[Snapshot]:
    """Store the members of each segment at ``as_of`` (default: every saved segment)."""
    if segment_ids is None:
        segment_ids = [s.id for s in list_segments(ws) if s.origin == "saved"]
    segs = [get_segment(ws, seg_id) for seg_id in segment_ids]
    ensure_segment_tables(ws)
    with Evaluator(ws, as_of) as evaluator:
        if len(segs) > 1:
            evaluator.prepare([s.id for s in segs])
        return [_store(ws, evaluator, seg) for seg in segs]


def _store(ws: Any, evaluator: Evaluator, seg: Any) -> Snapshot:
    taken_at = dt.datetime.now().replace(microsecond=0)  # bookkeeping time, not an analytic one
    members = evaluator.evaluate(seg.id)
    if "label" not in members.columns:
        members = members.mutate(label=ibis.null("string"))
    key = f"{seg.id}|{evaluator.as_of.isoformat()}"
    snap_id = hashlib.sha1(key.encode()).hexdigest()[:16]
    rows = members.select(snapshot_id=ibis.literal(snap_id, type="string"),
                          customer_id=members.customer_id, label=members.label)
    with ws.transaction() as raw:
        raw.execute("DELETE FROM kq_segment_members WHERE snapshot_id = ?", [snap_id])
        raw.execute("DELETE FROM kq_segment_snapshots WHERE snapshot_id = ?", [snap_id])
        ws.con.insert("kq_segment_members", to_state(ws, rows))  # members from any engine
        size = raw.execute("SELECT count(*) FROM kq_segment_members WHERE snapshot_id = ?",
                           [snap_id]).fetchone()[0]
        raw.execute("INSERT INTO kq_segment_snapshots VALUES (?, ?, ?, ?, ?, ?)",
                    [snap_id, seg.id, evaluator.as_of, taken_at, size, seg.text])
    return Snapshot(snap_id, seg.id, evaluator.as_of, taken_at, int(size))


def segment_history(ws: Any, segment_id: str) -> list[Snapshot]:
    """The snapshots of a segment, oldest ``as_of`` first."""
    if "kq_segment_snapshots" not in set(ws.con.list_tables()):
        return []
    t = ws.con.table("kq_segment_snapshots")
    t = t.filter(t.segment_id == segment_id).order_by("as_of", "taken_at")
    return [Snapshot(r["snapshot_id"], r["segment_id"], r["as_of"], r["taken_at"], r["members"])
            for r in t.to_pyarrow().to_pylist()]


def snapshot_changes(ws: Any, segment_id: str, before: str | None = None,
                     after: str | None = None) -> Changes:
    """Who entered and left between two snapshots (default: the last two).

    ``before`` and ``after`` are snapshot ids or as_of dates (``2024-03-01``).
    """
    history = segment_history(ws, segment_id)
    if len(history) < 2 and (before is None or after is None):
        msg = (f"segment {segment_id!r} has {len(history)} snapshot(s); take another with "
               "'kequn segment snapshot' to compare")
        raise NotFoundError(msg)
    first = _pick(history, before, segment_id) if before else history[-2]
    second = _pick(history, after, segment_id) if after else history[-1]
    members = ws.con.table("kq_segment_members")
    a = members.filter(members.snapshot_id == first.snapshot_id).to_pyarrow().to_pylist()
    b = members.filter(members.snapshot_id == second.snapshot_id).to_pyarrow().to_pylist()
    old = {r["customer_id"]: r["label"] for r in a}
    new = {r["customer_id"]: r["label"] for r in b}
    moved = sorted((c, old[c], new[c]) for c in old.keys() & new.keys() if old[c] != new[c])
    return Changes(segment_id, first, second, sorted(new.keys() - old.keys()),
                   sorted(old.keys() - new.keys()), moved)


def _pick(history: list[Snapshot], key: str, segment_id: str) -> Snapshot:
    for snap in history:
        if key in (snap.snapshot_id, snap.as_of.isoformat(), snap.as_of.date().isoformat()):
            return snap
    msg = f"segment {segment_id!r} has no snapshot {key!r}; 'kequn segment history' lists them"
    raise NotFoundError(msg)
