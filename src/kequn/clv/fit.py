"""``fit_predictions``: summary query -> model choice -> fit -> score -> store, for one shop.

The steps, each timed in the result:

1. *validation* (when asked with ``calibration_end``, or ``model="auto"``): fit the candidate
   frequency models on the calibration period and compare their predictions with the holdout;
   ``auto`` keeps the one whose holdout bucket totals are closer (BG/NBD or MBG/NBD).
2. *summary*: the per-buyer summary up to ``as_of`` (an Ibis query, :func:`rfm_summary`).
3. *fit*: the chosen frequency model and the Gamma-Gamma spend model on all data to ``as_of``.
   Too few repeat buyers (default < 50) gives an :class:`InsufficientDataWarning` and the
   RFM-based estimate (:mod:`kequn.clv.fallback`); a fit that fails even with regularisation
   gives a :class:`ConvergenceWarning` and the same fallback. So every buyer always gets a row.
4. *score* and *store*: :func:`score_customers`, then ``kq_predictions`` is replaced.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kequn.clv._betageo import BetaGeoBase
from kequn.clv.bgnbd import BetaGeoFitter
from kequn.clv.errors import (
    ConvergenceError,
    ConvergenceWarning,
    InsufficientDataWarning,
    PredictionError,
    PredictionWarning,
)
from kequn.clv.fallback import MeanSpendFallback, RFMFallback
from kequn.clv.gamma_gamma import GammaGammaFitter
from kequn.clv.mbgnbd import ModifiedBetaGeoFitter
from kequn.clv.scoring import ScoringOptions, SpendModel, score_customers
from kequn.clv.store import write_predictions
from kequn.clv.summary import UNIT_DAYS, Period, SummaryArrays, TimeUnit, rfm_summary
from kequn.clv.validation import HoldoutReport, holdout_report
from kequn.schema.conventions import parse_as_of

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = ["MIN_REPEAT_BUYERS", "ModelChoice", "PredictionRun", "fit_predictions"]

ModelChoice = Literal["auto", "bgnbd", "mbgnbd", "rfm"]
MIN_REPEAT_BUYERS = 50
"""Below this many repeat buyers the likelihood models are not trusted (the issue's ~50)."""

FrequencyFitter = BetaGeoBase | RFMFallback
_FITTERS: dict[str, type[BetaGeoFitter | ModifiedBetaGeoFitter | RFMFallback]] = {
    "bgnbd": BetaGeoFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
    "rfm": RFMFallback,
}
AsOf = str | dt.date | dt.datetime


@dataclass(frozen=True)
class PredictionRun:
    """What :func:`fit_predictions` did: models, diagnostics, validation and timings."""

    as_of: dt.datetime
    model: str
    frequency_model: FrequencyFitter
    spend_model: SpendModel
    customers: int
    repeat_buyers: int
    options: ScoringOptions
    period: str
    time_unit: str
    chosen_by: str
    validation: tuple[HoldoutReport, ...] = ()
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    totals: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None

    @property
    def holdout(self) -> HoldoutReport | None:
        """The holdout report of the chosen model, when there was a holdout."""
        for report in self.validation:
            if report.model == self.frequency_model.name:
                return report
        return self.validation[0] if self.validation else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: what ``kequn predict fit --json`` prints and the run table keeps."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "model": self.model,
            "chosen_by": self.chosen_by,
            "customers": self.customers,
            "repeat_buyers": self.repeat_buyers,
            "period": self.period,
            "time_unit": self.time_unit,
            "options": {
                "horizon_days": self.options.horizon_days,
                "clv_horizon_days": self.options.clv_horizon_days,
                "discount_rate": self.options.discount_rate,
                "churn_thresholds": list(self.options.churn_thresholds),
                "next_purchase_within_days": self.options.next_purchase_within_days,
            },
            "frequency_model": self.frequency_model.summary(),
            "spend_model": self.spend_model.summary(),
            "totals": self.totals,
            "validation": [r.to_dict() for r in self.validation],
            "warnings": list(self.warnings),
            "timings": self.timings,
        }


class _Notes:
    """Warnings of one run: each is emitted as a Python warning and kept for the report."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def warn(self, message: str, category: type[PredictionWarning]) -> None:
        self.messages.append(message)
        warnings.warn(message, category, stacklevel=4)

    @contextlib.contextmanager
    def capture(self) -> Iterator[None]:
        """Record the prediction warnings raised inside (e.g. a regularised refit), re-emitted."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PredictionWarning)
            yield
        for w in caught:
            if issubclass(w.category, PredictionWarning):
                self.messages.append(str(w.message))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 4)


def fit_predictions(
    ws: Workspace,
    *,
    as_of: AsOf | None = None,
    horizon_days: int = 90,
    clv_horizon_days: int = 365,
    discount_rate: float = 0.10,
    model: ModelChoice = "auto",
    calibration_end: AsOf | None = None,
    holdout_days: int | None = None,
    period: Period = "day",
    time_unit: TimeUnit = "day",
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
    churn_thresholds: tuple[float, float] = (0.3, 0.7),
    next_purchase_within_days: int = 365,
    store: bool = True,
) -> PredictionRun:
    """Fit the prediction models on a shop's paid orders and store per-customer predictions.

    Parameters
    ----------
    ws
        The workspace; its ``orders`` table is read.
    as_of
        End of the data used (default: the workspace's latest data time).
    horizon_days
        ``expected_orders`` counts paid purchases in the next ``horizon_days``.
    clv_horizon_days, discount_rate
        CLV sums expected spend over the next ``clv_horizon_days``, discounted at
        ``discount_rate`` a year.
    model
        ``"auto"`` picks BG/NBD or MBG/NBD by holdout fit; or force one, or ``"rfm"``.
    calibration_end
        Validate on a holdout ``(calibration_end, as_of]``: the result's ``validation``
        compares predicted and actual repeat purchases there.
    holdout_days
        For ``model="auto"`` without ``calibration_end``: the holdout length used to choose
        (default ``horizon_days``).
    period, time_unit
        What one purchase is and the time unit of the fit (see :func:`rfm_summary`).
    min_repeat_buyers
        Fewer repeat buyers than this gives the RFM-based fallback and a warning.
    churn_thresholds
        ``p_alive`` below the first is high churn risk, below the second medium.
    next_purchase_within_days
        ``next_purchase_at`` is left null when the expected wait is longer.
    store
        Replace ``kq_predictions`` with this run's rows (False: only compute).

    Returns
    -------
    PredictionRun

    Examples
    --------
    >>> import kequn
    >>> ws = kequn.open(":memory:")
    >>> fit_predictions(ws, as_of="2024-01-01")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    PredictionError: no paid orders up to 2024-01-01 23:59; ...
    """
    as_of_t = ws.resolve_as_of(as_of)
    options = ScoringOptions(horizon_days=horizon_days, clv_horizon_days=clv_horizon_days,
                             discount_rate=discount_rate, churn_thresholds=churn_thresholds,
                             next_purchase_within_days=next_purchase_within_days,
                             unit_days=UNIT_DAYS.get(time_unit, 1.0))
    if model not in ("auto", *_FITTERS):
        msg = f"unknown model {model!r}; use one of auto, bgnbd, mbgnbd, rfm"
        raise PredictionError(msg)
    if min_repeat_buyers < 1:
        msg = f"min_repeat_buyers must be at least 1, got {min_repeat_buyers}"
        raise PredictionError(msg)
    notes, timer = _Notes(), _Timer()
    orders = ws.table("orders")

    with timer.phase("summary"):
        summary = SummaryArrays.collect(rfm_summary(orders, as_of=as_of_t, period=period,
                                                    time_unit=time_unit))
    if len(summary) == 0:
        msg = (f"no paid orders up to {as_of_t:%Y-%m-%d %H:%M}; load orders or pick a later "
               "as_of")
        raise PredictionError(msg)

    reports: tuple[HoldoutReport, ...] = ()
    chosen: str = "bgnbd" if model == "auto" else model
    chosen_by = "requested"
    cal_end = None if calibration_end is None else parse_as_of(calibration_end)
    if cal_end is None and model == "auto":
        days = holdout_days if holdout_days is not None else horizon_days
        cal_end = as_of_t - dt.timedelta(days=days)
    if cal_end is not None:
        with timer.phase("validation"):
            reports, best = _validate(orders, as_of_t, cal_end, model, period, time_unit,
                                      min_repeat_buyers, notes,
                                      quiet=calibration_end is None)
        if model == "auto" and best is not None:
            chosen, chosen_by = best, "holdout fit"
        elif model == "auto":
            chosen_by = "default (too little history for a holdout)"

    with timer.phase("fit"):
        frequency_model = _fit_frequency(chosen, summary, min_repeat_buyers, notes)
        spend_model = _fit_spend(summary, min_repeat_buyers, notes)
    label = f"{frequency_model.name}+{spend_model.name}"
    with timer.phase("score"):
        rows = score_customers(summary, frequency_model, spend_model, as_of=as_of_t,
                               model_label=label, options=options)
    run = PredictionRun(
        as_of=as_of_t, model=label, frequency_model=frequency_model, spend_model=spend_model,
        customers=len(summary), repeat_buyers=summary.repeat_buyers, options=options,
        period=period, time_unit=time_unit, chosen_by=chosen_by, validation=reports,
        warnings=tuple(notes.messages), timings=timer.timings, totals=_totals(rows),
    )
    if not store:
        return run
    with timer.phase("store"):
        run_id = write_predictions(ws, rows, as_of=as_of_t, model=label,
                                   horizon_days=horizon_days, clv_horizon_days=clv_horizon_days,
                                   discount_rate=discount_rate, report=run.to_dict())
    return replace(run, run_id=run_id, timings=timer.timings)


def _validate(orders: Any, as_of: dt.datetime, cal_end: dt.datetime, model: ModelChoice,
              period: Period, time_unit: TimeUnit, min_repeat: int, notes: _Notes,
              *, quiet: bool) -> tuple[tuple[HoldoutReport, ...], str | None]:
    """Fit candidates on the calibration period, report each on the holdout, pick the best.

    ``quiet``: the holdout was chosen automatically, so a too-short history is not an error
    and not worth a warning; with an explicit calibration end it is both reported.
    """
    cal = SummaryArrays.collect(rfm_summary(orders, as_of=as_of, calibration_end=cal_end,
                                            period=period, time_unit=time_unit))
    candidates = ["bgnbd", "mbgnbd"] if model == "auto" else [model]
    if cal.repeat_buyers < min_repeat:
        if quiet:
            return (), None
        if len(cal) == 0:
            msg = (f"no paid orders up to the calibration end {cal_end:%Y-%m-%d}; pick a later "
                   "calibration end")
            raise PredictionError(msg)
        notes.warn(f"holdout check: only {cal.repeat_buyers} repeat buyers before the "
                   f"calibration end (fewer than {min_repeat}): validated the rfm-based "
                   "estimate", InsufficientDataWarning)
        candidates = ["rfm"]
    reports = []
    spend = _calibration_spend(cal, min_repeat)
    for name in candidates:
        try:
            with notes.capture():
                fitted = _FITTERS[name]().fit(cal.frequency, cal.recency, cal.T)
        except ConvergenceError as exc:
            notes.warn(f"holdout check: {exc}", ConvergenceWarning)
            continue
        reports.append(holdout_report(fitted, cal, calibration_end=cal_end, as_of=as_of,
                                      time_unit=time_unit, spend_model=spend))
    if not reports or candidates == ["rfm"]:
        return tuple(reports), None  # nothing to choose between
    best = min(reports, key=lambda r: (np.nan_to_num(r.bucket_error_pct, nan=np.inf), r.rmse))
    return tuple(reports), best.model


def _calibration_spend(cal: SummaryArrays, min_repeat: int) -> GammaGammaFitter | None:
    """Gamma-Gamma on the calibration period for the holdout spend check, if it fits cleanly."""
    if int((cal.monetary_frequency > 0).sum()) < min_repeat:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PredictionWarning)
            gg = GammaGammaFitter().fit(cal.monetary_frequency, cal.monetary_value)
    except (ConvergenceError, PredictionError):
        return None
    return gg if gg.params_["q"] > 1 else None


def _fit_frequency(name: str, summary: SummaryArrays, min_repeat: int,
                   notes: _Notes) -> FrequencyFitter:
    if name != "rfm" and summary.repeat_buyers < min_repeat:
        notes.warn(f"only {summary.repeat_buyers} repeat buyers (fewer than {min_repeat}): "
                   f"used the rfm-based estimate instead of {name}", InsufficientDataWarning)
        name = "rfm"
    try:
        with notes.capture():
            return _FITTERS[name]().fit(summary.frequency, summary.recency, summary.T)
    except ConvergenceError as exc:
        notes.warn(f"{exc}: used the rfm-based estimate instead", ConvergenceWarning)
        return RFMFallback().fit(summary.frequency, summary.recency, summary.T)


def _fit_spend(summary: SummaryArrays, min_repeat: int, notes: _Notes) -> SpendModel:
    spenders = int((summary.monetary_frequency > 0).sum())
    fallback = MeanSpendFallback()
    if spenders < min_repeat:
        notes.warn(f"only {spenders} repeat buyers with a positive spend (fewer than "
                   f"{min_repeat}): used mean spend instead of gamma-gamma",
                   InsufficientDataWarning)
        return fallback.fit(summary.monetary_frequency, summary.monetary_value,
                            summary.first_spend)
    try:
        with notes.capture():
            gg = GammaGammaFitter().fit(summary.monetary_frequency, summary.monetary_value)
    except (ConvergenceError, PredictionError) as exc:
        notes.warn(f"{exc}: used mean spend instead", ConvergenceWarning)
        return fallback.fit(summary.monetary_frequency, summary.monetary_value,
                            summary.first_spend)
    if gg.params_["q"] <= 1:
        notes.warn(f"gamma-gamma q = {gg.params_['q']:.3g} <= 1 means an unbounded mean spend: "
                   "used mean spend instead", ConvergenceWarning)
        return fallback.fit(summary.monetary_frequency, summary.monetary_value,
                            summary.first_spend)
    return gg


def _totals(rows: pa.Table) -> dict[str, Any]:
    bands = pc.value_counts(rows["churn_risk"]).to_pylist() if rows.num_rows else []
    return {
        "customers": rows.num_rows,
        "expected_orders": float(np.nansum(rows["expected_orders"].to_numpy())),
        "clv": float(np.nansum(rows["clv"].to_numpy())),
        "churn_risk": {b["values"]: b["counts"] for b in bands},
        "with_next_purchase": rows.num_rows - rows["next_purchase_at"].null_count,
    }

