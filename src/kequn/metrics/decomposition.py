"""Sales decomposition 销售额拆解 (seed 003, SPEC §2.7): which factor moved revenue.

Revenue = visitors 访客数 × conversion 支付转化率 × revenue per buyer 客单价 (seed 003:
"销售额=流量*转化率*客单价"), where conversion = paying users / visitors and 客单价 = revenue /
paying users, so the identity is exact in each period. The change between the previous
window and this one is split into one effect per factor:

- ``lmdi`` (default): the logarithmic mean Divisia index (Ang 2004), effect of x =
  L(R1, R0) · ln(x1 / x0) with L(a, b) = (a − b) / (ln a − ln b); it needs every factor
  positive in both periods;
- ``shapley``: each factor's change averaged over the orders in which it can be applied
  (for three factors: Δx · (2·y0·z0 + 2·y1·z1 + y0·z1 + y1·z0) / 6).

Both sum exactly to the revenue change. When a factor is zero LMDI is undefined and Shapley
is used instead (the result says so).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import ibis.expr.types as ir
import pyarrow as pa

from kequn.metrics._base import (
    UNKNOWN,
    MetricResult,
    MetricSpec,
    Sources,
    aggregate,
    by_keys,
    to_arrow,
    with_attribute,
)
from kequn.metrics._common import active_rows, in_window
from kequn.metrics._periods import Window

if TYPE_CHECKING:
    from kequn.workspace import Workspace

Method = Literal["lmdi", "shapley"]
FACTORS: tuple[str, ...] = ("visitors", "conversion", "arppu")


@dataclass(frozen=True)
class Factors:
    """Revenue and its three factors in one window."""

    visitors: int
    buyers: int
    revenue: float

    @property
    def conversion(self) -> float:
        """Paying users / visitors (0 without visitors)."""
        return self.buyers / self.visitors if self.visitors else 0.0

    @property
    def arppu(self) -> float:
        """Revenue / paying users (0 without buyers): Taobao's 客单价."""
        return self.revenue / self.buyers if self.buyers else 0.0

    def values(self) -> tuple[float, float, float]:
        """(visitors, conversion, arppu)."""
        return (float(self.visitors), self.conversion, self.arppu)


def _log_mean(a: float, b: float) -> float:
    if math.isclose(a, b, rel_tol=1e-12):
        return a
    return (a - b) / (math.log(a) - math.log(b))


def lmdi(before: Factors, after: Factors) -> tuple[float, float, float]:
    """LMDI-I effects of (visitors, conversion, arppu); every factor must be positive."""
    weight = _log_mean(after.revenue, before.revenue)
    # log(x1) - log(x0), not log(x1 / x0): the ratio can overflow for tiny x0.
    return tuple(weight * (math.log(x1) - math.log(x0))  # type: ignore[return-value]
                 for x0, x1 in zip(before.values(), after.values(), strict=True))


def shapley(before: Factors, after: Factors) -> tuple[float, float, float]:
    """Shapley effects of (visitors, conversion, arppu); works with zeros."""
    x0, x1 = before.values(), after.values()
    effects = []
    for i in range(3):
        j, k = [n for n in range(3) if n != i]
        weight = (2 * x0[j] * x0[k] + 2 * x1[j] * x1[k] + x0[j] * x1[k] + x1[j] * x0[k]) / 6
        effects.append((x1[i] - x0[i]) * weight)
    return tuple(effects)  # type: ignore[return-value]


def decompose(before: Factors, after: Factors, method: Method = "lmdi") -> tuple[
        tuple[float, float, float], Method]:
    """The three effects and the method actually used (LMDI falls back to Shapley on zeros)."""
    positive = all(v > 0 for v in (*before.values(), *after.values()))
    if method == "lmdi" and positive:
        return lmdi(before, after), "lmdi"
    return shapley(before, after), "shapley"


class DecompositionSpec(MetricSpec):
    """Revenue change between the previous window and this one, split by factor.

    The previous window has the same length in periods (a month-to-date window is compared
    with the same days of the previous month).

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> r = DecompositionSpec(as_of=dt.datetime(2024, 3, 31)).run(ws)
    >>> r.to_pylist()[0]["revenue_change"]
    0.0
    """

    method: Method = "lmdi"

    def factors_expr(self, src: Sources, window: Window) -> ir.Table:
        """Visitors, paying users and revenue in ``window`` (per split value)."""
        keys = by_keys(self.by)
        vis = with_attribute(in_window(active_rows(src, "any"), window), src, self.by)
        v = aggregate(vis, keys, visitors=vis.customer_id.nunique())
        p = with_attribute(in_window(src.paid(), window, "paid_at"), src, self.by)
        b = aggregate(p, keys, buyers=p.customer_id.nunique(),
                      revenue=p.amount.fill_null(0).sum())
        if not keys:
            return v.cross_join(b)
        j = v.outer_join(b, keys)
        return j.select(**{k: j[k].fill_null(j[f"{k}_right"]) for k in keys},
                        visitors=j.visitors, buyers=j.buyers, revenue=j.revenue)

    def to_expr(self, src: Sources) -> ir.Table:
        """Factors of the current window (see :meth:`factors_expr`)."""
        return self.factors_expr(src, self.window)

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute both windows and decompose the change (per split value)."""
        src = self.sources(ws, segment)
        cur_w, prev_w = self.window, self.window.previous()
        cur = _by_key(to_arrow(ws, self.factors_expr(src, cur_w)), self.by)
        prev = _by_key(to_arrow(ws, self.factors_expr(src, prev_w)), self.by)
        rows: list[dict[str, Any]] = []
        for key in sorted(set(cur) | set(prev), key=str):
            a, b = prev.get(key, Factors(0, 0, 0.0)), cur.get(key, Factors(0, 0, 0.0))
            effects, used = decompose(a, b, self.method)
            row: dict[str, Any] = {} if self.by is None else {self.by: key}
            row.update(
                previous_start=prev_w.start.date(), previous_end=prev_w.as_of.date(),
                current_start=cur_w.start.date(), current_end=cur_w.as_of.date(),
                revenue_previous=a.revenue, revenue_current=b.revenue,
                revenue_change=b.revenue - a.revenue,
                visitors_previous=a.visitors, visitors_current=b.visitors,
                buyers_previous=a.buyers, buyers_current=b.buyers,
                conversion_previous=a.conversion, conversion_current=b.conversion,
                arppu_previous=a.arppu, arppu_current=b.arppu,
                effect_visitors=effects[0], effect_conversion=effects[1],
                effect_arppu=effects[2],
                main_driver=FACTORS[max(range(3), key=lambda i: abs(effects[i]))]
                if any(effects) else None,
                method=used)
            rows.append(row)
        if not rows:
            rows.append({} if self.by is None else {self.by: UNKNOWN})
        table = pa.Table.from_pylist(rows)
        fell_back = {str(r.get(self.by, "all")) for r in rows
                     if r.get("method") == "shapley" and self.method == "lmdi"}
        notes = tuple(f"lmdi needs positive factors; used shapley for {key}"
                      for key in sorted(fell_back))
        guard = {c: "buyers_current" for c in ("revenue_current", "conversion_current",
                                               "arppu_current", "revenue_change",
                                               "effect_visitors", "effect_conversion",
                                               "effect_arppu")}
        guard.update({c: "buyers_previous" for c in ("revenue_previous", "conversion_previous",
                                                    "arppu_previous")})
        return MetricResult("decomposition", table,
                            counts=("visitors_previous", "visitors_current", "buyers_previous",
                                    "buyers_current"),
                            guarded=guard, notes=notes)


def _by_key(table: pa.Table, by: str | None) -> dict[Any, Factors]:
    out: dict[Any, Factors] = {}
    for row in table.to_pylist():
        key = None if by is None else row[by]
        out[key] = Factors(int(row["visitors"] or 0), int(row["buyers"] or 0),
                           float(row["revenue"] or 0.0))
    return out
