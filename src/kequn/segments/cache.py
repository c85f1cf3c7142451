"""The kept feature table: one row per customer, stored in the workspace between processes.

Building the feature table reads every order and event; reading it back is one scan of a
one-row-per-customer table. :class:`Evaluator.prepare <kequn.segments.Evaluator.prepare>`
therefore stores what it builds in a table ``kq_features_cache_<id>``, listed in
``kq_features_cache_key`` with its ``as_of`` and a fingerprint of the data (row counts of the
shop tables and the load history), so that a later ``kequn segment count`` in a new process
answers from it. Its columns are named after the
measures (a hash of the measure's text), so any rule asking for the same measure finds it.

The fingerprint also holds a hash of the code that defines the features (the measures, the
compiler, the built-in groups): a kequn that computes a column differently (say, rounds a sum
it did not round before) does not read a table kept by an earlier one.

The cache is only used for a workspace file on the DuckDB engine whose data came in through
loads (``kq_loads``): the fingerprint changes with every load, whereas in-memory workspaces
may be changed row by row, which no cheap fingerprint sees.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib.util
import json
import uuid
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import ibis.expr.types as ir
import pyarrow as pa

from kequn.storage.run import create_table

CACHE_TABLE = "kq_features_cache"  # prefix of the kept tables, one per as_of and data version
CACHE_KEY_TABLE = "kq_features_cache_key"
KEEP_TABLES = 4  # kept tables of the current data (other as_of's), newest first: a server
# keeps now, 30 days before (the groups page) and the two ends of the report's periods
_SHOP_TABLES = ("customers", "products", "orders", "order_items", "events")
_KEY_COLUMNS = ("table_name", "as_of", "fingerprint", "default_as_of", "created_at")


def usable(ws: Any) -> bool:
    """Whether this workspace can keep a feature table between processes."""
    if getattr(ws, "path", None) is None:
        return False
    engine = getattr(getattr(ws, "engine_settings", None), "engine", "duckdb")
    return engine == "duckdb"


def fingerprint(ws: Any) -> str | None:
    """The data version: row counts of the shop tables and the load history (None: no loads)."""
    raw = ws.raw
    try:
        loads = raw.execute(
            "SELECT count(*), max(load_id), max(finished_at), sum(stored) FROM kq_loads"
        ).fetchone()
        if not loads or not loads[0]:
            return None
        counts = [raw.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                  for t in _SHOP_TABLES]
    except duckdb.Error:
        return None
    text = json.dumps([list(loads), counts, code_version()], default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# The modules whose code decides a kept column's values.
_DEFINING_MODULES = (
    "kequn.storage.features", "kequn.segments.compiler", "kequn.segments.sequences",
    "kequn.segments.catalog", "kequn.clv.repurchase", "kequn.schema.conventions",
)


@functools.cache
def code_version() -> str:
    """A hash of the source of the modules that define the features, and of the built-in
    groups' library (read once per process)."""
    digest = hashlib.sha1()
    for name in _DEFINING_MODULES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        digest.update(name.encode("utf-8"))
        if origin:
            digest.update(Path(origin).read_bytes())
    digest.update(resources.files("kequn.segments").joinpath("library.toml").read_bytes())
    return digest.hexdigest()[:16]


def _keys(ws: Any) -> list[tuple[Any, ...]]:
    """The rows of the key table, newest first (none if it is missing or from an old kequn)."""
    try:
        return ws.raw.execute(
            f"SELECT {', '.join(_KEY_COLUMNS)} FROM {CACHE_KEY_TABLE} "
            "ORDER BY created_at DESC").fetchall()
    except duckdb.Error:
        return []


def read(ws: Any, as_of: dt.datetime, key: str) -> ir.Table | None:
    """The kept feature table for ``as_of`` and data version ``key``, if there is one."""
    for name, when, fp, _, _ in _keys(ws):
        if when == as_of and fp == key:
            try:
                return ws.con.table(name)
            except Exception:  # noqa: BLE001 - a missing or broken cache is just no cache
                return None
    return None


def default_as_of(ws: Any, key: str) -> dt.datetime | None:
    """The workspace's default as_of (its latest data) noted with a kept table, when the
    data is still version ``key``: it saves scanning every order and event for it."""
    for _, _, fp, default, _ in _keys(ws):
        if fp == key and default is not None:
            return default
    return None


def write(ws: Any, as_of: dt.datetime, key: str, features: ir.Table | pa.Table, *,
          default: dt.datetime | None = None) -> ir.Table | None:
    """Store ``features`` as the kept table for ``as_of`` and ``key`` (None if it cannot be);
    ``default`` is the data's default as_of, when known.

    ``features`` may be an Ibis expression, or rows already computed (an Arrow table): a
    server reading the workspace read-only computes them there and writes them in a short
    write of its own.

    Each write makes a new table, so an evaluator still reading an earlier one (another
    as_of) is not changed under it; tables of older data, an earlier one for the same
    ``as_of``, and all but :data:`KEEP_TABLES` (the newest, and the one at the data's default
    as_of) are dropped.
    """
    raw = ws.raw
    name = f"{CACHE_TABLE}_{uuid.uuid4().hex[:12]}"  # generated, never user text
    try:
        rows = _keys(ws)
        if not rows:
            raw.execute(f"DROP TABLE IF EXISTS {CACHE_KEY_TABLE}")  # missing, or an old layout
            raw.execute(f"CREATE TABLE {CACHE_KEY_TABLE} (table_name VARCHAR, as_of TIMESTAMP, "
                        "fingerprint VARCHAR, default_as_of TIMESTAMP, created_at TIMESTAMP)")
        if isinstance(features, pa.Table):
            raw.register("_kq_features_rows", features)
            try:
                raw.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _kq_features_rows')
            finally:
                raw.unregister("_kq_features_rows")
            table = ws.con.table(name)
        else:
            table = create_table(features, name)
        raw.execute(f"INSERT INTO {CACHE_KEY_TABLE} VALUES (?, ?, ?, ?, ?)",
                    [name, as_of, key, default, dt.datetime.now()])  # noqa: DTZ005 - order only
        # Keep the newest of the current data, the one at its default as_of first (the one
        # most asked for); a table at the same as_of is replaced by this one.
        current = sorted((r for r in rows if r[2] == key and r[1] != as_of),
                         key=lambda r: r[3] is None or r[3] != r[1])[:KEEP_TABLES - 1]
        for stale in {r[0] for r in rows} - {r[0] for r in current}:
            _drop_one(ws, stale)
    except duckdb.Error:
        return None
    return table


def _drop_one(ws: Any, name: str) -> None:
    ws.raw.execute(f"DELETE FROM {CACHE_KEY_TABLE} WHERE table_name = ?", [name])
    ws.raw.execute(f'DROP TABLE IF EXISTS "{name}"')


def drop(ws: Any) -> None:
    """Forget the kept feature tables (the next evaluation builds one again)."""
    for name, *_ in _keys(ws):
        try:
            ws.raw.execute(f'DROP TABLE IF EXISTS "{name}"')
        except duckdb.Error:
            pass
    for name in (CACHE_KEY_TABLE, CACHE_TABLE):
        try:
            ws.raw.execute(f"DROP TABLE IF EXISTS {name}")
        except duckdb.Error:
            pass
