"""The feature table kept in a workspace file between processes (``kq_features_cache_*``)."""

from __future__ import annotations

import datetime as dt
import importlib
import shutil

import pytest

import kequn
from kequn import segments as sg
from kequn.demo.generate import generate_shop

cache = importlib.import_module("kequn.segments.cache")
evaluate_mod = importlib.import_module("kequn.segments.evaluate")

RULES = [
    "member_level IN ('V4', 'V5')",
    "paid_orders(last: 720d) >= 2 AND spend > 300",
    "spend(last: 45d) >= 100",  # a measure no built-in segment asks for
    "events(cart, last: 7d) > 0 AND age >= 25",
]


@pytest.fixture(scope="module")
def shop_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kept")
    return folder, generate_shop(folder / "data", customers=300, seed=3)


@pytest.fixture
def ws_path(shop_files, tmp_path):
    folder, files = shop_files
    path = tmp_path / "shop.duckdb"
    ws = kequn.open(path)
    for table in ("customers", "products", "orders", "order_items", "events"):
        ws.load(table, files[table])
    ws.close()
    return path


def _kept_tables(ws):
    return [t for t in ws.con.list_tables() if t.startswith(cache.CACHE_TABLE)]


def _all_sizes(ev, ids):
    return {i: ev.sizes(i) if ev.target(i).is_family else ev.count(i) for i in ids}


def _without_cache(path, monkeypatch, rules):
    with monkeypatch.context() as m:
        m.setattr(cache, "usable", lambda ws: False)
        with kequn.open(path) as ws:
            return _all_sizes(sg.Evaluator(ws, None), rules)


@pytest.mark.slow  # every built-in segment, twice with the cache and once without
def test_a_new_process_counts_from_the_kept_table(ws_path, monkeypatch):
    with kequn.open(ws_path) as ws:
        ids = [s.id for s in sg.list_segments(ws)]
        ev = sg.Evaluator(ws, None)
        ev.prepare(ids)
        built = _all_sizes(ev, ids)
        assert ws.raw.execute(f"SELECT count(*) FROM {cache.CACHE_KEY_TABLE}").fetchone()[0] == 1
    with kequn.open(ws_path) as ws:
        ev = sg.Evaluator(ws, None)
        assert ev._kept_table() is not None
        # the default as_of was noted with it, so no scan of the data finds it again
        assert cache.default_as_of(ws, cache.fingerprint(ws)) == ev.as_of == ws.default_as_of()
        kept = _all_sizes(ev, ids + RULES)
        assert cache.CACHE_TABLE not in ev.sql(RULES[1])  # `segment sql` shows the whole query
    assert {i: kept[i] for i in ids} == built
    assert kept == _without_cache(ws_path, monkeypatch, ids + RULES)


def test_a_new_load_makes_the_kept_table_stale(ws_path, shop_files, monkeypatch, tmp_path):
    with kequn.open(ws_path) as ws:
        sg.Evaluator(ws, None).prepare(["new_customers", "heavy_buyers"])
        key = cache.fingerprint(ws)
    extra = tmp_path / "more_orders.parquet"
    shutil.copy(shop_files[1]["orders"][0], extra)
    with kequn.open(ws_path) as ws:
        ws.load("orders", [extra])  # same rows again: a load all the same
        assert cache.fingerprint(ws) != key
        assert cache.default_as_of(ws, cache.fingerprint(ws)) is None
        assert sg.Evaluator(ws, None)._kept_table() is None


def test_a_kequn_that_defines_features_differently_does_not_read_the_kept_table(
        ws_path, monkeypatch):
    with kequn.open(ws_path) as ws:
        sg.Evaluator(ws, None).prepare(["new_customers", "heavy_buyers"])
        assert sg.Evaluator(ws, None)._kept_table() is not None
    # another version of the feature code (say, one that rounds a sum it did not round)
    monkeypatch.setattr(cache, "code_version", lambda: "another kequn")
    with kequn.open(ws_path) as ws:
        assert sg.Evaluator(ws, None)._kept_table() is None


def test_the_code_version_changes_with_the_feature_code(monkeypatch):
    before = cache.code_version()
    cache.code_version.cache_clear()
    monkeypatch.setattr(cache, "_DEFINING_MODULES", (*cache._DEFINING_MODULES, "kequn.errors"))
    try:
        assert cache.code_version() != before
    finally:
        cache.code_version.cache_clear()


def test_the_kept_table_is_for_one_as_of(ws_path):
    with kequn.open(ws_path) as ws:
        latest = ws.default_as_of()
        sg.Evaluator(ws, None).prepare(["active"])
        earlier = sg.Evaluator(ws, latest - dt.timedelta(days=1))
        assert earlier._kept_table() is None
        assert sg.Evaluator(ws, None)._kept_table() is not None


def test_evaluators_at_two_as_ofs_keep_their_own_tables(ws_path, monkeypatch):
    with kequn.open(ws_path) as ws:
        latest = ws.default_as_of()
        ids = ["new_customers", "active", "heavy_buyers", "intent"]
        earlier, now = sg.Evaluator(ws, latest - dt.timedelta(days=60)), sg.Evaluator(ws, None)
        earlier.prepare(ids)
        now.prepare(ids)  # a second table: the first one is not changed under `earlier`
        kept = _all_sizes(earlier, ids), _all_sizes(now, ids)
        with monkeypatch.context() as m:
            m.setattr(cache, "usable", lambda ws: False)
            plain = (_all_sizes(sg.Evaluator(ws, latest - dt.timedelta(days=60)), ids),
                     _all_sizes(sg.Evaluator(ws, None), ids))
        assert kept == plain
        assert kept[0] != kept[1]
        for k in range(cache.KEEP_TABLES + 1):  # only the newest few are kept
            sg.Evaluator(ws, latest - dt.timedelta(days=k + 1)).prepare(ids)
        assert len(_kept_tables(ws)) == cache.KEEP_TABLES + 1  # and the key table


def test_dropping_the_kept_table(ws_path):
    with kequn.open(ws_path) as ws:
        sg.Evaluator(ws, None).prepare(["active"])
        evaluate_mod.drop_feature_cache(ws)
        assert sg.Evaluator(ws, None)._kept_table() is None
        assert not _kept_tables(ws)


def test_in_memory_workspaces_keep_nothing():
    ws = kequn.open(":memory:")
    assert not cache.usable(ws)
    sg.Evaluator(ws, "2024-03-01").prepare(["active"])
    assert not _kept_tables(ws)
