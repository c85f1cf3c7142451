"""Holdout validation: fit on a calibration period, compare predictions with what happened.

The report follows FHL 2005 (Fig. 4): customers grouped by their calibration repeat purchases
(0, 1, ..., 6, 7+), and per group the actual and the predicted repeat purchases in the
holdout, plus the totals. ``bucket_error_pct`` (the absolute errors of the bucket totals, as
a share of all actual holdout purchases) is what ``model="auto"`` compares to choose between
BG/NBD and MBG/NBD for a shop: it judges the model on groups of customers, as a shop uses it,
where the per-customer ``rmse`` (also reported) is mostly Poisson noise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from kequn.clv.base import BaseFitter
from kequn.clv.scoring import FrequencyModel, SpendModel, expected_spend
from kequn.clv.summary import SummaryArrays

__all__ = ["HoldoutReport", "holdout_report"]

TOP_BUCKET = 7


@dataclass(frozen=True)
class HoldoutReport:
    """Predicted vs actual repeat purchases in the holdout, per frequency bucket and in total."""

    model: str
    calibration_end: dt.datetime
    as_of: dt.datetime
    holdout_duration: float
    time_unit: str
    fit: dict[str, Any]
    buckets: tuple[dict[str, Any], ...]
    total: dict[str, Any]
    rmse: float
    bucket_error_pct: float
    spend: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``kequn predict fit --json`` prints)."""
        return {
            "model": self.model,
            "calibration_end": self.calibration_end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "holdout_duration": self.holdout_duration,
            "time_unit": self.time_unit,
            "fit": self.fit,
            "buckets": list(self.buckets),
            "total": self.total,
            "rmse": self.rmse,
            "bucket_error_pct": self.bucket_error_pct,
            "spend": self.spend,
        }


def holdout_report(model: FrequencyModel, summary: SummaryArrays, *, calibration_end: dt.datetime,
                   as_of: dt.datetime, time_unit: str = "day",
                   spend_model: SpendModel | None = None) -> HoldoutReport:
    """Compare a model fitted on the calibration part of ``summary`` with its holdout columns.

    ``summary`` must come from :func:`rfm_summary` with ``calibration_end``.
    """
    if summary.frequency_holdout is None or summary.duration_holdout is None:
        msg = "holdout_report needs a summary computed with calibration_end"
        raise ValueError(msg)
    x, actual = summary.frequency, summary.frequency_holdout
    predicted = model.conditional_expected_purchases(summary.duration_holdout, x,
                                                     summary.recency, summary.T)
    predicted = np.nan_to_num(predicted, nan=0.0)
    bucket = np.minimum(x, TOP_BUCKET).astype(int)
    rows: list[dict[str, Any]] = []
    for k in range(TOP_BUCKET + 1):
        sel = bucket == k
        n = int(sel.sum())
        rows.append({
            "frequency": f"{k}+" if k == TOP_BUCKET else str(k),
            "customers": n,
            "actual": float(actual[sel].sum()),
            "predicted": float(predicted[sel].sum()),
            "actual_mean": float(actual[sel].mean()) if n else None,
            "predicted_mean": float(predicted[sel].mean()) if n else None,
        })
    total_actual, total_predicted = float(actual.sum()), float(predicted.sum())
    total = {
        "customers": len(x),
        "actual": total_actual,
        "predicted": total_predicted,
        "error_pct": (100 * (total_predicted - total_actual) / total_actual
                      if total_actual else None),
    }
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2))) if len(x) else float("nan")
    misses = sum(abs(row["predicted"] - row["actual"]) for row in rows)
    bucket_error = 100 * misses / total_actual if total_actual else float("nan")
    fit = model.summary() if isinstance(model, BaseFitter) else {"model": model.name}
    spend = None
    if spend_model is not None and summary.monetary_value_holdout is not None:
        spend = _spend_check(spend_model, summary, summary.monetary_value_holdout)
    return HoldoutReport(model.name, calibration_end, as_of, summary.duration_holdout, time_unit,
                         fit, tuple(rows), total, rmse, bucket_error, spend)


def _spend_check(spend_model: SpendModel, summary: SummaryArrays,
                 actual: np.ndarray) -> dict[str, Any]:
    """Mean predicted vs actual order value, over customers who spent in the holdout."""
    seen = np.isfinite(actual) & (actual > 0)
    predicted = expected_spend(spend_model, summary)
    fit = spend_model.summary()
    return {
        "model": spend_model.name,
        "fit": fit,
        "customers": int(seen.sum()),
        "actual_mean": float(actual[seen].mean()) if seen.any() else None,
        "predicted_mean": float(predicted[seen].mean()) if seen.any() else None,
    }
