"""A shop workspace: its data and kequn's own state in one embedded DuckDB file.

Analytics read the shop's tables as Ibis expressions from :meth:`Workspace.table`, so the same
code runs on another Ibis backend; results come back as Arrow, pandas or polars with the
expression's ``to_pyarrow()``, ``to_pandas()`` or ``to_polars()``. With the ``pyspark`` engine
(:mod:`kequn.storage.engines`) the shop's tables are Parquet files read by Spark, while
``.con`` / ``.raw`` stay the embedded DuckDB that holds kequn's own state and loads data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from kequn.config import Settings, workspace_path
from kequn.errors import UnknownTableError, WorkspaceError
from kequn.schema.conventions import parse_as_of
from kequn.schema.tables import TABLES, TableSpec
from kequn.storage.engines import (
    ENGINE_KEYS,
    EngineName,
    EngineSettings,
    ShopEngine,
    connect_engine,
    on_engine,
    read_engine_settings,
    require,
)
from kequn.storage.setup import ensure_tables

if TYPE_CHECKING:
    from kequn.ingest.load import LoadReport


def table_spec(name: str) -> TableSpec:
    """The canonical table called ``name``, or an error that lists the choices."""
    try:
        return TABLES[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, TABLES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        msg = f"unknown table {name!r}{hint}; choose one of {', '.join(TABLES)}"
        raise UnknownTableError(msg) from None


@dataclass(frozen=True)
class TableStatus:
    """Row count and time range of one shop table."""

    table: str
    rows: int
    first: str | None
    last: str | None


class Workspace:
    """One shop's workspace. Open it with :func:`kequn.open`.

    Examples
    --------
    >>> import kequn
    >>> ws = kequn.open(":memory:")
    >>> ws.table("orders").count().to_pyarrow().as_py()
    0
    """

    def __init__(self, path: str | os.PathLike[str] = ":memory:", *, read_only: bool = False,
                 lock_wait_s: float | None = None, engine: str | None = None):
        self.path = Path(path) if str(path) != ":memory:" else None
        target = str(path)
        if self.path is not None and read_only and not self.path.exists():
            msg = f"no workspace at {target}; run 'kequn demo' or 'kequn load' first"
            raise WorkspaceError(msg)
        self.con = _connect(target, read_only=read_only, wait_s=lock_wait_s)
        if not read_only:
            ensure_tables(self.con)
        self._engine_override = engine
        self._shop: ShopEngine | None = None
        self._tables: dict[str, ir.Table] | None = None  # see tables_fixed()
        self.settings = self._read_settings()
        if self.settings.memory_limit:
            self.raw.execute("SET memory_limit = ?", [self.settings.memory_limit])
        # Timestamps are stored as naive shop-local time; the session zone only matters for
        # TIMESTAMPTZ parsing at load time, where the loader converts to the shop zone.
        self.raw.execute("SET TimeZone = 'UTC'")
        self.raw.execute("SET enable_progress_bar = false")  # kequn draws its own, on stderr

    # -- connection -------------------------------------------------------------------------
    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        """The underlying DuckDB connection (for the loader's DuckDB-only SQL)."""
        return self.con.con

    def close(self) -> None:
        """Close the workspace file."""
        self.con.disconnect()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- settings ---------------------------------------------------------------------------
    def _read_settings(self) -> Settings:
        rows = self.raw.execute("SELECT key, value FROM kq_settings").fetchall()
        stored = {k: json.loads(v) for k, v in rows}
        engine = {k: stored.pop(k) for k in ENGINE_KEYS & stored.keys()}
        self.engine_settings = read_engine_settings(engine, override=self._engine_override)
        return Settings(**stored)

    def set(self, **changes: Any) -> Settings:
        """Change settings and store them (e.g. ``ws.set(time_zone='Asia/Shanghai')``)."""
        updated = self.settings.model_copy()
        for key, value in changes.items():
            setattr(updated, key, value)  # validate_assignment checks each value
        with self.transaction():
            for key in changes:
                self.raw.execute("DELETE FROM kq_settings WHERE key = ?", [key])
                self.raw.execute("INSERT INTO kq_settings VALUES (?, ?)",
                                 [key, json.dumps(getattr(updated, key))])
        self.settings = updated
        return updated

    def use_engine(self, engine: EngineName, *, data_url: str | None = None,
                   spark_master: str | None = None,
                   spark_conf: dict[str, str] | None = None) -> EngineSettings:
        """Choose and store the engine that computes the shop's tables.

        ``use_engine("pyspark", data_url="s3a://bucket/shop", spark_master="spark://m:7077")``;
        options left out keep their stored value. ``use_engine("duckdb")`` goes back to the
        embedded tables.
        """
        current = self.engine_settings.model_dump()
        changes: dict[str, Any] = {"engine": engine}
        for key, value in (("data_url", data_url), ("spark_master", spark_master),
                           ("spark_conf", spark_conf)):
            if value is not None:
                changes[key] = value
        updated = read_engine_settings({**current, **changes}).ready()
        with self.transaction():
            for key in changes:
                self.raw.execute("DELETE FROM kq_settings WHERE key = ?", [key])
                self.raw.execute("INSERT INTO kq_settings VALUES (?, ?)",
                                 [key, json.dumps(getattr(updated, key))])
        self._engine_override = None
        self.engine_settings = updated
        self._shop = None
        return updated

    @property
    def engine_name(self) -> EngineName:
        """The engine that computes the shop's tables: ``duckdb`` or ``pyspark``."""
        return self.engine_settings.engine

    @property
    def engine(self) -> BaseBackend:
        """The Ibis backend holding the shop's tables (``.con`` itself on DuckDB)."""
        if self.engine_settings.engine == "duckdb":
            return self.con
        return self._shop_engine().backend

    def _shop_engine(self) -> ShopEngine:
        if self._shop is None:
            self._shop = connect_engine(self.engine_settings)
        return self._shop

    def transaction(self) -> _Transaction:
        """A context manager: everything inside commits together or not at all."""
        return _Transaction(self.raw)

    # -- data -------------------------------------------------------------------------------
    def table(self, name: str) -> ir.Table:
        """The shop table ``name`` as an Ibis expression on the workspace's engine."""
        table_spec(name)
        if self._tables is not None and name in self._tables:
            return self._tables[name]
        if self.engine_settings.engine == "duckdb":
            table = self.con.table(name)
        else:
            table = self._shop_engine().table(name)
        if self._tables is not None:
            self._tables[name] = table
        return table

    @contextlib.contextmanager
    def tables_fixed(self) -> Iterator[None]:
        """Within the block, each shop table's expression is made once: for work that reads
        the tables many times and adds no column to them (each ``table`` call asks the
        database for the schema: 88 times, 0.19 s, in one incremental refresh)."""
        outer = self._tables
        self._tables = {} if outer is None else outer
        try:
            yield
        finally:
            self._tables = outer

    def state_table(self, name: str) -> ir.Table:
        """kequn's own state table ``name`` (e.g. ``kq_predictions``) where shop tables can
        join it: the embedded table on DuckDB, its rows moved to Spark on pyspark."""
        return on_engine(self, self.con.table(name))

    def load(self, table: str, files: Sequence[str | os.PathLike[str]], *,
             mapping: str | os.PathLike[str] | None = None, preset: str | None = None,
             progress: bool = False) -> LoadReport:
        """Load files into a shop table; see :func:`kequn.ingest.load.load_files`."""
        from kequn.ingest.load import load_files

        require(self.engine_settings.engine, "load")
        return load_files(self, table, files, mapping=mapping, preset=preset, progress=progress)

    def quarantine(self, table: str | None = None) -> ir.Table:
        """Rows that broke a rule, with file, line, column and reason."""
        q = self.con.table("kq_quarantine")
        if table is not None:
            table_spec(table)
            q = q.filter(q.table_name == table)
        return q.order_by(["load_id", "file", "line"])

    def loads(self) -> ir.Table:
        """The load history, newest first."""
        t = self.con.table("kq_loads")
        return t.order_by(ibis.desc("started_at"))

    def default_as_of(self) -> dt.datetime:
        """SPEC §1's default "now": the latest event or order time in the data."""
        orders, events = self.table("orders"), self.table("events")
        latest = [orders.created_at.max(), orders.paid_at.max(), events.event_time.max()]
        values = [v.to_pyarrow().as_py() for v in latest]
        known = [v for v in values if v is not None]
        if not known:
            msg = "the workspace has no orders or events yet, so as_of has no default; pass --as-of"
            raise WorkspaceError(msg)
        return max(known)

    def resolve_as_of(self, as_of: str | dt.date | dt.datetime | None) -> dt.datetime:
        """An explicit as_of parsed, or the default one."""
        return self.default_as_of() if as_of is None else parse_as_of(as_of)

    def status(self) -> list[TableStatus]:
        """Rows and time range per shop table."""
        out = []
        for spec in TABLES.values():
            t = self.table(spec.name)
            if spec.time_column:
                col = t[spec.time_column]
                row = t.aggregate(n=t.count(), lo=col.min(), hi=col.max()).to_pyarrow()
                rec = row.to_pylist()[0]
                lo, hi = rec["lo"], rec["hi"]
                out.append(TableStatus(spec.name, rec["n"], _iso(lo), _iso(hi)))
            else:
                out.append(TableStatus(spec.name, t.count().to_pyarrow().as_py(), None, None))
        return out


def _connect(target: str, *, read_only: bool, wait_s: float | None) -> BaseBackend:
    """Open the DuckDB file, waiting while another process holds it.

    DuckDB lets one process write a file at a time, so every kequn process (CLI, server,
    scheduler) opens the workspace for a short piece of work and closes it; a second process
    waits here (up to $KEQUN_LOCK_WAIT seconds, default 60) instead of failing. While it
    waits it announces itself beside the file (:mod:`kequn.storage.writers`), so that a
    ``kequn serve`` reading the file lets go of it instead of keeping it busy.
    """
    wait = float(os.environ.get("KEQUN_LOCK_WAIT", "60")) if wait_s is None else wait_s
    deadline = time.monotonic() + wait
    delay = 0.05
    announced = None
    try:
        while True:
            try:
                return ibis.duckdb.connect(target, read_only=read_only)
            except duckdb.IOException as exc:
                text = str(exc)
                if "lock" not in text.lower() or time.monotonic() >= deadline:
                    first = text.splitlines()[0]
                    hint = ("another kequn process is using it; try again when it is done"
                            if "lock" in text.lower() else "check the path and its permissions")
                    msg = f"cannot open workspace {target}: {hint} ({first[:160]})"
                    raise WorkspaceError(msg) from None
                if announced is None:
                    from kequn.storage.writers import Announcement

                    announced = Announcement(target, read_only=read_only)
                announced.refresh()
                time.sleep(delay)
                delay = min(delay * 2, 0.25)  # a server lets go at once: look again soon
    finally:
        if announced is not None:
            announced.close()


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


class _Transaction:
    def __init__(self, raw: duckdb.DuckDBPyConnection) -> None:
        self.raw = raw

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.raw.execute("BEGIN TRANSACTION")
        return self.raw

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.raw.execute("ROLLBACK" if exc_type is not None else "COMMIT")


def open(path: str | os.PathLike[str] | None = None, *, read_only: bool = False,  # noqa: A001
         engine: str | None = None) -> Workspace:
    """Open (creating if missing) the workspace at ``path`` (default: $KEQUN_WORKSPACE or
    ./kequn.duckdb). ``engine`` (or $KEQUN_ENGINE) overrides the stored engine for this
    session: ``duckdb`` or ``pyspark``."""
    target = ":memory:" if str(path) == ":memory:" else workspace_path(path)
    return Workspace(target, read_only=read_only, engine=engine)
