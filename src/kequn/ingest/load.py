"""``kequn load``: files into a shop table, checked, de-duplicated, merged, in one transaction.

For every file: read = stored + updated + quarantined, where stored counts rows now in the
table as read (``inserted`` new, ``unchanged`` already there or repeated, ``merged`` into an
earlier row of the same key when the mapping collapses rows). A load that fails or is killed
leaves the workspace exactly as it was: everything happens inside one DuckDB transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from kequn.errors import IngestError
from kequn.ingest import _duckdb as sql
from kequn.ingest.formats import Source, prepare
from kequn.ingest.mapping import Resolved, TableMapping, read_mapping, resolve
from kequn.schema.tables import TableSpec

if TYPE_CHECKING:
    from kequn.workspace import Workspace

_MAX_REASONS = 5


@dataclass
class FileReport:
    """What one file did to its table."""

    file: str
    read: int = 0
    stored: int = 0
    inserted: int = 0
    unchanged: int = 0
    merged: int = 0
    updated: int = 0
    quarantined: int = 0
    customers_added: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    custom_attributes: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    """The outcome of one ``load``: totals over its files, and the first reasons for rejects."""

    table: str
    load_id: str
    files: list[FileReport]
    reasons: list[tuple[str, int]]
    seconds: float

    def _sum(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    read = property(lambda self: self._sum("read"))
    stored = property(lambda self: self._sum("stored"))
    inserted = property(lambda self: self._sum("inserted"))
    unchanged = property(lambda self: self._sum("unchanged"))
    merged = property(lambda self: self._sum("merged"))
    updated = property(lambda self: self._sum("updated"))
    quarantined = property(lambda self: self._sum("quarantined"))
    customers_added = property(lambda self: self._sum("customers_added"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the totals first (table, read, stored, updated, quarantined)."""
        totals = {k: getattr(self, k) for k in ("read", "stored", "inserted", "unchanged",
                                                 "merged", "updated", "quarantined",
                                                 "customers_added")}
        return {"table": self.table, **totals, "load_id": self.load_id,
                "seconds": round(self.seconds, 3),
                "reasons": [{"reason": r, "rows": n} for r, n in self.reasons],
                "files": [asdict(f) for f in self.files]}


def load_files(ws: Workspace, table: str, files: Sequence[str | os.PathLike[str]], *,
               mapping: str | os.PathLike[str] | None = None, preset: str | None = None,
               progress: bool = False) -> LoadReport:
    """Load ``files`` into ``table``; all files or none (see module docstring)."""
    from kequn.workspace import table_spec

    spec = table_spec(table)
    if not files:
        msg = "name at least one file to load"
        raise IngestError(msg)
    table_map = read_mapping(spec, mapping=mapping, preset=preset)
    started = time.perf_counter()
    started_at = dt.datetime.now()
    load_id = started_at.strftime("%Y%m%d%H%M%S") + "-" + uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="kequn-load-") as tmp:
        sources = [_prepare(Path(f), Path(tmp), table_map) for f in files]
        bound = [resolve(table_map, spec, s.header, file=str(s.original)) for s in sources]
        for resolved in bound:
            _check_custom_names(spec, resolved)
        reports: list[FileReport] = []
        con = ws.raw
        with _load_memory_cap(ws):
            con.execute("BEGIN TRANSACTION")
            try:
                for src, resolved in zip(sources, bound, strict=True):
                    reports.append(_load_one(ws, spec, table_map, src, resolved, load_id,
                                             progress=progress))
                reasons = _top_reasons(con, load_id)
                _record(con, spec, load_id, started_at, files, reports)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
    return LoadReport(table=spec.name, load_id=load_id, files=reports, reasons=reasons,
                      seconds=time.perf_counter() - started)


def _prepare(path: Path, tmp: Path, table_map: TableMapping) -> Source:
    return prepare(path, tmp, has_header=table_map.header, names=list(table_map.names) or None)


def _check_custom_names(spec: TableSpec, resolved: Resolved) -> None:
    for name in resolved.extras:
        lower = name.lower()
        if name.startswith("_") or lower.startswith("kq_") or len(name) > 64 or spec.has(lower):
            msg = (f"column {name!r} cannot become a custom attribute (it starts with '_' or "
                   "'kq_', is over 64 characters, or differs from a kequn column only in case); "
                   "rename it in the file or map it")
            raise IngestError(msg)


def _load_one(ws: Workspace, spec: TableSpec, table_map: TableMapping, src: Source,
              resolved: Resolved, load_id: str, *, progress: bool) -> FileReport:
    con = ws.raw
    report = FileReport(file=str(src.original), ignored_columns=list(resolved.ignored),
                        custom_attributes=list(resolved.extras))
    for name in (sql.STAGE, sql.ROWS, sql.REJECTS, sql.REJECT_SCANS):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    types = sql.source_types(con, src)

    def query(lines: bool = True) -> sql.StagePlan:
        return sql.parse_query(spec, src, resolved.columns, resolved.extras, table_map.values,
                               types, ws.settings.time_zone, lines=lines)

    if not spec.key and spec.name != "order_items" and (
            spec.customer_column is None or ws.settings.unknown_customers == "create"):
        return _load_rows_streaming(ws, spec, src, query, report, load_id, progress=progress)
    plan = query()
    _run(con, f"CREATE TEMP TABLE {sql.STAGE} AS {plan.sql}", plan.params, progress=progress,
         label=f"reading {src.original.name}")
    rejected = _rejected_lines(con) if src.format == "csv" else 0
    if rejected:
        _fix_lines(con, header=1 if src.has_header else 0)
    report.read = _scalar(con, f"SELECT count(*) FROM {sql.STAGE}") + rejected
    if report.read == 0:
        msg = f"{src.original} has a header but no rows: nothing to load"
        raise IngestError(msg)
    _check_references(ws, spec, con)
    _quarantine_stage(con, spec, src, load_id, rejected)
    report.quarantined = _scalar(con, f"SELECT count(*) FROM {sql.STAGE} "
                                      "WHERE _reason IS NOT NULL") + rejected
    if spec.name in ("customers",):
        for name in resolved.extras:
            con.execute(f"ALTER TABLE customers ADD COLUMN IF NOT EXISTS {sql.ident(name)} VARCHAR")
    cols = plan.targets
    if spec.key:
        _dedupe_keyed(con, spec, cols, table_map.collapse, report, load_id, src)
        _merge_keyed(con, spec, cols, report)
    else:  # keyless with a strict customer check: staged, then streamed in
        _insert_staged_rows(con, spec, cols, report)
    if spec.customer_column and spec.name != "customers":
        rows = sql.ROWS if spec.key else f"(SELECT * FROM {sql.STAGE} WHERE _reason IS NULL)"
        report.customers_added = _add_unknown_customers(con, rows)
    return _finish(con, src, report)


def _finish(con: duckdb.DuckDBPyConnection, src: Source, report: FileReport) -> FileReport:
    """Check read = stored + updated + quarantined, and drop the load's temporary tables."""
    report.stored = report.inserted + report.unchanged + report.merged
    if report.read != report.stored + report.updated + report.quarantined:
        msg = (f"internal check failed for {src.original}: read {report.read} != stored "
               f"{report.stored} + updated {report.updated} + quarantined {report.quarantined}")
        raise IngestError(msg)
    for name in (sql.STAGE, sql.ROWS, sql.REJECTS, sql.REJECT_SCANS):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return report


def _quarantine_stage(con: duckdb.DuckDBPyConnection, spec: TableSpec, src: Source,
                      load_id: str, rejected: int) -> None:
    """Quarantine the staged rows that failed a rule, and the lines the reader rejected."""
    p = sql.Params()
    common = f"{p.add(load_id)}, {p.add(spec.name)}, {p.add(str(src.original))}"
    _quarantine(con, f"SELECT {common}, _line, _column, _reason, _raw FROM {sql.STAGE} "
                     "WHERE _reason IS NOT NULL", p.values)
    if rejected:
        _quarantine(con, f"SELECT {common}, line, column_name, 'malformed row: ' || "
                         f"error_message, csv_line FROM (SELECT DISTINCT ON (line) * FROM "
                         f"{sql.REJECTS} ORDER BY line)", p.values)


def _quarantine(con: duckdb.DuckDBPyConnection, select: str, params: dict[str, Any]) -> None:
    """Store rejected rows; a row already quarantined from the same file (a reload) is kept once,
    so loading the same file again changes nothing."""
    con.execute(f"""INSERT INTO kq_quarantine SELECT * FROM ({select})
        AS n(load_id, table_name, file, line, column_name, reason, raw) WHERE NOT EXISTS (
        SELECT 1 FROM kq_quarantine q WHERE q.table_name = n.table_name AND q.file = n.file
        AND q.line IS NOT DISTINCT FROM n.line AND q.reason = n.reason
        AND q.raw IS NOT DISTINCT FROM n.raw)""", params)


def _run(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any], *, progress: bool,
         label: str) -> int:
    """Execute one long statement (with a progress bar when asked); its row count."""
    if progress:
        from kequn.ingest._progress import run_with_progress

        run_with_progress(con, query, params, label)
    else:
        con.execute(query, params)
    row = con.fetchone()
    return int(row[0]) if row and isinstance(row[0], int) else 0


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: Any = None) -> int:
    row = con.execute(query, params or {}).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _rejected_lines(con: duckdb.DuckDBPyConnection) -> int:
    exists = _scalar(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = $t",
                     {"t": sql.REJECTS})
    if not exists:
        return 0
    return _scalar(con, f"SELECT count(DISTINCT line) FROM {sql.REJECTS}")


def _fix_lines(con: duckdb.DuckDBPyConnection, *, header: int) -> None:
    """Turn good rows' ordinals into physical line numbers, skipping the rejected lines.

    The i-th rejected line r_i has r_i - header - i good rows before it, so good row g sits
    after every rejected line whose count is below g (exact when no record spans lines).
    """
    con.execute(f"""
        UPDATE {sql.STAGE} SET _line = {sql.STAGE}._line + k.before FROM (
            SELECT s._line AS ordinal, coalesce(max(r.i), 0) AS before
            FROM {sql.STAGE} s LEFT JOIN (
                SELECT line - {header} - row_number() OVER (ORDER BY line) AS c,
                       row_number() OVER (ORDER BY line) AS i
                FROM (SELECT DISTINCT line FROM {sql.REJECTS})
            ) r ON r.c < s._line - {header}
            GROUP BY s._line
        ) k WHERE {sql.STAGE}._line = k.ordinal""")


def _check_references(ws: Workspace, spec: TableSpec, con: duckdb.DuckDBPyConnection) -> None:
    """Rows naming an unknown order (order items) or customer (when the shop asks) fail."""
    if spec.name == "order_items":
        con.execute(f"""UPDATE {sql.STAGE} SET _reason = 'unknown order_id ''' ||
            left(order_id, 60) || ''': load its orders first', _column = 'order_id',
            _raw = to_json(struct_pack(order_id, product_id))
            WHERE _reason IS NULL AND NOT EXISTS (
                SELECT 1 FROM orders o WHERE o.order_id = {sql.STAGE}.order_id)""")
    elif spec.customer_column and spec.name != "customers" \
            and ws.settings.unknown_customers == "quarantine":
        con.execute(f"""UPDATE {sql.STAGE} SET _reason = 'unknown customer_id ''' ||
            left(customer_id, 60) || ''': load customers first', _column = 'customer_id',
            _raw = to_json(struct_pack(customer_id))
            WHERE _reason IS NULL AND NOT EXISTS (
                SELECT 1 FROM customers c WHERE c.customer_id = {sql.STAGE}.customer_id)""")


def _dedupe_keyed(con: duckdb.DuckDBPyConnection, spec: TableSpec, cols: list[str], collapse: bool,
                  report: FileReport, load_id: str, src: Source) -> None:
    key = ", ".join(sql.ident(k) for k in spec.key)
    rest = [c for c in cols if c not in spec.key]
    if collapse:
        picks = ", ".join(f"min_by({sql.ident(c)}, _line) FILTER (WHERE {sql.ident(c)} IS NOT NULL)"
                          f" AS {sql.ident(c)}" for c in rest)
        con.execute(f"CREATE TEMP TABLE {sql.ROWS} AS SELECT {key}, min(_line) AS _line, "
                    f"count(*) AS _n{', ' + picks if picks else ''} FROM {sql.STAGE} "
                    f"WHERE _reason IS NULL GROUP BY {key}")
        report.merged = _scalar(con, f"SELECT coalesce(sum(_n - 1), 0) FROM {sql.ROWS}")
        return
    content = ", ".join(sql.ident(c) for c in cols)
    con.execute(f"""CREATE TEMP TABLE kq_ranked AS SELECT *,
        row_number() OVER w AS _rn, first_value(_line) OVER w AS _first,
        hash({content}) AS _h, first_value(hash({content})) OVER w AS _fh
        FROM {sql.STAGE} WHERE _reason IS NULL WINDOW w AS (PARTITION BY {key} ORDER BY _line)""")
    p = sql.Params()
    key_text = " || ', ' || ".join(f"coalesce(CAST({sql.ident(k)} AS VARCHAR), '')"
                                   for k in spec.key)
    _quarantine(con, f"""SELECT {p.add(load_id)}, {p.add(spec.name)},
        {p.add(str(src.original))}, _line, {p.add(spec.key[0])},
        {p.add('duplicate ' + '/'.join(spec.key) + " '")} || {key_text} ||
        ''' with different content (first at line ' || _first || ')',
        to_json(struct_pack({', '.join(f'{sql.ident(c)} := {sql.ident(c)}' for c in cols)}))
        FROM kq_ranked WHERE _rn > 1 AND _h <> _fh""", p.values)
    conflicts = _scalar(con, "SELECT count(*) FROM kq_ranked WHERE _rn > 1 AND _h <> _fh")
    report.quarantined += conflicts
    report.unchanged += _scalar(con, "SELECT count(*) FROM kq_ranked WHERE _rn > 1 AND _h = _fh")
    con.execute(f"CREATE TEMP TABLE {sql.ROWS} AS SELECT * EXCLUDE (_rn, _first, _h, _fh) "
                "FROM kq_ranked WHERE _rn = 1")
    con.execute("DROP TABLE kq_ranked")


def _merge_keyed(con: duckdb.DuckDBPyConnection, spec: TableSpec, cols: list[str],
                 report: FileReport) -> None:
    t = sql.ident(spec.name)
    match = " AND ".join(f"{t}.{sql.ident(k)} = r.{sql.ident(k)}" for k in spec.key)
    rest = [c for c in cols if c not in spec.key]
    total = _scalar(con, f"SELECT count(*) FROM {sql.ROWS}")
    if rest and _scalar(con, f"SELECT count(*) FROM {t}"):
        sets = ", ".join(f"{sql.ident(c)} = r.{sql.ident(c)}" for c in rest)
        differs = " OR ".join(f"{t}.{sql.ident(c)} IS DISTINCT FROM r.{sql.ident(c)}"
                              for c in rest)
        report.updated = _scalar(con, f"UPDATE {t} SET {sets} FROM {sql.ROWS} r "
                                      f"WHERE {match} AND ({differs})")
    names = ", ".join(sql.ident(c) for c in cols)
    report.inserted = _scalar(con, f"INSERT INTO {t} ({names}) SELECT {names} FROM {sql.ROWS} r "
                                   f"WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {match})")
    report.unchanged += total - report.updated - report.inserted


def _load_rows_streaming(ws: Workspace, spec: TableSpec, src: Source,
                         query: Callable[[bool], sql.StagePlan], report: FileReport,
                         load_id: str, *, progress: bool) -> FileReport:
    """Load a keyless table (events) by streaming the file straight into it.

    Into an empty table the valid rows stream straight in; then the customers they name are
    registered while, on a second connection, a count of the file's records (a scan that
    parses no values) tells how many rows failed. Into a table with rows, one scan first
    counts rows and problems and finds the file's time range, so the insert compares only
    with stored rows inside that range. Only when some rows failed does another scan number
    their lines for the quarantine. Nothing proportional to the file is held in memory.
    """
    con = ws.raw
    t = sql.ident(spec.name)
    tc = sql.ident(spec.time_column or "")
    check = query(False)
    names = ", ".join(sql.ident(c) for c in check.targets)
    label = f"loading {src.original.name}"
    insert = f"INSERT INTO {t} ({names}) SELECT {names} FROM ({check.sql}) r WHERE _reason IS NULL"
    if not _scalar(con, f"SELECT count(*) FROM (SELECT 1 FROM {t} LIMIT 1)"):
        with _parse_once(con):
            report.inserted = _run(con, insert, check.params, progress=progress, label=label)
        # the count reads only the file, so it needs no part in the load's transaction
        with ThreadPoolExecutor(max_workers=1) as pool:
            counting = pool.submit(_count_records, con.cursor(), src)
            if spec.customer_column:  # the table holds just this file's rows
                report.customers_added = _add_unknown_customers(con, t)
            parsed = counting.result()
        bad = parsed - report.inserted
    else:
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE _reason IS NOT NULL), "
            f"min({tc}) FILTER (WHERE _reason IS NULL), max({tc}) FILTER (WHERE _reason IS NULL) "
            f"FROM ({check.sql})", check.params).fetchone()
        parsed, bad, lo, hi = row if row else (0, 0, None, None)
        params = dict(check.params)
        overlap = lo is not None and _scalar(
            con, f"SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {tc} BETWEEN $lo AND $hi "
                 "LIMIT 1)", {"lo": lo, "hi": hi})
        if overlap:  # rows already stored count as unchanged (reloading changes nothing)
            same = " AND ".join(
                [f"s.{sql.ident(c)} IS NOT DISTINCT FROM r.{sql.ident(c)}" for c in check.targets]
                + [f"s.{sql.ident(c)} IS NULL" for c in spec.column_names
                   if c not in check.targets])
            insert += (f" AND NOT EXISTS (SELECT 1 FROM (SELECT * FROM {t} WHERE {tc} BETWEEN "
                       f"$kq_lo AND $kq_hi) s WHERE {same})")
            params.update(kq_lo=lo, kq_hi=hi)
        with nullcontext() if overlap else _parse_once(con):
            report.inserted = _run(con, insert, params, progress=progress, label=label)
        if spec.customer_column and report.inserted:  # this file's rows lie in its range
            report.customers_added = _add_unknown_customers(
                con, f"(SELECT customer_id FROM {t} WHERE {tc} BETWEEN $lo AND $hi)",
                {"lo": lo, "hi": hi})
    rejected = _rejected_lines(con) if src.format == "csv" else 0
    report.read = int(parsed) + rejected
    if report.read == 0:
        msg = f"{src.original} has a header but no rows: nothing to load"
        raise IngestError(msg)
    report.unchanged = int(parsed) - int(bad) - report.inserted
    if bad or rejected:
        plan = query(True)
        con.execute(f"CREATE TEMP TABLE {sql.STAGE} AS SELECT * FROM ({plan.sql}) "
                    "WHERE _reason IS NOT NULL", plan.params)
        if rejected:
            _fix_lines(con, header=1 if src.has_header else 0)
        _quarantine_stage(con, spec, src, load_id, rejected)
    report.quarantined = int(bad) + rejected
    return _finish(con, src, report)


def _count_records(cursor: duckdb.DuckDBPyConnection, src: Source) -> int:
    """The records DuckDB's reader finds in ``src`` (rejected lines aside), on ``cursor``, a
    connection of its own that it closes."""
    p = sql.Params()
    with cursor:
        return _scalar(cursor, f"SELECT count(*) FROM {sql.reader_sql(src, p)}", p.values)


@contextmanager
def _load_memory_cap(ws: Workspace) -> Iterator[None]:
    """DuckDB's memory limit lowered to ``load_memory_limit`` for a load, then the workspace's
    own again (re-applied from the settings: the limit's text does not round-trip exactly)."""
    con = ws.raw
    if ws.settings.load_memory_limit:
        con.execute("SET memory_limit = $m", {"m": ws.settings.load_memory_limit})
    try:
        yield
    finally:
        if ws.settings.memory_limit:
            con.execute("SET memory_limit = $m", {"m": ws.settings.memory_limit})
        else:
            con.execute("RESET memory_limit")


@contextmanager
def _parse_once(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Keep the ``_reason IS NULL`` filter of one insert above the projection that parses.

    DuckDB would push it below that projection, inlining every parse expression into the
    filter, and so parse each value twice, once to test it and once to store it (up to a fifth
    of the insert's CPU). Only a plain insert may use this: one that joins needs filter
    pushdown to read just the stored rows it compares with.
    """
    row = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
    before = row[0] if row else ""
    con.execute("SET disabled_optimizers = $o",
                {"o": ",".join(o for o in (before, "filter_pushdown") if o)})
    try:
        yield
    finally:
        con.execute("SET disabled_optimizers = $o", {"o": before})


def _insert_staged_rows(con: duckdb.DuckDBPyConnection, spec: TableSpec, cols: list[str],
                        report: FileReport) -> None:
    """Insert staged valid rows of a keyless table that are not stored yet."""
    t = sql.ident(spec.name)
    names = ", ".join(sql.ident(c) for c in cols)
    same = " AND ".join(
        [f"s.{sql.ident(c)} IS NOT DISTINCT FROM r.{sql.ident(c)}" for c in cols]
        + [f"s.{sql.ident(c)} IS NULL" for c in spec.column_names if c not in cols])
    valid = _scalar(con, f"SELECT count(*) FROM {sql.STAGE} WHERE _reason IS NULL")
    report.inserted = _scalar(con, f"INSERT INTO {t} ({names}) SELECT {names} FROM {sql.STAGE} r "
                                   f"WHERE _reason IS NULL AND NOT EXISTS (SELECT 1 FROM {t} s "
                                   f"WHERE {same})")
    report.unchanged = valid - report.inserted


def _add_unknown_customers(con: duckdb.DuckDBPyConnection, rows: str,
                           params: dict[str, Any] | None = None) -> int:
    """Add a bare customer for every id the loaded rows name that the shop has not loaded.

    Set difference (``EXCEPT``) de-duplicates the ids before comparing them with the
    customers, which is what makes it cheap: a file names far fewer customers than rows.
    """
    return _scalar(con, f"""INSERT INTO customers (customer_id)
        SELECT customer_id FROM {rows} r WHERE customer_id IS NOT NULL
        EXCEPT SELECT customer_id FROM customers""", params)


def _top_reasons(con: duckdb.DuckDBPyConnection, load_id: str) -> list[tuple[str, int]]:
    rows = con.execute(
        "SELECT regexp_replace(reason, '''[^'']*''', '''…''', 'g') AS r, count(*) AS n "
        "FROM kq_quarantine WHERE load_id = $id GROUP BY r ORDER BY n DESC, r LIMIT $k",
        {"id": load_id, "k": _MAX_REASONS}).fetchall()
    return [(r, int(n)) for r, n in rows]


def _record(con: duckdb.DuckDBPyConnection, spec: TableSpec, load_id: str,
            started_at: dt.datetime, files: Sequence[str | os.PathLike[str]],
            reports: list[FileReport]) -> None:
    def total(name: str) -> int:
        return sum(getattr(r, name) for r in reports)

    con.execute(
        "INSERT INTO kq_loads VALUES ($id, $t, $f, $s, $e, $read, $stored, $ins, $unch, $upd, "
        "$q, $cust)",
        {"id": load_id, "t": spec.name, "f": "\n".join(str(f) for f in files),
         "s": started_at, "e": dt.datetime.now(), "read": total("read"),
         "stored": total("stored"), "ins": total("inserted"), "unch": total("unchanged"),
         "upd": total("updated"), "q": total("quarantined"), "cust": total("customers_added")})
