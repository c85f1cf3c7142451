"""What every fitter shares: ``fit()`` returns self, fitted state ends in ``_``, a not-fitted
guard, and a parameter table with standard errors (the lifetimes conventions, STYLE §4).

A subclass declares ``name`` and ``param_names``; one fitted by maximum likelihood derives from
:class:`LikelihoodFitter` and implements ``_objective(data)`` (a mean negative log-likelihood
over log-parameters with its gradient) and, if zeros will not do, ``_start(data)``.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from kequn.clv._optim import FitOutcome, Objective, maximise, standard_errors
from kequn.clv.errors import ConvergenceWarning, PredictionError
from kequn.errors import NotFittedError


@dataclass(frozen=True)
class Grouped:
    """Customers with identical inputs folded into one row with a count (``weights``).

    A million customers have far fewer distinct ``(x, t_x, T)`` rows, and the likelihood of
    identical rows is the same, so fitting on the folded rows gives the same estimate faster.
    """

    columns: tuple[np.ndarray, ...]
    weights: np.ndarray

    @classmethod
    def fold(cls, *columns: np.ndarray, weights: np.ndarray | None = None) -> Grouped:
        """Fold identical rows of ``columns`` (weights, when given, are summed)."""
        unique, inverse = fold_rows(*columns)
        w = np.ones(len(inverse)) if weights is None else np.asarray(weights, dtype=float)
        summed = np.bincount(inverse, weights=w, minlength=len(unique[0]) if unique else 0)
        return cls(unique, summed)

    @property
    def total(self) -> float:
        """Number of customers represented."""
        return float(self.weights.sum())


class BaseFitter:
    """Common fitting machinery. Not used directly; see :class:`BetaGeoFitter`."""

    name: ClassVar[str] = "base"
    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, penalizer: float = 0.0) -> None:
        if penalizer < 0:
            msg = f"penalizer must be >= 0, got {penalizer}"
            raise PredictionError(msg)
        self.penalizer = penalizer

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            msg = f"{self.name} is not fitted yet; call fit() first"
            raise NotFittedError(msg)

    def _p(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(self.params_[n] for n in self.param_names)

    def summary(self) -> dict[str, Any]:
        """Parameters with standard errors, log-likelihood and how the fit went (JSON-ready)."""
        self._check_fitted()
        return {
            "model": self.name,
            "params": {k: _finite(v) for k, v in self.params_.items()},
            "standard_errors": {k: _finite(v) for k, v in self.standard_errors_.items()},
            "log_likelihood": _finite(self.log_likelihood_),
            "customers": self.n_customers_,
            "penalizer": self.penalizer_,
            "attempts": [{"penalizer": a.penalizer, "converged": a.converged,
                          "message": a.message, "iterations": a.iterations}
                         for a in self.attempts_],
        }

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{type(self).__name__}: not fitted>"
        body = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {body}>"


class LikelihoodFitter(BaseFitter, ABC):
    """A fitter by maximum likelihood: a subclass gives ``_objective`` (and may give
    ``_start``), and ``_fit_grouped`` maximises it and fills the fitted state."""

    @abstractmethod
    def _objective(self, data: Grouped) -> Objective:
        """The mean negative log-likelihood over log-parameters, with its gradient."""

    def _start(self, data: Grouped) -> np.ndarray:
        return np.zeros(len(self.param_names))

    def _fit_grouped(self, data: Grouped) -> Self:
        objective = self._objective(data)
        outcome: FitOutcome = maximise(objective, self._start(data), model=self.name,
                                       names=self.param_names, penalizer=self.penalizer)
        if outcome.regularised and outcome.penalizer > self.penalizer:
            failed = outcome.attempts[0]
            msg = (f"{self.name} did not converge ({failed.message}); refitted with a ridge "
                   f"penalizer of {outcome.penalizer:g} on the log-parameters")
            warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        z = outcome.log_params
        self.params_ = dict(zip(self.param_names, np.exp(z).tolist(), strict=True))
        se = standard_errors(outcome.hessian, z, data.total)
        self.standard_errors_ = dict(zip(self.param_names, se.tolist(), strict=True))
        self.log_likelihood_ = -objective(z)[0] * data.total
        self.n_customers_ = int(round(data.total))
        self.penalizer_ = outcome.penalizer
        self.converged_ = True
        self.attempts_ = outcome.attempts
        return self



def fold_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Distinct rows of ``columns`` and, per input row, the index of its distinct row.

    A lexicographic sort of the columns (much faster than ``np.unique(axis=0)`` at a million
    rows), then a new group wherever a row differs from the one before.
    """
    cols = [np.asarray(c, dtype=float).ravel() for c in columns]
    n = len(cols[0]) if cols else 0
    if n == 0:
        return tuple(np.empty(0) for _ in cols), np.empty(0, dtype=np.intp)
    order = np.lexsort(cols[::-1])
    ordered = [c[order] for c in cols]
    starts = np.ones(n, dtype=bool)
    starts[1:] = np.logical_or.reduce([c[1:] != c[:-1] for c in ordered])
    group = np.cumsum(starts) - 1
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = group
    return tuple(c[starts] for c in ordered), inverse


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def as_array(values: Any) -> np.ndarray:
    """A float64 array from a list, a pandas/pyarrow column or a number."""
    return np.asarray(values, dtype=float)
