"""Properties of any load: bad rows never vanish, and reloading is a no-op (hypothesis)."""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_helpers import load, quarantined, rows, snapshot, write_csv

import kequn

ORDER_KINDS = ("good", "good", "good", "missing_key", "missing_customer", "bad_time",
               "bad_amount", "bad_status", "too_many_fields", "too_few_fields",
               "same_key_other_content", "same_row_again")
EVENT_KINDS = ("good", "good", "good", "missing_customer", "missing_event", "bad_time",
               "bad_duration", "too_many_fields", "too_few_fields", "same_row_again")
PROPERTY = settings(max_examples=12, deadline=None)  # a load is ~0.1 s: keep it modest
# any one-line text (the loader trims values, so none with spaces at its ends)
TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
               max_size=12).filter(lambda s: s.strip() == s)


@dataclass
class Sample:
    """A generated file: its lines, which data lines are bad, and the keys that must be stored."""

    lines: list[str]
    bad_lines: set[int]
    good_keys: set[str]


def _orders(kinds: list[str], day: int) -> Sample:
    lines = ["order_id,customer_id,created_at,status,amount"]
    bad: set[int] = set()
    first_good: dict[str, str] = {}  # key -> its first, stored, row
    for i, kind in enumerate(kinds):
        key, when = f"o{i}", f"2024-03-{day:02d} {i % 24:02d}:{i % 60:02d}"
        earlier = next(reversed(first_good.values()), None)
        if kind == "same_key_other_content" and earlier is not None:
            row, is_bad = earlier.rsplit(",", 1)[0] + ",999", True
        elif kind == "same_row_again" and earlier is not None:
            row, is_bad = earlier, False
        elif kind in ("good", "same_key_other_content", "same_row_again"):
            row, is_bad = f"{key},c{i % 4},{when},paid,{i}.5", False
            first_good[key] = row
        else:
            row, is_bad = {"missing_key": f",c{i % 4},{when},paid,1",
                           "missing_customer": f"{key},,{when},paid,1",
                           "bad_time": f"{key},c1,03/2024/{day},paid,1",
                           "bad_amount": f"{key},c1,{when},paid,1.2.3",
                           "bad_status": f"{key},c1,{when},shipped,1",
                           "too_many_fields": f"{key},c1,{when},paid,1,surplus",
                           "too_few_fields": f"{key},c1,{when},paid"}[kind], True
        if is_bad:
            bad.add(len(lines) + 1)
        lines.append(row)
    return Sample(lines, bad, set(first_good))


def _events(kinds: list[str], day: int) -> Sample:
    lines = ["event_time,customer_id,event,duration_s"]
    bad: set[int] = set()
    for i, kind in enumerate(kinds):
        when = f"2024-03-{day:02d} {i % 24:02d}:{i % 60:02d}:00"
        row = {"good": f"{when},c{i % 3},view,{i}",
               "missing_customer": f"{when},,view,1",
               "missing_event": f"{when},c1,,1",
               "bad_time": f"yesterday {i},c1,view,1",
               "bad_duration": f"{when},c1,view,long",
               "too_many_fields": f"{when},c1,view,1,surplus",
               "too_few_fields": f"{when},c1,view",
               "same_row_again": lines[-1] if len(lines) > 1 else f"{when},c1,view,0"}[kind]
        if kind not in ("good", "same_row_again") or (kind == "same_row_again"
                                                      and len(lines) in bad):
            bad.add(len(lines) + 1)
        lines.append(row)
    return Sample(lines, bad, set())


@given(kinds=st.lists(st.sampled_from(ORDER_KINDS), min_size=1, max_size=25),
       day=st.integers(1, 28))
@PROPERTY
def test_bad_order_rows_never_vanish(kinds: list[str], day: int) -> None:
    sample = _orders(kinds, day)
    with tempfile.TemporaryDirectory() as folder, kequn.open(":memory:") as ws:
        path = write_csv(Path(folder) / "orders.csv", sample.lines)
        report = load(ws, "orders", path)  # checks read = stored + updated + quarantined
        assert report.read == len(sample.lines) - 1
        assert {line for _, line, _, _ in quarantined(ws)} == sample.bad_lines
        assert report.quarantined == len(sample.bad_lines)
        assert {r["order_id"] for r in rows(ws, "orders", "order_id")} == sample.good_keys


@given(kinds=st.lists(st.sampled_from(EVENT_KINDS), min_size=1, max_size=25),
       day=st.integers(1, 28))
@PROPERTY
def test_bad_event_rows_never_vanish(kinds: list[str], day: int) -> None:
    sample = _events(kinds, day)
    with tempfile.TemporaryDirectory() as folder, kequn.open(":memory:") as ws:
        path = write_csv(Path(folder) / "events.csv", sample.lines)
        report = load(ws, "events", path)
        assert report.read == len(sample.lines) - 1
        assert {line for _, line, _, _ in quarantined(ws)} == sample.bad_lines
        assert report.stored == report.read - len(sample.bad_lines)


@given(order_kinds=st.lists(st.sampled_from(ORDER_KINDS), min_size=1, max_size=20),
       event_kinds=st.lists(st.sampled_from(EVENT_KINDS), min_size=1, max_size=20),
       day=st.integers(1, 28))
@settings(PROPERTY, max_examples=8)
def test_reloading_any_file_is_a_no_op(order_kinds: list[str], event_kinds: list[str],
                                       day: int) -> None:
    with tempfile.TemporaryDirectory() as folder, kequn.open(":memory:") as ws:
        orders = write_csv(Path(folder) / "orders.csv", _orders(order_kinds, day).lines)
        events = write_csv(Path(folder) / "events.csv", _events(event_kinds, day).lines)
        first = [load(ws, "orders", orders), load(ws, "events", events)]
        before = snapshot(ws)
        again = [load(ws, "orders", orders), load(ws, "events", events)]
        assert snapshot(ws) == before
        for a, b in zip(first, again, strict=True):
            assert (b.read, b.stored, b.quarantined) == (a.read, a.stored, a.quarantined)
            assert (b.inserted, b.updated, b.customers_added) == (0, 0, 0)


@given(ids=st.lists(TEXT, min_size=1, max_size=8, unique=True))
@PROPERTY
def test_any_text_round_trips_as_a_customer_id(ids: list[str]) -> None:
    """Commas, quotes, semicolons and CJK in values survive CSV quoting."""
    with tempfile.TemporaryDirectory() as folder, kequn.open(":memory:") as ws:
        path = Path(folder) / "customers.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["customer_id", "city"])
            writer.writerows([value, value] for value in ids)
        report = load(ws, "customers", path)
        assert (report.read, report.inserted, report.quarantined) == (len(ids), len(ids), 0)
        assert sorted(r["customer_id"] for r in rows(ws, "customers", "customer_id")) == sorted(
            ids)
