"""Product and category repurchase cycles: what the ``repurchase_due`` group (SPEC §3, seed
001) needs to know — how often a product is bought again, and after how long.

Per product (or category), over paid orders up to ``as_of`` (SPEC §1's paid-order rule):

- ``buyers``: distinct customers with a paid order containing it;
- ``repeat_buyers``: those who bought it in at least two distinct paid orders;
- ``repurchase_rate``: ``repeat_buyers / buyers``;
- ``median_interval_days``: the median, over repeat buyers, of each one's mean number of days
  between consecutive paid orders containing it, i.e. ``(last - first) / (orders - 1)``
  (null when nobody bought it twice).

Only products that appear in some paid order get a row; an ordered product missing from
``products`` gets a null ``category``, and the category table leaves such products out.
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from kequn.schema.conventions import paid_orders

__all__ = [
    "category_repurchase_cycles", "cycles_from_pairs", "pair_summary",
    "product_repurchase_cycles", "with_categories",
]

_SECONDS_PER_DAY = 86_400.0


def product_repurchase_cycles(orders: ir.Table, order_items: ir.Table, products: ir.Table, *,
                              as_of: dt.datetime, lines: ir.Table | None = None) -> ir.Table:
    """One row per bought product: ``product_id, category, buyers, repeat_buyers,
    repurchase_rate, median_interval_days``.

    ``lines`` are the paid order lines at ``as_of`` (``customer_id, order_id, paid_at,
    product_id``) when the caller has them already; otherwise they are joined here.

    Examples
    --------
    >>> import datetime as dt, kequn
    >>> ws = kequn.open(":memory:")
    >>> t = product_repurchase_cycles(ws.table("orders"), ws.table("order_items"),
    ...                               ws.table("products"), as_of=dt.datetime(2024, 1, 1))
    >>> t.columns
    ('product_id', 'category', 'buyers', 'repeat_buyers', 'repurchase_rate', 'median_interval_days')
    """
    if lines is None:
        lines = _bought(orders, order_items, as_of)
    cycles = _cycles(lines.select("customer_id", "order_id", "paid_at", "product_id"),
                     "product_id")
    return with_categories(cycles, products)


def with_categories(cycles: ir.Table, products: ir.Table) -> ir.Table:
    """Product cycles with each product's category, in :func:`product_repurchase_cycles`'
    columns."""
    categories = products.select("product_id", "category")
    joined = cycles.left_join(categories, "product_id")
    return joined.select("product_id", "category", "buyers", "repeat_buyers", "repurchase_rate",
                         "median_interval_days")


def category_repurchase_cycles(orders: ir.Table, order_items: ir.Table, products: ir.Table, *,
                               as_of: dt.datetime) -> ir.Table:
    """One row per category bought: ``category, buyers, repeat_buyers, repurchase_rate,
    median_interval_days`` (a repeat means two paid orders with any product of it)."""
    lines = _bought(orders, order_items, as_of)
    categories = products.select("product_id", "category").filter(
        products.category.notnull())
    in_category = lines.join(categories, "product_id")
    return _cycles(in_category, "category")


def _bought(orders: ir.Table, order_items: ir.Table, as_of: dt.datetime) -> ir.Table:
    """``customer_id, order_id, paid_at, product_id``: one row per paid order line."""
    paid = paid_orders(orders, as_of).select("order_id", "customer_id", "paid_at")
    items = order_items.select("order_id", "product_id")
    return items.join(paid, "order_id")


def _cycles(lines: ir.Table, key: str) -> ir.Table:
    return cycles_from_pairs(pair_summary(lines, key), key)


def pair_summary(lines: ir.Table, key: str = "product_id") -> ir.Table:
    """``key, customer_id, orders, first, last``: each buyer's paid orders of each product
    (or category) and the first and last time.

    Merging two summaries (orders added, the earlier first, the later last) gives the summary
    of both sets of lines, so a kept summary takes a day's lines without reading history.
    """
    # One row per order first, then plain counts: a distinct count per group is far slower.
    # A product is on one line of an order (order_items' key), so its lines are that already.
    per_order = lines.select(key, "customer_id", "order_id", "paid_at")
    if key != "product_id":
        per_order = per_order.distinct()
    return per_order.group_by([key, "customer_id"]).aggregate(
        orders=per_order.count(),
        first=per_order.paid_at.min(),
        last=per_order.paid_at.max(),
    )


def cycles_from_pairs(per_customer: ir.Table, key: str = "product_id") -> ir.Table:
    """``key, buyers, repeat_buyers, repurchase_rate, median_interval_days`` from a
    :func:`pair_summary`: a buyer's interval is their mean gap between orders of it."""
    span_days = ((per_customer["last"].epoch_seconds() - per_customer["first"].epoch_seconds())
                 .cast("float64") / _SECONDS_PER_DAY)
    repeat = per_customer.orders >= 2
    gap = ibis.ifelse(repeat, span_days / (per_customer.orders - 1), ibis.null())
    per_key = per_customer.group_by(key).aggregate(
        buyers=per_customer.count(),
        repeat_buyers=repeat.sum().cast("int64"),
        median_interval_days=gap.median().cast("float64"),
    )
    return per_key.select(
        key,
        "buyers",
        "repeat_buyers",
        repurchase_rate=(per_key.repeat_buyers / per_key.buyers).cast("float64"),
        median_interval_days="median_interval_days",
    )
