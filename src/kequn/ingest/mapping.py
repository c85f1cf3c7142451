"""Column mappings: which header of a file feeds which kequn column, and how values convert.

A mapping is a TOML file with one section per table (see docs/loading.md)::

    [orders]
    collapse = false                      # true: rows sharing a key merge, first value wins
    [orders.columns]
    order_id = "订单编号"
    paid_at = ["付款时间", "订单付款时间"]   # the first header the file has
    amount = { column = "实付金额", transform = "money" }
    created_at = { column = "订单创建时间", format = "%Y-%m-%d %H:%M:%S" }
    [orders.values.status]
    "交易成功" = "paid"

Presets are such files shipped in ``kequn/ingest/presets``. With no mapping, a file whose
headers are SPEC §1's column names loads as it is (the ``canonical`` preset).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from kequn._suggest import did_you_mean
from kequn.errors import IngestError, MappingError
from kequn.schema.tables import TableSpec

TRANSFORMS = ("money", "unix_seconds", "unix_millis", "text")


@dataclass(frozen=True)
class ColumnRule:
    """How one kequn column is fed: from which headers, with which conversion."""

    target: str
    sources: tuple[str, ...] = ()  # alternatives: the first header the file has
    coalesce: tuple[str, ...] = ()  # per row: the first non-empty of these headers
    transform: str | None = None
    formats: tuple[str, ...] = ()
    constant: str | None = None


@dataclass(frozen=True)
class TableMapping:
    """A mapping for one table, from a preset or a user's file."""

    table: str
    origin: str
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    collapse: bool = False
    header: bool = True
    names: tuple[str, ...] = ()
    keep_extra_columns: bool = True


@dataclass(frozen=True)
class ResolvedColumn:
    """A kequn column bound to the headers of one file."""

    target: str
    headers: tuple[str, ...]  # coalesced in order; empty when constant
    rule: ColumnRule


@dataclass(frozen=True)
class Resolved:
    """A mapping bound to one file: what feeds each column, and what the file has beyond."""

    columns: dict[str, ResolvedColumn]
    extras: tuple[str, ...]  # kept as custom attributes (customers only)
    ignored: tuple[str, ...]


def preset_names() -> list[str]:
    """Names of the shipped presets."""
    root = resources.files("kequn.ingest") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def read_mapping(spec: TableSpec, *, mapping: str | Path | None = None,
                 preset: str | None = None) -> TableMapping:
    """The mapping for ``spec`` from a TOML file, a preset, or the canonical default."""
    if mapping is not None and preset is not None:
        msg = "give --mapping or --preset, not both"
        raise MappingError(msg)
    if mapping is not None:
        path = Path(mapping)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"mapping file {path}: {exc.strerror or exc}"
            raise MappingError(msg) from None
        return _parse(text, spec, origin=str(path), lenient=False)
    name = preset or "canonical"
    if name not in preset_names():
        msg = (f"unknown preset {name!r}{did_you_mean(name, preset_names())}; "
               f"choose one of {', '.join(preset_names())}")
        raise MappingError(msg)
    text = (resources.files("kequn.ingest") / "presets" / f"{name}.toml").read_text("utf-8")
    return _parse(text, spec, origin=f"preset {name}", lenient=name == "canonical")


def _parse(text: str, spec: TableSpec, *, origin: str, lenient: bool) -> TableMapping:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = f"{origin} is not valid TOML: {exc}"
        raise MappingError(msg) from None
    section: Any = doc.get(spec.name)
    if section is None:
        if "columns" in doc:  # a single-table file without a section
            section = doc
        elif lenient:
            section = {}
        else:
            have = ", ".join(k for k in doc if isinstance(doc[k], dict)) or "none"
            msg = f"{origin} has no [{spec.name}] section (it has: {have})"
            raise MappingError(msg)
    columns = {}
    for target, entry in dict(section.get("columns", {})).items():
        if not spec.has(target) and not spec.keeps_extra_columns:
            hint = did_you_mean(target, spec.column_names)
            msg = f"{origin}: {spec.name} has no column {target!r}{hint}"
            raise MappingError(msg)
        columns[target] = _rule(target, entry, origin)
    values = {k: {str(a): str(b) for a, b in v.items()}
              for k, v in dict(section.get("values", {})).items()}
    for target, value in dict(section.get("defaults", {})).items():
        columns.setdefault(target, ColumnRule(target, constant=str(value)))
    return TableMapping(
        table=spec.name, origin=origin, columns=columns, values=values,
        collapse=bool(section.get("collapse", False)),
        header=bool(section.get("header", True)),
        names=tuple(section.get("names", ())),
        keep_extra_columns=bool(section.get("keep_extra_columns", True)),
    )


def _rule(target: str, entry: Any, origin: str) -> ColumnRule:
    if isinstance(entry, str):
        return ColumnRule(target, sources=(entry,))
    if isinstance(entry, list) and all(isinstance(e, str) for e in entry):
        return ColumnRule(target, sources=tuple(entry))
    if isinstance(entry, dict):
        unknown = set(entry) - {"column", "coalesce", "transform", "format", "value"}
        if unknown:
            msg = f"{origin}: column {target!r} has unknown keys {sorted(unknown)}"
            raise MappingError(msg)
        column = entry.get("column", ())
        sources = (column,) if isinstance(column, str) else tuple(column)
        transform = entry.get("transform")
        if transform is not None and transform not in TRANSFORMS:
            msg = f"{origin}: unknown transform {transform!r}; use one of {', '.join(TRANSFORMS)}"
            raise MappingError(msg)
        fmt = entry.get("format", ())
        value = entry.get("value")
        return ColumnRule(target, sources=sources, coalesce=tuple(entry.get("coalesce", ())),
                          transform=transform, formats=(fmt,) if isinstance(fmt, str) else
                          tuple(fmt), constant=None if value is None else str(value))
    msg = f"{origin}: column {target!r} must be a header name, a list of names or a table"
    raise MappingError(msg)


def resolve(mapping: TableMapping, spec: TableSpec, header: list[str], *, file: str) -> Resolved:
    """Bind ``mapping`` to a file's header; fail naming any required column it lacks."""
    by_key = {h.strip().lower(): h for h in header if h}
    bound: dict[str, ResolvedColumn] = {}
    for target, rule in mapping.columns.items():
        if rule.constant is not None:
            bound[target] = ResolvedColumn(target, (), rule)
            continue
        if rule.coalesce:
            found = tuple(by_key[s.lower()] for s in rule.coalesce if s.lower() in by_key)
        else:
            found = next(((by_key[s.lower()],) for s in rule.sources if s.lower() in by_key), ())
        if found:
            bound[target] = ResolvedColumn(target, found, rule)
    used = {h for col in bound.values() for h in col.headers}
    for name in spec.column_names:  # canonical names map to themselves
        if name not in bound and name in by_key and by_key[name] not in used:
            bound[name] = ResolvedColumn(name, (by_key[name],), ColumnRule(name))
            used.add(by_key[name])
    missing = [c for c in spec.required if c not in bound]
    if missing:
        found_text = ", ".join(h for h in header if h)[:200] or "no headers"
        hint = _missing_hint(missing, header)
        msg = (f"{file} lacks required {spec.name} column{'s' if len(missing) > 1 else ''} "
               f"{', '.join(missing)} (found: {found_text}){hint}; map them with --mapping FILE "
               f"or use --preset ({', '.join(preset_names())})")
        raise IngestError(msg)
    rest = tuple(h for h in header if h and h not in used and not h.startswith("__kq_"))
    if spec.keeps_extra_columns and mapping.keep_extra_columns:
        return Resolved(bound, extras=rest, ignored=())
    return Resolved(bound, extras=(), ignored=rest)


def _missing_hint(missing: list[str], header: list[str]) -> str:
    for name in missing:
        close = difflib.get_close_matches(name, [h.lower() for h in header], n=1, cutoff=0.7)
        if close:
            return f" — is {close[0]!r} the {name}?"
    return ""
