"""``Workspace.tables_fixed``: a shop table's expression made once inside the block, and
read afresh (a column added since included) after it."""

from __future__ import annotations

import kequn


def test_inside_tables_fixed_a_shop_table_is_made_once_and_afresh_after_it() -> None:
    ws = kequn.open(":memory:")
    assert ws.table("orders") is not ws.table("orders")  # each call asks for the schema
    with ws.tables_fixed():
        first = ws.table("orders")
        assert ws.table("orders") is first
        with ws.tables_fixed():  # nested: the same tables
            assert ws.table("orders") is first
        assert ws.table("orders") is first
    ws.raw.execute("ALTER TABLE orders ADD COLUMN note VARCHAR")
    assert "note" in ws.table("orders").columns
    assert "note" not in first.columns
