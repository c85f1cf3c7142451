"""Recognise a source file and make it readable by DuckDB's streaming readers.

CSV/TSV in UTF-8 (with or without BOM), Parquet and gzip are read by DuckDB directly.
GB18030 and UTF-16 text is transcoded, Excel and JSON Lines are reshaped, each into a temporary
file streamed in chunks, so no format needs memory proportional to the file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from kequn.errors import IngestError

Format = Literal["csv", "parquet", "jsonl", "xlsx"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
}
_HINT = "use CSV, TSV, Parquet, JSON Lines or Excel .xlsx (optionally gzip-compressed)"
_SNIFF_BYTES = 1 << 20
_CHUNK_ROWS = 50_000
LINE_COLUMN = "__kq_line"  # a source column carrying the original line (Excel rows, JSON lines)


@dataclass
class Source:
    """A file ready for DuckDB: where to read, how, and the header it has."""

    original: Path
    path: Path
    format: Format
    gzip: bool = False
    delimiter: str = ","
    encoding: str = "utf-8"
    header: list[str] = field(default_factory=list)
    has_header: bool = True


def sniff(path: Path) -> tuple[Format, bool, str]:
    """Format, gzip flag and text encoding of ``path``, or a one-line error naming the fix."""
    if not path.exists():
        msg = f"{path}: no such file; check the path"
        raise IngestError(msg)
    if path.is_dir():
        msg = f"{path} is a folder; name the files inside it"
        raise IngestError(msg)
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        msg = f"{path}: cannot read ({exc.strerror or exc}); check its permissions"
        raise IngestError(msg) from None
    if not head:
        msg = f"{path} is empty: nothing to load"
        raise IngestError(msg)
    is_gzip = head[:2] == b"\x1f\x8b"
    name = path.name[:-3] if is_gzip and path.name.endswith(".gz") else path.name
    if is_gzip:
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            msg = f"{path}: broken gzip file ({exc}); re-compress it or load it uncompressed"
            raise IngestError(msg) from None
        if not head:
            msg = f"{path} is empty: nothing to load"
            raise IngestError(msg)
    else:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    fmt = _format_of(path, Path(name).suffix.lower(), head)
    if fmt == "parquet" and is_gzip:
        msg = f"{path}: gzip-compressed Parquet is not supported; load the .parquet file itself"
        raise IngestError(msg)
    encoding = _encoding_of(path, head) if fmt in ("csv", "jsonl") else "binary"
    return fmt, is_gzip, encoding


def _format_of(path: Path, suffix: str, head: bytes) -> Format:
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:4] == b"PK\x03\x04":
        if suffix in (".xlsx", ".xlsm"):
            return "xlsx"
        msg = f"{path} is a zip archive; unzip it, then {_HINT}"
        raise IngestError(msg)
    if head[:4] == b"\xd0\xcf\x11\xe0":
        msg = f"{path} is a legacy Excel .xls file; save it as .xlsx or CSV"
        raise IngestError(msg)
    if suffix in _SUFFIXES and _SUFFIXES[suffix] in ("parquet", "xlsx"):
        msg = f"{path} does not look like a {suffix} file (its bytes say otherwise); {_HINT}"
        raise IngestError(msg)
    if b"\x00" in head[:4096] and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        msg = f"{path} is a binary file of an unsupported type; {_HINT}"
        raise IngestError(msg)
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    if suffix in ("", ".dat", ".log"):
        return "jsonl" if head.lstrip()[:1] == b"{" else "csv"
    msg = f"{path}: unsupported file type {suffix!r}; {_HINT}"
    raise IngestError(msg)


def _encoding_of(path: Path, head: bytes) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    cut = len(head) == _SNIFF_BYTES  # a multi-byte character may be split at the end
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=not cut)
            return encoding
        except UnicodeDecodeError:
            continue
    msg = f"{path} is neither UTF-8 nor GB18030 text; re-save it as UTF-8"
    raise IngestError(msg)


def _open_text(path: Path, is_gzip: bool, encoding: str) -> IO[str]:
    raw: IO[bytes] = gzip.open(path, "rb") if is_gzip else path.open("rb")  # type: ignore[assignment]
    return io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")


def prepare(path: str | os.PathLike[str], workdir: Path, *, has_header: bool = True,
            names: list[str] | None = None) -> Source:
    """Make ``path`` readable by DuckDB, converting into ``workdir`` where needed."""
    original = Path(path)
    fmt, is_gzip, encoding = sniff(original)
    src = Source(original=original, path=original, format=fmt, gzip=is_gzip, encoding=encoding,
                 has_header=has_header)
    if fmt == "csv":
        if encoding not in ("utf-8", "utf-8-sig"):
            src.path = workdir / (original.name + ".utf8.csv")
            _transcode(original, is_gzip, encoding, src.path)
            src.gzip, src.encoding = False, "utf-8"
        src.delimiter = _delimiter(original, _first_line(src))
        src.header = _csv_header(src) if has_header else list(names or [])
    elif fmt == "jsonl":
        src.path = workdir / (original.name + ".lines.parquet")
        src.header = _jsonl_to_parquet(original, is_gzip, encoding, src.path)
        src.format = "parquet"
    elif fmt == "xlsx":
        src.path = workdir / (original.name + ".parquet")
        src.header = _xlsx_to_parquet(original, src.path)
        src.format = "parquet"
    else:
        src.header = [n for n in pq.read_schema(original).names]
    if not has_header and names:
        src.header = list(names)
    if not src.header:
        msg = f"{original} has no header row; add one or use a mapping with header = false"
        raise IngestError(msg)
    return src


def _transcode(path: Path, is_gzip: bool, encoding: str, out: Path) -> None:
    with _open_text(path, is_gzip, encoding) as src, out.open("w", encoding="utf-8",
                                                             newline="") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)


def _first_line(src: Source) -> str:
    with _open_text(src.path, src.gzip, "utf-8-sig") as fh:
        return fh.readline()


def _delimiter(path: Path, line: str) -> str:
    if path.suffix.lower() in (".tsv", ".tab") or path.name.lower().endswith((".tsv.gz",)):
        return "\t"
    counts = {d: line.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_header(src: Source) -> list[str]:
    with _open_text(src.path, src.gzip, "utf-8-sig") as fh:
        row = next(csv.reader(fh, delimiter=src.delimiter), [])
    return unique_names([h.strip() for h in row])


def unique_names(names: list[str]) -> list[str]:
    """Header names made unique (``x``, ``x_1``) and non-empty (``column3``), as DuckDB needs."""
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names, start=1):
        base = name or f"column{i}"
        candidate, n = base, 0
        while candidate.lower() in seen:
            n += 1
            candidate = f"{base}_{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def _write_chunks(out: Path, header: list[str], rows: Iterator[tuple[int, list[str | None]]]
                  ) -> None:
    schema = pa.schema([(LINE_COLUMN, pa.int64())] + [(h, pa.string()) for h in header])
    writer = pq.ParquetWriter(out, schema)
    try:
        lines: list[int] = []
        cols: list[list[str | None]] = [[] for _ in header]
        for line, values in rows:
            lines.append(line)
            for i, col in enumerate(cols):
                col.append(values[i] if i < len(values) else None)
            if len(lines) >= _CHUNK_ROWS:
                writer.write_table(pa.table([lines, *cols], schema=schema))
                lines, cols = [], [[] for _ in header]
        writer.write_table(pa.table([lines, *cols], schema=schema))
    finally:
        writer.close()


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_to_parquet(path: Path, out: Path) -> list[str]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        msg = f"{path}: cannot read this Excel file ({type(exc).__name__}); re-save it as .xlsx"
        raise IngestError(msg) from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            msg = f"{path} has an empty first sheet: nothing to load"
            raise IngestError(msg)
        header = [str(h).strip() if h is not None else "" for h in first]
        while header and not header[-1]:
            header.pop()
        body = ((i, [_cell_text(v) for v in row]) for i, row in enumerate(rows, start=2)
                if any(v is not None for v in row))
        _write_chunks(out, header, body)
        return header
    finally:
        book.close()


def _jsonl_to_parquet(path: Path, is_gzip: bool, encoding: str, out: Path) -> list[str]:
    header: dict[str, None] = {}
    with _open_text(path, is_gzip, encoding) as fh:  # first pass: the union of keys
        for text in fh:
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if isinstance(obj, dict):
                header.update(dict.fromkeys(obj))
    names = list(header)
    if not names:
        msg = f"{path} holds no JSON objects, one per line; {_HINT}"
        raise IngestError(msg)
    bad = "__kq_invalid_json"

    def rows() -> Iterator[tuple[int, list[str | None]]]:
        with _open_text(path, is_gzip, encoding) as fh:
            for i, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                if not isinstance(obj, dict):
                    yield i, [None] * len(names) + [text.strip()[:200]]
                    continue
                yield i, [_json_text(obj.get(n)) for n in names] + [None]

    _write_chunks(out, [*names, bad], rows())
    return names


def _json_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


INVALID_JSON_COLUMN = "__kq_invalid_json"
