"""File formats: sniffing, every supported format loading the same rows, and one-line refusals."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ingest_helpers import INVALID, counts, load, quarantined, rows, snapshot, table_counts

from kequn.errors import IngestError, KequnError, MappingError, UnknownTableError
from kequn.ingest.formats import prepare, sniff
from kequn.workspace import Workspace

HEADER = ["order_id", "customer_id", "created_at", "amount"]
DATA = [
    ["A1", "小明", "2024-03-01 10:00:00", "¥1,299.00"],
    ["A2", "lily", "2024-03-02 20:01:00", "89.90"],
]
EXPECTED = [
    {"order_id": "A1", "customer_id": "小明", "created_at": dt.datetime(2024, 3, 1, 10),
     "amount": 1299.0},
    {"order_id": "A2", "customer_id": "lily", "created_at": dt.datetime(2024, 3, 2, 20, 1),
     "amount": 89.9},
]


def _text(delimiter: str = ",") -> str:
    def cell(v: str) -> str:
        return f'"{v}"' if delimiter in v else v
    return "".join(delimiter.join(cell(v) for v in r) + "\n" for r in [HEADER, *DATA])


def _csv(folder: Path) -> Path:
    path = folder / "orders.csv"
    path.write_text(_text(), encoding="utf-8")
    return path


def _tsv(folder: Path) -> Path:
    path = folder / "orders.tsv"
    path.write_text(_text("\t"), encoding="utf-8")
    return path


def _semicolons(folder: Path) -> Path:
    path = folder / "orders_semicolons.csv"
    path.write_text(_text(";"), encoding="utf-8")
    return path


def _utf8_bom(folder: Path) -> Path:
    path = folder / "orders_bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _text().encode("utf-8"))
    return path


def _gb18030(folder: Path) -> Path:
    path = folder / "orders_gbk.csv"
    path.write_bytes(_text().encode("gb18030"))
    return path


def _utf16(folder: Path) -> Path:
    path = folder / "orders_utf16.csv"
    path.write_bytes(_text().encode("utf-16"))
    return path


def _gzip(folder: Path) -> Path:
    path = folder / "orders.csv.gz"
    path.write_bytes(gzip.compress(_text().encode("utf-8")))
    return path


def _parquet(folder: Path) -> Path:
    path = folder / "orders.parquet"
    pq.write_table(pa.table({h: [r[i] for r in DATA] for i, h in enumerate(HEADER)}), path)
    return path


def _jsonl(folder: Path) -> Path:
    path = folder / "orders.jsonl"
    path.write_text("".join(json.dumps(dict(zip(HEADER, r, strict=True)), ensure_ascii=False)
                            + "\n" for r in DATA), encoding="utf-8")
    return path


def _xlsx(folder: Path) -> Path:
    path = folder / "orders.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["A1", "小明", dt.datetime(2024, 3, 1, 10), "¥1,299.00"])  # a real date cell
    sheet.append(["A2", "lily", "2024-03-02 20:01:00", 89.9])  # a real number cell
    book.save(path)
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "csv": _csv, "tsv": _tsv, "semicolons": _semicolons, "utf8-bom": _utf8_bom,
    "gb18030": _gb18030, "utf16": _utf16, "gzip": _gzip, "parquet": _parquet, "jsonl": _jsonl,
    "xlsx": _xlsx,
}


@pytest.mark.parametrize("kind", list(WRITERS))
def test_every_format_loads_the_same_orders(ws: Workspace, tmp_path: Path, kind: str) -> None:
    path = WRITERS[kind](tmp_path)
    report = load(ws, "orders", path)
    assert counts(report) == {"read": 2, "stored": 2, "inserted": 2, "unchanged": 0,
                              "merged": 0, "updated": 0, "quarantined": 0}
    assert rows(ws, "orders", *HEADER) == EXPECTED
    assert rows(ws, "orders", "order_id", "status") == [
        {"order_id": "A1", "status": "created"}, {"order_id": "A2", "status": "created"}]


@pytest.mark.parametrize(("kind", "expected"), [
    ("csv", ("csv", False, "utf-8")),
    ("tsv", ("csv", False, "utf-8")),
    ("utf8-bom", ("csv", False, "utf-8-sig")),
    ("gb18030", ("csv", False, "gb18030")),
    ("utf16", ("csv", False, "utf-16")),
    ("gzip", ("csv", True, "utf-8")),
    ("parquet", ("parquet", False, "binary")),
    ("jsonl", ("jsonl", False, "utf-8")),
    ("xlsx", ("xlsx", False, "binary")),
])
def test_sniffing_tells_format_compression_and_encoding(tmp_path: Path, kind: str,
                                                        expected: tuple[str, bool, str]) -> None:
    assert sniff(WRITERS[kind](tmp_path)) == expected


def test_a_file_without_a_known_suffix_is_sniffed_from_its_first_bytes(tmp_path: Path) -> None:
    lines = tmp_path / "export"
    lines.write_text('{"order_id": "A1"}\n')
    table = tmp_path / "export.dat"
    table.write_text("order_id\nA1\n")
    assert sniff(lines)[0] == "jsonl"
    assert sniff(table)[0] == "csv"


def test_a_gzip_file_keeps_its_inner_suffix(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"order_id": "A1"}\n'))
    assert sniff(path) == ("jsonl", True, "utf-8")


@pytest.mark.parametrize(("kind", "delimiter"), [("csv", ","), ("tsv", "\t"),
                                                  ("semicolons", ";")])
def test_the_delimiter_is_sniffed_from_the_header(tmp_path: Path, kind: str,
                                                  delimiter: str) -> None:
    src = prepare(WRITERS[kind](tmp_path), tmp_path)
    assert src.delimiter == delimiter
    assert src.header == HEADER


def test_gb18030_text_is_transcoded_to_utf8_before_reading(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    src = prepare(_gb18030(tmp_path), work)
    assert src.path.parent == work
    assert src.encoding == "utf-8"
    assert "小明" in src.path.read_text(encoding="utf-8")


def test_an_invalid_json_line_is_quarantined_with_its_line_number(ws: Workspace,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text(
        '{"order_id": "A1", "customer_id": "c1", "created_at": "2024-03-01 10:00"}\n'
        '{"order_id": "A2", "customer_id": \n'
        "\n"
        '{"order_id": "A3", "customer_id": "c3", "created_at": "2024-03-03", "amount": 12.5}\n'
        '["not", "an", "object"]\n', encoding="utf-8")
    report = load(ws, "orders", path)
    assert (report.read, report.stored, report.quarantined) == (4, 2, 2)
    assert rows(ws, "orders", "order_id", "amount") == [{"order_id": "A1", "amount": None},
                                                        {"order_id": "A3", "amount": 12.5}]
    found = quarantined(ws)
    assert [(f, line) for f, line, _, _ in found] == [("orders.jsonl", 2), ("orders.jsonl", 5)]
    assert all(reason.startswith("invalid JSON line") for *_, reason in found)
    assert '"customer_id":' in found[0][3]


def test_excel_rows_keep_their_sheet_row_numbers(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["order_id", "customer_id", "created_at", "amount"])
    sheet.append(["A1", "c1", dt.datetime(2024, 3, 1, 10, 30), 1299])
    sheet.append([None, None, None, None])  # a blank row: skipped, but it still has a number
    sheet.append(["A2", None, "2024-03-02", 3.5])
    sheet.append([1003, "c3", "2024-03-03 08:00", "¥5"])
    book.save(path)
    report = load(ws, "orders", path)
    assert (report.read, report.stored, report.quarantined) == (3, 2, 1)
    assert rows(ws, "orders", "order_id", "created_at", "amount") == [
        {"order_id": "1003", "created_at": dt.datetime(2024, 3, 3, 8), "amount": 5.0},
        {"order_id": "A1", "created_at": dt.datetime(2024, 3, 1, 10, 30), "amount": 1299.0},
    ]
    assert quarantined(ws) == [("orders.xlsx", 4, "customer_id", "missing customer_id")]


def test_typed_parquet_columns_are_stored_as_they_are(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.table({
        "order_id": ["A1", "A2"],
        "customer_id": pa.array([101, 102], pa.int64()),
        "created_at": pa.array([dt.datetime(2024, 3, 1, 10), dt.datetime(2024, 3, 2, 20, 1)],
                               pa.timestamp("us")),
        "amount": pa.array([1299.0, 89.9], pa.float64()),
        "discount": pa.array([None, 10.0], pa.float64()),
    }), path)
    report = load(ws, "orders", path)
    assert (report.read, report.stored) == (2, 2)
    assert rows(ws, "orders", "order_id", "customer_id", "created_at", "amount", "discount") == [
        {"order_id": "A1", "customer_id": "101", "created_at": dt.datetime(2024, 3, 1, 10),
         "amount": 1299.0, "discount": None},
        {"order_id": "A2", "customer_id": "102", "created_at": dt.datetime(2024, 3, 2, 20, 1),
         "amount": 89.9, "discount": 10.0},
    ]


def test_zoned_parquet_times_are_converted_to_the_shop_time_zone(shop_ws: Workspace,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    utc = dt.UTC
    pq.write_table(pa.table({
        "order_id": ["A1"], "customer_id": ["c1"],
        "created_at": pa.array([dt.datetime(2024, 3, 1, 2, tzinfo=utc)],
                               pa.timestamp("us", tz="UTC")),
    }), path)
    load(shop_ws, "orders", path)
    assert rows(shop_ws, "orders", "created_at") == [{"created_at": dt.datetime(2024, 3, 1, 10)}]


def test_a_quoted_field_survives_a_stray_quote_elsewhere_in_the_file(ws: Workspace,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id,created_at,promotion\n"
                    'A1,c1,2024-03-01,"双11, 满减"\n'
                    'A2,c2,2024-03-01,"ok"\n'
                    'A3,c3,2024-03-01,"a"b"\n'
                    "A4,c4,2024-03-01,none\n", encoding="utf-8")
    report = load(ws, "orders", path)
    assert rows(ws, "orders", "order_id", "promotion") == [
        {"order_id": "A1", "promotion": "双11, 满减"}, {"order_id": "A2", "promotion": "ok"},
        {"order_id": "A4", "promotion": "none"}]
    assert report.quarantined == 1
    assert [(line, reason.split(":")[0]) for _, line, _, reason in quarantined(ws)] == [
        (4, "malformed row")]


# -- refusals: one line, a KequnError, nothing stored ------------------------------------------

def _broken_gzip(folder: Path) -> Path:
    path = folder / "orders.csv.gz"
    path.write_bytes(gzip.compress(b"order_id\nA1\n" * 100)[:40])
    return path


def _fake_parquet(folder: Path) -> Path:
    path = folder / "orders.parquet"
    path.write_text("order_id\nA1\n")
    return path


def _gzip_parquet(folder: Path) -> Path:
    path = folder / "orders.parquet.gz"
    path.write_bytes(gzip.compress(_parquet(folder).read_bytes()))
    return path


def _not_text(folder: Path) -> Path:
    path = folder / "orders.csv"
    path.write_bytes(b"order_id,customer_id\nA1,\xff\xff\n")
    return path


def _damaged_xlsx(folder: Path) -> Path:
    path = folder / "orders.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    return path


def _folder(folder: Path) -> Path:
    return INVALID


def _missing(folder: Path) -> Path:
    return folder / "no_such_orders.csv"


def _fixture(name: str) -> Callable[[Path], Path]:
    return lambda folder: INVALID / name


REFUSED_FILES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # id: (file, table, words the message must hold)
    "png": (_fixture("orders_screenshot.png"), "orders", "binary file of an unsupported type"),
    "legacy-xls": (_fixture("orders_legacy.xls"), "orders", "legacy excel .xls file; save it"),
    "zip-named-csv": (_fixture("orders_zipped.csv"), "orders", "zip archive; unzip it"),
    "missing": (_missing, "orders", "no such file; check the path"),
    "folder": (_folder, "orders", "is a folder; name the files inside it"),
    "empty": (_fixture("empty.csv"), "orders", "is empty: nothing to load"),
    "header-only": (_fixture("header_only.csv"), "orders", "has a header but no rows"),
    "missing-column": (_fixture("no_order_id.csv"), "orders",
                       "lacks required orders column order_id"),
    "broken-gzip": (_broken_gzip, "orders", "broken gzip file"),
    "fake-parquet": (_fake_parquet, "orders", "does not look like a .parquet file"),
    "gzip-parquet": (_gzip_parquet, "orders", "gzip-compressed parquet is not supported"),
    "not-text": (_not_text, "orders", "neither utf-8 nor gb18030"),
    "damaged-xlsx": (_damaged_xlsx, "orders", "cannot read this excel file"),
}


@pytest.fixture
def loaded_ws(ws: Workspace, tmp_path: Path) -> Workspace:
    """A workspace that already holds a small good load, to show a refusal stores nothing."""
    good = tmp_path / "good" / "orders.csv"
    good.parent.mkdir()
    good.write_text("order_id,customer_id,created_at,amount\nZ1,z1,2024-01-01,1\nZ2,,x,2\n")
    load(ws, "orders", good)
    return ws


def _assert_refused(exc: KequnError, words: str) -> None:
    text = str(exc)
    assert "\n" not in text
    assert text.strip() == text
    assert words in text.lower()


@pytest.mark.parametrize("case", list(REFUSED_FILES))
def test_a_file_that_cannot_be_loaded_stops_with_one_line_and_stores_nothing(
        loaded_ws: Workspace, tmp_path: Path, case: str) -> None:
    make, table, words = REFUSED_FILES[case]
    path = make(tmp_path)
    before, before_counts = snapshot(loaded_ws), table_counts(loaded_ws)
    with pytest.raises(IngestError) as info:
        loaded_ws.load(table, [path])
    assert isinstance(info.value, KequnError)
    assert isinstance(info.value, ValueError)
    _assert_refused(info.value, words)
    assert path.name in str(info.value) or case == "folder"
    assert snapshot(loaded_ws) == before
    assert table_counts(loaded_ws) == before_counts


def test_a_header_only_events_file_says_it_has_no_rows(ws: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("event_time,customer_id,event\n")
    with pytest.raises(IngestError, match="has a header but no rows: nothing to load"):
        ws.load("events", [path])
    assert table_counts(ws)["kq_loads"] == 0


def test_a_missing_column_message_names_the_column_and_the_fix(ws: Workspace) -> None:
    with pytest.raises(IngestError) as info:
        ws.load("orders", [INVALID / "no_order_id.csv"])
    text = str(info.value)
    assert "order_id" in text
    assert "found: order_no, customer_id, created_at" in text
    assert "is 'order_no' the order_id?" in text
    assert "--mapping" in text
    assert "--preset" in text


def test_an_unknown_table_is_refused_with_a_suggestion(loaded_ws: Workspace) -> None:
    before = snapshot(loaded_ws)
    with pytest.raises(UnknownTableError) as info:
        loaded_ws.load("ordrs", [INVALID / "header_only.csv"])
    assert isinstance(info.value, KequnError)
    assert isinstance(info.value, KeyError)
    _assert_refused(info.value, "unknown table 'ordrs' (did you mean 'orders'?)")
    assert "customers, products, orders, order_items, events, marketing_costs" in str(info.value)
    assert snapshot(loaded_ws) == before


def test_an_unknown_preset_is_refused_with_a_suggestion(loaded_ws: Workspace,
                                                        tmp_path: Path) -> None:
    before = snapshot(loaded_ws)
    with pytest.raises(MappingError) as info:
        loaded_ws.load("orders", [_csv(tmp_path)], preset="taobo")
    _assert_refused(info.value, "unknown preset 'taobo' (did you mean 'taobao'?)")
    assert snapshot(loaded_ws) == before


def test_a_malformed_mapping_file_is_refused(loaded_ws: Workspace, tmp_path: Path) -> None:
    before = snapshot(loaded_ws)
    with pytest.raises(MappingError) as info:
        loaded_ws.load("orders", [_csv(tmp_path)], mapping=INVALID / "broken_mapping.toml")
    _assert_refused(info.value, "broken_mapping.toml is not valid toml")
    assert snapshot(loaded_ws) == before


def test_a_load_without_files_is_refused(ws: Workspace) -> None:
    with pytest.raises(IngestError, match="name at least one file"):
        ws.load("orders", [])


def test_one_bad_file_among_several_stores_none_of_them(loaded_ws: Workspace,
                                                        tmp_path: Path) -> None:
    before = snapshot(loaded_ws)
    with pytest.raises(IngestError, match="header but no rows"):
        loaded_ws.load("orders", [_csv(tmp_path), INVALID / "header_only.csv"])
    assert snapshot(loaded_ws) == before
    assert table_counts(loaded_ws)["kq_loads"] == 1
