"""A small demo shop (2 000 customers), generated once and read as Ibis tables."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pytest

from kequn.demo import generate_shop
from kequn.demo.generate import DEFAULT_END
from kequn.schema.conventions import paid_orders

END = DEFAULT_END
SMALL = 2_000
SEED = 7


@dataclass
class Shop:
    """The demo shop's files and tables; ``as_of`` is the end of the data."""

    files: dict[str, list[Path]]
    con: ibis.BaseBackend
    as_of: datetime
    customers: int

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    @property
    def paid(self) -> ir.Table:
        """Paid orders at the end of the data (SPEC §1, from kequn.schema.conventions)."""
        return paid_orders(self.table("orders"), self.as_of)


@pytest.fixture(scope="session")
def shop_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """The files of a 2 000-customer demo shop."""
    return generate_shop(tmp_path_factory.mktemp("demo"), customers=SMALL, seed=SEED, end=END)


@pytest.fixture(scope="session")
def shop(shop_files: dict[str, list[Path]]) -> Iterator[Shop]:
    """The demo shop's tables in an in-memory DuckDB, one view per file set."""
    con = ibis.duckdb.connect()
    for name, paths in shop_files.items():
        con.read_parquet([str(p) for p in paths], table_name=name)
    yield Shop(files=shop_files, con=con, as_of=END, customers=SMALL)
    con.disconnect()
