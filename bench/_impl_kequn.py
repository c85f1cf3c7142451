"""The work kequn does in the engine benchmark, the same on every engine: the feature table
and the monthly purchase retention matrix, each timed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
from _impl_common import RETENTION_PERIODS, Clock

from kequn.metrics.retention import RetentionSpec
from kequn.storage import features as ft


def kequn_work(ws: Any, as_of: dt.datetime, clock: Clock) -> tuple[pa.Table, pa.Table]:
    """``(features, retention)`` computed on ``ws``'s engine."""
    with clock.step("features"):
        features = ft.customer_features(ws, as_of, predictions=False).to_pyarrow()
    with clock.step("retention"):
        spec = RetentionSpec(as_of=as_of, period="month", action="purchase",
                             periods=RETENTION_PERIODS)
        retention = spec.to_expr(spec.sources(ws)).to_pyarrow()
    return features, retention
