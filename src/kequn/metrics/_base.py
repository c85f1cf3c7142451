"""What every metric runner shares: the spec base, the data it reads, the result it returns.

A runner is a pydantic spec (validated options with ``as_of`` and the period) whose
``to_expr()`` builds one Ibis expression and whose ``run()`` executes it into a
:class:`MetricResult` (PostHog's query runners, STYLE.md "metrics as small runners").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from kequn._suggest import did_you_mean
from kequn.errors import KequnError
from kequn.metrics._periods import Period, Window, resolve_window
from kequn.schema.conventions import not_after, paid_orders
from kequn.storage import run

if TYPE_CHECKING:
    import pandas as pd

    from kequn.workspace import Workspace

UNKNOWN = "unknown"
"""Label of a missing attribute value in split results (未知)."""


class MetricError(KequnError, ValueError):
    """A metric asked for with options that cannot work (unknown attribute, bad window)."""


# -- the data a metric reads ------------------------------------------------------------------
@dataclass(frozen=True)
class Sources:
    """The shop's tables as seen at ``as_of``, narrowed to a segment when one is given.

    Every metric reads through this, so the as_of cut and the segment are applied once and
    the same way: nothing after ``as_of`` is read (SPEC §1), and a segment is a semi-join on
    ``customer_id``.
    """

    ws: Workspace
    as_of: dt.datetime
    segment: ir.Table | None = None

    def _narrow(self, t: ir.Table) -> ir.Table:
        if self.segment is None:
            return t
        return t.semi_join(self.segment.select("customer_id").distinct(), "customer_id")

    def events(self) -> ir.Table:
        """Behaviour events up to as_of."""
        e = self.ws.table("events")
        return self._narrow(e.filter(not_after(e.event_time, self.as_of)))

    def orders(self) -> ir.Table:
        """Orders created up to as_of (paid or not)."""
        o = self.ws.table("orders")
        return self._narrow(o.filter(not_after(o.created_at, self.as_of)))

    def paid(self) -> ir.Table:
        """Paid orders at as_of (SPEC §1's rule, from :func:`paid_orders`)."""
        return self._narrow(paid_orders(self.ws.table("orders"), self.as_of))

    def actions(self) -> ir.Table:
        """Every behaviour as ``customer_id, t, event, channel``.

        Orders count as ``order`` actions at ``created_at`` and paid orders as ``pay`` actions
        at ``paid_at``, so funnels and activity work for shops that log orders but not
        order/pay events.
        """
        e = self.events()
        o = self.orders()
        p = self.paid()
        cols = ("customer_id", "t", "event", "channel")
        from_events = e.select(customer_id=e.customer_id, t=e.event_time, event=e.event,
                               channel=e.channel)
        from_orders = o.select(customer_id=o.customer_id, t=o.created_at,
                               event=ibis.literal("order"), channel=o.channel)
        from_paid = p.select(customer_id=p.customer_id, t=p.paid_at,
                             event=ibis.literal("pay"), channel=p.channel)
        # UNION ALL: every user of these rows counts distinct customers or takes a minimum,
        # so a repeated row changes nothing and de-duplicating millions of rows is skipped.
        return ibis.union(from_events.select(*cols), from_orders.select(*cols),
                          from_paid.select(*cols))

    def first_seen(self) -> ir.Table:
        """``customer_id, first_seen``: each customer's first event or order up to as_of."""
        e = self.events()
        o = self.orders()
        both = ibis.union(e.select(customer_id=e.customer_id, t=e.event_time),
                          o.select(customer_id=o.customer_id, t=o.created_at))
        return both.group_by("customer_id").aggregate(first_seen=both.t.min())

    def customers(self) -> ir.Table:
        """Customers known at as_of, with ``joined_at`` = registered_at or first activity.

        A customer whose registration and activity are both after as_of did not exist yet;
        one with neither a registration time nor any activity is counted at every as_of (no
        time is known for it).
        """
        c = self._narrow(self.ws.table("customers"))
        seen = self.first_seen()
        j = c.left_join(seen, "customer_id").select(c, seen.first_seen)
        joined = j.registered_at.fill_null(j.first_seen)
        j = j.mutate(joined_at=joined)
        return j.filter(j.joined_at.isnull() | not_after(j.joined_at, self.as_of)).drop(
            "first_seen")


# -- split by attribute ---------------------------------------------------------------------
_MEMBER_BANDS = {"V0": "V0", "V1": "V1–V3", "V2": "V1–V3", "V3": "V1–V3",
                 "V4": "V4+", "V5": "V4+", "V6": "V4+"}
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 18, "<18"), (18, 25, "18–24"), (25, 30, "25–29"), (30, 35, "30–34"),
    (35, 40, "35–39"), (40, 50, "40–49"), (50, 60, "50–59"), (60, None, "60+"),
)
DERIVED_ATTRIBUTES: dict[str, str] = {
    "member_band": "member level in SPEC §2.6's bands V0 / V1–V3 / V4+",
    "age_band": "age at as_of from birthday, in bands <18, 18–24, ..., 60+",
    "channel": "alias of source_channel (the channel a customer came from)",
}


def member_band(level: ir.StringValue) -> ir.StringValue:
    """SPEC §2.6 / seed 002's member-level bands: V0, V1–V3, V4+."""
    return level.upper().substitute(_MEMBER_BANDS, else_=ibis.null("string"))


def age_years(birthday: ir.DateValue, as_of: dt.datetime) -> ir.IntegerValue:
    """Whole years of age at as_of (a birthday later in the year has not come yet)."""
    day = as_of.date()
    years = day.year - birthday.year()
    had_birthday = (birthday.month() < day.month) | (
        (birthday.month() == day.month) & (birthday.day() <= day.day))
    return years - ibis.ifelse(had_birthday, 0, 1)


def age_band(birthday: ir.DateValue, as_of: dt.datetime) -> ir.StringValue:
    """Age band at as_of from a birthday (null when the birthday is unknown)."""
    age = age_years(birthday, as_of)
    cases = []
    for lo, hi, label in AGE_BANDS:
        cond = age >= lo if hi is None else (age >= lo) & (age < hi)
        cases.append((cond, label))
    return ibis.cases(*cases, else_=ibis.null("string"))


def attribute(customers: ir.Table, name: str, as_of: dt.datetime) -> ir.StringValue:
    """A customer attribute as text for splitting: a column, or a derived one.

    Missing values stay null; :func:`label_unknown` turns them into ``unknown`` for output.
    """
    if name == "member_band":
        return member_band(customers.member_level)
    if name == "age_band":
        return age_band(customers.birthday, as_of)
    column = "source_channel" if name == "channel" else name
    if column not in customers.columns:
        choices = [c for c in customers.columns if c != "customer_id"] + list(DERIVED_ATTRIBUTES)
        hint = did_you_mean(name, choices)
        msg = f"unknown attribute {name!r}{hint}; split by a customers column or one of " \
              f"{', '.join(DERIVED_ATTRIBUTES)}"
        raise MetricError(msg)
    value = customers[column].cast("string")
    return ibis.ifelse(value.strip() == "", ibis.null("string"), value)


def label_unknown(value: ir.StringValue) -> ir.StringValue:
    """Missing attribute values as ``unknown`` (so a split keeps them as their own row)."""
    return value.fill_null(UNKNOWN)


def with_attribute(t: ir.Table, src: Sources, by: str | None) -> ir.Table:
    """``t`` (with a ``customer_id``) plus a ``by`` column holding the split attribute.

    Without ``by`` the table gains nothing, so callers group by ``by_keys(by)``.
    """
    if by is None:
        return t
    c = src.customers()
    attrs = c.select(customer_id=c.customer_id, _by=label_unknown(attribute(c, by, src.as_of)))
    j = t.left_join(attrs, "customer_id").select(t, attrs._by)
    return j.mutate(**{by: label_unknown(j._by)}).drop("_by")


def by_keys(by: str | None) -> list[str]:
    """The grouping keys a split adds (none without ``by``)."""
    return [] if by is None else [by]


def aggregate(t: ir.Table, keys: Sequence[str], **metrics: ir.Scalar) -> ir.Table:
    """``t.group_by(keys).aggregate(...)``, or a one-row aggregate when there are no keys."""
    if keys:
        return t.group_by(list(keys)).aggregate(**metrics)
    return t.aggregate(**metrics)


# -- the spec every runner extends -----------------------------------------------------------
class MetricSpec(BaseModel):
    """Options every metric takes: the as_of cut, the period, the window and a split.

    ``start`` is the first moment of the window; without it the window is the last
    ``span()`` periods up to as_of (the current period to date for most metrics).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: dt.datetime
    period: Period = "month"
    start: dt.datetime | None = None
    by: str | None = None

    def span(self) -> int:
        """How many periods the default window (no ``start``) covers."""
        return 1

    @property
    def window(self) -> Window:
        """The window this spec looks at."""
        return resolve_window(self.period, self.as_of, start=self.start, span=self.span())

    def sources(self, ws: Workspace, segment: ir.Table | None = None) -> Sources:
        """The shop's tables at this spec's as_of, narrowed to ``segment``."""
        return Sources(ws, self.as_of, segment)


# -- the result ------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricResult:
    """A metric's rows as an Arrow table, with what small-cell suppression needs to know.

    ``counts`` are the columns that count customers; ``guarded`` maps a column (a rate, an
    amount) to the count column whose suppression must hide it too, so a suppressed cell
    cannot be worked back out from its neighbours.
    """

    metric: str
    table: pa.Table
    counts: tuple[str, ...] = ()
    guarded: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (unsuppressed: for analysis, not export)."""
        return self.table.to_pandas()

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as dicts (unsuppressed)."""
        return self.table.to_pylist()

    def to_records(self, *, small_cell_k: int | None = None) -> list[dict[str, Any]]:
        """Rows for export: cells counting fewer than ``small_cell_k`` customers read ``<k``."""
        return suppress(self.table.to_pylist(), small_cell_k, self.counts, self.guarded)

    def to_csv(self, *, small_cell_k: int | None = None) -> str:
        """CSV text of :meth:`to_records`."""
        return records_to_csv(self.to_records(small_cell_k=small_cell_k), self.table.column_names)


def suppress(rows: Sequence[Mapping[str, Any]], k: int | None, counts: Sequence[str],
             guarded: Mapping[str, str]) -> list[dict[str, Any]]:
    """Replace cells counting 1..k-1 customers (and the cells they guard) with ``"<k"``.

    A zero stays visible: it identifies no one, and hiding it would blank most of a
    retention triangle's tail.
    """
    out = [dict(r) for r in rows]
    if not k or k <= 1:
        return out
    mark = f"<{k}"
    for row in out:
        small = {c for c in counts if isinstance(row.get(c), int | float)
                 and 0 < row[c] < k}
        for col in small:
            row[col] = mark
        for col, base in guarded.items():
            if base in small and col in row:
                row[col] = mark
    return out


def records_to_csv(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV text with a header row (dates as ISO text, no index)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for rec in records:
        writer.writerow({k: _csv_cell(v) for k, v in rec.items()})
    return buf.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return ""
    return value


def memtable(data: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
             schema: Mapping[str, pa.DataType] | None = None) -> ir.Table:
    """A small literal table (built from Arrow, so no pandas round trip)."""
    if isinstance(data, Mapping):
        table = pa.table({k: pa.array(list(v), type=(schema or {}).get(k))
                          for k, v in data.items()})
    else:
        table = pa.Table.from_pylist(list(data))
    return ibis.memtable(table)


def to_arrow(ws: Workspace, expr: ir.Table) -> pa.Table:
    """Execute ``expr`` on the backend its tables come from (DuckDB or Spark) into Arrow."""
    return run.to_arrow(expr)


def ratio(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """``num / den`` as a float, null when the denominator is zero."""
    return ibis.ifelse(den == 0, ibis.null("float64"), num.cast("float64") / den)


def safe_div(num: float | None, den: float | None) -> float | None:
    """Python twin of :func:`ratio` for the few scalars computed outside the engine."""
    if num is None or not den:
        return None
    return num / den
