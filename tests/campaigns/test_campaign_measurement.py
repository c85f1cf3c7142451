"""Measurement statistics and the cases a report must name (no holdout, nothing sent)."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pytest
from campaign_helpers import customers

from kequn.campaigns import (
    CampaignNotFoundError,
    create_campaign,
    measure,
    send_campaign,
)
from kequn.campaigns.stats import mean_diff_ci, prob_beats, proportion_diff_ci


@pytest.mark.parametrize(("x_t", "n_t", "x_h", "n_h"),
                         [(12, 100, 8, 100), (3, 20, 5, 20), (0, 15, 0, 4), (40, 40, 1, 10)])
def test_probability_of_a_positive_effect_matches_monte_carlo(x_t, n_t, x_h, n_h):
    rng = np.random.default_rng(2024)
    t = rng.beta(1 + x_t, 1 + n_t - x_t, 400_000)
    h = rng.beta(1 + x_h, 1 + n_h - x_h, 400_000)
    assert prob_beats(x_t, n_t, x_h, n_h) == pytest.approx((t > h).mean(), abs=0.004)


def test_equal_groups_are_a_coin_flip_and_intervals_are_symmetric():
    assert prob_beats(10, 100, 10, 100) == pytest.approx(0.5, abs=1e-9)
    diff, lo, hi = proportion_diff_ci(20, 100, 10, 100)
    assert diff == pytest.approx(0.1)
    assert diff - lo == pytest.approx(hi - diff)
    assert proportion_diff_ci(1, 0, 1, 10) is None
    assert mean_diff_ci(5.0, 4.0, 100, 3.0, 4.0, 100) == pytest.approx(
        (2.0, 2.0 - 1.959964 * np.sqrt(0.08), 2.0 + 1.959964 * np.sqrt(0.08)), rel=1e-6)


def test_a_campaign_without_holdout_reports_that_nothing_can_be_measured(make_shop, clock,
                                                                         tmp_path):
    ws = make_shop(customers=customers(10),
                   orders=[{"order_id": "o", "customer_id": "c0001", "amount": 10.0,
                            "created_at": clock(), "paid_at": clock(), "status": "paid"}])
    c = create_campaign(ws, {"name": "x", "holdout": 0,
                             "channel_options": {"directory": str(tmp_path)}},
                        audience=ibis.memtable({"customer_id": ["c0001", "c0002"]}),
                        clock=clock)
    nothing = measure(ws, c.campaign_id).notes
    assert nothing == ["nobody was measured yet: the campaign has not sent"]
    send_campaign(ws, c.campaign_id, clock=clock)
    rep = measure(ws, c.campaign_id, as_of=clock() + dt.timedelta(days=30))
    assert rep.conversion_uplift is None
    assert "no holdout: the uplift cannot be measured" in rep.notes


def test_report_of_an_unknown_campaign_names_it(make_shop):
    with pytest.raises(CampaignNotFoundError, match="no campaign or automation 'cmp-9'"):
        measure(make_shop(), "cmp-9", as_of=dt.datetime(2024, 1, 1))
