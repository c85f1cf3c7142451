"""One shop on every engine: DuckDB (the embedded default) and local PySpark.

The PySpark workspace gets a fresh, empty embedded database and reads the shop only from the
exported Parquet files, so a result that agrees with DuckDB's was computed by Spark (an
expression run on the embedded tables by mistake would see no rows at all).

``@pytest.mark.notimpl(["pyspark"], gap="load")`` marks a test of something an engine does
not do: the gap must be declared in :data:`kequn.storage.engines.KNOWN_GAPS`, and the test
must fail there with :class:`~kequn.storage.engines.EngineGapError` (strict xfail, so a gap
that gets closed makes the suite fail until the marker goes).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from engine_helpers import TEST_SPARK_CONF, EngineShop, fill_from_parquet

import kequn
from kequn.storage.engines import (
    KNOWN_GAPS,
    EngineGapError,
    export_tables,
    spark_session,
    stop_spark,
)

ENGINES = ("duckdb", "pyspark")
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "notimpl(engines, gap): a declared engine gap (KNOWN_GAPS key); the test "
                   "must fail there with EngineGapError")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        marker = item.get_closest_marker("notimpl")
        if marker is None:
            continue
        engines, gap = marker.args[0], marker.kwargs["gap"]
        assert gap in KNOWN_GAPS, f"notimpl gap {gap!r} is not declared in KNOWN_GAPS"
        callspec = getattr(item, "callspec", None)
        engine = callspec.params.get("engine") if callspec is not None else None
        if engine in engines:
            item.add_marker(pytest.mark.xfail(raises=EngineGapError, strict=True,
                                              reason=KNOWN_GAPS[gap].reason))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] Spark session for the whole test run (a JVM takes seconds to start),
    stopped (JVM and all) at its end."""
    session = spark_session("local[2]", TEST_SPARK_CONF)
    yield session
    stop_spark()


@pytest.fixture(scope="module")
def demo_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineShop]:
    """A 300-customer demo shop in DuckDB, exported to Parquet for Spark."""
    from kequn.demo.generate import generate_shop

    root = tmp_path_factory.mktemp("engine_shop")
    generate_shop(root / "demo", customers=300, months=12, seed=11)
    ws = kequn.open(root / "shop.duckdb")
    fill_from_parquet(ws, root / "demo")
    export_tables(ws, root / "parquet")
    shop = EngineShop(ws, str(root / "parquet"), root, ws.default_as_of())
    yield shop
    shop.close()
