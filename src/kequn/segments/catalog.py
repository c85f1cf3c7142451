"""What a rule may name: customer fields, functions, row columns of ``where:`` filters, keywords.

The parser checks every name against this catalog (and suggests the nearest one for a typo);
the compiler reads the same entries to know where a value comes from. Custom attributes are
written ``attr.NAME`` and checked against the workspace's customers table when compiled.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from kequn.schema.tables import CUSTOMERS
from kequn.storage.features import ITEM_ORDER_COLUMNS as _ORDER_COLUMNS_OF_LINES

ValueType = Literal["number", "string", "time", "date", "bool"]
Source = Literal["paid", "orders", "events", "items", "preference", "population", "derived"]

KEYWORDS: tuple[str, ...] = (
    "AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN", "CONTAINS", "TRUE", "FALSE", "THEN",
    "WITHIN", "AFTER", "SAME", "FAMILY", "AMONG", "ELSE",
)
DURATION_UNITS: dict[str, float] = {"h": 1 / 24, "d": 1, "w": 7, "m": 30, "y": 365}
"""Days per duration unit; SPEC §1: a month in a rule is 30 days, a year 365."""

WINDOW_OPTIONS: tuple[str, ...] = ("last", "from", "to")
SAME_KEYS: tuple[str, ...] = ("product", "category")
PREFERENCE_BASES: tuple[str, ...] = ("view_time", "views", "purchases", "spend")

DEFAULT_INTENT_WEIGHTS: dict[str, float] = {
    "list_view": 0.05, "view": 0.1, "favorite": 0.5, "cart": 1.0, "order": 3.0,
}
"""SPEC §3 intent score weights (seed 003); a rule overrides any with ``intent_score(cart: 2)``."""

_KIND_TYPES: dict[str, ValueType] = {
    "text": "string", "int": "number", "float": "number", "money": "number", "time": "time",
    "date": "date", "bool": "bool", "status": "string", "event": "string", "level": "string",
}


@dataclass(frozen=True)
class Function:
    """One function a rule can call.

    ``source`` says which rows it reduces (one aggregation pass per source) or that it is a
    rank over the population (``population``) or a per-customer formula (``derived``).
    """

    name: str
    returns: ValueType
    source: Source
    summary: str
    events: bool = False  # positional args are event names
    params: tuple[str, ...] = ()  # positional value parameters
    options: tuple[str, ...] = ()
    weights: bool = False  # any other option is an event-name weight (intent_score)
    step: bool = False  # usable as a sequence step
    countable: bool = False  # alone, means "> 0"
    same: tuple[str, ...] = ()  # SAME keys a step of this function supports


_W = (*WINDOW_OPTIONS, "where")

FUNCTIONS: dict[str, Function] = {f.name: f for f in (
    Function("paid_orders", "number", "paid", "number of paid orders 成交订单数", options=_W,
             step=True, countable=True),
    Function("spend", "number", "paid", "sum of paid amounts 成交金额", options=_W),
    Function("aov", "number", "paid", "average paid order value 客单价 (empty without orders)",
             options=_W),
    Function("first_paid_at", "time", "paid", "time of the first paid order", options=_W),
    Function("last_paid_at", "time", "paid", "time of the last paid order", options=_W),
    Function("recency_days", "number", "paid", "days since the last paid order", options=_W),
    Function("mean_gap_days", "number", "paid",
             "mean days between paid orders (empty with fewer than two)", options=_W),
    Function("promotion_periods", "number", "paid",
             "promotion periods bought in: distinct promotion × calendar month", options=_W),
    Function("placed_orders", "number", "orders", "orders placed 下单数, paid or not",
             options=_W, step=True, countable=True),
    Function("unpaid_orders", "number", "orders",
             "orders placed and not paid at as_of 未付款 (not cancelled or refunded)",
             options=_W, step=True, countable=True),
    Function("events", "number", "events", "number of events (of the named kinds)",
             events=True, options=_W, step=True, countable=True, same=SAME_KEYS),
    Function("active_days", "number", "events", "distinct days with events", events=True,
             options=_W, countable=True),
    Function("duration", "number", "events", "seconds spent (sum of duration_s)", events=True,
             options=_W),
    Function("first_event_at", "time", "events", "time of the first event", events=True,
             options=_W),
    Function("last_event_at", "time", "events", "time of the last event", events=True,
             options=_W),
    Function("intent_score", "number", "events",
             "weighted count of events (SPEC §3 purchase intent 购买意愿)", options=_W,
             weights=True),
    Function("items_bought", "number", "items", "items bought in paid orders (quantity)",
             options=_W, step=True, countable=True, same=SAME_KEYS),
    Function("item_spend", "number", "items", "amount paid for the matching items",
             options=_W),
    Function("products_bought", "number", "items", "distinct products bought", options=_W,
             countable=True),
    Function("price_position", "number", "items",
             "mean position (0 cheapest … 1 dearest) of bought products in their category's "
             "prices 价格偏好", options=_W),
    Function("top_category", "string", "preference",
             "the category with the largest share 类目偏好", options=("by", *WINDOW_OPTIONS)),
    Function("top_category_share", "number", "preference",
             "share (0–1) of the top category", options=("by", *WINDOW_OPTIONS)),
    Function("top_percent", "number", "population",
             "rank from the top in percent (1 = best): top_percent(x) <= 10 is the top 10%",
             params=("value",)),
    Function("median", "number", "population", "median over the population",
             params=("value",)),
    Function("quantile", "number", "population", "quantile q (0–1) over the population",
             params=("value", "q")),
    Function("days_since", "number", "derived", "days from a time to as_of",
             params=("time",)),
)}

PREDICTION_FIELDS: dict[str, ValueType] = {
    "p_alive": "number", "expected_orders": "number", "horizon_days": "number",
    "expected_spend": "number", "clv": "number", "next_purchase_at": "time",
    "churn_risk": "string",
}
"""Columns of the workspace table ``kq_predictions`` a rule may use (written by kequn predict)."""

DERIVED_FIELDS: dict[str, ValueType] = {"age": "number"}

CUSTOMER_FIELDS: dict[str, ValueType] = {
    **{c.name: _KIND_TYPES[c.kind] for c in CUSTOMERS.columns},
    **DERIVED_FIELDS,
    **PREDICTION_FIELDS,
}

PRODUCT_ROW_COLUMNS: dict[str, ValueType] = {
    "category": "string", "brand": "string", "price": "number", "is_standard": "bool",
    "launched_at": "time", "product_name": "string",
}

ORDER_ROW_COLUMNS: dict[str, ValueType] = {
    "order_id": "string", "status": "string", "amount": "number", "discount": "number",
    "coupon_id": "string", "channel": "string", "promotion": "string", "created_at": "time",
    "paid_at": "time", "discount_rate": "number", "holiday": "bool", "promotion_day": "bool",
}
EVENT_ROW_COLUMNS: dict[str, ValueType] = {
    "event": "string", "product_id": "string", "channel": "string", "session_id": "string",
    "duration_s": "number", "event_time": "time", **PRODUCT_ROW_COLUMNS,
}
ITEM_ROW_COLUMNS: dict[str, ValueType] = {
    "order_id": "string", "product_id": "string", "quantity": "number", "unit_price": "number",
    "line_amount": "number", "paid_at": "time", "channel": "string", "promotion": "string",
    "coupon_id": "string", **PRODUCT_ROW_COLUMNS,
    "days_since_launch": "number", "days_since_paid": "number", "price_position": "number",
    "product_buyers": "number", "repurchase_rate": "number",
    "repurchase_interval_days": "number",
}
ITEM_PRODUCT_COLUMNS: frozenset[str] = frozenset(
    {*PRODUCT_ROW_COLUMNS, "line_amount", "days_since_launch", "price_position"})
"""Item row columns that need the products joined."""
ITEM_ORDER_COLUMNS: frozenset[str] = frozenset(_ORDER_COLUMNS_OF_LINES)
"""Item row columns that come from the line's order."""
CYCLE_ROW_COLUMNS: frozenset[str] = frozenset(
    {"product_buyers", "repurchase_rate", "repurchase_interval_days"})

ROW_COLUMNS: dict[str, dict[str, ValueType]] = {
    "paid": ORDER_ROW_COLUMNS, "orders": ORDER_ROW_COLUMNS, "events": EVENT_ROW_COLUMNS,
    "items": ITEM_ROW_COLUMNS,
}


@dataclass(frozen=True)
class RowFunction:
    """A function usable inside a ``where:`` filter of one source's rows."""

    name: str
    source: str
    options: tuple[str, ...]
    summary: str


ROW_FUNCTIONS: dict[str, RowFunction] = {f.name: f for f in (
    RowFunction("repurchase_top_percent", "items", ("min_buyers",),
                "the product's rank by repurchase rate in percent (1 = highest) among products "
                "with at least min_buyers buyers (default 20)"),
)}


def suggest(name: str, choices: Iterable[str]) -> str | None:
    """The known name nearest to ``name`` (for "did you mean …?"), or None."""
    pool = list(choices)
    close = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[c] for c in difflib.get_close_matches(name.lower(), lowered, n=1,
                                                                 cutoff=0.6)]
    return close[0] if close else None


def customer_names() -> list[str]:
    """Every name valid in a customer condition: fields and functions."""
    return [*CUSTOMER_FIELDS, *FUNCTIONS, "segment", "attr"]


def row_names(source: str) -> list[str]:
    """Every name valid in a ``where:`` filter over ``source`` rows."""
    return [*ROW_COLUMNS[source], *(f.name for f in ROW_FUNCTIONS.values() if f.source == source)]
