"""Per-customer predictions from fitted models: the rows of ``kq_predictions``.

- ``p_alive``: the frequency model's P(alive).
- ``expected_orders``: expected paid purchases in the next ``horizon_days``.
- ``expected_spend``: expected value of one future order (the spend model).
- ``clv``: ``expected_spend`` times the expected purchases in each 30-day step of the next
  ``clv_horizon_days``, each step discounted at ``discount_rate`` a year to its end.
- ``next_purchase_at``: the day (at 00:00) of ``as_of`` plus the expected wait for an alive
  customer's next order (one over their posterior purchase rate; the models are memoryless,
  so the wait runs from ``as_of``), when the customer is more likely alive than not and that
  day is within ``next_purchase_within_days``; otherwise null.
- ``churn_risk``: ``high`` when ``p_alive`` is below the first threshold (0.3), ``medium``
  below the second (0.7), else ``low``.

Customers with identical ``(x, t_x, T)`` get identical frequency predictions, so the model is
evaluated once per distinct row and spread back.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from kequn.clv.base import fold_rows
from kequn.clv.errors import PredictionError
from kequn.clv.fallback import MeanSpendFallback
from kequn.clv.gamma_gamma import GammaGammaFitter
from kequn.clv.summary import SummaryArrays

__all__ = [
    "FrequencyModel", "ScoringOptions", "SpendModel", "expected_spend", "score_customers",
]

CLV_STEP_DAYS = 30
PREDICTION_COLUMNS: tuple[str, ...] = (
    "customer_id", "as_of", "model", "p_alive", "expected_orders", "horizon_days",
    "expected_spend", "clv", "next_purchase_at", "churn_risk",
)


class FrequencyModel(Protocol):
    """What scoring needs from a fitted frequency model (BG/NBD, MBG/NBD or the fallback)."""

    @property
    def name(self) -> str: ...  # noqa: D102

    def probability_alive(self, frequency: object, recency: object,
                          T: object) -> np.ndarray: ...  # noqa: N803, D102

    def conditional_expected_purchases(self, t: float, frequency: object, recency: object,
                                       T: object) -> np.ndarray: ...  # noqa: N803, D102

    def expected_rate(self, frequency: object, recency: object,
                      T: object) -> np.ndarray: ...  # noqa: N803, D102


SpendModel = GammaGammaFitter | MeanSpendFallback


@dataclass(frozen=True)
class ScoringOptions:
    """How far ahead to predict and how to band customers (all have defaults)."""

    horizon_days: int = 90
    clv_horizon_days: int = 365
    discount_rate: float = 0.10
    churn_thresholds: tuple[float, float] = (0.3, 0.7)
    next_purchase_within_days: int = 365
    unit_days: float = 1.0

    def __post_init__(self) -> None:
        if self.horizon_days <= 0 or self.clv_horizon_days <= 0:
            msg = (f"horizons must be positive days, got horizon_days={self.horizon_days}, "
                   f"clv_horizon_days={self.clv_horizon_days}")
            raise PredictionError(msg)
        if not -1 < self.discount_rate < 10:
            msg = f"discount_rate {self.discount_rate} is a yearly rate such as 0.1; pick 0..1"
            raise PredictionError(msg)
        lo, hi = self.churn_thresholds
        if not 0 <= lo <= hi <= 1:
            msg = f"churn thresholds {self.churn_thresholds} must satisfy 0 <= high <= low <= 1"
            raise PredictionError(msg)


def score_customers(summary: SummaryArrays, frequency_model: FrequencyModel,
                    spend_model: SpendModel, *, as_of: dt.datetime, model_label: str,
                    options: ScoringOptions) -> pa.Table:
    """The ``kq_predictions`` rows for every customer in ``summary``."""
    x, tx, big_t = summary.frequency, summary.recency, summary.T
    n = len(x)
    if n == 0:
        return _to_arrow(summary, np.empty(0), np.empty(0), np.empty(0), np.empty(0),
                         np.empty(0), np.empty(0, dtype=object), as_of, model_label, options)
    (ux, utx, ut), inverse = fold_rows(x, tx, big_t)
    unit = options.unit_days

    with np.errstate(all="ignore"):
        p_alive = frequency_model.probability_alive(ux, utx, ut)
        horizon = frequency_model.conditional_expected_purchases(
            options.horizon_days / unit, ux, utx, ut)
        per_order_steps = _discounted_purchases(frequency_model, ux, utx, ut, options)
        rate = frequency_model.expected_rate(ux, utx, ut)
        wait_days = np.where(rate > 0, unit / rate, np.inf)
    spend = expected_spend(spend_model, summary)

    p_alive = _clean(p_alive, lo=0.0, hi=1.0)[inverse]
    expected = _clean(horizon, lo=0.0)[inverse]
    clv = _clean(per_order_steps, lo=0.0)[inverse] * spend
    wait = wait_days[inverse]
    due = (p_alive >= 0.5) & np.isfinite(wait) & (wait <= options.next_purchase_within_days)
    bands = _churn_bands(p_alive, options.churn_thresholds)
    return _to_arrow(summary, p_alive, expected, spend, clv, np.where(due, wait, np.nan), bands,
                     as_of, model_label, options)


def _discounted_purchases(model: FrequencyModel, x: np.ndarray, tx: np.ndarray,
                          big_t: np.ndarray, options: ScoringOptions) -> np.ndarray:
    """Sum over 30-day steps of expected purchases in the step times its discount factor."""
    steps = math.ceil(options.clv_horizon_days / CLV_STEP_DAYS)
    ends = [min(CLV_STEP_DAYS * (k + 1), options.clv_horizon_days) for k in range(steps)]
    total = np.zeros(len(x))
    before = np.zeros(len(x))
    for end in ends:
        cumulative = model.conditional_expected_purchases(end / options.unit_days, x, tx, big_t)
        discount = (1 + options.discount_rate) ** (-end / 365)
        total += (cumulative - before) * discount
        before = cumulative
    return total


def expected_spend(model: SpendModel, s: SummaryArrays) -> np.ndarray:
    """Expected value of one future order per customer, never NaN or negative."""
    if isinstance(model, GammaGammaFitter):
        spend = model.conditional_expected_spend(s.monetary_frequency, s.monetary_value)
    else:
        spend = model.conditional_expected_spend(s.monetary_frequency, s.monetary_value,
                                                 s.first_spend)
    return _clean(spend, lo=0.0)


def _clean(values: np.ndarray, *, lo: float, hi: float | None = None) -> np.ndarray:
    """Clip to the valid range; a value the maths could not produce becomes the bound."""
    top = lo if hi is None else hi
    out = np.nan_to_num(np.asarray(values, dtype=float), nan=lo, posinf=top, neginf=lo)
    return np.asarray(np.clip(out, lo, hi), dtype=float)


def _churn_bands(p_alive: np.ndarray, thresholds: tuple[float, float]) -> np.ndarray:
    high, medium = thresholds
    return np.where(p_alive < high, "high", np.where(p_alive < medium, "medium", "low"))


def _to_arrow(s: SummaryArrays, p_alive: np.ndarray, expected: np.ndarray, spend: np.ndarray,
              clv: np.ndarray, wait_days: np.ndarray, bands: np.ndarray, as_of: dt.datetime,
              model_label: str, options: ScoringOptions) -> pa.Table:
    n = len(p_alive)
    as_of_us = np.datetime64(as_of, "us")
    offsets = np.round(np.nan_to_num(wait_days, nan=0.0) * 86_400e6).astype("timedelta64[us]")
    next_day = (as_of_us + offsets).astype("datetime64[D]").astype("datetime64[us]")
    next_at = pa.array(next_day, type=pa.timestamp("us"), mask=~np.isfinite(wait_days))
    return pa.table({
        "customer_id": s.customer_id,
        "as_of": pa.repeat(pa.scalar(as_of, type=pa.timestamp("us")), n),
        "model": pa.repeat(pa.scalar(model_label, type=pa.string()), n),
        "p_alive": pa.array(p_alive, type=pa.float64()),
        "expected_orders": pa.array(expected, type=pa.float64()),
        "horizon_days": pa.repeat(pa.scalar(options.horizon_days, type=pa.int64()), n),
        "expected_spend": pa.array(spend, type=pa.float64()),
        "clv": pa.array(clv, type=pa.float64()),
        "next_purchase_at": next_at,
        "churn_risk": pa.array(bands.astype(str) if n else [], type=pa.string()),
    })
