"""The per-customer feature table: attributes, R/F/M, windowed event counts, intent score,
preferences and (when ``kequn predict`` has run) predictions, all at one ``as_of``.

One aggregation per source of rows (paid orders, placed orders, events, order items) computes
every measure asked for, each with its own window and filter as a filtered aggregate, so a
hundred segments still read the orders once and the events once. Segments ask for extra
measures with :func:`measure`; :func:`customer_features` joins them onto the customers.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir

from kequn.schema.conventions import (
    UNPAID_STATUSES,
    as_of_literal,
    not_after,
    paid_orders,
)
from kequn.storage.engines import on_engine
from kequn.storage.run import create_table, drop_table
from kequn.workspace import Workspace

Source = Literal["paid", "orders", "events", "items"]
Measure = Literal[
    "count", "spend", "aov", "first", "last", "recency_days", "mean_gap_days",
    "promotion_periods", "unpaid", "active_days", "duration", "intent_score", "quantity",
    "item_spend", "distinct_products", "price_position",
]
RowFilter = Callable[[ir.Table], ir.BooleanValue]

PREDICTIONS_TABLE = "kq_predictions"
PREDICTION_COLUMNS: tuple[str, ...] = (
    "p_alive", "expected_orders", "horizon_days", "expected_spend", "clv", "next_purchase_at",
    "churn_risk",
)
SECONDS_PER_DAY = 86_400

# Shopping festivals and public holidays on fixed dates (MM-DD), and the Spring Festival
# (除夕 to 初六) by year: what "holiday" means for an order until a shop calendar exists.
FIXED_HOLIDAYS: tuple[str, ...] = (
    "01-01", "02-14", "03-08", "05-01", "05-02", "05-03", "05-04", "05-05", "05-20", "06-18",
    "10-01", "10-02", "10-03", "10-04", "10-05", "10-06", "10-07", "11-11", "12-12", "12-24",
    "12-25",
)
SPRING_FESTIVAL: dict[int, dt.date] = {
    2015: dt.date(2015, 2, 19), 2016: dt.date(2016, 2, 8), 2017: dt.date(2017, 1, 28),
    2018: dt.date(2018, 2, 16), 2019: dt.date(2019, 2, 5), 2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12), 2022: dt.date(2022, 2, 1), 2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29), 2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26), 2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
}


_FIXED_HOLIDAY_NUMBERS: list[int] = [int(md.replace("-", "")) for md in FIXED_HOLIDAYS]  # 1111


def holiday_dates() -> list[dt.date]:
    """Every Spring Festival holiday day (除夕 through 初六) of the years known."""
    return [d + dt.timedelta(days=k) for d in SPRING_FESTIVAL.values() for k in range(-1, 7)]


# -- the tables one piece of work reads ---------------------------------------------------------


class Scope:
    """The shop tables for one piece of feature work, each looked up once, and row sets that
    several measures share (the paid order lines), computed once and kept while
    :meth:`keeping` is on.

    Building the features of every built-in group joins the paid orders to their lines for
    the item measures, the repurchase cycles, two sequences and a category preference: kept,
    the join runs once instead of six times. Kept row sets are temp tables on the engine that
    computes them, dropped when the block ends.
    """

    def __init__(self, ws: Workspace | Scope) -> None:
        self.ws = ws.ws if isinstance(ws, Scope) else ws
        self._tables: dict[str, ir.Table] = {}
        self._kept: dict[Any, ir.Table] | None = None
        self._dropped: list[Callable[[], None]] = []
        self._depth = 0  # nested keeping blocks; the outermost one releases

    def table(self, name: str) -> ir.Table:
        """The shop table ``name`` (its schema is asked for once)."""
        if name not in self._tables:
            self._tables[name] = self.ws.table(name)
        return self._tables[name]

    def shared(self, key: Any, build: Callable[[], ir.Table]) -> ir.Table:
        """``build()``, computed once and kept while :meth:`keeping` is on."""
        if self._kept is None:
            return build()
        if key not in self._kept:
            self._kept[key] = self._materialize(build())
        return self._kept[key]

    @property
    def keeps(self) -> bool:
        """Whether shared row sets are being kept (inside :meth:`keeping`)."""
        return self._kept is not None

    def keeping(self) -> _Keeping:
        """A block in which shared row sets are kept (``with scope.keeping(): ...``)."""
        return _Keeping(self)

    def paid_lines(self, as_of: dt.datetime, order_columns: bool) -> ir.Table:
        """The paid order lines at ``as_of``, kept; from the lines kept for a later moment
        when there are some (paid at ``as_of`` is paid then, and paid by ``as_of``), so two
        dates' features (a report's this week and last) join the lines once."""
        later = [key for key in self._kept or () if key[:1] == ("lines",)
                 and key[2] == order_columns and key[1] >= as_of]
        if later:
            rows = self._kept[min(later)]  # type: ignore[index]
            return rows if min(later)[1] == as_of else rows.filter(
                not_after(rows.paid_at, as_of))
        return self.shared(("lines", as_of, order_columns),
                           lambda: paid_lines(self, as_of, order_columns=order_columns))

    def provide(self, key: Any, table: ir.Table) -> None:
        """Use ``table``, kept by the caller, as the row set ``key`` while :meth:`keeping` is
        on (an incremental refresh keeps the paid lines and product cycles itself)."""
        if self._kept is None:
            msg = "provide() works inside scope.keeping()"
            raise RuntimeError(msg)
        self._kept[key] = table

    def _materialize(self, expr: ir.Table) -> ir.Table:
        name = f"_kq_rows_{uuid.uuid4().hex[:12]}"  # generated, never user text
        table = create_table(expr, name, temp=True)
        self._dropped.append(lambda: drop_table(table))
        return table

    def release(self) -> None:
        """Drop the kept row sets."""
        self._kept = None
        while self._dropped:
            self._dropped.pop()()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ws, name)


class _Keeping:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __enter__(self) -> Scope:
        if self.scope._kept is None:
            self.scope._kept = {}
        self.scope._depth += 1
        return self.scope

    def __exit__(self, *exc: object) -> None:
        self.scope._depth -= 1
        if self.scope._depth == 0:
            self.scope.release()


def _shared(ws: Workspace | Scope, key: Any, build: Callable[[], ir.Table]) -> ir.Table:
    return ws.shared(key, build) if isinstance(ws, Scope) else build()


# -- windows and measures -----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """``start < t <= end`` (either side open when None); SPEC §1's "in the last N days"."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @classmethod
    def last(cls, as_of: dt.datetime, days: float) -> Window:
        """The last ``days`` days before ``as_of``."""
        return cls(as_of - dt.timedelta(days=days), None)

    def holds(self, t: ir.TimestampValue) -> ir.BooleanValue | None:
        """The window as a predicate on ``t``, or None for "any time"."""
        parts = []
        if self.start is not None:
            parts.append(t > ibis.literal(self.start, type="timestamp"))
        if self.end is not None:
            parts.append(t <= ibis.literal(self.end, type="timestamp"))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else parts[0] & parts[1]


Merge = Literal["sum", "min", "max"]


@dataclass(frozen=True)
class Part:
    """One aggregate a measure is finished from, and how two of its values combine: sums add
    (and subtract, for rows leaving a window), mins and maxes compare."""

    merge: Merge
    build: Callable[[ir.Table], ir.Value]


@dataclass(frozen=True)
class Reduction:
    """One per-customer aggregate over the rows of a source, and its value when there are none.

    A measure that can be merged (a count, a sum, a first or last time, and what is worked
    out from those: an average order value, a recency, a mean gap) says so with ``parts``
    and ``finish``: ``build(rows)`` is ``finish`` of the parts aggregated over ``rows``, and
    an incremental refresh merges the parts of new rows into stored ones instead of reading
    history again (:mod:`kequn.storage.incremental`). Distinct counts and means have no
    parts; a distinct count says instead what it counts (``key``) and which rows count apart
    from its window (``keyed``), so a refresh can keep each value's latest time.
    """

    source: Source
    build: Callable[[ir.Table], ir.Value]
    fill: Any = None
    derived: frozenset[str] = frozenset()  # derived row columns the rows must carry
    since: dt.datetime | None = None  # no row at or before this time counts (its window)
    counts: Callable[[ir.Table], ir.BooleanValue | None] | None = None  # which rows count
    parts: Mapping[str, Part] | None = None
    finish: Callable[[Mapping[str, ir.Value]], ir.Value] | None = None
    # a distinct count: the value it counts (a day, a promotion month) and which rows count,
    # its window left out; an incremental refresh keeps each value's latest time instead
    key: Callable[[ir.Table], ir.Value] | None = None
    keyed: Callable[[ir.Table], ir.BooleanValue | None] | None = None


@dataclass(frozen=True)
class Lookup:
    """A per-customer table (``customer_id`` plus one ``value`` column) computed on its own."""

    build: Callable[[Workspace, dt.datetime], ir.Table]
    fill: Any = None


# The time column of each source's rows (what a window bounds).
TIME_OF: dict[Source, str] = {"paid": "paid_at", "orders": "created_at", "events": "event_time",
                            "items": "paid_at"}


def measure(source: Source, kind: Measure, as_of: dt.datetime, *, window: Window | None = None,
            where: RowFilter | None = None, events: Sequence[str] = (),
            weights: Mapping[str, float] | None = None,
            derived: Collection[str] = ()) -> Reduction:
    """A reduction over ``source`` rows inside ``window`` that pass ``where``.

    Counts and sums are 0 for a customer without such rows; times, averages and gaps are
    empty (NULL).
    """
    time_col = TIME_OF[source]
    as_of_epoch = as_of_literal(as_of).epoch_seconds()

    def in_window(rows: ir.Table) -> ir.BooleanValue | None:
        return None if window is None else window.holds(rows[time_col])

    def condition(rows: ir.Table) -> ir.BooleanValue | None:
        return _all(in_window(rows), unwindowed(rows))

    def unwindowed(rows: ir.Table) -> ir.BooleanValue | None:
        return _all(None if where is None else where(rows),
                    rows.event.isin(list(events)) if events else None,
                    unpaid(rows, as_of) if kind == "unpaid" else None)

    def sums(value: Callable[[ir.Table], ir.NumericValue]) -> Part:
        return Part("sum", lambda rows: value(rows).sum(where=condition(rows)))

    def cents(value: Callable[[ir.Table], ir.NumericValue]) -> Part:
        return sums(lambda rows: _units(value(rows), 100))

    def micro(value: Callable[[ir.Table], ir.NumericValue]) -> Part:
        return sums(lambda rows: _units(value(rows), MICRO))

    count = Part("sum", lambda rows: rows.count(where=condition(rows)))
    first = Part("min", lambda rows: rows[time_col].min(where=condition(rows)))
    last = Part("max", lambda rows: rows[time_col].max(where=condition(rows)))

    def weight(rows: ir.Table) -> ir.FloatingValue:
        return ibis.cases(*((rows.event == name, ibis.literal(float(w), type="float64"))
                            for name, w in dict(weights or {}).items()),
                          else_=ibis.literal(0.0, type="float64"))

    # Sums are kept in whole cents (money) or millionths (seconds, intent weights): a sum of
    # doubles depends on the order the engine adds them in (500.0 or 500.00000000000006; ten
    # views at 0.1 make 0.9999999999999999), which must not decide ``spend > 500``, a rank tie
    # or whether a refreshed sum equals a rebuilt one.
    mergeable: dict[str, tuple[dict[str, Part], Callable[[Mapping[str, ir.Value]], ir.Value]]]
    mergeable = {
        "count": ({"n": count}, lambda p: p["n"]),
        "unpaid": ({"n": count}, lambda p: p["n"]),
        "spend": ({"cents": cents(lambda r: r.amount)}, lambda p: p["cents"] / 100),
        "aov": ({"cents": cents(lambda r: r.amount), "n": count},
                lambda p: p["cents"] / 100 / p["n"].nullif(0)),
        "first": ({"t": first}, lambda p: p["t"]),
        "last": ({"t": last}, lambda p: p["t"]),
        "recency_days": ({"t": last}, lambda p: (as_of_epoch - p["t"].epoch_seconds())
                         / SECONDS_PER_DAY),
        "mean_gap_days": ({"lo": first, "hi": last, "n": count},
                          lambda p: (p["hi"].epoch_seconds() - p["lo"].epoch_seconds())
                          / SECONDS_PER_DAY / (p["n"] - 1).nullif(0)),
        "duration": ({"micro": micro(lambda r: r.duration_s)}, lambda p: p["micro"] / MICRO),
        "intent_score": ({"micro": micro(weight)}, lambda p: p["micro"] / MICRO),
        "quantity": ({"q": sums(lambda r: r.quantity)}, lambda p: p["q"]),
        "item_spend": ({"cents": cents(lambda r: r.line_amount)}, lambda p: p["cents"] / 100),
        # a mean of positions kept in billionths: thresholds (0.67) must not flicker
        "price_position": ({"nano": sums(lambda r: _units(r.price_position, NANO)),
                            "n": sums(lambda r: r.price_position.notnull().cast("int64"))},
                           lambda p: (p["nano"] / NANO / p["n"].nullif(0)).round(9)),
    }

    def key(rows: ir.Table) -> ir.Value:
        t = rows[time_col]
        if kind == "promotion_periods":
            # (promotion, month) as a pair, not text: no string made per order
            return ibis.struct({"promotion": rows.promotion, "month": t.year() * 100 + t.month()})
        if kind == "active_days":
            return t.date()
        if kind == "distinct_products":
            return rows.product_id
        msg = f"unknown measure {kind!r}"
        raise ValueError(msg)

    def keyed(rows: ir.Table) -> ir.BooleanValue | None:
        promoted = rows.promotion.notnull() if kind == "promotion_periods" else None
        return _all(unwindowed(rows), promoted)

    def build(rows: ir.Table) -> ir.Value:
        if kind in mergeable:
            parts, finish = mergeable[kind]
            return finish({name: part.build(rows) for name, part in parts.items()})
        return key(rows).nunique(where=_all(in_window(rows), keyed(rows)))

    fill = 0 if kind in ("count", "unpaid", "spend", "promotion_periods", "active_days",
                         "duration", "intent_score", "quantity", "item_spend",
                         "distinct_products") else None
    since = window.start if window is not None else None
    parts, finish = mergeable.get(kind, (None, None))
    distinct = kind in ("promotion_periods", "active_days", "distinct_products")
    return Reduction(source, build, fill, frozenset(derived), since, condition, parts, finish,
                     key if distinct else None, keyed if distinct else None)


def _all(*conditions: ir.BooleanValue | None) -> ir.BooleanValue | None:
    """The conditions given (not None) ANDed in order; None when there are none."""
    out = None
    for cond in conditions:
        if cond is not None:
            out = cond if out is None else out & cond
    return out


MICRO = 1_000_000
NANO = 1_000_000_000


def _units(value: ir.NumericValue, per: int) -> ir.IntegerValue:
    """``value`` in whole units of 1/``per`` (cents for 100): integers add up exactly, in any
    order, and a stored sum plus a day's sum is the sum of both."""
    return (value * per).round().cast("int64")


def unpaid(orders: ir.Table, as_of: dt.datetime) -> ir.BooleanValue:
    """Placed and still waiting for payment at ``as_of``: paid after it (whatever became of
    it since: a refund later does not undo that it was waiting then), or never paid and not
    cancelled or refunded."""
    paid_later = (orders.paid_at > as_of_literal(as_of)).fill_null(False)
    open_status = orders.status.isnull() | ~orders.status.isin(UNPAID_STATUSES)
    return paid_later | (orders.paid_at.isnull() & open_status)


# -- rows of each source --------------------------------------------------------------------


def customer_rows(ws: Workspace, as_of: dt.datetime,
                  columns: Collection[str] | None = None) -> ir.Table:
    """Customers known at ``as_of`` (registered by then, or registration unknown).

    ``columns`` keeps only those columns (and ``customer_id``); ``age`` in full years at
    ``as_of`` is computed from ``birthday`` when kept. None keeps every column and ``age``.
    """
    c = ws.table("customers")
    c = c.filter(c.registered_at.isnull() | not_after(c.registered_at, as_of))
    wanted = None if columns is None else set(columns)
    extra = {}
    if wanted is None or "age" in wanted:
        extra["age"] = age_at(c.birthday, as_of)
    if wanted is not None:
        keep = ["customer_id", *(n for n in c.columns if n in wanted and n != "customer_id")]
        return c.select(*keep, **extra)
    return c.mutate(**extra)


def age_at(birthday: ir.DateValue, as_of: dt.datetime) -> ir.IntegerValue:
    """Age in full years at ``as_of`` of someone born on ``birthday``."""
    b = birthday
    late = (b.month() > as_of.month) | ((b.month() == as_of.month) & (b.day() > as_of.day))
    return (as_of.year - b.year()) - late.ifelse(1, 0)


def paid_order_rows(ws: Workspace, as_of: dt.datetime,
                    derived: Collection[str] = ()) -> ir.Table:
    """Paid orders at ``as_of`` (SPEC §1), with the derived columns asked for.

    ``discount_rate`` is discount / (amount + discount); ``holiday`` is paid on a holiday of
    :data:`FIXED_HOLIDAYS` or the Spring Festival; ``promotion_day`` is paid on a day when any
    paid order of the shop carried a promotion.
    """
    rows = paid_orders(ws.table("orders"), as_of)
    return _order_derived(rows, derived, as_of, ws)


def order_rows(ws: Workspace, as_of: dt.datetime, derived: Collection[str] = ()) -> ir.Table:
    """Orders placed by ``as_of`` whatever their state (their time is ``created_at``)."""
    o = ws.table("orders")
    return _order_derived(o.filter(not_after(o.created_at, as_of)), derived, as_of, ws)


def _order_derived(rows: ir.Table, derived: Collection[str], as_of: dt.datetime,
                   ws: Workspace) -> ir.Table:
    extra: dict[str, ir.Value] = {}
    if "discount_rate" in derived:
        extra["discount_rate"] = rows.discount / (rows.amount + rows.discount).nullif(0)
    if "holiday" in derived or "promotion_day" in derived:
        day = rows.paid_at.date()
        if "holiday" in derived:
            month_day = rows.paid_at.month() * 100 + rows.paid_at.day()  # no text per row
            extra["holiday"] = (month_day.isin(_FIXED_HOLIDAY_NUMBERS)
                                | day.isin(holiday_dates())).fill_null(False)
        if "promotion_day" in derived:
            paid = paid_orders(ws.table("orders"), as_of)
            promo_days = paid.filter(paid.promotion.notnull()).select(d=paid.paid_at.date())
            extra["promotion_day"] = day.isin(promo_days.d).fill_null(False)
    return rows.mutate(**extra) if extra else rows


def event_rows(ws: Workspace, as_of: dt.datetime, *, products: bool = False) -> ir.Table:
    """Events up to ``as_of``; with ``products``, the product's columns joined on."""
    e = ws.table("events")
    e = e.filter(not_after(e.event_time, as_of))
    if not products:
        return e
    return _with_products(e, ws)


def _with_products(rows: ir.Table, ws: Workspace) -> ir.Table:
    p = ws.table("products")
    p = p.select("product_id", "category", "brand", "price", "is_standard", "launched_at",
                 product_name=p.name, price_position=price_positions(p))
    joined = rows.left_join(p, rows.product_id == p.product_id)
    return joined.drop("product_id_right")


def price_positions(products: ir.Table) -> ir.FloatingValue:
    """Each product's price position in its category, 0 (cheapest) to 1 (dearest).

    A category with one priced product puts it in the middle (0.5); no price, no position.
    """
    priced = products.price.notnull()
    group = [products.category, priced]
    w = ibis.window(group_by=group, order_by=products.price)
    n = products.count().over(ibis.window(group_by=group))
    rank = ibis.rank().over(w).cast("float64")
    pos = ibis.cases((n > 1, rank / (n - 1).cast("float64")), else_=ibis.literal(0.5))
    return priced.ifelse(pos, ibis.null("float64"))


def item_rows(ws: Workspace | Scope, as_of: dt.datetime, *, cycles: ir.Table | None = None,
              repurchase_ranks: Collection[int] = (), products: bool = True,
              order_columns: bool = False, lines: ir.Table | None = None) -> ir.Table:
    """Lines of paid orders at ``as_of``, with the product's columns unless ``products`` is off.

    ``quantity`` defaults to 1; ``days_since_paid`` is in days. With the products,
    ``line_amount`` (the line's price defaulting to the product's) and ``days_since_launch``
    too; with ``order_columns``, the order's ``channel``, ``promotion`` and ``coupon_id``.
    With ``cycles`` (one row per product: buyers, repurchase_rate, median_interval_days)
    each line also carries the product's repurchase figures, and ``repurchase_top_percent_N``
    ranks the product by repurchase rate among products with at least N buyers (1 = highest).
    In a :class:`Scope` that keeps row sets, the lines are computed once. ``lines`` stand in
    for the paid lines (:func:`last_purchases`: no quantity or price, so no ``line_amount``).
    """
    if lines is not None:
        rows = lines
    elif isinstance(ws, Scope) and ws.keeps:
        # Kept narrow: joining the products (a small table) again, and working out
        # days_since_paid, costs less than storing those columns on every line.
        rows = ws.paid_lines(as_of, order_columns)
    else:
        rows = paid_lines(ws, as_of, order_columns=order_columns)
    as_of_epoch = as_of_literal(as_of).epoch_seconds()
    rows = rows.mutate(days_since_paid=(as_of_epoch - rows.paid_at.epoch_seconds())
                       / SECONDS_PER_DAY)
    rows = _product_columns(rows, ws) if products else rows
    if cycles is None:
        return rows
    cy = cycles.select(
        "product_id",
        product_buyers=cycles.buyers.cast("float64"),
        repurchase_rate=cycles.repurchase_rate.cast("float64"),
        repurchase_interval_days=cycles.median_interval_days.cast("float64"),
    )
    ranks = {}
    for n in sorted(set(repurchase_ranks)):
        eligible = cy.product_buyers >= n
        group = [eligible, cy.repurchase_rate.isnull()]
        rank = ibis.rank().over(ibis.window(group_by=group,
                                            order_by=ibis.desc(cy.repurchase_rate)))
        size = cy.count().over(ibis.window(group_by=group))
        pct = (rank + 1).cast("float64") / size.cast("float64") * 100
        ranks[f"repurchase_top_percent_{n}"] = (eligible & cy.repurchase_rate.notnull()).ifelse(
            pct, ibis.null("float64"))
    cy = cy.mutate(**ranks) if ranks else cy
    return rows.left_join(cy, rows.product_id == cy.product_id).drop("product_id_right")


ITEM_ORDER_COLUMNS: tuple[str, ...] = ("channel", "promotion", "coupon_id")
"""The order's columns an item row carries when asked for (derived marker ``order_columns``)."""


def paid_lines(ws: Workspace | Scope, as_of: dt.datetime, *,
               order_columns: bool = False) -> ir.Table:
    """Paid order lines: ``order_id, customer_id, paid_at, product_id, quantity, unit_price``
    (and the order's channel, promotion and coupon when asked for)."""
    paid = paid_orders(ws.table("orders"), as_of).select(
        "order_id", "customer_id", "paid_at",
        *(ITEM_ORDER_COLUMNS if order_columns else ()))
    items = ws.table("order_items")
    rows = paid.join(items, paid.order_id == items.order_id)  # inner: keys collapse
    return rows.mutate(quantity=rows.quantity.fill_null(1))


def _product_columns(rows: ir.Table, ws: Workspace | Scope) -> ir.Table:
    rows = _with_products(rows, ws)
    launch = {"days_since_launch": (rows.paid_at.epoch_seconds()
                                    - rows.launched_at.epoch_seconds()) / SECONDS_PER_DAY}
    if "quantity" not in rows.columns:  # a buyer's last purchase, not a line
        return rows.mutate(**launch)
    return rows.mutate(line_amount=rows.quantity * rows.unit_price.fill_null(rows.price),
                       **launch)


LINE_COLUMNS = frozenset({"order_id", "quantity", "unit_price", "line_amount",
                          *ITEM_ORDER_COLUMNS})
"""An item row's columns that belong to its line, not to its product and time."""


def product_buyers(ws: Workspace | Scope, as_of: dt.datetime) -> ir.Table:
    """``product_id, customer_id, orders, first, last``: each buyer's paid orders of each
    product at ``as_of`` (:func:`kequn.clv.repurchase.pair_summary` of the paid lines; kept
    by an incremental refresh, computed once in a keeping :class:`Scope`)."""
    from kequn.clv.repurchase import pair_summary

    return _shared(ws, ("product buyers", as_of),
                   lambda: pair_summary(item_rows(ws, as_of, products=False)))


def last_purchases(ws: Workspace | Scope, as_of: dt.datetime) -> ir.Table:
    """``customer_id, product_id, paid_at``: each buyer's last paid order of each product."""
    pairs = product_buyers(ws, as_of)
    return pairs.select("customer_id", "product_id", paid_at=pairs["last"])


# -- preferences and predictions ------------------------------------------------------------


PreferenceBasis = Literal["view_time", "views", "purchases", "spend"]


def category_preference(ws: Workspace, as_of: dt.datetime, *, by: PreferenceBasis,
                        window: Window | None = None) -> ir.Table:
    """Each customer's top category and its share (0–1) of views, view time or purchases.

    Rows without a category are left out; a tie goes to the category name first in order.
    """
    rows = preference_rows(ws, as_of, by)
    if window is not None and (w := window.holds(rows.t)) is not None:
        rows = rows.filter(w)
    return top_category(category_sums(rows))


def preference_rows(ws: Workspace, as_of: dt.datetime, by: PreferenceBasis) -> ir.Table:
    """``customer_id, category, t, weight``: the views or order lines a preference weighs, up
    to ``as_of``, with a category."""
    if by in ("views", "view_time"):
        rows = event_rows(ws, as_of, products=True)
        rows = rows.filter(rows.event == "view")
        t, weight = rows.event_time, rows.duration_s if by == "view_time" else ibis.literal(1.0)
    else:
        rows = item_rows(ws, as_of)
        t, weight = rows.paid_at, rows.quantity if by == "purchases" else rows.line_amount
    rows = rows.filter(rows.category.notnull())
    return rows.select("customer_id", "category", t=t, weight=weight.cast("float64"))


def units_of(weight: ir.NumericValue) -> ir.IntegerValue:
    """A preference weight in the millionths :func:`category_sums` adds up."""
    return _units(weight, MICRO)


def category_sums(rows: ir.Table) -> ir.Table:
    """``customer_id, category, units, n``: each customer's weight per category in millionths
    (integers add up exactly in any order, and two sums make the sum of both) and rows."""
    return rows.group_by(["customer_id", "category"]).aggregate(
        units=units_of(rows.weight).sum().fill_null(0), n=rows.count())


def top_category(sums: ir.Table) -> ir.Table:
    """``customer_id, top_category, top_category_share`` from :func:`category_sums`: exactly
    40% is 0.4, whatever order the engine adds the seconds in."""
    total = sums.units.sum().over(ibis.window(group_by=sums.customer_id))
    order = ibis.window(group_by=sums.customer_id, order_by=[ibis.desc(sums.units), sums.category])
    ranked = sums.mutate(_n=ibis.row_number().over(order), _total=total)
    top = ranked.filter(ranked._n == 0)
    share = (top.units.cast("float64") / top._total.nullif(0).cast("float64")).round(9)
    return top.select("customer_id", top_category=top.category, top_category_share=share)


@dataclass(frozen=True)
class Preference(Lookup):
    """A category preference over the last ``days`` days (None: all time): a lookup whose
    per-category sums an incremental refresh keeps and merges."""

    by: PreferenceBasis = "view_time"
    days: float | None = None


def preference(by: PreferenceBasis, window: Window | None, as_of: dt.datetime) -> Preference:
    """The :class:`Preference` lookup of ``category_preference(by=by, window=window)``."""
    days = None if window is None or window.start is None else (
        (as_of - window.start).total_seconds() / SECONDS_PER_DAY)
    return Preference(lambda ws, a: category_preference(ws, a, by=by, window=window),
                      by=by, days=days)


def has_predictions(ws: Workspace) -> bool:
    """Whether the workspace has a ``kq_predictions`` table (written by ``kequn predict``)."""
    return PREDICTIONS_TABLE in ws.con.list_tables()


def latest_predictions(ws: Workspace, as_of: dt.datetime) -> ir.Table | None:
    """Per customer, the newest prediction made at or before ``as_of`` (None if none exist).

    A prediction made after ``as_of`` would leak the future, so it is never used. Between
    models predicting at the same time the first model name wins.
    """
    if not has_predictions(ws):
        return None
    p = ws.con.table(PREDICTIONS_TABLE)
    made = p.as_of.cast("timestamp")
    p = p.filter(made <= as_of_literal(as_of)).mutate(_made=made)
    order = ibis.window(group_by=p.customer_id, order_by=[ibis.desc(p._made), p.model])
    p = p.mutate(_n=ibis.row_number().over(order))
    p = p.filter(p._n == 0)
    # The newest per customer is picked in the state database; one row per customer moves
    # to the engine (nothing moves on DuckDB).
    return on_engine(ws, p.select("customer_id", *PREDICTION_COLUMNS,
                                  prediction_as_of=p._made, prediction_model=p.model))


# -- the table --------------------------------------------------------------------------------


def standard_measures(as_of: dt.datetime) -> dict[str, Reduction]:
    """The feature table's standard columns: R/F/M, windows, activity and intent (SPEC §2–3)."""
    from kequn.segments.catalog import DEFAULT_INTENT_WEIGHTS  # data only, no cycle

    year, two_years = Window.last(as_of, 365), Window.last(as_of, 720)
    month, fortnight = Window.last(as_of, 30), Window.last(as_of, 14)
    return {
        "paid_orders": measure("paid", "count", as_of),
        "spend": measure("paid", "spend", as_of),
        "aov": measure("paid", "aov", as_of),
        "first_paid_at": measure("paid", "first", as_of),
        "last_paid_at": measure("paid", "last", as_of),
        "recency_days": measure("paid", "recency_days", as_of),
        "mean_gap_days": measure("paid", "mean_gap_days", as_of),
        "paid_orders_365d": measure("paid", "count", as_of, window=year),
        "spend_365d": measure("paid", "spend", as_of, window=year),
        "paid_orders_720d": measure("paid", "count", as_of, window=two_years),
        "events_30d": measure("events", "count", as_of, window=month),
        "active_days_30d": measure("events", "active_days", as_of, window=month),
        "last_event_at": measure("events", "last", as_of),
        "intent_score_14d": measure("events", "intent_score", as_of, window=fortnight,
                                    weights=DEFAULT_INTENT_WEIGHTS),
    }


def standard_lookups(as_of: dt.datetime) -> dict[str, tuple[Lookup, str]]:
    """Preference columns of the standard table: (lookup, column of the lookup)."""
    views = Window.last(as_of, 90)
    year = Window.last(as_of, 365)

    viewed, bought = preference("view_time", views, as_of), preference("purchases", year, as_of)
    return {
        "top_category_viewed": (viewed, "top_category"),
        "top_category_viewed_share": (viewed, "top_category_share"),
        "top_category_bought": (bought, "top_category"),
        "top_category_bought_share": (bought, "top_category_share"),
    }


def source_rows(ws: Workspace, as_of: dt.datetime, source: Source,
                derived: Collection[str] = (), *, lines: ir.Table | None = None) -> ir.Table:
    """The rows a :class:`Reduction` over ``source`` reads, with the derived columns asked for.

    For events and items, the marker ``products`` joins the products' columns. For items,
    the repurchase columns come from the product cycles at the same ``as_of``, worked out
    from :func:`product_buyers`; ``lines`` stand in for the paid lines (see
    :func:`item_rows`).
    """
    derived = frozenset(derived)
    if source == "paid":
        return paid_order_rows(ws, as_of, derived)
    if source == "orders":
        return order_rows(ws, as_of, derived)
    if source == "events":
        return event_rows(ws, as_of, products="products" in derived)
    ranks = {int(d.rsplit("_", 1)[1]) for d in derived
             if d.startswith("repurchase_top_percent_")}
    cycles = None
    if ranks or derived & _CYCLE_COLUMNS:
        from kequn.clv.repurchase import cycles_from_pairs, with_categories

        def build() -> ir.Table:  # product_repurchase_cycles, from the buyers kept once
            return with_categories(cycles_from_pairs(product_buyers(ws, as_of)),
                                   ws.table("products"))

        cycles = _shared(ws, ("cycles", as_of), build)
    return item_rows(ws, as_of, cycles=cycles, repurchase_ranks=ranks,
                     products="products" in derived, order_columns="order_columns" in derived,
                     lines=lines)


_CYCLE_COLUMNS = frozenset({"product_buyers", "repurchase_rate", "repurchase_interval_days"})


def customer_features(ws: Workspace, as_of: dt.datetime, *,
                      measures: Mapping[str, Reduction] | None = None,
                      lookups: Mapping[str, tuple[Lookup, str]] | None = None,
                      standard: bool = True, predictions: bool | None = None,
                      columns: Collection[str] | None = None,
                      onto: ir.Table | None = None) -> ir.Table:
    """One row per customer known at ``as_of`` with their features.

    Parameters
    ----------
    ws, as_of
        The workspace and the moment (see :func:`kequn.schema.conventions.parse_as_of`).
    measures
        Extra columns, each a :class:`Reduction` (see :func:`measure`). Measures over the same
        rows share one aggregation pass.
    lookups
        Extra columns from per-customer tables: name → (lookup, column of its table).
    standard
        Include :func:`standard_measures` and the preference columns.
    predictions
        Join the newest predictions (``p_alive``, ``clv``, …); None joins them when the
        workspace has them.
    columns
        Keep only these customer columns (and ``customer_id``); None keeps them all.
    onto
        A per-customer table (one row per customer known at ``as_of``, e.g. a kept feature
        table) to add the columns to, instead of the customers' own rows: a count that needs
        one new measure then joins it once, not to the customers and then to the table.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> customer_features(ws, dt.datetime(2024, 3, 1)).count().to_pyarrow().as_py()
    0
    """
    chosen: dict[str, Reduction] = {**(standard_measures(as_of) if standard else {}),
                                    **(measures or {})}
    chosen_lookups = {**(standard_lookups(as_of) if standard else {}), **(lookups or {})}
    table = customer_rows(ws, as_of, columns) if onto is None else onto
    # One pass per source: the rows carry every derived column any measure of it reads.
    groups: dict[Source, dict[str, Reduction]] = {}
    for name, red in chosen.items():
        groups.setdefault(red.source, {})[name] = red
    fills: dict[str, Any] = {}
    for source, reds in groups.items():
        derived = frozenset().union(*(r.derived for r in reds.values()))
        rows = source_rows(ws, as_of, source, derived)
        rows = counted_rows(rows, source, list(reds.values()))
        agg = rows.group_by("customer_id").aggregate(
            **{name: red.build(rows) for name, red in reds.items()})
        table = join_customers(table, agg)
        fills.update({n: r.fill for n, r in reds.items() if r.fill is not None})
    by_lookup: dict[int, tuple[Lookup, dict[str, str]]] = {}
    for name, (lookup, column) in chosen_lookups.items():
        by_lookup.setdefault(id(lookup), (lookup, {}))[1][name] = column
    for lookup, columns in by_lookup.values():
        part = lookup.build(ws, as_of)
        table = join_customers(table, part.select("customer_id",
                                         **{n: part[c] for n, c in columns.items()}))
        if lookup.fill is not None:
            fills.update(dict.fromkeys(columns, lookup.fill))
    if predictions or (predictions is None and has_predictions(ws)):
        latest = latest_predictions(ws, as_of)
        if latest is not None:
            table = join_customers(table, latest)
    if fills:
        table = table.mutate(**{n: table[n].fill_null(v) for n, v in fills.items()})
    return table


def counted_rows(rows: ir.Table, source: Source, reds: list[Reduction]) -> ir.Table:
    """Only the rows some measure counts: the aggregation then groups those alone.

    When every measure has a window, rows before the widest are left out by a plain time
    bound (whole blocks skipped in a table stored in time order); when every measure counts
    only some rows (a window, an event type), the rows no measure counts are left out too.
    """
    starts = [r.since for r in reds]
    if None not in starts:
        since = ibis.literal(min(starts), type="timestamp")  # type: ignore[type-var]
        rows = rows.filter(rows[TIME_OF[source]] > since)
    conds = [r.counts(rows) if r.counts is not None else None for r in reds]
    if conds and all(c is not None for c in conds):
        rows = rows.filter(functools.reduce(operator.or_, conds))
    return rows


def join_customers(table: ir.Table, part: ir.Table) -> ir.Table:
    """``table`` with the columns of a per-customer ``part`` (left join on customer_id)."""
    return table.left_join(part, table.customer_id == part.customer_id).drop(
        "customer_id_right")
