"""Channels 渠道 (seed 003, SPEC §2.8): traffic, step conversion, and the quadrant with advice.

Per channel (the channel of the funnel's entry action): traffic = customers entering the
funnel, each step's conversion from the previous step, and the overall conversion (last
step / entries). Channels are placed in seed 003's quadrant by splitting traffic and overall
conversion at their medians over the channels (a value at the median counts as high).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from kequn.metrics._base import MetricResult, MetricSpec, Sources, memtable, ratio, to_arrow
from kequn.metrics.funnels import DEFAULT_STEPS, FunnelOrder, FunnelSpec

if TYPE_CHECKING:
    from kequn.workspace import Workspace

Quadrant = Literal["grow", "scale_up", "refine", "watch"]

# Seed 003's four quadrants of 渠道质量 (conversion) × 流量 (traffic), with its advice.
QUADRANTS: dict[str, dict[str, str]] = {
    "grow": {
        "zh": "第一象限：质量高、流量大",
        "en": "Quadrant I: high conversion, high traffic",
        "advice_zh": "继续保持并提高渠道投入。",
        "advice_en": "Keep it up and raise the investment in this channel.",
    },
    "scale_up": {
        "zh": "第二象限：质量高、流量小",
        "en": "Quadrant II: high conversion, low traffic",
        "advice_zh": "加大渠道投放，并在加大投放的过程中持续关注渠道质量的变化。",
        "advice_en": "Spend more on this channel, and keep watching its conversion as you "
                     "scale it up.",
    },
    "watch": {
        "zh": "第三象限：质量差、流量小",
        "en": "Quadrant III: low conversion, low traffic",
        "advice_zh": "不要急于砍掉，策略上要谨慎：保持监测，小步调整。",
        "advice_en": "Do not cut it in a hurry: keep monitoring it and adjust in small steps.",
    },
    "refine": {
        "zh": "第四象限：质量差、流量大",
        "en": "Quadrant IV: low conversion, high traffic",
        "advice_zh": "做更加精准的投放，提高整个渠道的质量。",
        "advice_en": "Target more precisely to raise the quality of this channel's traffic.",
    },
}


class ChannelSpec(MetricSpec):
    """Per-channel funnel figures and the traffic × conversion quadrant.

    Examples
    --------
    >>> import kequn, datetime as dt
    >>> ws = kequn.open(":memory:")
    >>> ChannelSpec(as_of=dt.datetime(2024, 3, 31)).run(ws).table.num_rows
    0
    """

    steps: tuple[str, ...] = DEFAULT_STEPS
    conversion_days: float = Field(default=7, gt=0, le=365)
    order: FunnelOrder = "loose"

    def funnel(self) -> FunnelSpec:
        """The funnel split by entry channel that this metric reads."""
        return FunnelSpec(as_of=self.as_of, period=self.period, start=self.window.start,
                          by="channel", steps=self.steps, conversion_days=self.conversion_days,
                          order=self.order)

    def to_expr(self, src: Sources) -> ir.Table:
        """One row per channel: traffic, step rates, overall conversion, quadrant, advice."""
        f = self.funnel().to_expr(src)
        n = len(self.steps)
        steps = {f"step{i}_{self.steps[i - 1]}": f.customers.max(where=f.step == i)
                 for i in range(1, n + 1)}
        t = f.group_by("channel").aggregate(**steps)
        first, last = f"step1_{self.steps[0]}", f"step{n}_{self.steps[-1]}"
        rates = {f"rate{i}_{self.steps[i - 1]}": ratio(t[f"step{i}_{self.steps[i - 1]}"],
                                                      t[f"step{i - 1}_{self.steps[i - 2]}"])
                 for i in range(2, n + 1)}
        t = t.mutate(traffic=t[first], converted=t[last], **rates)
        t = t.mutate(conversion=ratio(t.converted, t.traffic)).filter(lambda x: x.traffic > 0)
        everyone = ibis.window()
        high_traffic = t.traffic >= t.traffic.median().over(everyone)
        high_conv = t.conversion.fill_null(0) >= t.conversion.fill_null(0).median().over(everyone)
        quadrant = ibis.cases(
            (high_traffic & high_conv, "grow"), (~high_traffic & high_conv, "scale_up"),
            (high_traffic & ~high_conv, "refine"), else_="watch")
        t = t.mutate(quadrant=quadrant)
        labels = memtable([{"quadrant": k, "quadrant_zh": v["zh"], "quadrant_en": v["en"],
                                 "advice_zh": v["advice_zh"], "advice_en": v["advice_en"]}
                                for k, v in QUADRANTS.items()])
        t = t.join(labels, "quadrant")
        return t.select("channel", "traffic", "converted", "conversion", *rates, "quadrant",
                        "quadrant_zh", "quadrant_en", "advice_zh", "advice_en").order_by(
            [ibis.desc("traffic"), "channel"])

    def run(self, ws: Workspace, *, segment: ir.Table | None = None) -> MetricResult:
        """Execute into a :class:`MetricResult`."""
        spec_rates = [f"rate{i}_{self.steps[i - 1]}" for i in range(2, len(self.steps) + 1)]
        table = to_arrow(ws, self.to_expr(self.sources(ws, segment)))
        return MetricResult("channels", table, counts=("traffic", "converted"),
                            guarded={"conversion": "converted",
                                     **{r: "traffic" for r in spec_rates}})
