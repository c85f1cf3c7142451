"""Rows straight into a workspace's shop tables, for tests that need data without the loader.

A module of its own (not conftest) so tests in any folder can import it by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema
from kequn.workspace import Workspace

Rows = Sequence[Mapping[str, Any]]


def insert_rows(ws: Workspace, table: str, rows: Rows) -> None:
    """Insert rows straight into a shop table (missing columns are NULL); bypasses the loader."""
    schema = table_schema(TABLES[table]).to_pyarrow()
    data = {name: [row.get(name) for row in rows] for name in schema.names}
    ws.con.insert(table, pa.table(data, schema=schema))
