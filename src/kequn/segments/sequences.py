"""Sequences of behaviour steps (神策-style ``A THEN [NOT] B``) as joins over occurrences.

Each step's occurrences are rows ``(customer, t, product, category)``. A positive link keeps
the pairs where B comes after A (strictly later; ``WITHIN d``: at most d later; ``AFTER d``:
at least d later; ``SAME product``: same product); a negative link keeps the A's with no such B.
A negative link that ends the sequence with ``WITHIN d`` needs those d to have passed by
as_of, so "cart THEN NOT pay WITHIN 24h" does not count a cart of one hour ago. A negative link
in the middle without ``WITHIN`` means "no B between the steps around it".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from kequn.schema.conventions import as_of_literal
from kequn.segments import ast
from kequn.segments import catalog as cat
from kequn.storage import features as ft

StepPlan = tuple[ft.Window | None, ft.RowFilter | None, set[str]]


def _interval(d: ast.Duration) -> Any:
    from kequn.segments.compiler import days_of

    return ibis.interval(seconds=round(days_of(d) * ft.SECONDS_PER_DAY))


def occurrences(ws: Any, as_of: dt.datetime, call: ast.Call, plan: StepPlan, *,
                products: bool = False, after: dt.datetime | None = None) -> ir.Table:
    """``customer_id, t, product_id, category``: one row per occurrence of a step
    (only those later than ``after``, when given)."""
    window, where, derived = plan
    if after is not None:
        window = ft.Window(after if window is None or window.start is None
                           else max(after, window.start), None if window is None else window.end)
    fn = cat.FUNCTIONS[call.name]
    source: ft.Source = fn.source  # type: ignore[assignment]
    wants = set(derived)
    if products:
        wants.add("products")
    rows = ft.source_rows(ws, as_of, source, wants)
    time_col = {"paid": "paid_at", "orders": "created_at", "events": "event_time",
                "items": "paid_at"}[source]
    names = [a.value for a in call.args if isinstance(a, ast.String)]
    if names:
        rows = rows.filter(rows.event.isin(names))
    if call.name == "unpaid_orders":
        rows = rows.filter(ft.unpaid(rows, as_of))
    if window is not None and (w := window.holds(rows[time_col])) is not None:
        rows = rows.filter(w)
    if where is not None:
        rows = rows.filter(where(rows))
    null = ibis.null("string")
    has_product = "product_id" in rows.columns
    has_category = "category" in rows.columns
    return rows.select(
        customer_id=rows.customer_id,
        t=rows[time_col],
        product_id=rows.product_id if has_product else null,
        category=rows.category if has_category else null,
    )


def sequence_members(ws: Any, as_of: dt.datetime, node: ast.Sequence,
                     plans: list[StepPlan]) -> ir.Table:
    """``customer_id, value``: the customers for whom the sequence holds (value is TRUE)."""
    last = _by_last_purchases(ws, as_of, node, plans)
    if last is not None:
        return last
    products = any(s.same == "category" for s in node.steps[1:])
    # Every later step comes after the first one: none before the first step's window matters.
    first_window = plans[0][0]
    after = None if first_window is None else first_window.start
    occ = [occurrences(ws, as_of, s.call, p, products=products, after=after if i else None)
           for i, (s, p) in enumerate(zip(node.steps, plans, strict=True))]
    last = len(node.steps) - 1
    final = node.steps[last]
    if after is None:
        # Without a window to cut them, keep only later steps of a customer (for SAME, a
        # product) the first step has: far fewer rows to group than, say, every paid line.
        for i, step in enumerate(node.steps[1:], start=1):
            keys = ["customer_id"]
            if i == 1 and step.same is not None:
                keys.append("product_id" if step.same == "product" else "category")
            occ[i] = occ[i].semi_join(occ[0].select(*keys).distinct(), keys)
    if final.within is None and final.after is None:
        # Only the latest B matters for "some B after A" and for "no B after A".
        occ[last] = _latest(occ[last], final.same)
        if last == 1:
            # ... and only the earliest A for THEN, the latest A for THEN NOT.
            occ[0] = _latest(occ[0], final.same, earliest=not final.negated)
    front = _rename(occ[0], "f")
    pending: tuple[ir.Table, ast.Step] | None = None
    for i, step in enumerate(node.steps[1:], start=1):
        b = _rename(occ[i], "b")
        conds = _link(front, b, step)
        if step.negated and (step.within is not None or i == last):
            front = front.anti_join(b, conds)
            if i == last and step.within is not None:
                front = front.filter(front.f_t + _interval(step.within) <= as_of_literal(as_of))
            continue
        if step.negated:
            pending = (occ[i], step)
            continue
        pairs = front.join(b, conds)
        if pending is not None:
            p_occ, p_step = pending
            p = _rename(p_occ, "p")
            between = [pairs.f_cid == p.p_cid, p.p_t > pairs.f_t, p.p_t < pairs.b_t]
            if p_step.same is not None:
                key = "pid" if p_step.same == "product" else "cat"
                between.append(pairs[f"f_{key}"] == p[f"p_{key}"])
            pairs = pairs.anti_join(p, between)
            pending = None
        front = pairs.select(f_cid=pairs.b_cid, f_t=pairs.b_t, f_pid=pairs.b_pid,
                             f_cat=pairs.b_cat).distinct()
    return front.select(customer_id=front.f_cid).distinct().mutate(
        value=ibis.literal(True))


def _by_last_purchases(ws: Any, as_of: dt.datetime, node: ast.Sequence,
                       plans: list[StepPlan]) -> ir.Table | None:
    """``items_bought(...) THEN NOT items_bought SAME product`` when the first step reads only
    what a product and a moment say (no line's quantity, price or order): the only lines with
    no later purchase of their product are each buyer's last purchase of it, so the sequence
    holds when one of those passes the first step. Read from the buyers' summary of each
    product instead of every line twice (``repurchase_due``: 0.4 s against 1.3 s at
    1,000,000 customers). None when the sequence has another shape."""
    if len(node.steps) != 2:
        return None
    first, then = node.steps
    if not (first.call.name == then.call.name == "items_bought" and then.negated
            and then.same == "product" and then.within is None and then.after is None
            and not first.call.args and not then.call.args and not then.call.options):
        return None
    window, where, derived = plans[0]
    if "order_columns" in derived:
        return None
    if where is not None:
        lines = ft.source_rows(ws, as_of, "items", derived)
        read = {f.name for f in where(lines).op().find(ops.Field) if f.rel == lines.op()}
        if read & ft.LINE_COLUMNS:
            return None
    rows = ft.source_rows(ws, as_of, "items", derived, lines=ft.last_purchases(ws, as_of))
    if window is not None and (w := window.holds(rows.paid_at)) is not None:
        rows = rows.filter(w)
    if where is not None:
        rows = rows.filter(where(rows))
    return rows.select("customer_id").distinct().mutate(value=ibis.literal(True))


def _latest(occ: ir.Table, same: str | None, *, earliest: bool = False) -> ir.Table:
    """One occurrence per customer (and product or category, for SAME): the latest one, or
    the earliest."""
    key = {"product": "product_id", "category": "category"}.get(same or "")
    group = ["customer_id", key] if key else ["customer_id"]
    t = occ.t.min() if earliest else occ.t.max()
    out = occ.group_by(group).aggregate(t=t)
    null = ibis.null("string")
    return out.select("customer_id", "t",
                      product_id=out.product_id if key == "product_id" else null,
                      category=out.category if key == "category" else null)


def _rename(occ: ir.Table, prefix: str) -> ir.Table:
    return occ.select(**{f"{prefix}_cid": occ.customer_id, f"{prefix}_t": occ.t,
                         f"{prefix}_pid": occ.product_id, f"{prefix}_cat": occ.category})


def _link(front: ir.Table, b: ir.Table, step: ast.Step) -> list[ir.BooleanValue]:
    conds = [front.f_cid == b.b_cid, b.b_t > front.f_t]
    if step.within is not None:
        conds.append(b.b_t <= front.f_t + _interval(step.within))
    if step.after is not None:
        conds.append(b.b_t >= front.f_t + _interval(step.after))
    if step.same == "product":
        conds.append(front.f_pid == b.b_pid)
    elif step.same == "category":
        conds.append(front.f_cat == b.b_cat)
    return conds
