"""Evaluating segments: members, counts, explanations and SQL at one ``as_of``.

An :class:`Evaluator` compiles rules against the workspace and builds the feature table they
need. :meth:`Evaluator.prepare` builds one table for many rules (one aggregation pass per
source for all of them) and keeps it materialised, so that listing every segment with its size
reads the orders once and the events once.
"""

from __future__ import annotations

import datetime as dt
import uuid
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from kequn.errors import CompileError, KequnError, NotFoundError
from kequn.segments import ast
from kequn.segments import cache as kept
from kequn.segments.compiler import Compiled, Compiler, Frame, Needs, Typed
from kequn.segments.parser import SEGMENT_ID
from kequn.segments.printer import cond_text, value_text
from kequn.segments.registry import SegmentDef, get_segment, list_segments, read_rule
from kequn.storage import features as ft
from kequn.storage.run import create_table, drop_table, scalar

RuleLike = str | dict[str, Any] | ast.Rule


@dataclass(frozen=True)
class Target:
    """What is evaluated: the rule, and the segment id it came from (if any)."""

    rule: ast.Rule
    name: str | None = None

    @property
    def is_family(self) -> bool:
        """Whether evaluating gives a label per member."""
        return isinstance(self.rule, ast.Family)


@dataclass(frozen=True)
class ExplainLine:
    """One condition of a rule for one customer: its value and whether it held."""

    depth: int
    text: str
    held: bool | None
    value: Any = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"depth": self.depth, "condition": self.text, "held": self.held,
                "value": _plain(self.value)}


@dataclass(frozen=True)
class Explanation:
    """Why a customer is or is not in a segment at ``as_of``."""

    customer_id: str
    as_of: dt.datetime
    member: bool
    label: str | None
    lines: list[ExplainLine] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"customer_id": self.customer_id, "as_of": self.as_of.isoformat(),
                "member": self.member, "label": self.label,
                "conditions": [line.to_dict() for line in self.lines]}


class Evaluator:
    """Evaluates rules and segment ids in one workspace at one ``as_of``.

    Examples
    --------
    >>> import kequn
    >>> ws = kequn.open(":memory:")
    >>> Evaluator(ws, "2024-03-01").count("member_level = 'V4'")
    0
    """

    def __init__(self, ws: Any, as_of: str | dt.date | dt.datetime | None, *,
                 tables: ft.Scope | None = None) -> None:
        self.ws = ws
        # a Scope shared by evaluators at several dates keeps row sets they can all use
        # while its own keeping() block is on (see Scope.paid_lines)
        self.tables = tables if tables is not None else ft.Scope(ws)
        self._default = as_of is None
        self.as_of = (self._kept_default() if self._default else None) or ws.resolve_as_of(as_of)
        self._table: ir.Table | None = None
        self._columns: set[str] = set()
        self._predictions_checked = False
        self._segments: dict[str, SegmentDef] | None = None
        self._dropper: weakref.finalize | None = None
        self._kept: ir.Table | None = None  # the workspace's stored feature table, if current
        self._kept_read = False
        self._skip_kept = False

    # -- what to evaluate -------------------------------------------------------------------
    def segment(self, seg_id: str) -> SegmentDef:
        """A named segment (the list is read from the workspace once per evaluator)."""
        if self._segments is None:
            self._segments = {s.id: s for s in list_segments(self.ws)}
        if seg_id not in self._segments:
            return get_segment(self.ws, seg_id)  # raises NotFoundError with a suggestion
        return self._segments[seg_id]

    def target(self, rule_or_id: RuleLike) -> Target:
        """The rule behind a segment id (``id`` or ``family.label``), rule text or JSON."""
        if isinstance(rule_or_id, str) and self._is_ref(rule_or_id.strip()):
            ref = rule_or_id.strip()
            if "." in ref:
                return Target(ast.InSegment(ref), name=None)
            return Target(self.segment(ref).rule, name=ref)
        rule, _ = read_rule(rule_or_id)
        return Target(rule)

    def _is_ref(self, text: str) -> bool:
        seg_id, _, label = text.partition(".")
        if not SEGMENT_ID.fullmatch(seg_id) or (label and not SEGMENT_ID.fullmatch(label)):
            return False
        try:
            seg = self.segment(seg_id)
        except NotFoundError:
            return False
        return not label or label in seg.label_names

    def compile(self, target: Target) -> tuple[Compiler, Compiled]:
        """A compiler holding the target's needs, and the target's closure."""
        compiler = Compiler(self.tables, self.as_of, lambda seg_id: self.segment(seg_id).rule)
        return compiler, compiler.rule(target.rule, name=target.name)

    # -- the feature table -----------------------------------------------------------------
    def prepare(self, rules: Iterable[RuleLike]) -> None:
        """Build and keep one feature table covering every rule (one pass per source)."""
        needs = Needs()
        for rule in rules:
            try:
                compiler, _ = self.compile(self.target(rule))
            except KequnError:
                continue  # reported when that rule is evaluated on its own
            needs.merge(compiler.needs)
        needs.predictions = needs.predictions and self._predictions_exist()
        self.close()
        if kept.usable(self.ws) and (key := kept.fingerprint(self.ws)) is not None:
            # Keep it in the workspace, for the next process at the same as_of and data.
            table = self._kept_table()
            if table is None or not _covers(needs, set(table.columns)):
                with self.tables.keeping():  # rows several measures read are computed once
                    features = ft.customer_features(
                        self.tables, self.as_of, measures=needs.measures,
                        lookups=needs.lookups, standard=False, predictions=False, columns=None)
                    table = kept.write(self.ws, self.as_of, key, features,
                                       default=self.as_of if self._default else None)
                self._kept, self._kept_read = table, table is not None
            if table is not None:
                self._table, self._columns = table, set(table.columns)
                return
        name = f"_kq_features_{uuid.uuid4().hex[:12]}"
        with self.tables.keeping():
            table = create_table(self._features(needs), name, temp=True)
        self._table, self._columns = table, set(table.columns)
        self._dropper = weakref.finalize(self, drop_table, table)

    def _kept_default(self) -> dt.datetime | None:
        """The default as_of noted with the kept table, if the data has not changed since."""
        if not kept.usable(self.ws) or (key := kept.fingerprint(self.ws)) is None:
            return None
        return kept.default_as_of(self.ws, key)

    def _kept_table(self) -> ir.Table | None:
        """The workspace's stored feature table when it is for this as_of and data version."""
        if not self._kept_read:
            self._kept_read = True
            if kept.usable(self.ws) and (key := kept.fingerprint(self.ws)) is not None:
                self._kept = kept.read(self.ws, self.as_of, key)
        return self._kept

    def close(self) -> None:
        """Drop the kept feature table (also done when the evaluator is garbage collected)."""
        if self._dropper is not None:
            self._dropper()
            self._dropper = None
        self._table, self._columns = None, set()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def frame(self, needs: Needs) -> Frame:
        """The feature table with everything ``needs`` asks for (the kept one if it covers)."""
        if needs.predictions:
            self._check_predictions()
        if self._table is not None and needs.covered_by(self._columns):
            return Frame(_narrow(self._table, needs))
        base, columns = self._table, self._columns
        if base is None:
            base = None if self._skip_kept else self._kept_table()
            columns = set(base.columns) if base is not None else set()
        if base is not None and not (needs.columns - columns):
            # Read what the kept table has; compute only the measures it lacks.
            table = _narrow(base, needs)
            missing = Needs(
                measures={n: m for n, m in needs.measures.items() if n not in columns},
                lookups={n: lk for n, lk in needs.lookups.items() if n not in columns})
            if missing.measures or missing.lookups:
                table = ft.customer_features(
                    self.tables, self.as_of, measures=missing.measures,
                    lookups=missing.lookups, standard=False, predictions=False, onto=table)
            if needs.predictions and "p_alive" not in columns:
                latest = ft.latest_predictions(self.ws, self.as_of)
                if latest is not None:
                    table = ft.join_customers(table, latest)
            return Frame(table)
        return Frame(self._features(needs))

    def _features(self, needs: Needs) -> ir.Table:
        return ft.customer_features(self.tables, self.as_of, measures=needs.measures,
                                    lookups=needs.lookups, standard=False,
                                    predictions=needs.predictions, columns=needs.columns)

    def _predictions_exist(self) -> bool:
        latest = ft.latest_predictions(self.ws, self.as_of)
        return latest is not None and bool(latest.limit(1).count().to_pyarrow().as_py())

    def _check_predictions(self) -> None:
        if self._predictions_checked:
            return
        if not self._predictions_exist():
            msg = (f"no predictions as of {self.as_of:%Y-%m-%d %H:%M}; "
                   "run 'kequn predict fit' first")
            raise CompileError(msg)
        self._predictions_checked = True

    # -- results ---------------------------------------------------------------------------------
    def evaluate(self, rule_or_id: RuleLike) -> ir.Table:
        """One row per member: ``customer_id`` (and ``label`` for a family)."""
        target = self.target(rule_or_id)
        compiler, compiled = self.compile(target)
        frame = self.frame(compiler.needs)
        value = compiled(frame)
        table = frame.table
        if target.is_family:
            labelled = table.mutate(label=value)
            return labelled.filter(labelled.label.notnull()).select("customer_id", "label")
        return table.filter(value).select("customer_id")

    def count(self, rule_or_id: RuleLike) -> int:
        """The number of members."""
        return int(scalar(self.evaluate(rule_or_id).count()))

    def sizes(self, rule_or_id: RuleLike) -> dict[str, int]:
        """Members per label of a family (labels without members are 0)."""
        target = self.target(rule_or_id)
        members = self.evaluate(rule_or_id)
        counts = members.group_by("label").aggregate(n=members.count()).to_pyarrow().to_pylist()
        found = {row["label"]: int(row["n"]) for row in counts}
        if isinstance(target.rule, ast.Family):
            return {lb.name: found.get(lb.name, 0) for lb in target.rule.labels}
        return found

    def sql(self, rule_or_id: RuleLike, *, dialect: str = "duckdb") -> str:
        """The SQL the members query runs (literals shown inline, as the engine receives them).

        It computes the features from the shop's tables, not from a feature table kept by an
        earlier evaluation, so that it runs anywhere (and on another engine's dialect).
        """
        self._skip_kept = True
        try:
            return str(ibis.to_sql(self.evaluate(rule_or_id), dialect=dialect))
        finally:
            self._skip_kept = False

    def explain(self, rule_or_id: RuleLike, customer_id: str) -> Explanation:
        """Each condition of the rule with this customer's value and whether it held."""
        target = self.target(rule_or_id)
        compiler, compiled = self.compile(target)
        plan = _explain_plan(compiler, target.rule)
        frame = self.frame(compiler.needs)
        result = compiled(frame)
        columns: dict[str, ir.Value] = {"_kq_result": result}
        for i, (_, _, held, value) in enumerate(plan):
            columns[f"_kq_h{i}"] = held(frame)
            if value is not None:
                columns[f"_kq_v{i}"] = value.build(frame)
        table = frame.table.mutate(**columns)
        one = table.filter(table.customer_id == ibis.literal(customer_id, type="string"))
        rows = one.select(*columns).limit(1).to_pyarrow().to_pylist()
        if not rows:
            msg = (f"no customer {customer_id!r} known at {self.as_of:%Y-%m-%d %H:%M}; "
                   "check the id, or the as_of")
            raise NotFoundError(msg)
        row = rows[0]
        lines = [ExplainLine(depth, text, row[f"_kq_h{i}"], row.get(f"_kq_v{i}"))
                 for i, (depth, text, _, _) in enumerate(plan)]
        outcome = row["_kq_result"]
        label = outcome if target.is_family else None
        member = bool(outcome) if not target.is_family else outcome is not None
        return Explanation(customer_id, self.as_of, member, label, lines)


def _narrow(table: ir.Table, needs: Needs) -> ir.Table:
    """Only the columns of ``table`` a rule reads: a wide kept table makes every query slow
    to compile and to scan."""
    wanted = set(needs.measures) | set(needs.lookups) | needs.columns
    if needs.predictions:
        wanted |= {*ft.PREDICTION_COLUMNS, "prediction_as_of", "prediction_model"}
    keep = ["customer_id", *(c for c in table.columns if c in wanted and c != "customer_id")]
    return table if len(keep) == len(table.columns) else table.select(*keep)


def _covers(needs: Needs, columns: set[str]) -> bool:
    """Whether ``columns`` hold every measure, lookup and customer column of ``needs``."""
    return (set(needs.measures) | set(needs.lookups) | needs.columns) <= columns


def drop_feature_cache(ws: Any) -> None:
    """Forget the feature table kept in the workspace (the next prepare builds it again)."""
    kept.drop(ws)


_PlanLine = tuple[int, str, Compiled, Typed | None]


def _explain_plan(compiler: Compiler, rule: ast.Rule) -> list[_PlanLine]:
    """(depth, text, held, value) for every condition node, in text order."""
    out: list[_PlanLine] = []

    def visit(node: ast.Condition, depth: int, population: Compiled | None) -> None:
        held = compiler.condition(node, population)
        value = None
        if isinstance(node, (ast.Compare, ast.InList, ast.Between, ast.Contains, ast.IsNull)):
            value = compiler.value(node.left, population)
        elif isinstance(node, ast.Truthy):
            value = compiler.value(node.value, population)
        text = _one_line(node)
        out.append((depth, text, held, value))
        if isinstance(node, (ast.And, ast.Or)):
            for item in node.items:
                visit(item, depth + 1, population)
        elif isinstance(node, ast.Not):
            visit(node.item, depth + 1, population)
        if isinstance(node, ast.Compare) and not _is_literal(node.right):
            right = compiler.value(node.right, population)
            out.append((depth + 1, f"  {value_text(node.right)}", _always_none, right))

    if isinstance(rule, ast.Family):
        among = None
        if rule.among is not None:
            out.append((0, "AMONG", compiler.condition(rule.among, None), None))
            visit(rule.among, 1, None)
            among = compiler.condition(rule.among, None)
        for label in rule.labels:
            if label.when is None:
                out.append((0, f"{label.name}: ELSE", _always_true, None))
                continue
            out.append((0, f"{label.name}:", compiler.condition(label.when, among), None))
            visit(label.when, 1, among)
    else:
        visit(rule, 0, None)
    return out


def _always_none(frame: Frame) -> ir.Value:
    return ibis.null("boolean")


def _always_true(frame: Frame) -> ir.Value:
    return ibis.literal(True)


def _is_literal(v: ast.Value) -> bool:
    return isinstance(v, (ast.Number, ast.String, ast.Bool, ast.Date, ast.RelDate))


def _one_line(node: ast.Condition) -> str:
    if isinstance(node, ast.And):
        return "AND"
    if isinstance(node, ast.Or):
        return "OR"
    if isinstance(node, ast.Not):
        return "NOT"
    plain = ast.Truthy(node.value) if isinstance(node, ast.Truthy) else node
    text = cond_text(_without_note(plain))
    return " ".join(text.split())


def _without_note(node: ast.Condition) -> ast.Condition:
    from dataclasses import replace

    return replace(node, note=None) if getattr(node, "note", None) is not None else node


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value

