"""Named segments: the shipped library (``library.toml``) and the shop's saved segments.

Saved segments live in the workspace table ``kq_segments``; a saved segment may take the id of
a built-in one, which then uses the shop's version everywhere (deleting it restores the
built-in). The state tables are created here on first use.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.resources
import json
import tomllib
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis

from kequn.errors import CompileError, KequnError, NotFoundError
from kequn.segments import ast
from kequn.segments.catalog import suggest
from kequn.segments.jsonform import from_json, to_json
from kequn.segments.parser import SEGMENT_ID, parse
from kequn.segments.printer import to_text

SEGMENT_TABLES: dict[str, ibis.Schema] = {
    "kq_segments": ibis.schema({
        "segment_id": "string", "rule_text": "string", "rule_json": "string",
        "name_zh": "string", "name_en": "string", "description": "string",
        "created_at": "timestamp", "updated_at": "timestamp",
    }),
    "kq_segment_snapshots": ibis.schema({
        "snapshot_id": "string", "segment_id": "string", "as_of": "timestamp",
        "taken_at": "timestamp", "members": "int64", "rule_text": "string",
    }),
    "kq_segment_members": ibis.schema({
        "snapshot_id": "string", "customer_id": "string", "label": "string",
    }),
}
"""State tables of segments (to join ``STATE_TABLES`` in :mod:`kequn.storage.setup`)."""

Origin = Literal["builtin", "saved"]


class SegmentIdError(KequnError, ValueError):
    """A segment id that is malformed, already taken, or built in and so not deletable."""


@dataclass(frozen=True)
class SegmentDef:
    """A named segment: its rule text, parsed rule, names and where it comes from."""

    id: str
    text: str
    rule: ast.Rule = field(repr=False)
    name_zh: str | None = None
    name_en: str | None = None
    description: str | None = None
    origin: Origin = "builtin"
    seed: str | None = None
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    overrides_builtin: bool = False
    updated_at: dt.datetime | None = None

    @property
    def is_family(self) -> bool:
        """Whether the segment gives labels (a family) rather than one set."""
        return isinstance(self.rule, ast.Family)

    @property
    def label_names(self) -> list[str]:
        """The family's labels in order (empty for a plain segment)."""
        return [lb.name for lb in self.rule.labels] if isinstance(self.rule, ast.Family) else []

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used by ``kequn segment show --json`` and the API)."""
        return {
            "id": self.id, "name_zh": self.name_zh, "name_en": self.name_en,
            "description": self.description, "origin": self.origin, "seed": self.seed,
            "family": self.is_family, "labels": [
                {"name": n, "name_zh": self.labels.get(n, (None, None))[0],
                 "name_en": self.labels.get(n, (None, None))[1]} for n in self.label_names],
            "overrides_builtin": self.overrides_builtin, "text": self.text,
            "json": to_json(self.rule),
        }


@functools.cache
def builtin_segments() -> dict[str, SegmentDef]:
    """The shipped library of SPEC §3 groups, each an ordinary rule a user can copy and change."""
    raw = importlib.resources.files("kequn.segments").joinpath("library.toml").read_text(
        encoding="utf-8")
    out = {}
    for seg_id, entry in tomllib.loads(raw).items():
        text = entry["rule"].strip() + "\n"
        labels = {k: (v[0], v[1]) for k, v in entry.get("labels", {}).items()}
        out[seg_id] = SegmentDef(
            id=seg_id, text=text, rule=parse(text), name_zh=entry.get("name_zh"),
            name_en=entry.get("name_en"), description=entry.get("description"),
            origin="builtin", seed=entry.get("seed"), labels=labels)
    return out


# -- state tables -----------------------------------------------------------------------------


def ensure_segment_tables(ws: Any) -> None:
    """Create the segment state tables that are missing (idempotent)."""
    existing = set(ws.con.list_tables())
    for name, schema in SEGMENT_TABLES.items():
        if name not in existing:
            ws.con.create_table(name, schema=schema)


def _has_tables(ws: Any) -> bool:
    return "kq_segments" in set(ws.con.list_tables())


def _saved_rows(ws: Any) -> list[dict[str, Any]]:
    if not _has_tables(ws):
        return []
    t = ws.con.table("kq_segments").order_by("created_at", "segment_id")
    return t.to_pyarrow().to_pylist()


def _saved_def(row: dict[str, Any]) -> SegmentDef:
    builtin = builtin_segments().get(row["segment_id"])
    return SegmentDef(
        id=row["segment_id"], text=row["rule_text"], rule=parse(row["rule_text"]),
        name_zh=row["name_zh"] or (builtin.name_zh if builtin else None),
        name_en=row["name_en"] or (builtin.name_en if builtin else None),
        description=row["description"], origin="saved",
        labels=builtin.labels if builtin else {}, overrides_builtin=builtin is not None,
        updated_at=row["updated_at"],
    )


# -- reading ----------------------------------------------------------------------------------


def list_segments(ws: Any) -> list[SegmentDef]:
    """Every segment: built-in ones (or the shop's version of them), then the shop's own."""
    saved = {row["segment_id"]: _saved_def(row) for row in _saved_rows(ws)}
    out = [saved.pop(seg_id, seg) for seg_id, seg in builtin_segments().items()]
    return out + list(saved.values())


def get_segment(ws: Any, seg_id: str) -> SegmentDef:
    """The segment ``seg_id`` (a saved one first, then the built-in one)."""
    if _has_tables(ws):
        t = ws.con.table("kq_segments")
        rows = t.filter(t.segment_id == seg_id).to_pyarrow().to_pylist()
        if rows:
            return _saved_def(rows[0])
    builtin = builtin_segments().get(seg_id)
    if builtin is not None:
        return builtin
    known = [s.id for s in list_segments(ws)]
    near = suggest(seg_id, known)
    hint = f" (did you mean {near!r}?)" if near else "; 'kequn segment list' shows them"
    msg = f"no segment {seg_id!r}{hint}"
    raise NotFoundError(msg)


def rule_lookup(ws: Any, overrides: dict[str, ast.Rule] | None = None) -> Any:
    """A function id → rule for the compiler (``overrides`` first, then saved, then built-in)."""
    cache: dict[str, ast.Rule] = dict(overrides or {})

    def lookup(seg_id: str) -> ast.Rule:
        if seg_id not in cache:
            cache[seg_id] = get_segment(ws, seg_id).rule
        return cache[seg_id]

    return lookup


# -- writing ----------------------------------------------------------------------------------


def read_rule(text_or_json: str | dict[str, Any] | ast.Rule) -> tuple[ast.Rule, str]:
    """A rule and its text from rule text, its JSON form (dict or JSON text) or a tree."""
    if isinstance(text_or_json, dict):
        rule = from_json(text_or_json)
        return rule, to_text(rule) + "\n"
    if isinstance(text_or_json, str):
        stripped = text_or_json.lstrip()
        if stripped.startswith("{"):
            rule = from_json(stripped)
            return rule, to_text(rule) + "\n"
        return parse(text_or_json), text_or_json
    return text_or_json, to_text(text_or_json) + "\n"


def save_segment(ws: Any, seg_id: str, text: str | dict[str, Any] | ast.Rule, *,
                 name_zh: str | None = None, name_en: str | None = None,
                 description: str | None = None, replace: bool = False) -> SegmentDef:
    """Save a segment under ``seg_id`` after checking it parses and compiles (no cycles).

    Raises
    ------
    RuleSyntaxError
        The rule does not parse.
    CompileError
        It refers to an unknown segment, to itself through others, or has a type error.
    ValueError
        The id is not lower-case letters, digits and ``_``, or is taken (pass ``replace``).
    """
    if not SEGMENT_ID.fullmatch(seg_id):
        msg = f"segment id {seg_id!r} must be lower-case letters, digits and _ (max 64)"
        raise SegmentIdError(msg)
    rule, rule_text = read_rule(text)
    check_rule(ws, rule, seg_id)
    ensure_segment_tables(ws)
    now = dt.datetime.now().replace(microsecond=0)  # bookkeeping time, not an analytic as_of
    existing = [r for r in _saved_rows(ws) if r["segment_id"] == seg_id]
    if existing and not replace:
        msg = f"segment {seg_id!r} exists; pass replace=True (--replace) to change it"
        raise SegmentIdError(msg)
    if seg_id in builtin_segments() and not replace:
        msg = (f"{seg_id!r} is a built-in segment; pass replace=True (--replace) to use your "
               "own version of it")
        raise SegmentIdError(msg)
    created = existing[0]["created_at"] if existing else now
    with ws.transaction() as raw:
        raw.execute("DELETE FROM kq_segments WHERE segment_id = ?", [seg_id])
        raw.execute("INSERT INTO kq_segments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [seg_id, rule_text, json.dumps(to_json(rule), ensure_ascii=False),
                     name_zh, name_en, description, created, now])
    return get_segment(ws, seg_id)


def check_rule(ws: Any, rule: ast.Rule, seg_id: str | None = None) -> None:
    """Compile ``rule`` without running it: unknown segments, cycles and type errors raise."""
    from kequn.segments.compiler import Compiler

    overrides = {seg_id: rule} if seg_id else {}
    compiler = Compiler(ws, dt.datetime(2000, 1, 1), rule_lookup(ws, overrides))
    compiler.rule(rule, name=seg_id)


def delete_segment(ws: Any, seg_id: str, *, force: bool = False) -> None:
    """Delete a saved segment (its snapshots stay); a built-in one cannot be deleted.

    Raises
    ------
    CompileError
        Other saved segments use it (pass ``force`` to delete anyway).
    """
    rows = [r for r in _saved_rows(ws) if r["segment_id"] == seg_id]
    if not rows:
        if seg_id in builtin_segments():
            msg = f"{seg_id!r} is built in and cannot be deleted; save your own version instead"
            raise SegmentIdError(msg)
        get_segment(ws, seg_id)  # raises NotFoundError with a suggestion
    users = [s.id for s in list_segments(ws) if s.origin == "saved" and s.id != seg_id
             and any(r.split(".")[0] == seg_id for r in ast.segment_refs(s.rule))]
    if users and not force and seg_id not in builtin_segments():
        msg = f"segment {seg_id!r} is used by {', '.join(users)}; pass force to delete it anyway"
        raise CompileError(msg)
    with ws.transaction() as raw:
        raw.execute("DELETE FROM kq_segments WHERE segment_id = ?", [seg_id])


__all__ = [
    "SEGMENT_TABLES", "SegmentDef", "SegmentIdError", "builtin_segments",
    "check_rule", "delete_segment", "ensure_segment_tables", "get_segment",
    "list_segments", "read_rule", "rule_lookup", "save_segment",
]
