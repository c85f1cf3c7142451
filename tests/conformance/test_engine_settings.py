"""Choosing the engine, exporting the shop for Spark, and the ``kequn engine`` commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import kequn
from kequn.cli._app import app
from kequn.cli.engine import app as engine_app  # noqa: F401  registers 'kequn engine'
from kequn.storage.engines import (
    KNOWN_GAPS,
    EngineError,
    EngineGapError,
    EngineSettings,
    data_fingerprint,
    export_tables,
    gaps_for,
    require,
)
from kequn.workspace import Workspace


def small_shop(make_shop) -> Workspace:  # type: ignore[no-untyped-def]
    return make_shop(
        customers=[{"customer_id": "c1", "registered_at": dt.datetime(2024, 1, 2, 9)},
                   {"customer_id": "c2"}],
        orders=[{"order_id": "o1", "customer_id": "c1", "created_at": dt.datetime(2024, 3, 1),
                 "paid_at": dt.datetime(2024, 3, 1, 0, 5), "status": "paid", "amount": 12.5}],
    )


def test_a_new_workspace_computes_on_its_embedded_duckdb() -> None:
    with kequn.open(":memory:") as ws:
        assert ws.engine_name == "duckdb"
        assert ws.engine is ws.con
        assert ws.engine_settings.data_url is None


def test_the_chosen_engine_is_stored_with_the_workspace(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        ws.use_engine("pyspark", data_url=f"{tmp_path}/data/", spark_master="local[1]",
                      spark_conf={"spark.executor.memory": "2g"})
        ws.set(time_zone="Asia/Shanghai")  # ordinary settings still work beside it
    with kequn.open(path) as ws:
        assert ws.engine_name == "pyspark"
        assert ws.engine_settings.data_url == f"{tmp_path}/data"  # trailing slash dropped
        assert ws.engine_settings.spark_master == "local[1]"
        assert ws.engine_settings.spark_conf == {"spark.executor.memory": "2g"}
        assert ws.settings.time_zone == "Asia/Shanghai"
        ws.use_engine("duckdb")
    with kequn.open(path) as ws:
        assert ws.engine_name == "duckdb"
        assert ws.engine_settings.data_url == f"{tmp_path}/data"  # kept for switching back


def test_the_environment_or_open_overrides_the_stored_engine(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        ws.use_engine("pyspark", data_url=str(tmp_path))
    monkeypatch.setenv("KEQUN_ENGINE", "duckdb")
    with kequn.open(path) as ws:
        assert ws.engine_name == "duckdb"
    monkeypatch.delenv("KEQUN_ENGINE")
    with kequn.open(path, engine="duckdb") as ws:
        assert ws.engine_name == "duckdb"


def test_pyspark_without_data_url_says_how_to_get_one() -> None:
    with kequn.open(":memory:") as ws, pytest.raises(EngineError, match="needs data_url"):
        ws.use_engine("pyspark")
    with kequn.open(":memory:", engine="pyspark") as ws, pytest.raises(
            EngineError, match="kequn engine export"):
        ws.table("orders")


def test_an_unknown_engine_names_the_choices() -> None:
    with pytest.raises(EngineError, match="'engine'.*duckdb, pyspark"):
        kequn.open(":memory:", engine="snowflake")


def test_export_writes_one_parquet_folder_per_table(make_shop, tmp_path: Path) -> None:
    ws = small_shop(make_shop)
    done = export_tables(ws, tmp_path / "out")
    by_table = {d.table: d for d in done}
    assert set(by_table) == {"customers", "products", "orders", "order_items", "events",
                             "marketing_costs"}
    assert by_table["customers"].rows == 2
    assert by_table["events"].rows == 0
    orders = pq.read_table(tmp_path / "out" / "orders" / "part-00000.parquet")
    assert orders.column("amount").to_pylist() == [12.5]
    paid_at = orders.schema.field("paid_at").type
    assert paid_at.tz is None
    assert paid_at.unit == "us"
    assert orders.column("paid_at").to_pylist() == [dt.datetime(2024, 3, 1, 0, 5)]


def test_export_again_replaces_the_files(make_shop, tmp_path: Path) -> None:
    ws = small_shop(make_shop)
    stale = tmp_path / "out" / "customers" / "part-00007.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    export_tables(ws, tmp_path / "out", tables=["customers"])
    export_tables(ws, tmp_path / "out", tables=["customers"])
    assert sorted(p.name for p in stale.parent.iterdir()) == ["part-00000.parquet"]


def test_export_of_an_unknown_table_is_refused(make_shop, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="unknown table 'order'"):
        export_tables(small_shop(make_shop), tmp_path, tables=["order"])


def test_the_data_fingerprint_changes_when_a_pipeline_writes_new_files(
        make_shop, tmp_path: Path) -> None:
    settings = EngineSettings(engine="pyspark", data_url=str(tmp_path / "lake"))
    empty = data_fingerprint(settings)  # no folders yet: an empty shop, not an error
    export_tables(small_shop(make_shop), tmp_path / "lake")
    exported = data_fingerprint(settings)
    assert exported != empty
    assert data_fingerprint(settings) == exported  # listing twice reads the same
    day = tmp_path / "lake" / "orders" / "part-00001.parquet"
    pq.write_table(pq.read_table(tmp_path / "lake" / "orders" / "part-00000.parquet"), day)
    assert data_fingerprint(settings) not in (empty, exported)


def test_gaps_are_declared_once_and_raise_with_the_way_around() -> None:
    assert gaps_for("duckdb") == []
    assert [g.feature for g in gaps_for("pyspark")] == [g.feature for g in KNOWN_GAPS.values()]
    require("duckdb", "load")
    with pytest.raises(EngineGapError, match="engine export"):
        require("pyspark", "load")


def test_cli_exports_then_switches_to_spark(make_shop, tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        ws.raw.execute("INSERT INTO customers (customer_id) VALUES ('c1'), ('c2')")
    runner = CliRunner()
    out = tmp_path / "parquet"
    result = runner.invoke(app, ["engine", "export", "--to", str(out), "--use", "-w", str(path),
                                 "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert {t["table"]: t["rows"] for t in report["tables"]}["customers"] == 2
    shown = runner.invoke(app, ["engine", "show", "-w", str(path), "--json"])
    info = json.loads(shown.output)
    assert info["engine"] == "pyspark"
    assert info["data_url"] == str(out)
    assert [g["feature"] for g in info["known_gaps"]] == [g.feature for g in gaps_for("pyspark")]
    assert KNOWN_GAPS["load"].feature in [g["feature"] for g in info["known_gaps"]]
    back = runner.invoke(app, ["engine", "use", "duckdb", "-w", str(path)])
    assert back.exit_code == 0
    assert "engine 引擎 = duckdb" in back.output


def test_cli_rejects_a_bad_engine_and_bad_conf(tmp_path: Path) -> None:
    runner = CliRunner()
    path = str(tmp_path / "shop.duckdb")
    bad = runner.invoke(app, ["engine", "use", "hive", "-w", path])
    assert bad.exit_code == 1
    assert "unknown engine 'hive'" in bad.output
    conf = runner.invoke(app, ["engine", "use", "pyspark", "--data-url", path, "--conf",
                               "spark.executor.memory", "-w", path])
    assert conf.exit_code == 1
    assert "KEY=VALUE" in conf.output
