"""Pagination: every list that can be long takes ``limit`` and ``offset`` and says the total."""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir
from pydantic import BaseModel


class Page(BaseModel):
    """One page of a long list."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    next_offset: int | None


def page_of(table: ir.Table, *, limit: int, offset: int) -> Page:
    """Rows ``offset .. offset+limit`` of an (ordered) Ibis table, with the total count."""
    total = int(table.count().to_pyarrow().as_py())
    rows = table.limit(limit, offset=offset).to_pyarrow().to_pylist()
    nxt = offset + limit if offset + limit < total else None
    return Page(items=rows, total=total, limit=limit, offset=offset, next_offset=nxt)


def page_of_list(items: list[dict[str, Any]], *, limit: int, offset: int) -> Page:
    """The same for a list already in memory."""
    chunk = items[offset:offset + limit]
    nxt = offset + limit if offset + limit < len(items) else None
    return Page(items=chunk, total=len(items), limit=limit, offset=offset, next_offset=nxt)
