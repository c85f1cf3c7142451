"""Events stream straight into their table: every row counted, the failed ones kept out and
quarantined at their exact lines, the rest stored in the file's order, and DuckDB's settings
left as the load found them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from ingest_helpers import counts, load, quarantined, rows, write_csv

import kequn
from kequn.errors import IngestError
from kequn.ingest._duckdb import CSV_BUFFER_BYTES
from kequn.ingest.load import _parse_once
from kequn.storage.layout import block_span
from kequn.workspace import Workspace

T = dt.datetime
EVENTS_WITH_FAILURES = [
    "event_time,customer_id,event,duration_s",  # 1
    "2024-03-01 10:00,c1,view,1",                # 2
    "yesterday,c2,view,1",                       # 3 unparseable time
    "2024-03-01 10:02,c3,cart,slow",             # 4 unparseable number
    "2024-03-01 10:03,c1,pay,2",                 # 5
]
LOAD_SETTINGS = ("memory_limit", "disabled_optimizers")


def _settings(ws: Workspace) -> dict[str, object]:
    return {name: ws.raw.execute("SELECT current_setting($n)", {"n": name}).fetchone()
            for name in LOAD_SETTINGS}


def test_an_events_file_with_failed_rows_stores_exactly_its_valid_rows(
        ws: Workspace, tmp_path: Path) -> None:
    report = load(ws, "events", write_csv(tmp_path / "events.csv", EVENTS_WITH_FAILURES))
    assert counts(report) == {"read": 4, "stored": 2, "inserted": 2, "unchanged": 0,
                              "merged": 0, "updated": 0, "quarantined": 2}
    assert rows(ws, "events", "event_time", "customer_id", "event") == [
        {"event_time": T(2024, 3, 1, 10), "customer_id": "c1", "event": "view"},
        {"event_time": T(2024, 3, 1, 10, 3), "customer_id": "c1", "event": "pay"}]
    assert [(line, column) for _, line, column, _ in quarantined(ws)] == [
        (3, "event_time"), (4, "duration_s")]


def test_a_customer_named_only_by_failed_rows_is_not_added(ws: Workspace,
                                                          tmp_path: Path) -> None:
    report = load(ws, "events", write_csv(tmp_path / "events.csv", EVENTS_WITH_FAILURES))
    assert report.customers_added == 1
    assert rows(ws, "customers", "customer_id") == [{"customer_id": "c1"}]


def test_two_event_files_in_one_load_count_repeats_and_customers_once(
        ws: Workspace, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "day1.csv", [
        "event_time,customer_id,event", "2024-03-01 10:00,c1,view", "2024-03-01 11:00,c2,cart"])
    second = write_csv(tmp_path / "day2.csv", [
        "event_time,customer_id,event",
        "2024-03-01 11:00,c2,cart",   # the first file's row: unchanged
        "2024-03-02 09:00,c3,view",   # new, and a new customer
        "2024-03-02 10:00,,view"])    # missing customer
    report = load(ws, "events", first, second)
    assert [(f.read, f.inserted, f.unchanged, f.quarantined, f.customers_added)
            for f in report.files] == [(2, 2, 0, 0, 2), (3, 1, 1, 1, 1)]
    assert rows(ws, "customers", "customer_id") == [
        {"customer_id": "c1"}, {"customer_id": "c2"}, {"customer_id": "c3"}]


def test_failed_rows_of_a_large_file_keep_their_exact_lines(ws: Workspace,
                                                           tmp_path: Path) -> None:
    """Big enough for DuckDB to read and insert in parallel, unordered: lines stay exact."""
    path = tmp_path / "events.csv"
    bad = {1_000, 123_457, 299_999}  # file lines (the header is line 1), so row i is line i + 2
    with duckdb.connect() as con:
        con.sql("""SELECT CASE WHEN i + 2 IN (SELECT unnest($bad)) THEN 'soon'
                          ELSE strftime(TIMESTAMP '2024-01-01' + to_seconds(i), '%Y-%m-%d %H:%M:%S')
                          END AS event_time,
                          'c' || (i % 997) AS customer_id, 'view' AS event
                   FROM range(300000) t(i)""", params={"bad": sorted(bad)}).write_csv(str(path))
    report = load(ws, "events", path)
    assert (report.read, report.stored, report.quarantined) == (300_000, 299_997, 3)
    assert {line for _, line, _, _ in quarantined(ws)} == bad
    assert ws.table("events").count().to_pyarrow().as_py() == 299_997


def test_a_load_leaves_duckdb_settings_as_it_found_them(ws: Workspace, tmp_path: Path) -> None:
    before = _settings(ws)
    load(ws, "events", write_csv(tmp_path / "events.csv", EVENTS_WITH_FAILURES))
    assert _settings(ws) == before
    with pytest.raises(IngestError, match="no rows"):
        ws.load("events", [write_csv(tmp_path / "empty.csv", ["event_time,customer_id,event"])])
    assert _settings(ws) == before


def test_a_workspace_memory_limit_is_the_same_after_a_load(tmp_path: Path) -> None:
    """The limit's text ('2.7 GiB') does not round-trip; repeated loads must not wear it down."""
    path = tmp_path / "shop.duckdb"
    with kequn.open(path) as ws:
        ws.set(memory_limit="3GB")
    events = write_csv(tmp_path / "events.csv", EVENTS_WITH_FAILURES)
    with kequn.open(path) as ws:
        before = _settings(ws)
        for _ in range(3):
            load(ws, "events", events)
        assert _settings(ws) == before


def test_parsing_once_comes_undone_when_the_insert_fails(ws: Workspace) -> None:
    before = _settings(ws)
    inside = {}

    def fail_inside() -> None:
        with _parse_once(ws.raw):
            inside.update(_settings(ws))
            ws.raw.execute("SELECT * FROM no_such_table")

    with pytest.raises(duckdb.Error):
        fail_inside()
    assert inside["disabled_optimizers"] == ("filter_pushdown",)
    assert _settings(ws) == before


def test_a_time_ordered_file_is_stored_in_time_order(ws: Workspace, tmp_path: Path) -> None:
    """DuckDB reads a file bigger than its 64 MB buffer in parallel pieces; the rows still land
    in the file's order, so each block of a time-ordered file spans its own slice of time
    (docs/loading.md, time order). Stored out of order, a block here spans twice that."""
    path = tmp_path / "events.csv"
    with duckdb.connect() as con:
        con.sql("""SELECT TIMESTAMP '2024-01-01' + to_seconds(i) AS event_time,
                          'c' || (hash(i) % 5000) AS customer_id, 'view' AS event,
                          'p' || (hash(i * 7) % 1000) AS product_id
                   FROM range(2200000) t(i)""").write_csv(str(path))
    assert path.stat().st_size > CSV_BUFFER_BYTES
    load(ws, "events", path)
    _, blocks, span = block_span(ws, "events")
    assert blocks >= 8
    assert span < 1.5 / blocks
