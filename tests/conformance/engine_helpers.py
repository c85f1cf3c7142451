"""Comparing results across engines: rows in a fixed order, floats to a relative tolerance."""

from __future__ import annotations

import datetime as dt
import glob
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

import kequn
from kequn.schema.tables import TABLES
from kequn.workspace import Workspace

# Tiny data: Spark's cost here is planning, so few partitions and no adaptive re-planning.
TEST_SPARK_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.memory": "1g",
}


def fill_from_parquet(ws: Workspace, folder: Path) -> None:
    """Copy the demo generator's ``<table>-NNN.parquet`` files into the embedded tables."""
    for name in TABLES:
        files = sorted(glob.glob(str(folder / f"{name}-*.parquet")))
        if files:
            # the table name is one of SPEC §1's constants, never user text
            ws.raw.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet(?)", [files])


@dataclass
class EngineShop:
    """The same shop in a DuckDB workspace and, on Parquet, a PySpark one."""

    duckdb: Workspace
    parquet_url: str
    state_dir: Path
    as_of: dt.datetime
    _spark: Workspace | None = None

    def on(self, engine: str) -> Workspace:
        """The shop's workspace on ``engine`` (the Spark one has an empty embedded database)."""
        if engine == "duckdb":
            return self.duckdb
        if self._spark is None:
            ws = kequn.open(self.state_dir / "spark_state.duckdb")
            ws.use_engine("pyspark", data_url=self.parquet_url, spark_master="local[2]",
                          spark_conf=TEST_SPARK_CONF)
            self._spark = ws
        return self._spark

    def close(self) -> None:
        """Close both workspaces."""
        self.duckdb.close()
        if self._spark is not None:
            self._spark.close()


def canonical_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as tuples in a fixed order (engines may return rows in any order)."""
    rows = [tuple(r.values()) for r in table.to_pylist()]
    return sorted(rows, key=lambda r: tuple((v is None, _sort_key(v)) for v in r))


def _sort_key(value: Any) -> str:
    # floats may differ in their last bits between engines: sort by 8 significant digits
    return f"{value:.8g}" if isinstance(value, float) else str(value)


def assert_same_rows(expected: pa.Table, actual: pa.Table, *, rel: float = 1e-9) -> None:
    """Same columns and rows; floats equal to ``rel`` (engines sum in different orders)."""
    assert actual.column_names == expected.column_names
    assert actual.num_rows == expected.num_rows
    for a, b in zip(canonical_rows(expected), canonical_rows(actual), strict=True):
        assert same_values(a, b, rel=rel), f"\nduckdb:  {a}\npyspark: {b}"


def same_values(a: Sequence[Any], b: Sequence[Any], *, rel: float) -> bool:
    """Tuples equal value by value, floats to ``rel`` relative (or absolute near zero)."""
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if math.isnan(x) and math.isnan(y):
                continue
            if not math.isclose(x, y, rel_tol=rel, abs_tol=rel):
                return False
        elif x != y:
            return False
    return True
