"""The loader's SQL: identifiers quoted, every value a bound parameter, and only those it uses."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import load, rows, write_csv

from kequn.ingest import _duckdb as sql
from kequn.ingest.formats import prepare
from kequn.ingest.mapping import read_mapping, resolve
from kequn.schema.tables import TABLES
from kequn.workspace import Workspace


def test_identifiers_are_quoted_with_inner_quotes_doubled() -> None:
    assert sql.ident("city") == '"city"'
    assert sql.ident('a"b') == '"a""b"'


def test_params_hand_out_placeholders_in_order() -> None:
    p = sql.Params()
    assert (p.add("x"), p.add(3)) == ("$p0", "$p1")
    assert p.values == {"p0": "x", "p1": 3}


@pytest.mark.parametrize(("table", "header"), [
    ("orders", "order_id,customer_id,created_at,amount"),
    ("order_items", "order_id,product_id,quantity,unit_price"),
    ("customers", "customer_id,city,vip_note"),
    ("products", "product_id,name,price"),
])
def test_the_stage_query_binds_exactly_the_parameters_it_uses(tmp_path: Path, table: str,
                                                              header: str) -> None:
    spec = TABLES[table]
    path = write_csv(tmp_path / f"{table}.csv", [header, ",".join("1" for _ in header.split(","))])
    src = prepare(path, tmp_path)
    bound = resolve(read_mapping(spec), spec, src.header, file=str(path))
    with duckdb.connect() as con:
        plan = sql.parse_query(spec, src, bound.columns, bound.extras, {},
                               sql.source_types(con, src), "Asia/Shanghai")
        used = set(re.findall(r"\$(p\d+)\b", plan.sql))
        assert set(plan.params) == used
        con.execute(f"SELECT count(*) FROM ({plan.sql})", plan.params)
        assert con.fetchone() == (1,)


def test_user_text_in_headers_and_mapping_words_is_never_spliced_into_sql(
        ws: Workspace, tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text("""
[orders.columns]
order_id = 'order "id"'
customer_id = "buyer"
created_at = "time"
status = "state"
[orders.values.status]
"it's paid" = "paid"
"'; DROP TABLE orders; --" = "cancelled"
""", encoding="utf-8")
    data = write_csv(tmp_path / "orders.csv", [
        '"order ""id""",buyer,time,state',
        "o1,c1,2024-03-01,it's paid",
        "o2,c2,2024-03-01,'; DROP TABLE orders; --"])
    load(ws, "orders", data, mapping=mapping)
    assert rows(ws, "orders", "order_id", "status") == [
        {"order_id": "o1", "status": "paid"}, {"order_id": "o2", "status": "cancelled"}]
    customers = write_csv(tmp_path / "customers.csv", [
        'customer_id,"note ""x""), DROP TABLE customers --"', "c1,hello"])
    load(ws, "customers", customers)
    name = 'note "x"), DROP TABLE customers --'
    assert rows(ws, "customers", "customer_id", name) == [
        {"customer_id": "c1", name: "hello"}, {"customer_id": "c2", name: None}]
