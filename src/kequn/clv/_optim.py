"""Maximum likelihood on log-parameters: minimise, retry with regularisation, Hessian errors.

Every model here has positive parameters, so the optimiser works on their logarithms (no
bounds to hit at zero, and a step means the same relative change for every parameter). The
objective is the *mean* negative log-likelihood, so its size does not grow with the number
of customers and the same tolerances suit a shop of 200 buyers and one of a million.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from kequn.clv.errors import ConvergenceError

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]
"""log-parameters -> (mean negative log-likelihood, its gradient in log-parameters)."""

LOG_BOUND = 18.0
"""|log parameter| beyond which an estimate is taken as running off to 0 or infinity."""
RETRY_PENALIZERS: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1)


@dataclass(frozen=True)
class Attempt:
    """One optimiser run: its penalty, whether it converged and why not."""

    penalizer: float
    converged: bool
    message: str
    iterations: int


@dataclass(frozen=True)
class FitOutcome:
    """The accepted estimate and every attempt that led to it."""

    log_params: np.ndarray
    penalizer: float
    objective: float
    hessian: np.ndarray
    attempts: tuple[Attempt, ...] = field(default_factory=tuple)

    @property
    def regularised(self) -> bool:
        """Whether the estimate needed a penalty to converge."""
        return self.penalizer > 0


def penalised(objective: Objective, penalizer: float) -> Objective:
    """Add ``penalizer * sum(log_params**2)`` (a ridge on log-parameters) to the objective.

    The ridge pulls parameters that run off to 0 or infinity (a flat likelihood: e.g. no
    heterogeneity in the data) back to a finite point, and barely moves well-identified ones.
    """
    if penalizer == 0:
        return objective

    def with_penalty(z: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(z)
        return value + penalizer * float(z @ z), grad + 2 * penalizer * z

    return with_penalty


def maximise(objective: Objective, start: np.ndarray, *, model: str,
             names: tuple[str, ...] = (), penalizer: float = 0.0) -> FitOutcome:
    """Minimise ``objective`` from ``start``; on failure retry with growing ridge penalties.

    An attempt converges when the optimiser reports success (or stopped on a flat gradient)
    and no log-parameter sits at ±:data:`LOG_BOUND`. Raises :class:`ConvergenceError` naming
    ``model`` when even the strongest penalty fails.
    """
    attempts: list[Attempt] = []
    schedule = (penalizer, *[p for p in RETRY_PENALIZERS if p > penalizer])
    for pen in schedule:
        fun = penalised(objective, pen)
        z, value, ok, message, iterations = _minimise(fun, start, names)
        attempts.append(Attempt(pen, ok, message, iterations))
        if ok:
            return FitOutcome(z, pen, value, hessian(fun, z), tuple(attempts))
    last = attempts[-1]
    msg = (f"{model} did not converge even with penalizer {last.penalizer:g} "
           f"({last.message}); the data may be too small or degenerate for this model")
    raise ConvergenceError(msg)


def _minimise(fun: Objective, start: np.ndarray,
              names: tuple[str, ...]) -> tuple[np.ndarray, float, bool, str, int]:
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    with np.errstate(all="ignore"):
        res = minimize(fun, start, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxls": 50})
        z = np.asarray(res.x, dtype=float)
        value = float(res.fun)
        grad = np.asarray(res.jac, dtype=float)
        if np.all(np.isfinite(z)) and np.isfinite(value):
            z, value, grad = _newton_polish(fun, z, value, grad)
    finite = bool(np.all(np.isfinite(z)) and np.isfinite(value) and np.all(np.isfinite(grad)))
    flat = finite and float(np.max(np.abs(grad))) < 1e-5
    interior = finite and bool(np.all(np.abs(z) < LOG_BOUND - 0.5))
    ok = (bool(res.success) or flat) and interior
    if not finite:
        message = "the likelihood became undefined"
    elif not interior:
        off = np.flatnonzero(np.abs(z) >= LOG_BOUND - 0.5)
        label = ", ".join(names[i] if i < len(names) else f"#{i}" for i in off)
        message = f"{label} ran off to 0 or infinity"
    elif not ok:
        message = str(res.message)
    else:
        message = "converged"
    return z, value, ok, message, int(res.nit)


def _newton_polish(fun: Objective, z: np.ndarray, value: float,
                   grad: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Newton steps from the quasi-Newton answer, for the last digits L-BFGS-B leaves."""
    for _ in range(3):
        if np.max(np.abs(grad)) < 1e-10:
            break
        try:
            step = np.linalg.solve(hessian(fun, z, grad=grad), grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.max(np.abs(step)) > 1.0:
            break
        trial = np.clip(z - step, -LOG_BOUND, LOG_BOUND)
        trial_value, trial_grad = fun(trial)
        if not np.isfinite(trial_value) or trial_value > value + 1e-12 * max(1.0, abs(value)):
            break
        z, value, grad = trial, float(trial_value), np.asarray(trial_grad, dtype=float)
    return z, value, grad


def hessian(fun: Objective, z: np.ndarray, step: float = 1e-6,
            grad: np.ndarray | None = None) -> np.ndarray:
    """Forward-difference Hessian of ``fun`` from its analytic gradient (symmetrised).

    One gradient per parameter (plus one at ``z`` unless given): at a million customers each
    evaluation is the cost, and the error of order ``step`` is far below what standard errors
    and a Newton step need.
    """
    g0 = fun(z)[1] if grad is None else grad
    k = len(z)
    h = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        h[i] = (fun(z + e)[1] - g0) / step
    return (h + h.T) / 2


def standard_errors(info_per_customer: np.ndarray, z: np.ndarray, n: float) -> np.ndarray:
    """Standard errors of ``exp(z)`` from the observed information (delta method).

    ``info_per_customer`` is the Hessian of the *mean* negative log-likelihood over ``n``
    customers in log-parameters, so the information is ``n`` times it. Parameters that are not
    identified (a singular or indefinite Hessian) get NaN.
    """
    with np.errstate(all="ignore"):
        theta = np.exp(z)
        try:
            cov_log = np.linalg.inv(n * info_per_customer)
        except np.linalg.LinAlgError:
            return np.full(len(z), np.nan)
        var = np.diag(cov_log) * theta**2
    return np.where(np.isfinite(var) & (var > 0), np.sqrt(np.abs(var)), np.nan)
