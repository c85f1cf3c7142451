"""Small statistics for measuring a campaign against its holdout.

Normal-approximation (Wald) intervals for a difference of proportions and of means (Welch),
and the Bayesian probability that the treatment's conversion beats the holdout's under
independent Beta(1, 1) priors, in closed form (Evan Miller, "Formulas for Bayesian A/B
testing", 2015) — exact, no sampling, so the same data always give the same number.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Z95", "mean_diff_ci", "prob_beats", "proportion_diff_ci", "sample_variance"]

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def proportion_diff_ci(x1: int, n1: int, x2: int, n2: int,
                       z: float = Z95) -> tuple[float, float, float] | None:
    """``p1 - p2`` and its Wald interval; None when a group is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    diff = p1 - p2
    return diff, diff - z * se, diff + z * se


def sample_variance(n: int, total: float, total_sq: float) -> float:
    """Unbiased variance from a count, a sum and a sum of squares."""
    if n < 2:
        return 0.0
    mean = total / n
    return max(total_sq - n * mean * mean, 0.0) / (n - 1)


def mean_diff_ci(m1: float, v1: float, n1: int, m2: float, v2: float, n2: int,
                 z: float = Z95) -> tuple[float, float, float] | None:
    """``m1 - m2`` and its Welch (unequal variances) normal interval."""
    if n1 == 0 or n2 == 0:
        return None
    se = math.sqrt(v1 / n1 + v2 / n2)
    diff = m1 - m2
    return diff, diff - z * se, diff + z * se


def prob_beats(x_t: int, n_t: int, x_h: int, n_h: int) -> float | None:
    """P(p_t > p_h) for Beta(1 + x, 1 + n - x) posteriors of treatment and holdout.

    Closed form: with a = 1 + x, b = 1 + n - x,
    ``P = sum_{i=0}^{a_t-1} B(a_h+i, b_h+b_t) / ((b_t+i) B(1+i, b_t) B(a_h, b_h))``,
    summed in log space.
    """
    if n_t == 0 or n_h == 0:
        return None
    from scipy.special import betaln, logsumexp  # here: SciPy costs every CLI command 0.2 s

    a_t, b_t = 1 + x_t, 1 + n_t - x_t
    a_h, b_h = 1 + x_h, 1 + n_h - x_h
    i = np.arange(a_t, dtype=float)
    terms = (betaln(a_h + i, b_h + b_t) - np.log(b_t + i) - betaln(1 + i, b_t)
             - betaln(a_h, b_h))
    return float(min(max(np.exp(logsumexp(terms)), 0.0), 1.0))
