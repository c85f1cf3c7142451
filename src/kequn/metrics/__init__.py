"""Operations metrics 运营指标 (SPEC §2): every family as a small runner, and ``ws.metrics``.

Each metric is a pydantic spec (``as_of``, ``period``, ``start``, ``by`` and its own options)
whose ``to_expr()`` builds one Ibis expression and whose ``run()`` returns a
:class:`MetricResult` (an Arrow table plus what small-cell suppression needs). The
:class:`Metrics` facade resolves ``as_of`` from the workspace and runs them by name.

Examples
--------
>>> import kequn
>>> ws = kequn.open(":memory:")
>>> m = Metrics(ws)
>>> m.rfm(as_of="2024-03-31").table.num_rows
8
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from kequn._suggest import did_you_mean
from kequn.metrics._base import MetricError, MetricResult, MetricSpec, Sources
from kequn.metrics._periods import Period, Window
from kequn.metrics.catalog import METRICS, MetricInfo
from kequn.metrics.funnels import FunnelSpec
from kequn.metrics.retention import RetentionResult
from kequn.metrics.rfm import RFMSpec
from kequn.schema.conventions import parse_as_of

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from kequn.workspace import Workspace

__all__ = [
    "METRICS",
    "MetricError",
    "MetricInfo",
    "MetricResult",
    "MetricSpec",
    "Metrics",
    "Period",
    "RetentionResult",
    "Sources",
    "Window",
    "parse_start",
    "resolve_as_of",
]

When = str | dt.date | dt.datetime


class Metrics:
    """Every metric of SPEC §2 for one workspace (``ws.metrics``).

    Every method takes keyword-only options: ``as_of`` (default: the latest data) or ``end``
    (a last day, meaning as_of at its end), ``start`` (first day of the window), ``period``
    (``day``, ``week`` or ``month``), ``by`` (a customer attribute to split by, e.g.
    ``source_channel``, ``member_band``, ``city_tier``, ``gender``, ``age_band``),
    ``segment`` (an Ibis table with a ``customer_id`` column: the metric of that group
    only) and the metric's own options (see its spec class).
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    # -- generic ------------------------------------------------------------------------------
    def spec(self, name: str, *, as_of: When | None = None, end: When | None = None,
             start: When | None = None, **options: Any) -> MetricSpec:
        """The validated spec of metric ``name`` with as_of resolved."""
        info = _info(name)
        moment = resolve_as_of(self.ws, as_of=as_of, end=end)
        first = None if start is None else parse_start(start)
        from pydantic import ValidationError

        try:
            return info.spec(as_of=moment, start=first, **options)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or name
            msg = f"{name}: option {where!r}: {err['msg'].lower()}"
            raise MetricError(msg) from None

    def run(self, name: str, *, segment: ir.Table | None = None, **options: Any) -> MetricResult:
        """Run metric ``name`` (one of :data:`METRICS`) with ``options``."""
        return self.spec(name, **options).run(self.ws, segment=segment)

    # -- one method per metric ----------------------------------------------------------------
    def attributes(self, **options: Any) -> MetricResult:
        """User attributes 用户属性 (:class:`~kequn.metrics.attributes.AttributesSpec`)."""
        return self.run("attributes", **options)

    def groups(self, **options: Any) -> MetricResult:
        """User group counts 用户分群 (:class:`~kequn.metrics.groups.GroupsSpec`)."""
        return self.run("groups", **options)

    def activity(self, **options: Any) -> MetricResult:
        """DAU/WAU/MAU and active rates 活跃 (:class:`~kequn.metrics.activity.ActivitySpec`)."""
        return self.run("activity", **options)

    def active_days(self, **options: Any) -> MetricResult:
        """Active days per customer 活跃天数 (:class:`~kequn.metrics.activity.ActiveDaysSpec`)."""
        return self.run("active_days", **options)

    def retention(self, **options: Any) -> RetentionResult:
        """Cohort retention matrix 留存 (:class:`~kequn.metrics.retention.RetentionSpec`)."""
        result = self.run("retention", **options)
        assert isinstance(result, RetentionResult)
        return result

    def day_retention(self, **options: Any) -> MetricResult:
        """Next-day / 7-day / 30-day retention (:class:`~.retention.DayRetentionSpec`)."""
        return self.run("day_retention", **options)

    def repurchase_retention(self, **options: Any) -> MetricResult:
        """Store repurchase retention (seed 002), e.g. ``by="member_band"``."""
        return self.run("repurchase_retention", **options)

    def funnel(self, **options: Any) -> MetricResult:
        """Ordered funnel 漏斗 (:class:`~kequn.metrics.funnels.FunnelSpec`)."""
        return self.run("funnel", **options)

    def funnel_dropouts(self, step: int | str, *, segment: ir.Table | None = None,
                        **options: Any) -> ir.Table:
        """Customers who reached ``step`` of the funnel and not the next (SPEC §3 drop-outs)."""
        spec = self.spec("funnel", **options)
        assert isinstance(spec, FunnelSpec)
        return spec.dropouts_expr(spec.sources(self.ws, segment), step)

    def conversion(self, **options: Any) -> MetricResult:
        """Conversion 转化 (:class:`~kequn.metrics.conversion.ConversionSpec`)."""
        return self.run("conversion", **options)

    def new_returning(self, **options: Any) -> MetricResult:
        """New vs returning 新老客 (:class:`~kequn.metrics.conversion.NewReturningSpec`)."""
        return self.run("new_returning", **options)

    def decomposition(self, **options: Any) -> MetricResult:
        """Sales decomposition (:class:`~kequn.metrics.decomposition.DecompositionSpec`)."""
        return self.run("decomposition", **options)

    def channels(self, **options: Any) -> MetricResult:
        """Channel quadrant with advice (:class:`~kequn.metrics.channels.ChannelSpec`)."""
        return self.run("channels", **options)

    def rfm(self, **options: Any) -> MetricResult:
        """RFM 8-class grid (:class:`~kequn.metrics.rfm.RFMSpec`)."""
        return self.run("rfm", **options)

    def rfm_scores(self, *, segment: ir.Table | None = None, **options: Any) -> ir.Table:
        """Per-buyer R, F, M values, scores 1..5 and class, as an Ibis table."""
        spec = self.spec("rfm", **options)
        assert isinstance(spec, RFMSpec)
        return spec.scores_expr(spec.sources(self.ws, segment))


def _info(name: str) -> MetricInfo:
    try:
        return METRICS[name]
    except KeyError:
        msg = (f"unknown metric {name!r}{did_you_mean(name, METRICS)}; "
               "run 'kequn metrics list' for the names")
        raise MetricError(msg) from None


def resolve_as_of(ws: Workspace, *, as_of: When | None = None,
                  end: When | None = None) -> dt.datetime:
    """as_of from ``as_of`` or from ``end`` (the end of that day); the latest data by default."""
    if as_of is not None and end is not None:
        msg = "give either an end date (--to) or as_of (--as-of), not both"
        raise MetricError(msg)
    if end is not None:
        return parse_as_of(end)
    return ws.resolve_as_of(as_of)


def parse_start(value: When) -> dt.datetime:
    """A window start: a date means its midnight."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time.min)
    text = value.strip()
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time.min)
        return dt.datetime.fromisoformat(text).replace(tzinfo=None)
    except ValueError:
        msg = f"start {text!r} is not a date; use YYYY-MM-DD"
        raise MetricError(msg) from None
