"""Shared fixtures: a tiny synthetic shop written row by row, in an in-memory workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

import kequn
from kequn.workspace import Workspace
from shop_rows import Rows, insert_rows


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
