"""Segments 人群: a small rule language, its compiler to Ibis, named and built-in segments.

A rule has a text form people write (``paid_orders(last: 720d) = 1 AND last_paid_at > -180d``)
and a JSON form the API and the web builder use; :func:`parse` / :func:`to_text` and
:func:`from_json` / :func:`to_json` convert exactly. docs/segments.md describes the language.

Examples
--------
>>> import kequn
>>> from kequn import segments
>>> ws = kequn.open(":memory:")
>>> segments.count(ws, "new_customers", as_of="2024-03-01")
0
>>> segments.to_text(segments.parse("member_level in ('V4','V5') and city_tier <= 2"))
"member_level IN ('V4', 'V5')\\nAND city_tier <= 2"
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis.expr.types as ir

from kequn.segments.ast import Family, Rule
from kequn.segments.evaluate import Evaluator, Explanation, RuleLike
from kequn.segments.history import (
    Changes,
    Snapshot,
    segment_history,
    snapshot_changes,
    take_snapshots,
)
from kequn.segments.jsonform import from_json, to_json
from kequn.segments.parser import parse
from kequn.segments.printer import to_text
from kequn.segments.registry import (
    SEGMENT_TABLES,
    SegmentDef,
    builtin_segments,
    delete_segment,
    get_segment,
    list_segments,
    save_segment,
)

AsOf = str | dt.date | dt.datetime | None

__all__ = [
    "SEGMENT_TABLES", "Changes", "Evaluator", "Explanation", "Family", "Rule", "SegmentDef",
    "Snapshot", "builtin_segments", "count", "delete_segment", "evaluate", "explain",
    "from_json", "get_segment", "list_segments", "parse", "save_segment", "segment_history",
    "snapshot_changes", "sql", "take_snapshots", "to_json", "to_text",
]


def evaluate(ws: Any, rule_or_id: RuleLike, *, as_of: AsOf) -> ir.Table:
    """The members of a segment id, ``family.label``, rule text or JSON rule at ``as_of``.

    One row per member with ``customer_id``, and ``label`` for a family. ``as_of`` None means
    the workspace's default (its latest data).
    """
    return Evaluator(ws, as_of).evaluate(rule_or_id)


def count(ws: Any, rule_or_id: RuleLike, *, as_of: AsOf) -> int:
    """The number of members at ``as_of``."""
    return Evaluator(ws, as_of).count(rule_or_id)


def explain(ws: Any, rule_or_id: RuleLike, customer_id: str, *, as_of: AsOf) -> Explanation:
    """Each condition with this customer's value and whether it held at ``as_of``."""
    return Evaluator(ws, as_of).explain(rule_or_id, customer_id)


def sql(ws: Any, rule_or_id: RuleLike, *, as_of: AsOf, dialect: str = "duckdb") -> str:
    """The SQL that finds the members (what ``kequn segment sql`` prints)."""
    return Evaluator(ws, as_of).sql(rule_or_id, dialect=dialect)
