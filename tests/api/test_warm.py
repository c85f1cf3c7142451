"""The server's kept feature tables: computed read-only, stored in one short write, once per
data version; the groups page drawn with what is ready."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import kequn
from kequn import segments as sg
from kequn.api import compute
from kequn.dashboard import warm
from kequn.segments import cache as kept

PALETTE_RULE = "events(cart, last: 14d) > 0"


def _load_events(path: Path, folder: Path, minute: int) -> None:
    """A real load (so the workspace has a load history, which keeping features needs)."""
    data = folder / f"events_{minute}.csv"
    data.write_text("event_time,customer_id,event,session_id\n" + "".join(
        f"2026-10-30 10:{minute:02d}:{i:02d},C{i + 1:07d},cart,w{minute}-{i}\n"
        for i in range(20)), encoding="utf-8")
    with kequn.open(path) as ws:
        report = ws.load("events", [data])
    assert report.stored == 20


@pytest.fixture
def loaded(ws_path: Path, tmp_path: Path) -> Path:
    """The shop with one load in its history."""
    _load_events(ws_path, tmp_path, 1)
    return ws_path


def _kept_tables(path: Path) -> list[tuple]:
    with kequn.open(path, read_only=True) as ws:
        return kept._keys(ws)


def _measures(path: Path, as_of: dt.datetime, rule: str) -> set[str]:
    with kequn.open(path, read_only=True) as ws:
        ev = sg.Evaluator(ws, as_of)
        compiler, _ = ev.compile(ev.target(rule))
        return set(compiler.needs.measures)


def test_the_server_keeps_the_features_of_every_group_and_palette_condition(
        loaded: Path, make_client: Callable[..., TestClient]):
    client = make_client()
    state = client.app.state.kequn
    with state.gate.open() as ws:
        as_of = compute.default_as_of(state, ws)
        direct = sg.Evaluator(ws, as_of).count(PALETTE_RULE)  # computed from the events
    assert _kept_tables(loaded) == []
    warm.group_features(state)
    rows = _kept_tables(loaded)
    assert sorted(r[1] for r in rows) == [as_of - dt.timedelta(days=30), as_of]
    now_table = next(r[0] for r in rows if r[1] == as_of)
    assert next(r[3] for r in rows if r[1] == as_of) == as_of  # noted as the default as_of
    with kequn.open(loaded, read_only=True) as ws:
        columns = set(ws.con.table(now_table).columns)
    assert _measures(loaded, as_of, PALETTE_RULE) <= columns
    assert _measures(loaded, as_of, "segment(interest)") <= columns
    counted = client.post("/api/segments/count", json={"rule": PALETTE_RULE}).json()
    assert counted["count"] == direct  # read from the kept table: the same answer
    warm.group_features(state)  # once per data version
    assert _kept_tables(loaded) == rows


def test_a_new_load_gets_new_kept_tables_and_drops_the_old(
        loaded: Path, tmp_path: Path, make_client: Callable[..., TestClient]):
    client = make_client()
    state = client.app.state.kequn
    warm.group_features(state, part="now")
    first = {r[0] for r in _kept_tables(loaded)}
    assert len(first) == 1
    _load_events(loaded, tmp_path, 2)
    warm.group_features(state, part="now")
    second = _kept_tables(loaded)
    assert len(second) == 1
    assert second[0][0] not in first


def test_the_groups_page_shows_the_sizes_first_then_their_change(
        loaded: Path, make_client: Callable[..., TestClient]):
    client = make_client()
    page = client.get("/groups?lang=en")
    assert 'class="lazy"' in page.text
    assert 'hx-get="/panel/groups?part=now' in page.text
    now = client.get("/panel/groups?part=now&lang=en")
    assert now.status_code == 200
    assert "gname" in now.text  # the sizes are there
    assert 'hx-get="/panel/groups?part=all' in now.text  # the change follows
    assert 'class="lazy"' not in client.get("/groups?lang=en").text  # drawn now, change pending
    full = client.get("/panel/groups?part=all&lang=en")
    assert full.status_code == 200
    assert "hx-get" not in full.text
    assert 'class="delta' in full.text
    assert "hx-get" not in client.get("/groups?lang=en").text


def test_kept_tables_are_replaced_per_as_of_and_the_default_one_stays(loaded: Path):
    with kequn.open(loaded) as ws:
        key = kept.fingerprint(ws)
        assert key is not None
        default = ws.default_as_of()
        rows = ws.table("customers").select("customer_id").to_pyarrow()
        kept.write(ws, default, key, rows, default=default)
        for days in range(1, kept.KEEP_TABLES + 2):
            kept.write(ws, default - dt.timedelta(days=days), key, rows)
        kept.write(ws, default - dt.timedelta(days=1), key, rows)  # again: replaces its own
        stored = kept._keys(ws)
    assert len(stored) == kept.KEEP_TABLES
    assert len({r[1] for r in stored}) == len(stored)  # one table per as_of
    assert default in {r[1] for r in stored}  # the one most asked for is kept
