"""The loader's DuckDB-only SQL: streaming readers, value parsing, quarantine and merges.

This is the one module where kequn writes SQL text. Identifiers are quoted with :func:`ident`;
every value — file names, mapping words, formats, messages, the time zone — is a bound
parameter, so nothing a user supplies is spliced into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from kequn.ingest.formats import INVALID_JSON_COLUMN, LINE_COLUMN, Source
from kequn.ingest.mapping import ResolvedColumn
from kequn.schema.tables import ORDER_STATUSES, STORAGE_TYPES, Column, TableSpec

STAGE = "kq_stage"
ROWS = "kq_rows"
REJECTS, REJECT_SCANS = "kq_rejects", "kq_reject_scans"

# DuckDB reads a CSV in parallel pieces of about one buffer. Inserted in file order, each piece
# ends in a part-filled row group, and when these come close together the checkpoint closing the
# workspace rewrites the table to merge them: with DuckDB's default buffer, one every ~300 000
# rows of events, a rewrite as long as the insert. 64 MB pieces leave one every ~2 M rows, too
# far apart to merge, and keep the file's order (so time-ordered files stay time-ordered).
CSV_BUFFER_BYTES = 64 << 20

_CURRENCY = r"[¥￥$€£,，\s]|RMB|CNY|USD|GBP|EUR|元"
_OFFSET = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$"
DEFAULT_TIME_FORMATS: tuple[str, ...] = (
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y%m%d",
    "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y",
)
_TRUE = ("true", "t", "1", "yes", "y", "是", "on")
_FALSE = ("false", "f", "0", "no", "n", "否", "off")
_STATUS_SYNONYMS = {"canceled": "cancelled", "cancel": "cancelled", "refund": "refunded",
                    "unpaid": "created", "pending": "created", "completed": "paid"}


def ident(name: str) -> str:
    """A quoted SQL identifier (double quotes doubled), safe for any column name."""
    return '"' + name.replace('"', '""') + '"'


@dataclass
class Params:
    """Collects bound parameters; :meth:`add` returns the placeholder to write in SQL."""

    values: dict[str, Any] = field(default_factory=dict)

    def add(self, value: Any) -> str:
        key = f"p{len(self.values)}"
        self.values[key] = value
        return f"${key}"


def reader_sql(src: Source, p: Params) -> str:
    """A DuckDB table function reading ``src`` as text columns (CSV) or typed ones (Parquet)."""
    path = p.add(str(src.path))
    if src.format == "parquet":
        return f"read_parquet({path}, file_row_number = true)"
    # the dialect is fixed (RFC 4180 quotes) and the columns are the header kequn read, so one
    # stray quote makes its own line a malformed row instead of turning quoting off for the file
    columns = p.add(dict.fromkeys(src.header, "VARCHAR"))
    options = [
        f"delim = {p.add(src.delimiter)}", "quote = '\"'", "escape = '\"'",
        f"buffer_size = {CSV_BUFFER_BYTES}",
        f"header = {'true' if src.has_header else 'false'}", f"columns = {columns}",
        "store_rejects = true", f"rejects_table = '{REJECTS}'", f"rejects_scan = '{REJECT_SCANS}'",
        "auto_detect = false", "strict_mode = true",
        f"compression = '{'gzip' if src.gzip else 'none'}'",
    ]
    return f"read_csv({path}, {', '.join(options)})"


def source_types(con: duckdb.DuckDBPyConnection, src: Source) -> dict[str, str]:
    """Column -> DuckDB type of a source, as its reader sees it."""
    p = Params()
    rows = con.execute(f"DESCRIBE SELECT * FROM {reader_sql(src, p)}", p.values).fetchall()
    return {r[0]: r[1] for r in rows}


def _raw_text(header: str, src_type: str) -> str:
    col = ident(header)
    if src_type == "VARCHAR":  # trim only the values that need it: most need not, and it is cheap
        return (f"(CASE WHEN prefix({col}, ' ') OR suffix({col}, ' ') OR {col} = '' "
                f"THEN NULLIF(TRIM({col}), '') ELSE {col} END)")
    return f"NULLIF(TRIM(CAST({col} AS VARCHAR)), '')"


def _mapped(x: str, values: dict[str, str], p: Params) -> str:
    if not values:
        return x
    whens = " ".join(f"WHEN {p.add(k)} THEN {p.add(v)}" for k, v in values.items())
    return f"(CASE {x} {whens} ELSE {x} END)"


def _time(x: str, formats: tuple[str, ...], transform: str | None, tz: str,
          explicit: bool = False) -> str:
    if transform == "unix_seconds":
        return f"timezone({tz}, to_timestamp(TRY_CAST({x} AS DOUBLE)))"
    if transform == "unix_millis":
        return f"timezone({tz}, to_timestamp(TRY_CAST({x} AS DOUBLE) / 1000))"
    with_zone = (f"timezone({tz}, TRY_CAST(regexp_replace({x}, '\\s*([+-]\\d{{2}}):?(\\d{{2}})$',"
                 f" '\\1:\\2') AS TIMESTAMPTZ))")
    # ISO text parses by cast (fast); other layouts by strptime, only where the cast failed.
    # A mapping's own format comes first, since it says how ambiguous dates (1/2/2024) read.
    strp = f"TRY_STRPTIME({x}, {formats_sql(formats)})"
    cast = f"TRY_CAST({x} AS TIMESTAMP)"
    plain = f"COALESCE({strp}, {cast})" if explicit else f"COALESCE({cast}, {strp})"
    # a byte-level test first (most times carry no zone), the exact pattern only for the
    # candidates: the pattern implies a trailing Z, a '+', or a '-' after a ':'
    maybe_zone = f"(suffix({x}, 'Z') OR contains({x}, '+') OR {x} LIKE '%:%-%')"
    return (f"(CASE WHEN {maybe_zone} AND regexp_matches({x}, '{_OFFSET}') THEN {with_zone} "
            f"ELSE {plain} END)")


def formats_sql(formats: tuple[str, ...]) -> str:
    """A DuckDB list literal of strptime formats (our own constants or mapping values)."""
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in formats) + "]"


def parse_expr(column: Column, x: str, rule_formats: tuple[str, ...], transform: str | None,
               p: Params, tz: str) -> str:
    """SQL turning source text ``x`` into the column's stored value (NULL when it cannot)."""
    kind = column.kind
    if transform == "money" or kind == "money":
        cleaned = f"regexp_replace({x}, '{_CURRENCY}', '', 'g')"
        return f"TRY_CAST({cleaned} AS DOUBLE)"
    if kind == "text":
        return x
    if kind == "int":
        as_double = f"TRY_CAST({x} AS DOUBLE)"
        return (f"COALESCE(TRY_CAST({x} AS BIGINT), CASE WHEN {as_double} = floor({as_double}) "
                f"THEN TRY_CAST({as_double} AS BIGINT) END)")
    if kind == "float":
        return f"TRY_CAST({x} AS DOUBLE)"
    if kind in ("time", "date"):
        t = _time(x, tuple(rule_formats) or DEFAULT_TIME_FORMATS, transform, tz, bool(rule_formats))
        return t if kind == "time" else f"COALESCE(TRY_CAST({x} AS DATE), CAST({t} AS DATE))"
    if kind == "bool":
        yes = ", ".join(f"'{v}'" for v in _TRUE)
        no = ", ".join(f"'{v}'" for v in _FALSE)
        return (f"(CASE WHEN lower({x}) IN ({yes}) THEN true "
                f"WHEN lower({x}) IN ({no}) THEN false END)")
    if kind == "status":
        low = f"lower({x})"
        syn = " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in _STATUS_SYNONYMS.items())
        known = ", ".join(f"'{s}'" for s in ORDER_STATUSES)
        return f"(CASE WHEN {low} IN ({known}) THEN {low} ELSE (CASE {low} {syn} END) END)"
    if kind == "event":
        return f"lower({x})"
    if kind == "level":
        return (f"(CASE WHEN regexp_matches({x}, '^[Vv]?[0-6]$') THEN 'V' || right({x}, 1) END)")
    msg = f"no parser for kind {kind}"
    raise AssertionError(msg)


def _problem(column: Column, x: str, p: Params, table: str) -> str:
    """SQL for the message of a value that does not parse, quoting the value."""
    if column.kind == "status":
        head = "unknown status '"
        tail = (f"' (expected {', '.join(ORDER_STATUSES)}; "
                f"map it under [{table}.values.status] in a mapping file)")
    elif column.kind == "level":
        head, tail = "member_level '", "' is not one of V0..V6"
    else:
        head, tail = f"unparseable {column.name} ({column.kind}): '", "'"
    return f"{p.add(head)} || left({x}, 60) || {p.add(tail)}"


@dataclass
class StagePlan:
    """What the stage query reads and produces."""

    targets: list[str]  # stored columns provided by this file (canonical + custom attributes)
    sql: str
    params: dict[str, Any]


def parse_query(spec: TableSpec, src: Source, columns: dict[str, ResolvedColumn],
                extras: tuple[str, ...], values: dict[str, dict[str, str]],
                types: dict[str, str], tz: str, *, lines: bool = True) -> StagePlan:
    """The query that reads a source once and yields parsed columns, the first problem of each
    row (reason and column) and, for problem rows only, the raw values as JSON.

    Three levels so no expression is computed twice: raw text per column, parsed values,
    then the checks comparing the two.
    """
    p = Params()
    tz_param = p.add(tz)
    reader = reader_sql(src, p)
    headers = _source_headers(columns, extras)
    alias = {h: f"_s{i}" for i, h in enumerate(headers)}
    if not lines:  # numbering rows costs a window over the whole file; skip it when unused
        line = "CAST(NULL AS BIGINT)"
    elif src.format == "parquet":
        line = ident(LINE_COLUMN) if LINE_COLUMN in types else "(file_row_number + 1)"
    else:
        line = f"(row_number() OVER () + {1 if src.has_header else 0})"
    level1 = [f"{line} AS _line"] + [f"{ident(h)} AS {alias[h]}" for h in headers]
    if INVALID_JSON_COLUMN in types:
        level1.append(f"{ident(INVALID_JSON_COLUMN)} AS _badjson")

    texts: list[str] = []  # level 2: raw text of each target, _x0, _x1, ...
    parsed: dict[str, str] = {}  # level 3: target -> expression over _x columns
    reasons: list[tuple[str, str, str]] = []  # level 4: (condition, message, column)
    if INVALID_JSON_COLUMN in types:
        reasons.append(("_badjson IS NOT NULL", f"{p.add('invalid JSON line: ')} || _badjson",
                        p.add("")))
    for i, (target, col) in enumerate(columns.items()):
        column = spec.column(target)
        x = f"_x{i}"
        src_type = types.get(col.headers[0], "VARCHAR") if len(col.headers) == 1 else "VARCHAR"
        direct = (col.rule.constant is None and col.rule.transform is None
                  and not col.rule.formats and not values.get(target)
                  and src_type == STORAGE_TYPES[column.kind]
                  and column.kind not in ("text", "status", "event", "level"))
        if col.rule.constant is not None:
            text = p.add(col.rule.constant)
        elif direct:
            text = alias[col.headers[0]]  # already typed (Parquet): no round trip through text
        else:
            parts = [_raw_text(alias[h], types.get(h, "VARCHAR")) for h in col.headers]
            text = parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
        texts.append(f"{_mapped(text, values.get(target, {}), p)} AS {x}")
        parsed[target] = x if direct else parse_expr(
            column, x, col.rule.formats, col.rule.transform, p, tz_param)
        where = p.add(target) if column.required or column.kind != "text" else ""
        if column.required:
            reasons.append((f"{x} IS NULL", p.add("missing " + target), where))
        if column.kind != "text" and not direct:
            reasons.append((f"{x} IS NOT NULL AND {ident(target)} IS NULL",
                            _problem(column, x, p, spec.name), where))
    for name in extras:
        parsed[name] = _raw_text(alias[name], types.get(name, "VARCHAR"))
    final = {t: ident(t) for t in parsed}
    if spec.name == "orders":  # SPEC §1: no status given -> paid when paid_at is set
        parsed.setdefault("status", "CAST(NULL AS VARCHAR)")
        paid = "paid_at" if "paid_at" in parsed else "NULL"
        final["status"] = (f"COALESCE(status, CASE WHEN {paid} IS NOT NULL THEN 'paid' "
                           "ELSE 'created' END) AS status")
    targets = list(parsed)
    reason_sql = ("CASE " + " ".join(f"WHEN {c} THEN {m}" for c, m, _ in reasons) + " END"
                  if reasons else "NULL")
    column_sql = ("CASE " + " ".join(f"WHEN {c} THEN {w}" for c, _, w in reasons) + " END"
                  if reasons else "NULL")
    raw_json = "to_json(struct_pack(" + ", ".join(
        f"{ident(h)} := {alias[h]}" for h in headers) + "))"
    level3 = ", ".join(f"({parsed[t]}) AS {ident(t)}" for t in targets)
    sql = (
        f"SELECT _line, {', '.join(final[t] for t in targets)}, "
        f"_reason, _column, CASE WHEN _reason IS NOT NULL THEN {raw_json} END AS _raw FROM ("
        f"SELECT *, {reason_sql} AS _reason, {column_sql} AS _column FROM ("
        f"SELECT *, {level3} FROM ("
        f"SELECT *{', ' if texts else ''}{', '.join(texts)} FROM ("
        f"SELECT {', '.join(level1)} FROM {reader}))))"
    )
    # DuckDB refuses unused named parameters (a file without time columns never uses the zone)
    used = {k: v for k, v in p.values.items() if re.search(rf"\${k}\b", sql)}
    return StagePlan(targets=targets, sql=sql, params=used)


def _source_headers(columns: dict[str, ResolvedColumn], extras: tuple[str, ...]) -> list[str]:
    seen: dict[str, None] = {}
    for col in columns.values():
        seen.update(dict.fromkeys(col.headers))
    seen.update(dict.fromkeys(extras))
    return list(seen)
