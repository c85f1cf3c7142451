"""Errors and warnings of the prediction models.

They live here until they move to :mod:`kequn.errors`; each error also inherits the builtin it
resembles, and each warning is a :class:`UserWarning` so ``-W error`` and pytest can catch it.
"""

from __future__ import annotations

from kequn.errors import KequnError


class PredictionError(KequnError, ValueError):
    """A prediction request that cannot be answered: bad horizon, no buyers, no stored run."""


class ConvergenceError(KequnError, RuntimeError):
    """A model whose likelihood could not be maximised, even with regularisation."""


class PredictionWarning(UserWarning):
    """Something the shop should know about a prediction run; the run still finished."""


class ConvergenceWarning(PredictionWarning):
    """The first fit failed and a regularised one was used instead."""


class InsufficientDataWarning(PredictionWarning):
    """Too few repeat buyers for a model: a simpler RFM-based estimate was used instead."""
