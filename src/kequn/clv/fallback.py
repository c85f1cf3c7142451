"""RFM-based estimates for shops too small (or too odd) for the likelihood models.

With fewer than about 50 repeat buyers the BG/NBD and Gamma-Gamma parameters are barely
identified, so kequn warns and uses these transparent estimates instead; a small shop still
gets an answer in the same columns.

Frequency (:class:`RFMFallback`): each customer's purchase rate is their repeat purchases
over their time as a customer, shrunk towards the shop's pooled rate ``lambda0 = sum x / sum
T`` (a Gamma(1, 1/lambda0) prior, so ``lambda = (x + 1) / (T + 1/lambda0)``). The chance
they are still buying is the chance that a customer buying at that rate would have gone as
long as they have without an order, ``P(alive) = exp(-lambda (T - t_x))``; expected orders in
the next ``t`` are ``P(alive) * lambda * t``.

Spend (:class:`MeanSpendFallback`): each customer's mean positive order value (first purchase
included), shrunk towards the shop's mean by one pseudo-order.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from kequn.clv.base import BaseFitter, as_array

__all__ = ["MeanSpendFallback", "RFMFallback"]


class RFMFallback(BaseFitter):
    """Shrunk-rate recency/frequency estimate with the fitter interface (see module doc).

    Examples
    --------
    >>> m = RFMFallback().fit([0, 3], [0.0, 90.0], [120.0, 100.0])
    >>> p = m.probability_alive([0, 3], [0.0, 90.0], [120.0, 100.0])
    >>> bool(p[1] > p[0])
    True
    """

    name: ClassVar[str] = "rfm"
    param_names: ClassVar[tuple[str, ...]] = ("rate",)

    def fit(self, frequency: object, recency: object, T: object, *,  # noqa: N803
            weights: object | None = None) -> RFMFallback:
        """Estimate the shop's pooled repeat-purchase rate; returns self."""
        x, big_t = as_array(frequency), as_array(T)
        w = np.ones(len(x)) if weights is None else as_array(weights)
        exposure = float(w @ big_t)
        rate = float(w @ x) / exposure if exposure > 0 else 0.0
        self.params_ = {"rate": rate}
        self.standard_errors_ = {"rate": float("nan")}
        self.log_likelihood_ = float("nan")
        self.n_customers_ = int(round(w.sum()))
        self.penalizer_ = 0.0
        self.attempts_ = ()
        return self

    def expected_rate(self, frequency: object, recency: object,
                      T: object) -> np.ndarray:  # noqa: N803
        """Each customer's shrunk purchase rate per time unit."""
        (rate,) = self._p()
        x, big_t = as_array(frequency), as_array(T)
        if rate <= 0:
            return np.zeros(np.broadcast(x, big_t).shape)
        return (x + 1) / (big_t + 1 / rate)

    def probability_alive(self, frequency: object, recency: object,
                          T: object) -> np.ndarray:  # noqa: N803
        """``exp(-rate * (T - t_x))``: how plausible the current silence is."""
        gap = np.maximum(as_array(T) - as_array(recency), 0.0)
        return np.asarray(np.exp(-self.expected_rate(frequency, recency, T) * gap), dtype=float)

    def conditional_expected_purchases(self, t: float, frequency: object, recency: object,
                                       T: object) -> np.ndarray:  # noqa: N803
        """``P(alive) * rate * t``."""
        rate = self.expected_rate(frequency, recency, T)
        return np.asarray(self.probability_alive(frequency, recency, T) * rate * max(t, 0.0))


class MeanSpendFallback(BaseFitter):
    """Each customer's mean order value shrunk towards the shop mean by one pseudo-order.

    Examples
    --------
    >>> m = MeanSpendFallback().fit([1, 0], [30.0, float("nan")], [10.0, 20.0])
    >>> m.params_["mean_spend"]
    20.0
    """

    name: ClassVar[str] = "mean_spend"
    param_names: ClassVar[tuple[str, ...]] = ("mean_spend",)

    def fit(self, frequency: object, monetary_value: object,
            first_spend: object) -> MeanSpendFallback:
        """The shop's mean positive order value over every purchase; returns self."""
        total, count = _spend_totals(frequency, monetary_value, first_spend)
        mean = float(total.sum() / count.sum()) if count.sum() > 0 else 0.0
        self.params_ = {"mean_spend": mean}
        self.standard_errors_ = {"mean_spend": float("nan")}
        self.log_likelihood_ = float("nan")
        self.n_customers_ = len(total)
        self.penalizer_ = 0.0
        self.attempts_ = ()
        return self

    def conditional_expected_spend(self, frequency: object, monetary_value: object,
                                   first_spend: object) -> np.ndarray:
        """``(own spend + shop mean) / (own positive orders + 1)``."""
        (mean,) = self._p()
        total, count = _spend_totals(frequency, monetary_value, first_spend)
        return np.asarray((total + mean) / (count + 1), dtype=float)


def _spend_totals(frequency: object, monetary_value: object,
                  first_spend: object) -> tuple[np.ndarray, np.ndarray]:
    x = np.atleast_1d(as_array(frequency))
    m = np.atleast_1d(as_array(monetary_value))
    first = np.atleast_1d(as_array(first_spend))
    repeat = np.where((x > 0) & np.isfinite(m) & (m > 0), x * m, 0.0)
    repeat_n = np.where(repeat > 0, x, 0.0)
    first_ok = np.isfinite(first) & (first > 0)
    total = repeat + np.where(first_ok, first, 0.0)
    return total, repeat_n + first_ok
