"""CLV fixtures: the CDNOW sample loaded as a shop's orders, and simulated shops."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import kequn
from kequn.clv.simulate import SimulationParams, simulate_orders
from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema
from kequn.workspace import Workspace

CDNOW = Path(__file__).parent.parent / "fixtures" / "cdnow_sample.txt"


def cdnow_orders() -> pa.Table:
    """The CDNOW sample as orders: one paid order per line, paid_at = its date."""
    ids, customers, times, amounts = [], [], [], []
    for n, line in enumerate(CDNOW.read_text().splitlines()):
        _, sample_id, day, _cds, dollars = line.split()
        ids.append(f"o{n}")
        customers.append(sample_id)
        times.append(dt.datetime.strptime(day, "%Y%m%d"))
        amounts.append(float(dollars))
    schema = table_schema(TABLES["orders"]).to_pyarrow()
    columns = {name: pa.nulls(len(ids), schema.field(name).type) for name in schema.names}
    columns.update(order_id=ids, customer_id=customers, created_at=times, paid_at=times,
                   status=["paid"] * len(ids), amount=amounts)
    return pa.table(columns, schema=schema)


@pytest.fixture(scope="session")
def cdnow_table() -> pa.Table:
    """CDNOW orders, read once."""
    return cdnow_orders()


@pytest.fixture
def cdnow(cdnow_table: pa.Table) -> Iterator[Workspace]:
    """A fresh in-memory workspace holding the CDNOW orders."""
    ws = kequn.open(":memory:")
    ws.con.insert("orders", cdnow_table)
    yield ws
    ws.close()


@pytest.fixture
def simulated_shop() -> Iterator[Callable[..., Workspace]]:
    """``simulated_shop(n, seed=..., modified=..., **params)``: a workspace of model orders."""
    opened: list[Workspace] = []

    def build(n: int, *, seed: int = 0, modified: bool = False, unpaid_share: float = 0.0,
              start: dt.datetime = dt.datetime(2022, 1, 1),
              end: dt.datetime = dt.datetime(2024, 1, 1), **params: float) -> Workspace:
        ws = kequn.open(":memory:")
        opened.append(ws)
        orders = simulate_orders(n, start=start, end=end, seed=seed, modified=modified,
                                 params=SimulationParams(**params), unpaid_share=unpaid_share)
        ws.con.insert("orders", orders)
        return ws

    yield build
    for ws in opened:
        ws.close()
