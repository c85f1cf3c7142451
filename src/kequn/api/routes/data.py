"""Workspace status, loads (upload a file → load report) and the quarantine."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from kequn.api.access import Principal
from kequn.api.deps import Analyst, LimitQuery, OffsetQuery, ReadWs, Viewer, WriteWs
from kequn.api.pages import Page, page_of
from kequn.api.privacy import log_personal, mask_text
from kequn.errors import IngestError
from kequn.schema.tables import TABLES
from kequn.workspace import Workspace

router = APIRouter(prefix="/api", tags=["data"])

TableName = Annotated[str, Form(description="customers, products, orders, order_items, events "
                                            "or marketing_costs. 表名")]


def workspace_status(ws: Workspace) -> dict[str, Any]:
    """Rows and time range per table, quarantine counts and the last loads."""
    tables = ws.status()
    q = ws.con.table("kq_quarantine")
    per_table = q.group_by("table_name").aggregate(n=q.count()).to_pyarrow().to_pylist()
    counts = {row["table_name"]: int(row["n"]) for row in per_table}
    loads = ws.loads().limit(5).to_pyarrow().to_pylist()
    return {
        "workspace": str(ws.path or ":memory:"),
        "time_zone": ws.settings.time_zone,
        "tables": [{"table": t.table, "label_zh": TABLES[t.table].label_zh, "rows": t.rows,
                    "first": t.first, "last": t.last,
                    "quarantined": counts.get(t.table, 0)} for t in tables],
        "last_loads": loads,
    }


@router.get("/status", summary="Rows per table, time ranges, quarantine counts, last loads")
def read_status(who: Viewer, ws: ReadWs) -> dict[str, Any]:
    """工作区概况: what each table holds and what the last loads did."""
    return workspace_status(ws)


@router.get("/loads", summary="The load history, newest first", response_model=Page)
def read_loads(who: Viewer, ws: ReadWs, limit: LimitQuery = 50,
               offset: OffsetQuery = 0) -> Page:
    """加载记录."""
    return page_of(ws.loads(), limit=limit, offset=offset)


def _safe_name(name: str | None) -> str:
    base = Path(name or "upload.csv").name
    cleaned = re.sub(r"[^\w.\-]+", "_", base).lstrip(".") or "upload.csv"
    return cleaned[:120]


def load_upload(ws: Workspace, who: Principal, table: str, name: str | None, data: Any, *,
                preset: str | None = None, sample: int = 20) -> dict[str, Any]:
    """Load one uploaded file (a binary stream) into ``table``: the report and the first
    quarantined rows of this load (raw rows masked unless the caller is an admin)."""
    with tempfile.TemporaryDirectory(prefix="kequn-upload-") as tmp:
        path = Path(tmp) / _safe_name(name)
        with path.open("wb") as out:
            while chunk := data.read(1024 * 1024):
                out.write(chunk)
        if path.stat().st_size == 0:
            msg = f"the uploaded file {path.name!r} is empty; choose a file with rows"
            raise IngestError(msg)
        report = ws.load(table, [path], preset=preset or None)
    result = report.to_dict()
    for f in result["files"]:
        f["file"] = Path(f["file"]).name
    q = ws.quarantine(table)
    q = q.filter(q.load_id == report.load_id)
    rows = _quarantine_rows(q.limit(sample).to_pyarrow().to_pylist(), who)
    result["quarantined_rows"] = rows
    if rows:
        log_personal(ws, who, "personal.view", f"load:{report.load_id}", rows=len(rows),
                     what="quarantined rows")
    return result


def _quarantine_rows(rows: list[dict[str, Any]], who: Principal) -> list[dict[str, Any]]:
    for row in rows:
        row["file"] = Path(row["file"]).name if row.get("file") else row.get("file")
        if not who.sees_personal:
            row["raw"] = mask_text(row.get("raw"))
    return rows


@router.post("/loads", summary="Upload a file and load it into a table")
def create_load(who: Analyst, ws: WriteWs, table: TableName,
                file: Annotated[UploadFile, File(description="CSV/TSV/Parquet/JSON Lines/"
                                                             ".xlsx, optionally .gz. 数据文件")],
                preset: Annotated[str | None, Form(description="A shipped column mapping "
                                                               "(shopify, taobao, ...). 预设映射")]
                = None) -> dict[str, Any]:
    """加载数据: rows that break a rule go to the quarantine; loading the same file again
    changes nothing. Returns the load report and the first quarantined rows."""
    return load_upload(ws, who, table, file.filename, file.file, preset=preset)


@router.get("/quarantine", summary="Rows that broke a rule, with file, line and reason",
            response_model=Page)
def read_quarantine(who: Analyst, ws: WriteWs,
                    table: Annotated[str | None, Query(description="Only this table.")] = None,
                    load_id: Annotated[str | None, Query(description="Only this load.")] = None,
                    limit: LimitQuery = 50, offset: OffsetQuery = 0) -> Page:
    """隔离区. Raw rows may hold personal data: masked for analysts, logged in the audit."""
    q = ws.quarantine(table)
    if load_id is not None:
        q = q.filter(q.load_id == load_id)
    page = page_of(q, limit=limit, offset=offset)
    page.items = _quarantine_rows(page.items, who)
    if page.items:
        log_personal(ws, who, "personal.view", f"quarantine:{table or 'all'}",
                     rows=len(page.items), what="quarantined rows")
    return page
