"""Where the shop's tables are computed: the embedded DuckDB (default) or PySpark.

A workspace keeps kequn's own state (settings, saved segments, campaigns, audit) in its small
embedded DuckDB file whatever the engine. With ``engine = "pyspark"`` the shop's tables are
read instead from Parquet under ``data_url`` (``<data_url>/<table>/*.parquet``: a local path,
``hdfs://`` or an S3-style URL) by a Spark session (``spark_master``: ``local[N]`` on one
machine, a cluster by its master URL), and every segment, metric, feature table and prediction
summary runs there through the same Ibis expressions. ``kequn engine export --to URL`` writes
the embedded tables to that layout.

Where kequn's state meets the shop's tables in one expression (a campaign's recipients and the
orders they placed, the unsubscribe list and the customers), :func:`on_engine` brings the
small state side to the engine, and :func:`to_state` brings an engine's small result (a
segment's member ids, a frozen recipient list) back to be stored; on DuckDB both do nothing.

What Spark cannot do yet is declared once, in :data:`KNOWN_GAPS`; analytic code never asks
which engine it runs on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
from ibis.backends import BaseBackend
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from kequn.errors import KequnError
from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from kequn.workspace import Workspace

__all__ = [
    "ENGINES",
    "ENGINE_ENV",
    "ENGINE_KEYS",
    "KNOWN_GAPS",
    "EngineError",
    "EngineGapError",
    "EngineName",
    "EngineSettings",
    "ExportedTable",
    "Gap",
    "ShopEngine",
    "connect_engine",
    "data_fingerprint",
    "export_tables",
    "gaps_for",
    "move_to",
    "on_engine",
    "read_engine_settings",
    "require",
    "spark_session",
    "stop_spark",
    "table_url",
    "to_state",
]

EngineName = Literal["duckdb", "pyspark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "pyspark")
ENGINE_ENV = "KEQUN_ENGINE"
"""Environment variable that overrides a workspace's stored engine (what ``--engine`` sets)."""

DEFAULT_SPARK_CONF: dict[str, str] = {
    # A shop's tables are small for Spark: a few partitions per shuffle, not 200.
    "spark.sql.shuffle.partitions": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",  # timestamps are naive shop time; never shift them
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
    "spark.sql.ansi.enabled": "false",  # NULL for x/0, as DuckDB and SQL-92 aggregates give
    # kequn's state rows reach Spark as in-memory tables (on_engine): through Arrow, not
    # row by row in Python
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
LOCAL_SPARK_CONF: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}
ROWS_PER_BATCH = 256_000


class EngineError(KequnError, RuntimeError):
    """The engine cannot be reached or set up (no PySpark, no data_url, unreadable data)."""


class EngineGapError(EngineError, NotImplementedError):
    """Something the chosen engine does not do (one of :data:`KNOWN_GAPS`)."""


class EngineSettings(BaseModel):
    """Which engine computes the shop's tables, stored in the workspace's ``kq_settings``.

    Examples
    --------
    >>> EngineSettings(engine="pyspark", data_url="/data/shop").spark_master
    'local[2]'
    """

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    engine: EngineName = "duckdb"
    """``duckdb``: the embedded file holds the shop; ``pyspark``: Parquet under data_url."""
    spark_master: str = "local[2]"
    """Spark master URL: ``local[N]`` (N cores of this machine) or a cluster's master."""
    data_url: str | None = None
    """Folder or URL holding ``<table>/*.parquet`` for each shop table (pyspark engine)."""
    spark_conf: dict[str, str] = {}
    """Extra Spark settings (e.g. ``spark.executor.memory``, S3 credentials provider)."""

    @field_validator("data_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        if value is None:
            return None
        stripped = value.strip().rstrip("/")
        if not stripped:
            msg = "data_url is empty; give a folder or a URL such as s3a://bucket/shop"
            raise ValueError(msg)
        return stripped

    def ready(self) -> EngineSettings:
        """These settings, checked to be complete for their engine."""
        if self.engine == "pyspark" and self.data_url is None:
            msg = ("engine 'pyspark' needs data_url, the folder or URL of the shop's Parquet "
                   "tables; write them with 'kequn engine export --to URL'")
            raise EngineError(msg)
        return self


ENGINE_KEYS: frozenset[str] = frozenset(EngineSettings.model_fields)
"""The ``kq_settings`` keys that belong to :class:`EngineSettings`."""


def read_engine_settings(stored: Mapping[str, Any], *,
                         override: str | None = None) -> EngineSettings:
    """Engine settings from stored values, with ``override`` (or $KEQUN_ENGINE) on top."""
    chosen = override or os.environ.get(ENGINE_ENV) or None
    values = dict(stored)
    if chosen:
        values["engine"] = chosen.strip().lower()
    try:
        return EngineSettings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        msg = f"engine setting {where!r}: {err['msg'].lower()}; engines: {', '.join(ENGINES)}"
        raise EngineError(msg) from None


# -- known gaps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """Something an engine does not do (yet), what it affects and what to do instead."""

    engine: EngineName
    feature: str
    reason: str
    workaround: str


KNOWN_GAPS: dict[str, Gap] = {
    "load": Gap(
        "pyspark", "kequn load into the Spark tables",
        "the loader validates and quarantines rows inside the embedded DuckDB",
        "load into the embedded tables (KEQUN_ENGINE=duckdb kequn load ...), then 'kequn "
        "engine export --to DATA_URL'; or write canonical Parquet under DATA_URL directly",
    ),
    "incremental_refresh": Gap(
        "pyspark", "incremental refresh of the feature table (kequn.storage.incremental)",
        "the refreshed feature table is kept in the embedded database, which is one machine's",
        "rebuild on Spark: segments and metrics compute the feature table on demand there",
    ),
    "erase": Gap(
        "pyspark",
        "erasing a customer's personal data (DELETE /api/customers/{id}/personal-data)",
        "the shop's customers are Parquet files under data_url, which kequn reads but never "
        "rewrites",
        "erase the customer in the source data (the pipeline that writes data_url, or the "
        "embedded tables followed by 'kequn engine export')",
    ),
    "optimize": Gap(
        "pyspark", "kequn optimize (storing the events and orders in time order)",
        "the shop's tables are Parquet files under data_url, which kequn never rewrites",
        "write the Parquet files sorted by event_time / created_at in the pipeline that "
        "writes data_url",
    ),
}
"""What the Spark engine cannot do, in one place: the conformance suite marks these, and
``kequn engine show`` tells the user. Keys are the conformance suite's ``notimpl`` names."""


# -- state and shop on one engine ------------------------------------------------------------


def move_to(expr: ir.Table, backend: BaseBackend) -> ir.Table:
    """``expr`` where ``backend`` can run it, for example join it with its own tables.

    An expression already on ``backend`` (or on no backend at all: an in-memory table) is
    returned as it is, so on the embedded DuckDB nothing moves. Otherwise ``expr`` is
    computed where it is and its rows come over as an in-memory table, which ``backend``
    registers when a query uses it. Meant for small row sets: kequn's state (recipient lists,
    sends, saved predictions) going to the engine, or an engine's result (a segment's member
    ids) coming back to the state database.
    """
    backends, _ = expr._find_backends()  # Ibis has no public "which backend" without a default
    if not backends or all(b is backend for b in backends):
        return expr
    return ibis.memtable(expr.to_pyarrow())


def on_engine(ws: Workspace, state: ir.Table) -> ir.Table:
    """An expression over kequn's state tables (``ws.con``) where the shop's tables are, so
    that the two can be joined in one expression on any engine."""
    return move_to(state, ws.engine)


def to_state(ws: Workspace, result: ir.Table) -> ir.Table:
    """An expression over the shop's tables where kequn's state is (``ws.con``), e.g. to
    ``ws.con.insert`` a segment's members into a state table whatever the engine."""
    return move_to(result, ws.con)


def gaps_for(engine: EngineName) -> list[Gap]:
    """The known gaps of ``engine`` (none for the embedded DuckDB)."""
    return [g for g in KNOWN_GAPS.values() if g.engine == engine]


def require(engine: EngineName, feature: str) -> None:
    """Raise :class:`EngineGapError` if ``feature`` (a :data:`KNOWN_GAPS` key) is a gap of
    ``engine``; the message says what to do instead."""
    gap = KNOWN_GAPS[feature]
    if gap.engine == engine:
        msg = f"{gap.feature} is not available on {engine}: {gap.reason}; {gap.workaround}"
        raise EngineGapError(msg)


# -- the engine ------------------------------------------------------------------------------


def table_url(data_url: str, table: str) -> str:
    """Where a shop table's Parquet files are: ``<data_url>/<table>``."""
    return f"{data_url.rstrip('/')}/{table}"


@dataclass
class ShopEngine:
    """The Ibis backend holding the shop's tables, and how to name them there."""

    name: EngineName
    backend: BaseBackend
    names: dict[str, str]

    def table(self, name: str) -> ir.Table:
        """The shop table ``name`` with the canonical column types."""
        t = self.backend.table(self.names[name])
        return conform(t, name)


def conform(t: ir.Table, name: str) -> ir.Table:
    """``t`` with SPEC §1's columns first, each of its canonical type, then any extra columns.

    Parquet written by other tools may store an id as an integer, money as decimal, or leave
    an optional column out; the analytics expect the canonical table, so the engine casts
    once here (a plain projection when the files already match). Missing canonical columns
    are typed NULLs.
    """
    want = table_schema(TABLES[name])
    have = t.schema()
    if list(have.items())[: len(want)] == list(want.items()):
        return t
    columns = {c: (t[c] if have[c] == typ else t[c].cast(typ)) if c in have else ibis.null(typ)
               for c, typ in want.items()}
    extra = [c for c in have if c not in want]
    return t.select(**columns, **{c: t[c] for c in extra})


def connect_engine(settings: EngineSettings) -> ShopEngine:
    """Connect to the shop's engine for ``settings`` (pyspark only; DuckDB is the workspace)."""
    settings = settings.ready()
    if settings.engine != "pyspark":
        msg = f"connect_engine is for pyspark; {settings.engine!r} is the workspace itself"
        raise EngineError(msg)
    session = spark_session(settings.spark_master, settings.spark_conf)
    backend = ibis.pyspark.connect(session)
    assert settings.data_url is not None  # ready() checked
    tag = hashlib.sha1(settings.data_url.encode("utf-8")).hexdigest()[:8]
    names: dict[str, str] = {}
    for table in TABLES:
        view = f"kq_{tag}_{table}"
        url = table_url(settings.data_url, table)
        try:
            df = session.read.parquet(url)
        except Exception as exc:  # pyspark raises AnalysisException and kin
            if "PATH_NOT_FOUND" in str(exc) or "Path does not exist" in str(exc):
                df = session.createDataFrame([], _spark_schema(table))
            else:
                first = str(exc).strip().splitlines()[0][:200]
                msg = f"cannot read table {table!r} from {url}: {first}"
                raise EngineError(msg) from None
        df.createOrReplaceTempView(view)
        names[table] = view
    return ShopEngine("pyspark", backend, names)


def _spark_schema(table: str) -> Any:
    from ibis.backends.pyspark.datatypes import PySparkSchema

    return PySparkSchema.from_ibis(table_schema(TABLES[table]))


_SESSION_KEYS: dict[str, str] = {}


def spark_session(master: str = "local[2]", conf: Mapping[str, str] | None = None,
                  ) -> SparkSession:
    """The process's Spark session on ``master`` (created once, reused afterwards).

    Spark allows one session per process; asking for a different master than the running
    one is an error rather than a silent reuse.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        msg = "engine 'pyspark' needs PySpark; install it with: pip install 'kequn[spark]'"
        raise EngineError(msg) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        running = active.sparkContext.master
        if running != master:
            msg = (f"a Spark session on {running!r} is already running in this process; "
                   f"cannot also use {master!r}")
            raise EngineError(msg)
        for key, value in (conf or {}).items():  # static settings stay as the session began
            if active.conf.isModifiable(key) and active.conf.get(key, None) != value:
                active.conf.set(key, value)
        return active
    settings = dict(DEFAULT_SPARK_CONF)
    if master.startswith("local"):
        settings.update(LOCAL_SPARK_CONF)
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName("kequn")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # py4j/JVM start-up errors have many types
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        msg = f"cannot start Spark on {master!r} (is Java 17 on PATH?): {first}"
        raise EngineError(msg) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_spark() -> None:
    """Stop this process's Spark session, if one runs, and wait for its JVM to exit."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return
    active = SparkSession.getActiveSession()
    if active is None:
        return
    gateway = getattr(active.sparkContext, "_gateway", None)
    active.stop()
    proc = getattr(gateway, "proc", None)
    if gateway is not None:
        gateway.shutdown()
    if proc is not None:  # closing its stdin ends the JVM; waiting reaps it (and its rusage)
        from pyspark import SparkContext

        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=60)
        SparkContext._gateway = None
        SparkContext._jvm = None


# -- export ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedTable:
    """One table written by :func:`export_tables`."""

    table: str
    url: str
    rows: int
    bytes: int


def export_tables(ws: Workspace, to: str | os.PathLike[str], *,
                  tables: Iterable[str] | None = None,
                  progress: Callable[[str, int], None] | None = None) -> list[ExportedTable]:
    """Write the embedded workspace's shop tables as ``<to>/<table>/part-00000.parquet``.

    ``to`` is a local folder or a URL PyArrow can write (``s3://``, ``hdfs://``, ``gs://``;
    ``s3a://`` is read as ``s3://``). Existing ``part-*.parquet`` files of a table are replaced,
    so exporting again gives the same files. Timestamps stay naive shop time (Parquet's
    "not adjusted to UTC"), which Spark reads as ``TIMESTAMP_NTZ``.
    """
    from pyarrow import fs as pafs

    chosen = list(TABLES) if tables is None else list(tables)
    for name in chosen:
        if name not in TABLES:
            msg = f"unknown table {name!r}; choose from {', '.join(TABLES)}"
            raise EngineError(msg)
    base = str(to).rstrip("/")
    filesystem, root = _filesystem(base)
    out = []
    for name in chosen:
        folder = f"{root}/{name}"
        filesystem.create_dir(folder, recursive=True)
        for info in filesystem.get_file_info(pafs.FileSelector(folder)):
            if info.base_name.startswith("part-") and info.base_name.endswith(".parquet"):
                filesystem.delete_file(info.path)
        path = f"{folder}/part-00000.parquet"
        rows = _write_table(ws, name, filesystem, path)
        size = filesystem.get_file_info(path).size or 0
        if progress is not None:
            progress(name, rows)
        out.append(ExportedTable(name, f"{base}/{name}/part-00000.parquet", rows, size))
    return out


def _filesystem(url: str) -> tuple[Any, str]:
    """The PyArrow filesystem of ``url`` and the path inside it (``s3a://`` read as ``s3://``;
    a plain path is a local folder)."""
    from pyarrow import fs as pafs

    target = "s3://" + url[len("s3a://"):] if url.startswith("s3a://") else url
    try:
        return pafs.FileSystem.from_uri(target)  # type: ignore[no-any-return]
    except (pa.ArrowInvalid, ValueError):
        return pafs.LocalFileSystem(), os.path.abspath(target)


def data_fingerprint(settings: EngineSettings) -> str:
    """A short fingerprint of the shop's Parquet files under ``data_url``: their names, sizes
    and modification times, listed without reading them.

    A pipeline that writes new files (or rewrites one) changes it, so a cache of computed
    results can key on it the way it keys on the load history of the embedded tables. A
    missing table folder counts as empty; an unreachable ``data_url`` is an
    :class:`EngineError`.
    """
    from pyarrow import fs as pafs

    settings = settings.ready()
    assert settings.data_url is not None  # ready() checked
    filesystem, root = _filesystem(settings.data_url)
    entries: list[str] = []
    for name in TABLES:
        selector = pafs.FileSelector(f"{root}/{name}", recursive=True, allow_not_found=True)
        try:
            infos = filesystem.get_file_info(selector)
        except OSError as exc:
            msg = f"cannot list table {name!r} under {settings.data_url}: {exc}"
            raise EngineError(msg) from None
        for info in infos:
            if info.type == pafs.FileType.File:
                mtime = info.mtime_ns if info.mtime_ns is not None else ""
                entries.append(f"{name}/{info.path}|{info.size}|{mtime}")
    text = "\n".join(sorted(entries))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _write_table(ws: Workspace, name: str, filesystem: Any, path: str) -> int:
    t = ws.con.table(name)  # the embedded copy, whatever engine the workspace reads from
    reader = ws.con.to_pyarrow_batches(t, chunk_size=ROWS_PER_BATCH)
    rows = 0
    with filesystem.open_output_stream(path) as sink, pq.ParquetWriter(
            sink, _naive(reader.schema), compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch.cast(_naive(batch.schema)) if
                               batch.schema != _naive(batch.schema) else batch)
            rows += batch.num_rows
    return rows


def _naive(schema: pa.Schema) -> pa.Schema:
    fields = [pa.field(f.name, pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f
              for f in schema]
    return pa.schema(fields)

