"""Predictions 预测: who will buy again, how much, and when (SPEC §4).

BG/NBD (Fader, Hardie & Lee 2005) or MBG/NBD for purchase frequency and dropout, the
Gamma-Gamma model (Fader & Hardie 2013) for spend, fitted by maximum likelihood on the
per-customer summary of paid orders; product repurchase cycles for ``repurchase_due``.

>>> import kequn
>>> from kequn.clv import fit_predictions, predictions
>>> ws = kequn.open(":memory:")
>>> predictions(ws).columns[:3]
('customer_id', 'as_of', 'model')
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kequn.clv.bgnbd import BetaGeoFitter
    from kequn.clv.errors import (
        ConvergenceError,
        ConvergenceWarning,
        InsufficientDataWarning,
        PredictionError,
        PredictionWarning,
    )
    from kequn.clv.fallback import MeanSpendFallback, RFMFallback
    from kequn.clv.fit import MIN_REPEAT_BUYERS, PredictionRun, fit_predictions
    from kequn.clv.gamma_gamma import GammaGammaFitter
    from kequn.clv.mbgnbd import ModifiedBetaGeoFitter
    from kequn.clv.repurchase import category_repurchase_cycles, product_repurchase_cycles
    from kequn.clv.store import ensure_prediction_table, latest_run, predictions
    from kequn.clv.summary import SummaryArrays, rfm_summary
    from kequn.clv.validation import HoldoutReport, holdout_report

# Each name is imported from its module when first used: the fitters need SciPy, which would
# otherwise be imported by every command that only reads kequn.clv.errors or .store.
_HOMES: dict[str, str] = {
    "BetaGeoFitter": "bgnbd", "ConvergenceError": "errors", "ConvergenceWarning": "errors",
    "InsufficientDataWarning": "errors", "PredictionError": "errors",
    "PredictionWarning": "errors", "MeanSpendFallback": "fallback", "RFMFallback": "fallback",
    "MIN_REPEAT_BUYERS": "fit", "PredictionRun": "fit", "fit_predictions": "fit",
    "GammaGammaFitter": "gamma_gamma", "ModifiedBetaGeoFitter": "mbgnbd",
    "category_repurchase_cycles": "repurchase", "product_repurchase_cycles": "repurchase",
    "ensure_prediction_table": "store", "latest_run": "store", "predictions": "store",
    "SummaryArrays": "summary", "rfm_summary": "summary", "HoldoutReport": "validation",
    "holdout_report": "validation",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        msg = f"module 'kequn.clv' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"kequn.clv.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MIN_REPEAT_BUYERS",
    "BetaGeoFitter",
    "ConvergenceError",
    "ConvergenceWarning",
    "GammaGammaFitter",
    "HoldoutReport",
    "InsufficientDataWarning",
    "MeanSpendFallback",
    "ModifiedBetaGeoFitter",
    "PredictionError",
    "PredictionRun",
    "PredictionWarning",
    "RFMFallback",
    "SummaryArrays",
    "category_repurchase_cycles",
    "ensure_prediction_table",
    "fit_predictions",
    "holdout_report",
    "latest_run",
    "predictions",
    "product_repurchase_cycles",
    "rfm_summary",
]
