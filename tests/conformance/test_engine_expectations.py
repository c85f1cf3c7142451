"""The same expectations on every engine, over a shop written row by row (ibis-style: one test,
every backend; a declared gap fails there on purpose)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_helpers import TEST_SPARK_CONF

import kequn
from kequn import segments as sg
from kequn.metrics import Metrics
from kequn.schema.tables import TABLES
from kequn.storage.engines import export_tables
from kequn.storage.setup import table_schema
from kequn.workspace import Workspace

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("spark")]

AS_OF = dt.datetime(2024, 6, 30, 23, 0)


def ago(days: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=days)


def order(oid: str, cid: str, days: float, amount: float, status: str = "paid") -> dict:
    return {"order_id": oid, "customer_id": cid, "created_at": ago(days),
            "paid_at": ago(days) + dt.timedelta(minutes=5), "status": status, "amount": amount}


ROWS = {
    "customers": [{"customer_id": c, "member_level": lv, "registered_at": ago(400)}
                  for c, lv in (("new", "V0"), ("twice", "V2"), ("old", "V5"), ("none", None))],
    "orders": [
        order("o1", "new", 10, 100.0),
        order("o2", "twice", 20, 50.0), order("o3", "twice", 5, 70.0),
        order("o4", "old", 200, 30.0),
        order("o5", "none", 3, 999.0, status="cancelled"),
    ],
    "events": [{"event_time": ago(d), "customer_id": c, "event": e}
               for c, d, e in (("none", 2, "cart"), ("new", 1, "visit"), ("twice", 1, "visit"))],
}


def write_rows(ws: Workspace) -> None:
    for name, rows in ROWS.items():
        schema = table_schema(TABLES[name]).to_pyarrow()
        ws.con.insert(name, pa.table({c: [r.get(c) for r in rows] for c in schema.names},
                                     schema=schema))


@pytest.fixture(scope="module")
def shops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Workspace]]:
    root = tmp_path_factory.mktemp("rows_shop")
    duck = kequn.open(root / "shop.duckdb")
    write_rows(duck)
    export_tables(duck, root / "parquet")
    spark = kequn.open(root / "state.duckdb")
    spark.use_engine("pyspark", data_url=str(root / "parquet"), spark_conf=TEST_SPARK_CONF)
    yield {"duckdb": duck, "pyspark": spark}
    duck.close()
    spark.close()


@pytest.fixture(params=["duckdb", "pyspark"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def ws(shops: dict[str, Workspace], engine: str) -> Workspace:
    assert shops[engine].engine_name == engine
    return shops[engine]


def test_new_customers_bought_once_recently(ws: Workspace) -> None:
    members = sg.evaluate(ws, "new_customers", as_of=AS_OF).to_pyarrow()
    assert members.column("customer_id").to_pylist() == ["new"]


def test_lifecycle_labels_by_last_paid_order(ws: Workspace) -> None:
    rows = sg.evaluate(ws, "lifecycle", as_of=AS_OF).to_pyarrow().to_pylist()
    assert {r["customer_id"]: r["label"] for r in rows} == {
        "new": "active", "twice": "active", "old": "pre_churn"}


def test_conversion_counts_paid_orders_only(ws: Workspace) -> None:
    spec = Metrics(ws).spec("conversion", as_of=AS_OF, period="month",
                            start=dt.datetime(2024, 6, 1))
    (row,) = spec.to_expr(spec.sources(ws)).to_pyarrow().to_pylist()
    assert row["paying_users"] == 2
    assert row["paid_orders"] == 3
    assert row["revenue"] == pytest.approx(220.0, rel=1e-12)
    assert row["aov"] == pytest.approx(220.0 / 3, rel=1e-12)


def test_default_as_of_is_the_latest_data(ws: Workspace) -> None:
    assert ws.default_as_of() == ago(1)


def test_status_counts_the_engines_rows(ws: Workspace) -> None:
    counts = {s.table: s.rows for s in ws.status()}
    assert counts["orders"] == 5
    assert counts["events"] == 3
    assert {s.table: s.last for s in ws.status()}["orders"] == ago(3).isoformat()


def test_state_tables_join_the_shop_tables(ws: Workspace) -> None:
    ws.raw.execute("DELETE FROM kq_predictions")
    ws.raw.execute("INSERT INTO kq_predictions (customer_id, as_of, model, p_alive) "
                   "VALUES ('twice', ?, 'bgnbd', 0.9), ('ghost', ?, 'bgnbd', 0.1)",
                   [AS_OF, AS_OF])
    preds = ws.state_table("kq_predictions")
    customers = ws.table("customers")
    joined = preds.join(customers, "customer_id").select("customer_id", "member_level",
                                                          "p_alive")
    assert joined.to_pyarrow().to_pylist() == [
        {"customer_id": "twice", "member_level": "V2", "p_alive": 0.9}]


@pytest.mark.notimpl(["pyspark"], gap="load")
def test_loading_a_file_reaches_the_engine(ws: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "more_customers.csv"
    csv.write_text("customer_id,member_level\nlate,V1\n", encoding="utf-8")
    ws.load("customers", [csv])
    assert ws.table("customers").count().execute() == 5


@pytest.mark.notimpl(["pyspark"], gap="optimize")
def test_optimize_keeps_the_rows(ws: Workspace) -> None:
    from kequn.storage.layout import optimize

    before = ws.table("events").count().execute()
    assert {d.table for d in optimize(ws)} == {"events", "orders"}
    assert ws.table("events").count().execute() == before


@pytest.mark.notimpl(["pyspark"], gap="erase")
def test_erasing_a_customer_clears_their_personal_data(ws: Workspace) -> None:
    from kequn.api.privacy import erase_customer

    erase_customer(ws, "twice", actor="test")
    row = ws.table("customers").filter(lambda c: c.customer_id == "twice").to_pyarrow()
    assert row.num_rows == 1
    assert row.column("phone").to_pylist() == [None]


def test_spark_casts_foreign_parquet_to_the_canonical_types(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "orders"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"order_id": pa.array([1, 2], pa.int64()),
                             "customer_id": pa.array([7, 7], pa.int32()),
                             "created_at": pa.array([AS_OF, AS_OF], pa.timestamp("us")),
                             "amount": pa.array([1, 2], pa.int64())}),
                   folder / "part-0.parquet")
    with kequn.open(tmp_path / "state.duckdb") as ws:
        ws.use_engine("pyspark", data_url=str(tmp_path / "data"), spark_conf=TEST_SPARK_CONF)
        orders = ws.table("orders")
        assert orders.schema() == table_schema(TABLES["orders"])
        rows = orders.order_by("order_id").to_pyarrow().to_pylist()
        assert [(r["order_id"], r["customer_id"], r["amount"], r["paid_at"]) for r in rows] == [
            ("1", "7", 1.0, None), ("2", "7", 2.0, None)]
        assert ws.table("events").count().execute() == 0  # a table without files is empty
