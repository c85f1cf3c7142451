"""Acceptance on public data: the CDNOW sample must give the published parameters.

The orders go into a workspace and through the summary query (weeks, same-day purchases as
one, calibration to 1997-09-30), so what is tested is the path a shop's data takes.
Published: BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 (Fader,
Hardie & Lee 2005); Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44 (Fader & Hardie 2013);
MBG/NBD r = 0.525, alpha = 6.183, a = 0.891, b = 1.614 (BTYDplus, as checked by lifetimes).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from kequn.clv import (
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    SummaryArrays,
    fit_predictions,
    rfm_summary,
)
from kequn.schema.conventions import parse_as_of
from kequn.workspace import Workspace

CDNOW = Path(__file__).parent.parent / "fixtures" / "cdnow_sample.txt"
CALIBRATION_END = "1997-09-30"  # end of week 39 (FHL 2005)
OBSERVATION_END = "1998-06-30"  # end of week 78


def same_to_sig_figs(estimate: float, published: float, digits: int) -> bool:
    """``estimate`` agrees with ``published`` to ``digits`` significant figures."""
    unit = 10 ** (math.floor(math.log10(abs(published))) - digits + 1)
    return abs(estimate - published) <= unit / 2


def calibration_summary(ws: Workspace, time_unit: str = "week") -> SummaryArrays:
    expr = rfm_summary(ws.table("orders"), as_of=parse_as_of(OBSERVATION_END),
                       calibration_end=parse_as_of(CALIBRATION_END), time_unit=time_unit)
    return SummaryArrays.collect(expr)


def test_same_to_sig_figs_can_fail() -> None:
    assert same_to_sig_figs(0.24259, 0.243, 3)
    assert not same_to_sig_figs(0.2424, 0.243, 3)
    assert not same_to_sig_figs(6.31, 6.25, 2)


def test_summary_matches_the_paper_counts(cdnow: Workspace) -> None:
    s = calibration_summary(cdnow)
    assert len(s) == 2357
    assert s.repeat_buyers == 946  # FHL 2005: 946 of 2,357 made a repeat purchase in weeks 1-39
    assert s.frequency.sum() == 2457
    assert s.duration_holdout == pytest.approx(39.0)
    first = {cid: i for i, cid in enumerate(s.customer_id.to_pylist())}["0001"]
    # customer 1 bought on 1997-01-01, 01-18, 08-02 (and 12-12, in the holdout)
    assert s.frequency[first] == 2
    assert s.recency[first] == pytest.approx(213 / 7)
    assert s.T[first] == pytest.approx(272 / 7)
    assert s.frequency_holdout[first] == 1


def test_bgnbd_gives_the_published_parameters(cdnow: Workspace) -> None:
    s = calibration_summary(cdnow)
    model = BetaGeoFitter().fit(s.frequency, s.recency, s.T)
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    for name, value in published.items():
        assert same_to_sig_figs(model.params_[name], value, 3), (name, model.params_[name])
    assert model.log_likelihood_ == pytest.approx(-9582.4, abs=0.05)
    assert all(0 < se < model.params_[k] for k, se in model.standard_errors_.items())


def test_gamma_gamma_gives_the_published_parameters(cdnow: Workspace) -> None:
    s = calibration_summary(cdnow)
    model = GammaGammaFitter().fit(s.monetary_frequency, s.monetary_value)
    assert model.n_customers_ == 946
    published = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    for name, value in published.items():
        assert same_to_sig_figs(model.params_[name], value, 2), (name, model.params_[name])


def test_mbgnbd_matches_btydplus(cdnow: Workspace) -> None:
    s = calibration_summary(cdnow)
    model = ModifiedBetaGeoFitter().fit(s.frequency, s.recency, s.T)
    expected = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
    for name, value in expected.items():
        assert model.params_[name] == pytest.approx(value, abs=1.5e-3), name


def test_conditional_expectation_matches_hardies_spreadsheet(cdnow: Workspace) -> None:
    s = calibration_summary(cdnow)
    model = BetaGeoFitter().fit(s.frequency, s.recency, s.T)
    # FHL 2005's worked example: x = 2, t_x = 30.43, T = 38.86, next 39 weeks -> 1.226
    assert model.conditional_expected_purchases(39, 2, 30.43, 38.86)[0] == pytest.approx(
        1.226, abs=1e-3)


def test_fit_in_days_scales_alpha_by_seven(cdnow: Workspace) -> None:
    weeks = calibration_summary(cdnow, "week")
    days = calibration_summary(cdnow, "day")
    w = BetaGeoFitter().fit(weeks.frequency, weeks.recency, weeks.T).params_
    d = BetaGeoFitter().fit(days.frequency, days.recency, days.T).params_
    assert d["alpha"] == pytest.approx(7 * w["alpha"], rel=1e-4)
    for name in ("r", "a", "b"):
        assert d[name] == pytest.approx(w[name], rel=1e-4)


def test_fit_predictions_validates_on_the_holdout(cdnow: Workspace) -> None:
    run = fit_predictions(cdnow, as_of=OBSERVATION_END, calibration_end=CALIBRATION_END,
                          model="bgnbd", time_unit="week")
    report = run.holdout
    assert report is not None
    params = report.fit["params"]
    assert same_to_sig_figs(params["r"], 0.243, 3)
    assert same_to_sig_figs(params["b"], 2.426, 3)
    assert set(report.fit["standard_errors"]) == {"r", "alpha", "a", "b"}
    # actual holdout repeat purchases, counted straight from the file: distinct (customer, day)
    days = {tuple(row.split()[1:3]) for row in CDNOW.read_text().splitlines()}
    actual = sum(1 for _customer, day in days if day > CALIBRATION_END.replace("-", ""))
    assert report.total["actual"] == actual == 1882
    assert sum(b["customers"] for b in report.buckets) == 2357
    assert sum(b["actual"] for b in report.buckets) == report.total["actual"]
    assert report.total["predicted"] == pytest.approx(
        sum(b["predicted"] for b in report.buckets))
    # BG/NBD tracks the holdout within about 12% in total, and in the heavy-buyer bucket
    assert abs(report.total["error_pct"]) < 15
    top = report.buckets[-1]
    assert top["frequency"] == "7+"
    assert top["predicted"] == pytest.approx(top["actual"], rel=0.1)
    assert report.spend is not None
    assert report.spend["predicted_mean"] == pytest.approx(report.spend["actual_mean"], rel=0.1)


def test_auto_compares_both_models_on_the_holdout(cdnow: Workspace) -> None:
    run = fit_predictions(cdnow, as_of=OBSERVATION_END, calibration_end=CALIBRATION_END,
                          time_unit="week")
    errors = {r.model: r.bucket_error_pct for r in run.validation}
    assert set(errors) == {"bgnbd", "mbgnbd"}
    assert run.frequency_model.name == min(errors, key=errors.__getitem__)
    assert run.chosen_by == "holdout fit"
    stored = cdnow.con.table("kq_predictions").to_pyarrow()
    assert stored.num_rows == 2357
    assert not np.isnan(stored["clv"].to_numpy()).any()
