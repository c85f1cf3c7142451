"""The maths BG/NBD and MBG/NBD share, written once with a shift ``s`` (0 for BG, 1 for MBG).

Both models: while alive a customer buys at a Poisson rate ``lambda ~ Gamma(r, alpha)``;
after each purchase they drop out with probability ``p ~ Beta(a, b)``. BG/NBD (Fader, Hardie
& Lee 2005) lets them drop out only after a *repeat* purchase, so a one-time buyer is always
"alive"; MBG/NBD (Batislam, Denizel & Filiztekin 2007) also at the first purchase. In the
formulas this is ``b + x`` becoming ``b + x + 1`` and the dropout term applying at ``x = 0``.

Log-likelihood of one customer (FHL 2005 eq. 6, Batislam et al. 2007 eq. 5):

    A1 = ln G(r+x) - ln G(r) + r ln(alpha)
    A2 = ln B(a, b+x+s) - ln B(a, b)
    A3 = -(r+x) ln(alpha+T)
    A4 = ln a - ln(b+x+s-1) - (r+x) ln(alpha+t_x)      (BG: only when x > 0)
    LL = A1 + A2 + ln(exp A3 + exp A4)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from kequn.clv._optim import Objective
from kequn.clv.base import Grouped, LikelihoodFitter, as_array
from kequn.clv.errors import PredictionError


class BetaGeoBase(LikelihoodFitter):
    """Shared BG/NBD-family fitter; subclasses set ``name`` and ``_shift``."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _shift: ClassVar[int] = 0

    def fit(self, frequency: object, recency: object, T: object, *,  # noqa: N803
            weights: object | None = None) -> BetaGeoBase:
        """Fit by maximum likelihood; returns self.

        Parameters
        ----------
        frequency, recency, T
            Per customer x, t_x and T (as from :func:`kequn.clv.summary.rfm_summary`).
        weights
            Optional count of customers each row stands for.
        """
        x, tx, big_t = _check_inputs(frequency, recency, T)
        data = Grouped.fold(x, tx, big_t, weights=None if weights is None else as_array(weights))
        return self._fit_grouped(data)

    def _start(self, data: Grouped) -> np.ndarray:
        x, _, big_t = data.columns
        w = data.weights
        # r = 1 and alpha matching the pooled purchase rate; a = b = 1 (dropout p ~ U(0, 1))
        rate = max(float(w @ x), 1.0) / max(float(w @ big_t), 1e-9)
        return np.asarray(np.log([1.0, 1.0 / rate, 1.0, 1.0]), dtype=float)

    def _objective(self, data: Grouped) -> Objective:
        x, tx, big_t = data.columns
        w = data.weights / data.total
        s = self._shift
        # a million customers have few distinct x, T and t_x values (whole days): terms that
        # depend on one of them are computed once per distinct value and gathered
        ux, ix = np.unique(x, return_inverse=True)
        ut, it = np.unique(big_t, return_inverse=True)
        utx, itx = np.unique(tx, return_inverse=True)
        ix, it, itx = ix.ravel(), it.ravel(), itx.ravel()
        can_drop = (ux > 0) if s == 0 else np.ones(len(ux), dtype=bool)
        # the weights of each distinct x, to sum x-only terms without a per-row gather
        wx = np.bincount(ix, weights=w, minlength=len(ux))

        def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
            r, alpha, a, b = np.exp(z)
            rx = r + ux
            bxs1 = np.where(can_drop, b + ux + s - 1, 1.0)
            with np.errstate(divide="ignore"):
                log_drop = np.where(can_drop, np.log(a) - np.log(bxs1), -np.inf)
            inv_bx = np.where(can_drop, 1.0 / bxs1, 0.0)
            # x-only parts of A1 + A2 and of their gradients
            x_ll = (gammaln(rx) - gammaln(r) + r * np.log(alpha) + gammaln(a + b)
                    + gammaln(b + ux + s) - gammaln(b) - gammaln(a + b + ux + s))
            d_abx = digamma(a + b + ux + s)
            x_gr = digamma(rx) - digamma(r) + np.log(alpha)
            x_ga = digamma(a + b) - d_abx
            x_gb = digamma(a + b) + digamma(b + ux + s) - digamma(b) - d_abx
            log_at = np.log(alpha + ut)[it]
            log_atx = np.log(alpha + utx)[itx]
            rxr = rx[ix]
            a3 = -rxr * log_at
            d = log_drop[ix] - rxr * log_atx - a3  # A4 - A3
            w4 = expit(d)
            w3 = 1.0 - w4
            ll = float(wx @ x_ll) + float(w @ (a3 + np.logaddexp(0.0, d)))
            ww4 = w * w4
            g_r = float(wx @ x_gr) - float(w @ (w3 * log_at)) - float(ww4 @ log_atx)
            g_alpha = r / alpha - float((w * rxr) @ (w3 / (alpha + ut)[it]
                                                     + w4 / (alpha + utx)[itx]))
            g_a = float(wx @ x_ga) + float(ww4.sum()) / a
            g_b = float(wx @ x_gb) - float(ww4 @ inv_bx[ix])
            grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
            return -ll, -grad

        return objective

    # -- predictions ----------------------------------------------------------------------------
    def _log_dropout_odds(self, x: np.ndarray, tx: np.ndarray,
                          big_t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self._p()
        s = self._shift
        can_drop = (x > 0) if s == 0 else np.ones(len(x), dtype=bool)
        with np.errstate(divide="ignore"):
            odds = (np.log(a) - np.log(np.where(can_drop, b + x + s - 1, 1.0))
                    + (r + x) * (np.log(alpha + big_t) - np.log(alpha + tx)))
        return np.where(can_drop, odds, -np.inf)

    def probability_alive(self, frequency: object, recency: object,
                          T: object) -> np.ndarray:  # noqa: N803
        """P(alive | x, t_x, T): FHL 2005 eq. 13 (with the MBG shift)."""
        x, tx, big_t = _check_inputs(frequency, recency, T)
        return np.asarray(expit(-self._log_dropout_odds(x, tx, big_t)), dtype=float)

    def conditional_expected_purchases(self, t: float, frequency: object, recency: object,
                                       T: object) -> np.ndarray:  # noqa: N803
        """E[purchases in (T, T+t] | x, t_x, T]: FHL 2005 eq. 10 (with the MBG shift).

        The Gauss hypergeometric term is rewritten with Euler's transformation,
        ``(1-z)^(r+x) 2F1(r+x, b+x+s; c; z) = (1-z)^(a-1) 2F1(a+b+s-1-r, a-1; c; z)`` with
        ``c = a+b+x+s-1``, so its arguments do not grow with x: customers with hundreds of
        purchases stay finite.
        """
        x, tx, big_t = _check_inputs(frequency, recency, T)
        r, alpha, a, b = self._p()
        s = self._shift
        if t <= 0:
            return np.zeros(len(x))
        a1 = a if abs(a - 1) > 1e-7 else 1 + 1e-7  # the formula's a - 1 has a removable zero
        z = t / (alpha + big_t + t)
        c = a1 + b + x + s - 1
        tail = (1 - z) ** (a1 - 1) * hyp2f1(a1 + b + s - 1 - r, a1 - 1, c, z)
        alive = expit(-self._log_dropout_odds(x, tx, big_t))
        return np.asarray(alive * c / (a1 - 1) * (1 - tail), dtype=float)

    def expected_rate(self, frequency: object, recency: object,
                      T: object) -> np.ndarray:  # noqa: N803
        """Posterior mean purchase rate of an alive customer, ``(r+x) / (alpha+T)``."""
        x, _, big_t = _check_inputs(frequency, recency, T)
        r, alpha, _, _ = self._p()
        return (r + x) / (alpha + big_t)


def _check_inputs(frequency: object, recency: object,
                  T: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # noqa: N803
    x, tx, big_t = as_array(frequency), as_array(recency), as_array(T)
    x, tx, big_t = np.broadcast_arrays(np.atleast_1d(x), np.atleast_1d(tx), np.atleast_1d(big_t))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(tx)) and np.all(np.isfinite(big_t))):
        msg = "frequency, recency and T must be finite numbers; drop or fill missing rows first"
        raise PredictionError(msg)
    if np.any(x < 0) or np.any(tx < 0) or np.any(tx > big_t + 1e-9):
        msg = "need frequency >= 0 and 0 <= recency <= T for every customer"
        raise PredictionError(msg)
    return x, tx, big_t
