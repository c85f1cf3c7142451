"""Incremental refresh of the feature table and the built-in groups' members.

A full rebuild reads every order and event again. After one more day of data, most customers'
features have not changed: only customers with a row in the new day (*touched*), and customers
with a row on a window's boundary (``as_of - N days`` moved by a day, so a row left the window)
can have a different value. :class:`FeatureStore` keeps the feature table of every built-in
group (and the standard columns) materialised at a watermark, and :meth:`FeatureStore.refresh`
recomputes each column only for the customers whose value can have changed, then evaluates
every group over the refreshed table in one pass.

Which customers can change is read from the feature expressions themselves, not from a list
kept by hand: each column is built at the old and at the new ``as_of``; the literals that differ
are the as_of-relative ones. A column whose as_of-relative literals only bound a row time
(``t > as_of - 30d``, ``t <= as_of``) is *stable*: its dirty customers are those with a row
time between the old and the new bound. Any other use of as_of (``as_of - last_paid_at``),
a shop-wide input that the new day changes (a product's repurchase cycle, a promotion day), or
a row column computed from as_of makes the column *volatile*: it is recomputed for everyone.
Refreshing is exact, and the tests compare it with a full rebuild.

The history up to the watermark must not change (rows are appended; an order may get paid).
A fingerprint of it is kept, and a changed history (a refund, a late-loaded file) makes the
refresh a full rebuild.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from kequn.storage import features as ft
from kequn.storage.engines import require
from kequn.workspace import Workspace

__all__ = [
    "ColumnPlan",
    "FeatureStore",
    "RefreshReport",
    "classify",
    "dirty_flags",
]

FEATURES_TABLE = "kq_inc_features"
MEMBERS_TABLE = "kq_inc_members"
STATE_TABLE = "kq_inc_state"

# Where each row time lives, so a boundary on it can be turned into customers.
ROW_TIMES: dict[str, tuple[tuple[str, str], ...]] = {
    "event_time": (("events", "event_time"),),
    "created_at": (("orders", "created_at"),),
    "paid_at": (("orders", "paid_at"),),
    "registered_at": (("customers", "registered_at"),),
}
# Row columns computed from as_of, or from other customers' rows (see features.item_rows and
# features.paid_order_rows): a column reading them cannot be refreshed customer by customer.
AS_OF_ROW_COLUMNS = frozenset({"days_since_paid"})
SHOP_WIDE_ROW_COLUMNS = frozenset({
    "product_buyers", "repurchase_rate", "repurchase_interval_days",
})
PROMOTION_DAY = "promotion_day"  # shop-wide, but only for the days the new rows fall on
CUSTOMER_KEYS = frozenset({"customer_id", "f_cid", "b_cid", "p_cid"})
PRODUCT_TABLES = frozenset({"products"})

Kind = Literal["stable", "volatile"]


# -- which customers can change -----------------------------------------------------------


@dataclass(frozen=True)
class ColumnPlan:
    """How one feature column refreshes: ``stable`` with the row-time ranges whose customers
    must be recomputed, or ``volatile`` (recomputed for every customer) and why."""

    kind: Kind
    ranges: tuple[tuple[str, dt.datetime, dt.datetime], ...] = ()
    reason: str = ""


def classify(before: ir.Expr, after: ir.Expr, *, relations: bool) -> ColumnPlan:
    """Compare a column's expression at the old and the new as_of.

    ``relations`` False looks only at the column's own arguments (the rows it reduces are
    handled by the caller); True walks the whole expression, tables included.
    """
    old, new = _walk(before.op(), relations), _walk(after.op(), relations)
    if [type(v.node) for v in old] != [type(v.node) for v in new]:
        return ColumnPlan("volatile", reason="its expression changes shape with as_of")
    ranges: list[tuple[str, dt.datetime, dt.datetime]] = []
    row_columns: set[str] = set()  # as_of-derived row columns, volatile only if read
    for a, b in zip(old, new, strict=True):
        node = a.node
        if isinstance(node, ops.Field) and not relations and node.name in AS_OF_ROW_COLUMNS:
            return ColumnPlan("volatile", reason=f"reads {node.name}, computed from as_of")
        if isinstance(node, ops.Field) and not relations and node.name in SHOP_WIDE_ROW_COLUMNS:
            return ColumnPlan("volatile", reason=f"reads {node.name}, computed from every buyer")
        if relations and (reason := _shop_wide(node)):
            return ColumnPlan("volatile", reason=reason)
        if not isinstance(node, ops.Literal) or not isinstance(b.node, ops.Literal) or \
                node == b.node:
            continue
        if not isinstance(node.value, dt.datetime) or not isinstance(b.node.value, dt.datetime):
            return ColumnPlan("volatile", reason=f"uses as_of as a value ({node.value!r})")
        bound = _row_time_bound(a.parent, node)
        if bound is not None:
            lo, hi = sorted((node.value, b.node.value))
            ranges.append((bound, lo, hi))
        elif relations and a.column in AS_OF_ROW_COLUMNS:
            row_columns.add(a.column)
        else:
            return ColumnPlan("volatile", reason="uses as_of in arithmetic")
    for v in old:
        if isinstance(v.node, ops.Field) and v.node.name in row_columns and not (
                isinstance(v.parent, _PASS_THROUGH) and v.key == v.node.name):
            return ColumnPlan("volatile", reason=f"reads {v.node.name}, computed from as_of")
    return ColumnPlan("stable", tuple(dict.fromkeys(ranges)))


_PASS_THROUGH = (ops.Project, ops.JoinChain)  # relations that carry columns on by name


@dataclass(frozen=True)
class _Visit:
    node: ops.Node
    parent: ops.Node | None
    key: str | None  # the name it is given in its parent (a projected column's name)
    column: str | None  # the projected column whose definition it is part of


def _walk(node: ops.Node, relations: bool) -> list[_Visit]:
    """Every node under ``node`` with its parent, depth first, in argument order."""
    out: list[_Visit] = []
    stack: list[tuple[Any, ops.Node | None, str | None, str | None]] = [(node, None, None, None)]
    seen: set[int] = set()
    while stack:
        item, parent, key, column = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend((x, parent, key, column) for x in reversed(item))
            continue
        if isinstance(item, dict):
            defines = isinstance(parent, _PASS_THROUGH)
            stack.extend((v, parent, str(k), str(k) if defines else column)
                         for k, v in reversed(list(item.items())))
            continue
        if not isinstance(item, ops.Node):
            continue
        out.append(_Visit(item, parent, key, column))
        if id(item) in seen:
            continue
        seen.add(id(item))
        if not relations and isinstance(item, ops.Relation | ops.Field):
            continue  # the rows relation is the caller's business
        stack.extend((x, item, None, None if isinstance(item, ops.Relation) else column)
                     for x in reversed(item.__args__))
    return out


def _row_time_bound(parent: ops.Node | None, literal: ops.Literal) -> str | None:
    """The row-time column a literal bounds (``t > lit``, ``t <= lit``), else None."""
    if not isinstance(parent, ops.Greater | ops.GreaterEqual | ops.Less | ops.LessEqual):
        return None
    other = parent.right if parent.left is literal else parent.left
    if isinstance(other, ops.Field) and other.name in ROW_TIMES:
        return other.name
    return None


def _shop_wide(node: ops.Node) -> str | None:
    """Why ``node`` mixes customers' rows (a reduction not per customer), or None."""
    if isinstance(node, ops.Aggregate):
        keys = set(node.groups)
        if not keys & CUSTOMER_KEYS and not _products_only(node.parent):
            return "aggregates over customers (e.g. a product's repurchase cycle)"
    elif isinstance(node, ops.WindowFunction):
        names = {g.name for g in node.group_by if isinstance(g, ops.Field)}
        if not names & CUSTOMER_KEYS and not _products_only(node):
            return "ranks rows across customers"
    elif isinstance(node, ops.InSubquery) and not _products_only(node.rel):
        return "looks values up in every customer's rows (e.g. promotion days)"
    return None


def _products_only(node: ops.Node) -> bool:
    tables = {t.name for t in node.find(ops.DatabaseTable)}
    return bool(tables) and all(any(p in name for p in PRODUCT_TABLES) for name in tables)


def dirty_flags(ws: Workspace, start: dt.datetime, end: dt.datetime,
                ranges: Sequence[tuple[str, dt.datetime, dt.datetime]] = ()) -> ir.Table:
    """Per customer with a row in ``(start, end]`` or in one of ``ranges``: ``touched`` (a
    row in the new data) and ``r0``, ``r1``, ... (a row time in that range, ends included).

    One scan per table finds every range at once.
    """
    def between(col: ir.TimestampValue, lo: dt.datetime, hi: dt.datetime,
                closed: bool) -> ir.BooleanValue:
        low = ibis.literal(lo, type="timestamp")
        return ((col >= low) if closed else (col > low)) & (
            col <= ibis.literal(hi, type="timestamp"))

    parts: list[ir.Table] = []
    for table_name in ("events", "orders", "customers"):
        t = ws.table(table_name)
        new = [between(t[column], start, end, False) for col in ROW_TIMES
               for tbl, column in ROW_TIMES[col] if tbl == table_name]
        flags: dict[str, ir.BooleanValue] = {"touched": _any(new)}
        for k, (col, lo, hi) in enumerate(ranges):
            hits = [between(t[column], lo, hi, True) for tbl, column in ROW_TIMES[col]
                    if tbl == table_name]
            flags[f"r{k}"] = _any(hits) if hits else ibis.literal(False)
        rows = t.select("customer_id", **flags)
        rows = rows.filter(_any([rows[f] for f in flags]))
        parts.append(rows)
    union = ibis.union(*parts)
    names = ["touched", *(f"r{k}" for k in range(len(ranges)))]
    return union.group_by("customer_id").aggregate(**{n: union[n].any() for n in names})


def _any(conds: Sequence[ir.BooleanValue]) -> ir.BooleanValue:
    if not conds:
        return ibis.literal(False)
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


# -- the store ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshReport:
    """What a build or refresh did."""

    as_of: dt.datetime
    previous_as_of: dt.datetime | None
    mode: Literal["full", "incremental"]
    seconds: float
    customers: int
    dirty: dict[str, int] = field(default_factory=dict)
    volatile: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class _Plan:
    """The feature table's columns at one as_of and the compiled groups over it."""

    as_of: dt.datetime
    measures: dict[str, ft.Reduction]
    lookups: dict[str, tuple[ft.Lookup, str]]
    groups: dict[str, tuple[Callable[[Any], ir.Value], bool]]


class FeatureStore:
    """The feature table and the members of every built-in group, kept at a watermark.

    Experimental: a refresh gives exactly a full rebuild's answer, but does not yet take less
    time than one (docs/scale.md says why and what would make it fast).

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> store = FeatureStore(ws)
    >>> store.build(dt.datetime(2024, 3, 1)).mode
    'full'
    >>> store.refresh(dt.datetime(2024, 3, 2)).mode
    'incremental'
    """

    def __init__(self, ws: Workspace, *, segments: Sequence[str] | None = None) -> None:
        from kequn.segments import builtin_segments

        self.ws = ws
        self.segments = list(segments) if segments is not None else list(builtin_segments())

    # -- reading ------------------------------------------------------------------------------
    def features(self) -> ir.Table:
        """The stored feature table (one row per customer)."""
        return self.ws.con.table(FEATURES_TABLE)

    def members(self, segment_id: str) -> ir.Table:
        """The stored members of a group: ``customer_id`` (and ``label`` for a family)."""
        m = self.ws.con.table(MEMBERS_TABLE)
        col = m[segment_id]
        if col.type().is_boolean():
            return m.filter(col).select("customer_id")
        return m.filter(col.notnull()).select("customer_id", label=col)

    def watermark(self) -> dt.datetime | None:
        """The as_of the stored tables are at (None before the first build)."""
        state = self._state()
        return dt.datetime.fromisoformat(state["as_of"]) if state else None

    # -- building -----------------------------------------------------------------------------
    def build(self, as_of: dt.datetime, *, reason: str = "") -> RefreshReport:
        """Compute everything from scratch at ``as_of``."""
        require(self.ws.engine_name, "incremental_refresh")
        started = time.perf_counter()
        previous = self.watermark()
        plan = self._plan(as_of)
        clock = _Clock()
        table = ft.customer_features(self.ws, as_of, measures=plan.measures,
                                     lookups=plan.lookups, standard=False, predictions=False)
        customers = self._store(plan, table, clock)
        return RefreshReport(as_of, previous, "full", time.perf_counter() - started, customers,
                             reason=reason, timings=clock.laps)

    def refresh(self, as_of: dt.datetime) -> RefreshReport:
        """Bring the stored tables to ``as_of``, recomputing only what can have changed."""
        require(self.ws.engine_name, "incremental_refresh")
        started = time.perf_counter()
        clock = _Clock()
        state = self._state()
        if not state:
            return self.build(as_of, reason="nothing stored yet")
        before = dt.datetime.fromisoformat(state["as_of"])
        if as_of < before:
            return self.build(as_of, reason="as_of is before the stored watermark")
        if state["segments"] != self.segments:
            return self.build(as_of, reason="the groups changed")
        if state["fingerprint"] != _fingerprint(self.ws, before, as_of):
            return self.build(as_of, reason="data up to the watermark changed")
        clock.lap("history check")

        old, new = self._plan(before), self._plan(as_of)
        if list(old.measures) != list(new.measures) or len(old.lookups) != len(new.lookups):
            return self.build(as_of, reason="the feature columns changed")
        volatile: dict[str, str] = {}
        fills = {n: r.fill for n, r in new.measures.items() if r.fill is not None}

        # 1. how each column refreshes (measures by (source, derived) pass, lookups as built)
        groups: dict[tuple[str, frozenset[str]], list[str]] = {}
        for name, red in new.measures.items():
            groups.setdefault((red.source, red.derived), []).append(name)
        passes: list[_Pass] = []
        for (source, derived), names in groups.items():
            rows0 = ft.source_rows(self.ws, before, source, derived)  # type: ignore[arg-type]
            rows1 = ft.source_rows(self.ws, as_of, source, derived)  # type: ignore[arg-type]
            stable, ranges = [], []
            for name in names:
                cp = classify(old.measures[name].build(rows0), new.measures[name].build(rows1),
                              relations=False)
                if cp.kind == "volatile":
                    volatile[name] = cp.reason
                    continue
                stable.append(name)
                ranges.extend(cp.ranges)
            if PROMOTION_DAY in derived:
                ranges.append(_whole_days("paid_at", before, as_of))
            moving = [n for n in names if n in volatile]
            label = f"{source}{'+' if derived else ''}{'+'.join(sorted(derived))}"
            rows_of = _rows_of(source, derived, as_of)
            if stable:
                passes.append(_Pass(label, _measures(rows_of, new.measures, stable),
                                    {n: n for n in stable}, tuple(ranges)))
            if moving:
                passes.append(_Pass(f"{label} (all)", _measures(rows_of, new.measures, moving),
                                    {n: n for n in moving}, None))
        old_names = dict(zip(new.lookups, old.lookups, strict=True))
        by_lookup: dict[int, tuple[ft.Lookup, ft.Lookup, dict[str, str]]] = {}
        for name1, (look1, col1) in new.lookups.items():
            look0, col0 = old.lookups[old_names[name1]]
            if col0 != col1:
                return self.build(as_of, reason="the feature columns changed")
            by_lookup.setdefault(id(look1), (look0, look1, {}))[2][name1] = col1
            if look1.fill is not None:
                fills[name1] = look1.fill
        for i, (look0, look1, cols) in enumerate(by_lookup.values()):
            cp = classify(look0.build(self.ws, before), look1.build(self.ws, as_of),
                          relations=True)
            if cp.kind == "volatile":
                volatile.update(dict.fromkeys(cols, cp.reason))
            passes.append(_Pass(f"lookup {i + 1} ({', '.join(cols)})", _lookup(look1, as_of),
                                cols, cp.ranges if cp.kind == "stable" else None))

        clock.lap("plan")

        # 2. who is dirty for which pass: one scan of each table for every range at once
        all_ranges = list(dict.fromkeys(r for p in passes if p.ranges for r in p.ranges))
        temps = _Temps(self.ws)
        flags = temps.keep(dirty_flags(self.ws, before, as_of, all_ranges))
        clock.lap("dirty customers")
        dirty: dict[str, int] = {}
        pieces: list[tuple[ir.Table, ir.Table | None, dict[str, str]]] = []
        for p in passes:
            if p.ranges is None:
                pieces.append((temps.keep(p.compute(self.ws)), None, p.columns))
                clock.lap(f"{p.label}, everyone")
                continue
            cond = flags.touched
            for r in p.ranges:
                cond = cond | flags[f"r{all_ranges.index(r)}"]
            who = temps.keep(flags.filter(cond).select("customer_id"))
            dirty[p.label] = int(who.count().execute())
            part = p.compute(_Narrowed(self.ws, who))
            # one row per dirty customer (values NULL where it has no rows), marked dirty
            marked = who.left_join(part, who.customer_id == part.customer_id).select(
                who.customer_id, _dirty=ibis.literal(True),
                **{c: part[c] for c in dict.fromkeys(p.columns.values())})
            pieces.append((temps.keep(marked), who, p.columns))
            clock.lap(f"{p.label}, {dirty[p.label]} dirty")

        # 3. assemble, in one flat join: the stored value unless the customer is dirty
        stored = self.features()
        base = temps.keep(ft.customer_rows(self.ws, as_of))
        names = [*new.measures, *new.lookups]
        prior = stored.select(_k_old=stored.customer_id, **{
            f"_old_{n}": stored[old_names.get(n, n)] for n in names})
        chain = base.left_join(prior, base.customer_id == prior._k_old)
        for i, (part, who, cols) in enumerate(pieces):
            marks = {f"_dirty{i}": part._dirty} if who is not None else {}
            fresh = part.select(**{f"_k{i}": part.customer_id}, **marks,
                                **{f"_new{i}_{n}": part[c] for n, c in cols.items()})
            chain = chain.left_join(fresh, base.customer_id == fresh[f"_k{i}"])
        columns: dict[str, ir.Value] = {}
        for i, (_, who, cols) in enumerate(pieces):
            for n in cols:
                value = chain[f"_new{i}_{n}"]
                if n in fills:
                    value = value.fill_null(fills[n])
                columns[n] = value if who is None else chain[f"_dirty{i}"].fill_null(
                    False).ifelse(value, chain[f"_old_{n}"])
        result = chain.select(*base.columns, **{n: columns[n] for n in names})
        customers = self._store(new, result, clock)
        temps.drop()
        return RefreshReport(as_of, before, "incremental", time.perf_counter() - started,
                             customers, dirty, volatile, timings=clock.laps)

    # -- internals ------------------------------------------------------------------------
    def _plan(self, as_of: dt.datetime) -> _Plan:
        from kequn.segments import Evaluator
        from kequn.segments.compiler import Needs

        ev = Evaluator(self.ws, as_of)
        needs = Needs()
        groups = {}
        for seg_id in self.segments:
            target = ev.target(seg_id)
            compiler, compiled = ev.compile(target)
            needs.merge(compiler.needs)
            groups[seg_id] = (compiled, target.is_family)
        measures = {**ft.standard_measures(as_of), **needs.measures}
        lookups = {**ft.standard_lookups(as_of), **needs.lookups}
        return _Plan(as_of, measures, lookups, groups)

    def _store(self, plan: _Plan, table: ir.Table, clock: _Clock) -> int:
        from kequn.segments.compiler import Frame

        con, raw = self.ws.con, self.ws.raw
        staged = f"{FEATURES_TABLE}_next"
        raw.execute(f'DROP TABLE IF EXISTS "{staged}"')  # constant names, never user text
        con.create_table(staged, table)
        clock.lap("feature table")
        features = con.table(staged)
        frame = Frame(features)
        values = {seg_id: compiled(frame) for seg_id, (compiled, _) in plan.groups.items()}
        members = frame.table.select("customer_id", **values)
        raw.execute(f'DROP TABLE IF EXISTS "{MEMBERS_TABLE}"')
        con.create_table(MEMBERS_TABLE, members)
        raw.execute(f'DROP TABLE IF EXISTS "{FEATURES_TABLE}"')
        raw.execute(f'ALTER TABLE "{staged}" RENAME TO "{FEATURES_TABLE}"')
        clock.lap("group members")
        state = {"as_of": plan.as_of.isoformat(), "segments": self.segments,
                 "fingerprint": _fingerprint(self.ws, plan.as_of)}
        raw.execute(f'CREATE TABLE IF NOT EXISTS "{STATE_TABLE}" (key VARCHAR, value VARCHAR)')
        raw.execute(f'DELETE FROM "{STATE_TABLE}"')
        raw.execute(f'INSERT INTO "{STATE_TABLE}" VALUES (?, ?)', ["state", json.dumps(state)])
        clock.lap("history fingerprint")
        return int(con.table(FEATURES_TABLE).count().execute())

    def _state(self) -> dict[str, Any] | None:
        if STATE_TABLE not in self.ws.con.list_tables():
            return None
        row = self.ws.raw.execute(f'SELECT value FROM "{STATE_TABLE}"').fetchone()
        return json.loads(row[0]) if row else None


@dataclass(frozen=True)
class _Pass:
    """One computation of some feature columns: for the dirty customers of ``ranges``
    (touched ones always), or for everyone when ``ranges`` is None."""

    label: str
    compute: Callable[[Any], ir.Table]
    columns: dict[str, str]
    ranges: tuple[tuple[str, dt.datetime, dt.datetime], ...] | None


def _rows_of(source: str, derived: frozenset[str],
             as_of: dt.datetime) -> Callable[[Any], ir.Table]:
    """The rows a measure pass reduces, on the whole workspace or a narrowed one."""
    def rows(ws: Any) -> ir.Table:
        if isinstance(ws, _Narrowed) and PROMOTION_DAY in derived:
            # promotion days come from every customer's orders: derive, then narrow
            full = ft.source_rows(ws.whole, as_of, source, derived)  # type: ignore[arg-type]
            return full.semi_join(ws.who, "customer_id")
        return ft.source_rows(ws, as_of, source, derived)  # type: ignore[arg-type]
    return rows


def _measures(rows_of: Callable[[Any], ir.Table], measures: dict[str, ft.Reduction],
              names: Sequence[str]) -> Callable[[Any], ir.Table]:
    def compute(ws: Any) -> ir.Table:
        rows = rows_of(ws)
        return rows.group_by("customer_id").aggregate(
            **{n: measures[n].build(rows) for n in names})
    return compute


def _lookup(look: ft.Lookup, as_of: dt.datetime) -> Callable[[Any], ir.Table]:
    return lambda ws: look.build(ws, as_of)


class _Temps:
    """Intermediate results computed once into temporary tables, dropped together."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.names: list[str] = []

    def keep(self, expr: ir.Table) -> ir.Table:
        name = f"_kq_inc_{len(self.names)}"  # generated, never user text
        self.ws.raw.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
        self.names.append(name)
        return self.ws.con.create_table(name, expr, temp=True)

    def drop(self) -> None:
        for name in self.names:
            self.ws.raw.execute(f'DROP TABLE IF EXISTS temp.main."{name}"')
        self.names.clear()


class _Clock:
    """Seconds spent in each phase, for the report."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.laps[phase] = round(now - self._last, 3)
        self._last = now


def _whole_days(column: str, start: dt.datetime,
                end: dt.datetime) -> tuple[str, dt.datetime, dt.datetime]:
    """The calendar days that ``(start, end]`` touches, as a row-time range."""
    return (column, dt.datetime.combine(start.date(), dt.time.min), end)


# DuckDB-only (the store lives in the embedded database); parameters, never user text.
_FINGERPRINT_SQL: dict[str, str] = {
    # An order paid in (as_of, until] is new data: it was open at as_of, whatever happened to
    # it since (paid, refunded). Any other change of status is a change of history.
    "orders": """
        SELECT count(*), bit_xor(hash(order_id, customer_id, created_at, amount, discount,
            channel, promotion, coupon_id,
            CASE WHEN paid_at <= $as_of THEN paid_at END,
            CASE WHEN status IS NULL OR status = 'created'
                      OR (paid_at > $as_of AND paid_at <= $until) THEN 'open'
                 ELSE status END))
        FROM orders WHERE created_at <= $as_of""",
    # the lines of orders placed by as_of: all lines, less (by XOR) the few of newer orders
    "order_items": """
        WITH newer AS (SELECT order_id FROM orders WHERE created_at > $as_of),
        lines AS (SELECT hash(order_id, product_id, quantity, unit_price) AS h,
                         order_id IN (SELECT order_id FROM newer) AS late FROM order_items)
        SELECT count(*) FILTER (WHERE NOT late),
               bit_xor(h) FILTER (WHERE NOT late) FROM lines""",
    "events": "SELECT count(*), max(event_time) FROM events WHERE event_time <= $as_of",
    "products": """SELECT count(*), bit_xor(hash(product_id, name, category, price, brand,
        launched_at, is_standard)) FROM products""",
}


def _fingerprint(ws: Workspace, as_of: dt.datetime,
                 until: dt.datetime | None = None) -> dict[str, Any]:
    """A summary of the data up to ``as_of`` that a changed history changes.

    Orders are hashed as they stood at ``as_of`` (a payment after it is new data, not a
    change); events are a log, so their count and latest time are enough; the lines of those
    orders, and the products, are hashed whole. Customers' attributes are read afresh at every
    refresh, so they need no fingerprint.
    """
    params = {"as_of": as_of, "until": until or as_of}
    out: dict[str, Any] = {}
    for name, query in _FINGERPRINT_SQL.items():
        used = {k: v for k, v in params.items() if f"${k}" in query}
        row = ws.raw.execute(query, used).fetchone()
        out[name] = [str(v) for v in row] if row else None
    return out


_CUSTOMER_TABLES = ("customers", "orders", "events")


class _Narrowed:
    """A workspace whose customer-keyed tables hold only some customers' rows.

    Only for columns :func:`classify` found per-customer, where every value depends on the
    customer's own rows alone, so computing them on fewer customers changes nothing else.
    """

    def __init__(self, ws: Workspace, who: ir.Table) -> None:
        self.whole = ws
        self.who = who

    def table(self, name: str) -> ir.Table:
        t = self.whole.table(name)
        return t.semi_join(self.who, "customer_id") if name in _CUSTOMER_TABLES else t

    def __getattr__(self, name: str) -> Any:
        return getattr(self.whole, name)
