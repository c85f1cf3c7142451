"""The fitters: paper formulas, fitter conventions, numerical robustness, parameter recovery."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from scipy.special import hyp2f1

from kequn.clv import (
    BetaGeoFitter,
    ConvergenceWarning,
    GammaGammaFitter,
    MeanSpendFallback,
    ModifiedBetaGeoFitter,
    PredictionError,
    RFMFallback,
    SummaryArrays,
    rfm_summary,
)
from kequn.clv.base import BaseFitter, Grouped
from kequn.errors import KequnError, NotFittedError
from kequn.workspace import Workspace

FHL = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def with_params(model: BaseFitter, **params: float) -> BaseFitter:
    model.params_ = dict(params)
    return model


def test_fit_returns_self_with_trailing_underscore_state() -> None:
    model = BetaGeoFitter()
    fitted = model.fit([0, 1, 4, 2, 0, 7], [0, 5, 30, 12, 0, 35], [40, 38, 39, 30, 20, 39])
    assert fitted is model
    assert list(model.params_) == ["r", "alpha", "a", "b"]
    assert set(model.standard_errors_) == set(model.params_)
    assert model.n_customers_ == 6
    assert "BetaGeoFitter: r=" in repr(model)


@pytest.mark.parametrize("make", [BetaGeoFitter, ModifiedBetaGeoFitter, GammaGammaFitter,
                                  RFMFallback, MeanSpendFallback])
def test_predicting_before_fitting_is_refused(make: type[BaseFitter]) -> None:
    model = make()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.summary()
    assert isinstance(NotFittedError("x"), KequnError)
    assert "not fitted" in repr(model)


def test_probability_alive_is_fhl_equation_13() -> None:
    m = with_params(BetaGeoFitter(), **FHL)
    r, alpha, a, b = FHL.values()
    x, tx, big_t = 2, 30.43, 38.86
    expected = 1 / (1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x))
    assert m.probability_alive(x, tx, big_t)[0] == pytest.approx(expected, rel=1e-12)
    assert m.probability_alive(0, 0, 50)[0] == 1.0  # BG/NBD: no dropout before a repeat


def test_mbgnbd_lets_one_time_buyers_drop_out() -> None:
    m = with_params(ModifiedBetaGeoFitter(), **FHL)
    p = m.probability_alive([0, 0, 0], [0, 0, 0], [1, 20, 60])
    assert 0 < p[2] < p[1] < p[0] < 1


def test_conditional_expectation_is_fhl_equation_10() -> None:
    m = with_params(BetaGeoFitter(), **FHL)
    r, alpha, a, b = FHL.values()
    for x, tx, big_t, t in [(0, 0.0, 30.0, 39.0), (2, 30.43, 38.86, 39.0), (7, 20.0, 35.0, 10.0)]:
        direct = ((a + b + x - 1) / (a - 1)
                  * (1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x)
                     * hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))))
        if x > 0:
            direct /= 1 + a / (b + x - 1) * ((alpha + big_t) / (alpha + tx)) ** (r + x)
        assert m.conditional_expected_purchases(t, x, tx, big_t)[0] == pytest.approx(direct,
                                                                                  rel=1e-9)


def test_extreme_customers_stay_finite() -> None:
    m = with_params(BetaGeoFitter(), **FHL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            assert m.probability_alive(1000, 10, 100)[0] == 0.0
            busy = m.conditional_expected_purchases(90, 600, 699.0, 700.0)[0]
            busier = m.conditional_expected_purchases(900, 3000, 2999.0, 3000.0)[0]
    # eq. 10 evaluated directly still works at x = 600 (its 2F1 overflows by x = 3000)
    assert busy == pytest.approx(72.8636, rel=1e-5)
    assert 0 < busier < 900


@pytest.mark.parametrize("make", [BetaGeoFitter, ModifiedBetaGeoFitter])
def test_frequency_gradient_is_the_likelihoods(make: type[BaseFitter]) -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 8, 300).astype(float)
    big_t = rng.uniform(5, 60, 300)
    tx = np.where(x > 0, big_t * rng.uniform(0.1, 1, 300), 0.0)
    objective = make()._objective(Grouped.fold(x, tx, big_t))
    _check_gradient(objective, np.log([0.4, 6.0, 0.9, 2.1]))


def test_spend_gradient_is_the_likelihoods() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(1, 6, 200).astype(float)
    m = rng.gamma(3, 10, 200)
    objective = GammaGammaFitter()._objective(Grouped.fold(x, m))
    _check_gradient(objective, np.log([4.0, 3.0, 12.0]))


def _check_gradient(objective: Callable[[np.ndarray], tuple[float, np.ndarray]],
                    z: np.ndarray) -> None:
    _, grad = objective(z)
    h = 1e-6
    numeric = [(objective(z + e)[0] - objective(z - e)[0]) / (2 * h) for e in np.eye(len(z)) * h]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


def test_identical_rows_fit_as_weights() -> None:
    x = np.array([0, 1, 1, 3, 0, 2, 5, 1])
    tx = np.array([0, 10, 10, 30, 0, 20, 35, 4.0])
    big_t = np.array([40, 38, 38, 39, 20, 39, 39, 39.0])
    expanded = BetaGeoFitter().fit(np.repeat(x, 30), np.repeat(tx, 30), np.repeat(big_t, 30))
    weighted = BetaGeoFitter().fit(x, tx, big_t, weights=np.full(8, 30))
    for name, value in expanded.params_.items():
        assert weighted.params_[name] == pytest.approx(value, rel=1e-6)
    assert weighted.n_customers_ == 240


def test_a_failed_fit_is_retried_with_regularisation() -> None:
    # 200 identical customers: no heterogeneity and no sign of dropout, so the unpenalised
    # likelihood keeps improving as parameters run off to infinity
    x, tx, big_t = np.full(200, 3), np.full(200, 10.0), np.full(200, 10.0)
    with pytest.warns(ConvergenceWarning, match=r"bgnbd did not converge \(.*ran off.*\); "
                                                r"refitted with a ridge penalizer"):
        model = BetaGeoFitter().fit(x, tx, big_t)
    assert model.penalizer_ > 0
    assert not model.attempts_[0].converged
    assert model.attempts_[-1].converged
    assert all(math.isfinite(v) for v in model.params_.values())
    assert model.summary()["penalizer"] == model.penalizer_
    e = model.conditional_expected_purchases(10.0, 3, 10.0, 10.0)[0]
    assert e == pytest.approx(3.0, rel=0.2)  # the limit model: keeps buying at 3 per 10


def test_gamma_gamma_expected_spend_is_fh_2013_equation_5() -> None:
    m = with_params(GammaGammaFitter(), p=6.25, q=3.74, gamma=15.44)
    spend = m.conditional_expected_spend([0, 2, 10], [0.0, 22.345, 40.0])
    assert spend[0] == pytest.approx(6.25 * 15.44 / 2.74)  # the population mean
    assert spend[1] == pytest.approx(6.25 * (15.44 + 2 * 22.345) / (6.25 * 2 + 2.74))
    assert spend[2] == pytest.approx(6.25 * (15.44 + 400) / (62.5 + 2.74))
    assert m.population_mean_spend == pytest.approx(spend[0])


def test_gamma_gamma_refuses_unbounded_mean_spend() -> None:
    m = with_params(GammaGammaFitter(), p=2.0, q=0.9, gamma=5.0)
    with pytest.raises(PredictionError, match=r"q = 0.9 <= 1"):
        m.conditional_expected_spend([1], [10.0])
    with pytest.raises(PredictionError, match="at least 2 customers"):
        GammaGammaFitter().fit([0, 1], [0.0, 10.0])


def test_bad_inputs_are_named() -> None:
    with pytest.raises(PredictionError, match="recency <= T"):
        BetaGeoFitter().fit([1, 2], [10.0, 50.0], [20.0, 40.0])
    with pytest.raises(PredictionError, match="finite"):
        BetaGeoFitter().fit([1, np.nan], [1.0, 2.0], [3.0, 4.0])
    with pytest.raises(PredictionError, match="penalizer must be >= 0"):
        BetaGeoFitter(penalizer=-1)


def test_rfm_fallback_reads_recency_and_frequency() -> None:
    m = RFMFallback().fit([0, 4, 4, 1], [0.0, 100.0, 30.0, 50.0], [120.0, 110.0, 110.0, 60.0])
    assert m.params_["rate"] == pytest.approx(9 / 400)
    p = m.probability_alive([4, 4], [100.0, 30.0], [110.0, 110.0])
    assert 0 < p[1] < p[0] <= 1  # the same buyer, silent for 80 days instead of 10
    e30 = m.conditional_expected_purchases(30, [4], [100.0], [110.0])
    e60 = m.conditional_expected_purchases(60, [4], [100.0], [110.0])
    assert e60[0] == pytest.approx(2 * e30[0])


def test_mean_spend_fallback_shrinks_towards_the_shop_mean() -> None:
    m = MeanSpendFallback().fit([2, 0, 0], [50.0, np.nan, np.nan], [10.0, 30.0, 0.0])
    assert m.params_["mean_spend"] == pytest.approx((100 + 10 + 30) / 4)
    spend = m.conditional_expected_spend([2, 0, 0], [50.0, np.nan, np.nan], [10.0, 30.0, 0.0])
    np.testing.assert_allclose(spend, [(110 + 35) / 4, (30 + 35) / 2, 35.0])


def _recovered(model: BaseFitter, truth: dict[str, float]) -> None:
    for name, value in truth.items():
        est, se = model.params_[name], model.standard_errors_[name]
        assert abs(est - value) < 3.5 * se, (name, est, se, value)


def test_bgnbd_recovers_simulated_parameters(simulated_shop: Callable[..., Workspace]) -> None:
    truth = {"r": 0.8, "alpha": 60.0, "a": 0.8, "b": 2.5}
    ws = simulated_shop(4000, seed=1, unpaid_share=0.05, **truth)
    s = SummaryArrays.collect(rfm_summary(ws.table("orders"), as_of=dt.datetime(2024, 1, 1),
                                          period="order"))
    bg = BetaGeoFitter().fit(s.frequency, s.recency, s.T)
    _recovered(bg, truth)
    mbg = ModifiedBetaGeoFitter().fit(s.frequency, s.recency, s.T)
    assert bg.log_likelihood_ > mbg.log_likelihood_  # the true model fits better
    gg = GammaGammaFitter().fit(s.monetary_frequency, s.monetary_value)
    _recovered(gg, {"p": 6.0, "q": 4.0, "gamma": 50.0})


def test_mbgnbd_recovers_simulated_parameters(simulated_shop: Callable[..., Workspace]) -> None:
    truth = {"r": 0.8, "alpha": 60.0, "a": 0.8, "b": 2.5}
    ws = simulated_shop(4000, seed=1, modified=True, **truth)
    s = SummaryArrays.collect(rfm_summary(ws.table("orders"), as_of=dt.datetime(2024, 1, 1),
                                          period="order"))
    mbg = ModifiedBetaGeoFitter().fit(s.frequency, s.recency, s.T)
    _recovered(mbg, truth)
    assert mbg.log_likelihood_ > BetaGeoFitter().fit(s.frequency, s.recency, s.T).log_likelihood_
