"""Shared fixtures: a tiny synthetic shop written row by row, in an in-memory workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pytest

import kequn
from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema
from kequn.workspace import Workspace

Rows = Sequence[Mapping[str, Any]]


def insert_rows(ws: Workspace, table: str, rows: Rows) -> None:
    """Insert rows straight into a shop table (missing columns are NULL); bypasses the loader."""
    schema = table_schema(TABLES[table]).to_pyarrow()
    data = {name: [row.get(name) for row in rows] for name in schema.names}
    ws.con.insert(table, pa.table(data, schema=schema))


@pytest.fixture
def make_shop() -> Callable[..., Workspace]:
    """Build an in-memory workspace from lists of row dicts per table.

    ``make_shop(customers=[{"customer_id": "c1"}], orders=[...])``
    """
    opened: list[Workspace] = []

    def build(**tables: Rows) -> Workspace:
        ws = kequn.open(":memory:")
        opened.append(ws)
        for name, rows in tables.items():
            insert_rows(ws, name, rows)
        return ws

    yield build
    for ws in opened:
        ws.close()


def ts(text: str) -> dt.datetime:
    """A naive shop-time timestamp from 'YYYY-MM-DD[ HH:MM[:SS]]'."""
    return dt.datetime.fromisoformat(text)
