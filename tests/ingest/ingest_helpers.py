"""Helpers for the loader tests: load with the accounting check, read back rows and snapshots."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv

from kequn.ingest.load import LoadReport
from kequn.schema.tables import TABLES
from kequn.workspace import Workspace

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ingest"
INVALID = FIXTURES / "invalid"
COUNTS = ("read", "stored", "inserted", "unchanged", "merged", "updated", "quarantined")


def assert_accounted(report: LoadReport) -> None:
    """SPEC §1: every row read is stored, updated or quarantined — per file and in total."""
    assert report.read == report.stored + report.updated + report.quarantined, report.to_dict()
    for f in report.files:
        assert f.read == f.stored + f.updated + f.quarantined, f
        assert f.stored == f.inserted + f.unchanged + f.merged, f


def load(ws: Workspace, table: str, *files: str | os.PathLike[str], **options: Any) -> LoadReport:
    """``ws.load`` that also checks read = stored + updated + quarantined."""
    report = ws.load(table, list(files), **options)
    assert_accounted(report)
    return report


def counts(report: LoadReport) -> dict[str, int]:
    """The report's row counts, for one comparison in an assert."""
    return {name: getattr(report, name) for name in COUNTS}


def rows(ws: Workspace, table: str, *columns: str) -> list[dict[str, Any]]:
    """Rows of a shop table (the given columns, or all), sorted by those columns."""
    t = ws.table(table)
    chosen = list(columns) or t.columns
    return t.select(*chosen).order_by(chosen).to_pyarrow().to_pylist()


def quarantined(ws: Workspace, table: str | None = None) -> list[tuple[str, int, str | None, str]]:
    """(file name, line, column, reason) of each quarantined row, in file and line order."""
    q = ws.quarantine(table).to_pyarrow().to_pylist()
    out = [(Path(r["file"]).name, r["line"], r["column_name"] or None, r["reason"]) for r in q]
    return sorted(out, key=lambda r: (r[0], r[1], r[3]))


def snapshot(ws: Workspace) -> dict[str, bytes]:
    """Every shop table and the quarantine as sorted CSV bytes (custom attributes included)."""
    out = {}
    for name in [*TABLES, "kq_quarantine"]:
        t = ws.con.table(name)
        buf = io.BytesIO()
        pacsv.write_csv(t.order_by(t.columns).to_pyarrow(), buf)
        out[name] = buf.getvalue()
    return out


def table_counts(ws: Workspace) -> dict[str, int]:
    """Rows per shop table, the quarantine and the load history."""
    names: Sequence[str] = [*TABLES, "kq_quarantine", "kq_loads"]
    return {n: ws.con.table(n).count().to_pyarrow().as_py() for n in names}


def write_csv(path: Path, lines: Sequence[str], *, encoding: str = "utf-8") -> Path:
    """Write CSV lines (already delimited) with a final newline."""
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path
