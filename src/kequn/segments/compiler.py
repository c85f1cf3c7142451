"""Syntax tree → Ibis: one ``visit_<Node>`` method per node.

Compiling a rule does two things at once: it records what the rule needs from the feature
table (:class:`Needs`: measures, lookups such as sequences and preferences, predictions) and it
returns closures that, given the :class:`Frame` built from those needs, produce Ibis values.
User values always become Ibis literals, never SQL text.

The same visitor compiles ``where:`` filters, in *row scope*: there names are columns of the
rows being counted (an order, an event, an order line) and the closure receives those rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from kequn.errors import CompileError
from kequn.schema.conventions import as_of_literal
from kequn.segments import ast
from kequn.segments import catalog as cat
from kequn.segments.printer import cond_text, value_text
from kequn.storage import features as ft

RuleLookup = Callable[[str], ast.Rule]

_MEASURES: dict[str, ft.Measure] = {
    "paid_orders": "count", "spend": "spend", "aov": "aov", "first_paid_at": "first",
    "last_paid_at": "last", "recency_days": "recency_days", "mean_gap_days": "mean_gap_days",
    "promotion_periods": "promotion_periods", "placed_orders": "count",
    "unpaid_orders": "unpaid", "events": "count", "active_days": "active_days",
    "duration": "duration", "first_event_at": "first", "last_event_at": "last",
    "intent_score": "intent_score", "items_bought": "quantity", "item_spend": "item_spend",
    "products_bought": "distinct_products", "price_position": "price_position",
}
_ORDER_DERIVED = frozenset({"discount_rate", "holiday", "promotion_day"})
_INT64_MAX = 2**63 - 1


class Frame:
    """The wide per-customer table (or, in row scope, the rows) a compiled rule reads.

    ``add`` gives a value a column of its own: a window value, since a filter must not hold
    one, or a segment referenced several times, which ``memo`` keeps. Population values
    (ranks, medians) of a table read from storage are computed in queries *beside* it and
    joined back (``join``): a window over the table would carry every customer's whole row
    through a sort. Over a computed table they stay windows, which compute it only once.
    """

    def __init__(self, table: ir.Table) -> None:
        self.table = table
        self.memo: dict[Any, ir.Value] = {}
        self._start = table

    @functools.cached_property
    def stored(self) -> bool:
        """Whether the starting table reads stored tables through projections and filters
        only, so that reading it again, beside the frame, costs no more than a scan."""
        op = self._start.op()
        return not op.find(ops.WindowFunction) and all(
            isinstance(r, _STORED_RELATIONS) for r in op.find(ops.Relation))

    def beside(self) -> Frame:
        """A new frame over the starting table, for a query joined back to this one."""
        return Frame(self._start)

    def add(self, value: ir.Value) -> ir.Value:
        """``value`` as a new column of the table; returns a reference to it."""
        name = f"_kq_w{len(self.table.columns)}"
        self.table = self.table.mutate(**{name: value})
        return self.table[name]

    def join(self, other: ir.Table, on: ir.Value, value: ir.Value) -> ir.Value:
        """``value``, which reads ``other`` left-joined on ``on``, as a new column."""
        name = f"_kq_w{len(self.table.columns)}"
        kept = [self.table[c] for c in self.table.columns]
        self.table = self.table.left_join(other, on).select(*kept, **{name: value})
        return self.table[name]

    def col(self, name: str) -> ir.Value:
        """The column ``name``."""
        return self.table[name]


_STORED_RELATIONS = (ops.PhysicalTable, ops.Project, ops.Filter, ops.DropColumns)
Compiled = Callable[[Frame], ir.Value]


@dataclass(frozen=True)
class Typed:
    """A compiled value and its type (a ``date`` is a whole day)."""

    build: Compiled
    type: cat.ValueType


@dataclass
class Needs:
    """What a rule needs from the feature table."""

    measures: dict[str, ft.Reduction] = field(default_factory=dict)
    lookups: dict[str, tuple[ft.Lookup, str]] = field(default_factory=dict)
    predictions: bool = False
    columns: set[str] = field(default_factory=set)  # customer columns read

    def merge(self, other: Needs) -> None:
        """Add ``other``'s needs to these."""
        self.measures.update(other.measures)
        self.lookups.update(other.lookups)
        self.predictions = self.predictions or other.predictions
        self.columns |= other.columns

    def covered_by(self, columns: set[str]) -> bool:
        """Whether a table with ``columns`` already has everything needed."""
        return (set(self.measures) | set(self.lookups) | self.columns) <= columns and (
            not self.predictions or "p_alive" in columns)


@dataclass(frozen=True)
class _Row:
    source: str


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def days_of(d: ast.Duration | ast.RelDate) -> float:
    """The length of a duration in days (a month is 30 days, a year 365)."""
    return float(d.amount) * cat.DURATION_UNITS[d.unit]


class Compiler:
    """Compiles rules against one workspace at one ``as_of``.

    ``lookup`` returns the rule of a segment id (saved or built-in); referenced segments are
    compiled into the same frame, and a reference back to a segment being compiled is a cycle.
    """

    def __init__(self, ws: Any, as_of: dt.datetime, lookup: RuleLookup) -> None:
        self.ws = ws
        self.as_of = as_of
        self.lookup = lookup
        self.needs = Needs()
        self.stack: list[str] = []
        self.scope: str | _Row = "customer"
        self.derived: set[str] = set()
        self._families: dict[str, tuple[Compiled, ast.Family]] = {}
        self._lookups: dict[str, ft.Lookup] = {}
        self._attr_types: dict[str, cat.ValueType] | None = None

    # -- entry points --------------------------------------------------------------------
    def rule(self, rule: ast.Rule, *, name: str | None = None) -> Compiled:
        """A closure giving a boolean (condition) or a label (family) per customer.

        A named family is labelled once per frame, however many rules compiled into that
        frame (each group of a members table, say) read its labels.
        """
        if name is not None:
            self.stack.append(name)
        try:
            if isinstance(rule, ast.Family):
                labels = self.family(rule)
                return labels if name is None else _memo(("family", name), labels)
            return self.condition(rule, None)
        finally:
            if name is not None:
                self.stack.pop()

    def family(self, fam: ast.Family) -> Compiled:
        """The label of each customer: the first label whose condition holds, in order."""
        among = self.condition(fam.among, None) if fam.among is not None else None
        whens = [(lb.name, self.condition(lb.when, among) if lb.when is not None else None)
                 for lb in fam.labels]

        def build(f: Frame) -> ir.Value:
            in_pop = among(f) if among is not None else ibis.literal(True)
            cases = [(in_pop & (w(f) if w is not None else ibis.literal(True)),
                      ibis.literal(name, type="string")) for name, w in whens]
            return f.add(ibis.cases(*cases, else_=ibis.null("string")))

        return build

    def condition(self, node: ast.Condition, population: Compiled | None) -> Compiled:
        """A closure giving a never-null boolean: unknown values count as not holding."""
        method = getattr(self, f"visit_{type(node).__name__}")
        return method(node, population)

    def value(self, node: ast.Value, population: Compiled | None) -> Typed:
        """A compiled value with its type."""
        method = getattr(self, f"value_{type(node).__name__}")
        return method(node, population)

    def row_filter(self, cond: ast.Condition, source: str) -> tuple[ft.RowFilter, set[str]]:
        """A ``where:`` condition over ``source`` rows, and the derived columns it reads."""
        outer_scope, outer_derived = self.scope, self.derived
        self.scope, self.derived = _Row(source), set()
        try:
            compiled = self.condition(cond, None)
            derived = self.derived
        finally:
            self.scope, self.derived = outer_scope, outer_derived
        return (lambda rows: compiled(Frame(rows))), derived

    # -- errors ------------------------------------------------------------------------------
    def fail(self, msg: str) -> CompileError:
        """A compile error (for rules that parse but cannot be evaluated)."""
        return CompileError(msg)

    # -- boolean structure ---------------------------------------------------------------------
    def visit_And(self, node: ast.And, population: Compiled | None) -> Compiled:
        items = [self.condition(i, population) for i in node.items]
        return lambda f: _fold(items, f, lambda a, b: a & b)

    def visit_Or(self, node: ast.Or, population: Compiled | None) -> Compiled:
        items = [self.condition(i, population) for i in node.items]
        return lambda f: _fold(items, f, lambda a, b: a | b)

    def visit_Not(self, node: ast.Not, population: Compiled | None) -> Compiled:
        item = self.condition(node.item, population)
        return lambda f: ~item(f)

    # -- leaves ----------------------------------------------------------------------------------
    def visit_Compare(self, node: ast.Compare, population: Compiled | None) -> Compiled:
        left, right = self.value(node.left, population), self.value(node.right, population)
        lb, rb = self._comparable(left, right, node, node.op)
        op = _COMPARE[node.op]
        return lambda f: op(lb(f), rb(f)).fill_null(False)

    def visit_InList(self, node: ast.InList, population: Compiled | None) -> Compiled:
        left = self.value(node.left, population)
        values = [self.value(v, population) for v in node.values]
        pairs = [self._comparable(left, v, node, "IN") for v in values]

        def build(f: Frame) -> ir.Value:
            hit = _fold([lambda g, p=p: p[0](g) == p[1](g) for p in pairs], f,
                        lambda a, b: a | b)
            hit = hit.fill_null(False)
            return ~hit & left.build(f).notnull() if node.negated else hit

        return build

    def visit_Between(self, node: ast.Between, population: Compiled | None) -> Compiled:
        left = self.value(node.left, population)
        lo = self._comparable(left, self.value(node.low, population), node, "BETWEEN")
        hi = self._comparable(left, self.value(node.high, population), node, "BETWEEN")

        def build(f: Frame) -> ir.Value:
            inside = ((lo[0](f) >= lo[1](f)) & (hi[0](f) <= hi[1](f))).fill_null(False)
            return ~inside & left.build(f).notnull() if node.negated else inside

        return build

    def visit_Contains(self, node: ast.Contains, population: Compiled | None) -> Compiled:
        left, text = self.value(node.left, population), self.value(node.value, population)
        if left.type != "string" or text.type != "string":
            msg = f"CONTAINS tests text: {_leaf_text(node)!r}"
            raise self.fail(msg)

        def build(f: Frame) -> ir.Value:
            hit = left.build(f).contains(text.build(f)).fill_null(False)
            return ~hit & left.build(f).notnull() if node.negated else hit

        return build

    def visit_IsNull(self, node: ast.IsNull, population: Compiled | None) -> Compiled:
        left = self.value(node.left, population)
        return (lambda f: left.build(f).notnull()) if node.negated else (
            lambda f: left.build(f).isnull())

    def visit_Truthy(self, node: ast.Truthy, population: Compiled | None) -> Compiled:
        value = self.value(node.value, population)
        if value.type == "bool":
            return lambda f: value.build(f).fill_null(False)
        if value.type == "number":
            return lambda f: (value.build(f) > 0).fill_null(False)
        msg = f"{value_text(node.value)} is {value.type}, not a condition"
        raise self.fail(msg)

    def visit_InSegment(self, node: ast.InSegment, population: Compiled | None) -> Compiled:
        if self.scope != "customer":
            msg = "segment() cannot be used inside where:"
            raise self.fail(msg)
        seg_id, _, label = node.ref.partition(".")
        if seg_id in self.stack:
            chain = " → ".join([*self.stack[self.stack.index(seg_id):], seg_id])
            msg = f"segment {seg_id!r} refers to itself: {chain}"
            raise self.fail(msg)
        rule = self.lookup(seg_id)
        if isinstance(rule, ast.Family):
            labels = self._family(seg_id, rule)
            if label and rule.label(label) is None:
                names = ", ".join(lb.name for lb in rule.labels)
                msg = f"family {seg_id!r} has no label {label!r}; its labels: {names}"
                raise self.fail(msg)

            def build_label(f: Frame) -> ir.Value:
                current = labels(f)
                return (current == label).fill_null(False) if label else current.notnull()

            return _memo(("segment", node.ref), build_label)
        if label:
            msg = f"segment {seg_id!r} is not a family, so {node.ref!r} has no label"
            raise self.fail(msg)
        compiled = self.rule(rule, name=seg_id)
        return _memo(("segment", seg_id), lambda f: f.add(compiled(f)))

    def _family(self, seg_id: str, rule: ast.Family) -> Compiled:
        if seg_id not in self._families:
            self._families[seg_id] = (self.rule(rule, name=seg_id), rule)
        return self._families[seg_id][0]

    def visit_Sequence(self, node: ast.Sequence, population: Compiled | None) -> Compiled:
        from kequn.segments.sequences import sequence_members

        key = _hash("sequence " + _leaf_text(node))
        name = f"_kq_s_{key}"
        if name not in self.needs.lookups:
            steps = [self._step(s) for s in node.steps]
            lookup = ft.Lookup(lambda ws, as_of: sequence_members(ws, as_of, node, steps),
                               fill=False)
            self.needs.lookups[name] = (lookup, "value")
        return lambda f: f.col(name).fill_null(False)

    def _step(self, step: ast.Step) -> tuple[ft.Window | None, ft.RowFilter | None, set[str]]:
        call = step.call
        window = self.window(call)
        where, derived = (None, set())
        opt = call.option("where")
        if opt is not None:
            where, derived = self.row_filter(opt, cat.FUNCTIONS[call.name].source)
        return window, where, derived

    # -- values ---------------------------------------------------------------------------------
    def value_Number(self, node: ast.Number, population: Compiled | None) -> Typed:
        v = node.value
        if isinstance(v, int) and abs(v) > _INT64_MAX:
            v = float(v)
        lit = ibis.literal(v, type="int64" if isinstance(v, int) else "float64")
        return Typed(lambda f: lit, "number")

    def value_String(self, node: ast.String, population: Compiled | None) -> Typed:
        lit = ibis.literal(node.value, type="string")
        return Typed(lambda f: lit, "string")

    def value_Bool(self, node: ast.Bool, population: Compiled | None) -> Typed:
        lit = ibis.literal(node.value, type="boolean")
        return Typed(lambda f: lit, "bool")

    def value_Date(self, node: ast.Date, population: Compiled | None) -> Typed:
        if "T" in node.value:
            moment = dt.datetime.fromisoformat(node.value)
            lit = ibis.literal(moment, type="timestamp")
            return Typed(lambda f: lit, "time")
        day = dt.date.fromisoformat(node.value)
        dlit = ibis.literal(day, type="date")
        return Typed(lambda f: dlit, "date")

    def value_RelDate(self, node: ast.RelDate, population: Compiled | None) -> Typed:
        moment = self.instant(node)
        lit = ibis.literal(moment, type="timestamp")
        return Typed(lambda f: lit, "time")

    def value_Duration(self, node: ast.Duration, population: Compiled | None) -> Typed:
        msg = (f"a duration such as {value_text(node)} goes in last:, WITHIN or "
               f"AFTER; compare days with a number, or a time with -{value_text(node)}")
        raise self.fail(msg)

    def value_Arith(self, node: ast.Arith, population: Compiled | None) -> Typed:
        left, right = self.value(node.left, population), self.value(node.right, population)
        if left.type != "number" or right.type != "number":
            msg = f"arithmetic works on numbers: {value_text(node)!r}"
            raise self.fail(msg)
        lb, rb = left.build, right.build
        ops = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
               "/": lambda a, b: a.cast("float64") / b.nullif(0)}
        op = ops[node.op]
        return Typed(lambda f: op(lb(f), rb(f)), "number")

    def value_Neg(self, node: ast.Neg, population: Compiled | None) -> Typed:
        inner = self.value(node.value, population)
        if inner.type != "number":
            msg = f"only numbers can be negated: {value_text(node)!r}"
            raise self.fail(msg)
        return Typed(lambda f: -inner.build(f), "number")

    def value_Field(self, node: ast.Field, population: Compiled | None) -> Typed:
        name = node.name
        if isinstance(self.scope, _Row):
            vtype = cat.ROW_COLUMNS[self.scope.source][name]
            if self.scope.source in ("paid", "orders") and name in _ORDER_DERIVED:
                self.derived.add(name)
            elif self.scope.source == "events" and name in cat.PRODUCT_ROW_COLUMNS:
                self.derived.add("products")
            elif self.scope.source == "items" and name in cat.CYCLE_ROW_COLUMNS:
                self.derived.add(name)
            elif self.scope.source == "items" and name in cat.ITEM_PRODUCT_COLUMNS:
                self.derived.add("products")
            elif self.scope.source == "items" and name in cat.ITEM_ORDER_COLUMNS:
                self.derived.add("order_columns")
            return Typed(lambda f: f.col(name), vtype)
        if name in cat.PREDICTION_FIELDS:
            self.needs.predictions = True
        else:
            self.needs.columns.add(name)
        return Typed(lambda f: f.col(name), cat.CUSTOMER_FIELDS[name])

    def value_Attr(self, node: ast.Attr, population: Compiled | None) -> Typed:
        types = self.attr_types()
        if node.name not in types:
            near = cat.suggest(node.name, types)
            hint = f" (did you mean attr.{near}?)" if near else ""
            msg = f"the customers table has no column {node.name!r}{hint}"
            raise self.fail(msg)
        name = node.name
        self.needs.columns.add(name)
        return Typed(lambda f: f.col(name), types[name])

    def attr_types(self) -> dict[str, cat.ValueType]:
        """Every column of the workspace's customers table and its value type."""
        if self._attr_types is None:
            schema = self.ws.table("customers").schema()
            self._attr_types = {n: _ibis_type(t) for n, t in schema.items()}
        return self._attr_types

    def value_Call(self, node: ast.Call, population: Compiled | None) -> Typed:
        if isinstance(self.scope, _Row):
            n = node.option("min_buyers")
            column = f"repurchase_top_percent_{n.value if isinstance(n, ast.Number) else 20}"
            self.derived.add(column)
            return Typed(lambda f: f.col(column), "number")
        fn = cat.FUNCTIONS[node.name]
        if fn.source in ("paid", "orders", "events", "items"):
            return self._measure(fn, node)
        if fn.source == "preference":
            return self._preference(fn, node)
        if fn.source == "population":
            return self._population(fn, node, population)
        return self._days_since(node, population)

    def _measure(self, fn: cat.Function, node: ast.Call) -> Typed:
        name = f"_kq_m_{_hash(value_text(node))}"
        if name not in self.needs.measures:
            where, derived = None, set()
            opt = node.option("where")
            if opt is not None:
                where, derived = self.row_filter(opt, fn.source)
            source: ft.Source = fn.source  # type: ignore[assignment]
            events = [a.value for a in node.args if isinstance(a, ast.String)]
            weights = None
            if fn.weights:
                weights = dict(cat.DEFAULT_INTENT_WEIGHTS)
                weights.update({k: float(v.value) for k, v in node.options
                                if k not in fn.options and isinstance(v, ast.Number)})
            if source == "items" and _MEASURES[fn.name] in ("item_spend", "price_position"):
                derived = {*derived, "products"}
            self.needs.measures[name] = ft.measure(
                source, _MEASURES[fn.name], self.as_of, window=self.window(node), where=where,
                events=events, weights=weights, derived=derived)
        return Typed(lambda f: f.col(name), fn.returns)

    def _preference(self, fn: cat.Function, node: ast.Call) -> Typed:
        by = node.option("by")
        basis = by.value if isinstance(by, ast.String) else "view_time"
        window = self.window(node)
        key = _hash(f"{basis} {window}")
        if key not in self._lookups:
            self._lookups[key] = ft.preference(basis, window, self.as_of)
        name = f"_kq_p_{fn.name}_{key}"
        self.needs.lookups[name] = (self._lookups[key], fn.name)
        return Typed(lambda f: f.col(name), fn.returns)

    def _population(self, fn: cat.Function, node: ast.Call,
                    population: Compiled | None) -> Typed:
        x = self.value(node.args[0], population)
        if x.type != "number":
            msg = f"{fn.name} ranks numbers: {value_text(node)!r}"
            raise self.fail(msg)
        q = node.args[1].value if fn.name == "quantile" else None  # type: ignore[union-attr]
        key = ("population", value_text(node), id(population))
        in_pop = population if population is not None else _everyone

        def build(f: Frame) -> ir.Value:
            if key not in f.memo:
                if fn.name == "top_percent":
                    rank = _ranks_beside if f.stored else _ranks_within
                    f.memo[key] = rank(f, x.build, in_pop)
                else:
                    quantile = _quantile_beside if f.stored else _quantile_within
                    f.memo[key] = quantile(f, x.build, in_pop, q)
            return f.memo[key]

        return Typed(build, "number")

    def _days_since(self, node: ast.Call, population: Compiled | None) -> Typed:
        t = self.value(node.args[0], population)
        if t.type not in ("time", "date"):
            msg = f"days_since takes a time: {value_text(node)!r}"
            raise self.fail(msg)
        as_of_epoch = as_of_literal(self.as_of).epoch_seconds()

        def build(f: Frame) -> ir.Value:
            v = t.build(f)
            v = v.cast("timestamp") if t.type == "date" else v
            return (as_of_epoch - v.epoch_seconds()) / ft.SECONDS_PER_DAY

        return Typed(build, "number")

    # -- windows and times ----------------------------------------------------------------------
    def instant(self, node: ast.RelDate | ast.Date, *, upper: bool = True) -> dt.datetime:
        """A relative or absolute date as a moment; a whole day is its end as an upper bound
        and its start as a lower bound."""
        if isinstance(node, ast.RelDate):
            return self.as_of - dt.timedelta(days=days_of(node))
        if "T" in node.value:
            return dt.datetime.fromisoformat(node.value)
        day = dt.date.fromisoformat(node.value)
        if upper:
            return dt.datetime.combine(day, dt.time.max)
        return dt.datetime.combine(day, dt.time.min) - dt.timedelta(microseconds=1)

    def window(self, call: ast.Call) -> ft.Window | None:
        """The window of a call's ``last:`` / ``from:`` / ``to:`` options (None: any time)."""
        last, start, end = call.option("last"), call.option("from"), call.option("to")
        if isinstance(last, ast.Duration):
            return ft.Window.last(self.as_of, days_of(last))
        if start is None and end is None:
            return None
        return ft.Window(
            self.instant(start, upper=False) if isinstance(start, (ast.RelDate, ast.Date))
            else None,
            self.instant(end) if isinstance(end, (ast.RelDate, ast.Date)) else None,
        )

    # -- type checks --------------------------------------------------------------------------
    def _comparable(self, left: Typed, right: Typed, node: Any,
                    op: str) -> tuple[Compiled, Compiled]:
        lt, rt = left.type, right.type
        if lt == rt:
            return left.build, right.build
        if {lt, rt} == {"time", "date"}:
            return _as_date(left), _as_date(right)
        hint = ""
        if "string" in (lt, rt) and {lt, rt} & {"time", "date"}:
            hint = "; write dates without quotes: 2024-03-01 or -30d"
        elif {lt, rt} == {"string", "number"}:
            hint = "; numbers are written without quotes"
        msg = f"{op} compares {lt} with {rt} in {_leaf_text(node)!r}{hint}"
        raise self.fail(msg)


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _fold(items: list[Compiled], f: Frame, op: Callable[[Any, Any], Any]) -> ir.Value:
    out = items[0](f)
    for item in items[1:]:
        out = op(out, item(f))
    return out


def _memo(key: Any, build: Compiled) -> Compiled:
    def cached(f: Frame) -> ir.Value:
        if key not in f.memo:
            f.memo[key] = build(f)
        return f.memo[key]

    return cached


def _everyone(f: Frame) -> ir.Value:
    return ibis.literal(True)


def _bound(f: Frame, x: Compiled, in_pop: Compiled) -> tuple[ir.Value, ir.Value]:
    """x and the population, both read from the frame's table as it is once they are built
    (building either may add a column), as one window must read a single table."""
    xv, pop = x(f), in_pop(f)
    bound_x, bound_pop = f.table.bind(xv, pop)
    return bound_x, bound_pop


def _ranks_beside(f: Frame, x: Compiled, in_pop: Compiled) -> ir.Value:
    """``top_percent``: each customer's rank among the known values of x in the population,
    as a percent of their number (ties share the best rank); NULL outside it or without x.

    Ranked once over the distinct values, beside the frame, and joined back on the value.
    """
    side = f.beside()
    sx, s_pop = x(side), in_pop(side)  # before reading side.table: they may add columns
    counts = (side.table.filter(s_pop & sx.notnull())
              .group_by(_kq_v=sx).aggregate(_kq_n=ibis._.count()))
    at_or_above = counts._kq_n.sum().over(
        ibis.window(order_by=ibis.desc(counts._kq_v), rows=(None, 0)))
    rank = at_or_above - counts._kq_n + 1
    size = counts._kq_n.sum().over(ibis.window())
    ranks = counts.select("_kq_v", _kq_pct=rank.cast("float64") / size.cast("float64") * 100)
    xv = x(f)
    value = (in_pop(f) & xv.notnull()).ifelse(ranks._kq_pct, ibis.null("float64"))
    return f.join(ranks, xv == ranks._kq_v, value)


def _ranks_within(f: Frame, x: Compiled, in_pop: Compiled) -> ir.Value:
    """``top_percent`` as windows over the frame (see :func:`_ranks_beside`)."""
    xv, pop = _bound(f, x, in_pop)
    group = [pop, xv.isnull()]
    rank = ibis.rank().over(ibis.window(group_by=group, order_by=ibis.desc(xv)))
    size = xv.count().over(ibis.window(group_by=group))
    pct = (rank + 1).cast("float64") / size.cast("float64") * 100
    return f.add((pop & xv.notnull()).ifelse(pct, ibis.null("float64")))


def _quantile_beside(f: Frame, x: Compiled, in_pop: Compiled, q: float | None) -> ir.Value:
    """The median (``q`` None) or ``q`` quantile of x over the population, for its members.

    One aggregate beside the frame, read as a scalar.
    """
    side = f.beside()
    sx, s_pop = x(side), in_pop(side)  # before reading side.table: they may add columns
    agg = sx.median() if q is None else sx.quantile(q)
    scalar = side.table.filter(s_pop).aggregate(_kq_q=agg).as_scalar()
    return f.add(in_pop(f).ifelse(scalar, ibis.null("float64")))


def _quantile_within(f: Frame, x: Compiled, in_pop: Compiled, q: float | None) -> ir.Value:
    """The median or ``q`` quantile as a window over the frame (see
    :func:`_quantile_beside`)."""
    xv, pop = _bound(f, x, in_pop)
    agg = xv.median() if q is None else xv.quantile(q)
    return f.add(pop.ifelse(agg.over(ibis.window(group_by=[pop])), ibis.null("float64")))


def _as_date(value: Typed) -> Compiled:
    if value.type == "date":
        return value.build
    return lambda f: value.build(f).date()


def _leaf_text(node: Any) -> str:
    try:
        return cond_text(node)
    except (TypeError, KeyError):
        return type(node).__name__


def _ibis_type(dtype: Any) -> cat.ValueType:
    if dtype.is_numeric():
        return "number"
    if dtype.is_timestamp():
        return "time"
    if dtype.is_date():
        return "date"
    if dtype.is_boolean():
        return "bool"
    return "string"
