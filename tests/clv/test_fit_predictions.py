"""fit_predictions: every buyer gets a stored row, never NaN; small and odd shops still work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest

from kequn.clv import (
    ConvergenceWarning,
    InsufficientDataWarning,
    PredictionError,
    ensure_prediction_table,
    fit_predictions,
    latest_run,
    predictions,
    rfm_summary,
)
from kequn.schema.conventions import buyers, parse_as_of, within_last
from kequn.workspace import Workspace

AS_OF = "2024-01-01"
AGREED_SCHEMA = {
    "customer_id": "String", "as_of": "Timestamp", "model": "String", "p_alive": "Float64",
    "expected_orders": "Float64", "horizon_days": "Int64", "expected_spend": "Float64",
    "clv": "Float64", "next_purchase_at": "Timestamp", "churn_risk": "String",
}


@pytest.fixture
def shop(simulated_shop: Callable[..., Workspace]) -> Workspace:
    return simulated_shop(1500, seed=7, unpaid_share=0.03)


def stored(ws: Workspace) -> pa.Table:
    return predictions(ws).to_pyarrow()


def test_prediction_table_has_the_agreed_columns(make_shop: Callable[..., Workspace]) -> None:
    ws = make_shop()
    ensure_prediction_table(ws.con)
    ensure_prediction_table(ws.con)  # idempotent
    schema = ws.con.table("kq_predictions").schema()
    assert {name: type(t).__name__ for name, t in schema.items()} == AGREED_SCHEMA
    assert list(schema.names) == list(AGREED_SCHEMA)
    assert "kq_prediction_runs" in ws.con.list_tables()


def test_every_buyer_gets_a_complete_row(shop: Workspace) -> None:
    run = fit_predictions(shop, as_of=AS_OF)
    rows = stored(shop)
    n_buyers = buyers(shop.table("orders"), parse_as_of(AS_OF)).count().to_pyarrow().as_py()
    assert rows.num_rows == run.customers == n_buyers
    for name in ("customer_id", "as_of", "model", "p_alive", "expected_orders",
                 "horizon_days", "expected_spend", "clv", "churn_risk"):
        assert rows[name].null_count == 0, name
    for name in ("p_alive", "expected_orders", "expected_spend", "clv"):
        values = rows[name].to_numpy()
        assert np.isfinite(values).all(), name
        assert (values >= 0).all(), name
    assert set(rows["horizon_days"].to_pylist()) == {90}
    assert set(rows["as_of"].to_pylist()) == {parse_as_of(AS_OF)}
    assert set(rows["model"].to_pylist()) == {run.model}
    assert run.model.endswith("+gamma_gamma")


def test_one_time_buyers_get_predictions(shop: Workspace) -> None:
    run = fit_predictions(shop, as_of=AS_OF)
    t = predictions(shop)
    orders = shop.table("orders")
    once = buyers(orders, parse_as_of(AS_OF)).filter(lambda b: b.paid_orders == 1)
    rows = t.join(once, "customer_id").to_pyarrow()
    assert rows.num_rows > 100
    assert np.isfinite(rows["p_alive"].to_numpy()).all()
    assert (rows["expected_spend"].to_numpy() > 0).all()
    assert (rows["clv"].to_numpy() > 0).all()
    assert run.repeat_buyers < run.customers


def test_churn_bands_follow_p_alive(shop: Workspace) -> None:
    fit_predictions(shop, as_of=AS_OF, churn_thresholds=(0.3, 0.7))
    rows = stored(shop).to_pylist()
    for r in rows:
        band = "high" if r["p_alive"] < 0.3 else "medium" if r["p_alive"] < 0.7 else "low"
        assert r["churn_risk"] == band
    assert {r["churn_risk"] for r in rows} == {"low", "medium", "high"}


def test_next_purchase_only_when_expected(shop: Workspace) -> None:
    run = fit_predictions(shop, as_of=AS_OF, next_purchase_within_days=180, model="bgnbd")
    as_of = parse_as_of(AS_OF)
    rows = stored(shop).to_pylist()
    dated = [r for r in rows if r["next_purchase_at"] is not None]
    assert 0 < len(dated) < len(rows)
    # the expected wait of an alive customer: 1 / E[lambda | x, T] = (alpha + T) / (r + x) days
    prm = run.frequency_model.params_
    summary = rfm_summary(shop.table("orders"), as_of=as_of).to_pyarrow().to_pylist()
    wait = {s["customer_id"]: (prm["alpha"] + s["T"]) / (prm["r"] + s["frequency"])
            for s in summary}
    for r in rows:
        due = as_of + dt.timedelta(days=wait[r["customer_id"]])
        if r["p_alive"] >= 0.5 and due <= as_of + dt.timedelta(days=180):
            assert r["next_purchase_at"] == dt.datetime.combine(due.date(), dt.time(0))
        else:
            assert r["next_purchase_at"] is None


def test_clv_is_discounted_spend_times_expected_orders(shop: Workspace) -> None:
    base = fit_predictions(shop, as_of=AS_OF, discount_rate=0.0, clv_horizon_days=90,
                           model="bgnbd")
    rows = stored(shop)
    # undiscounted, over the same horizon: exactly spend x expected orders
    np.testing.assert_allclose(rows["clv"].to_numpy(),
                               rows["expected_spend"].to_numpy()
                               * rows["expected_orders"].to_numpy(), rtol=1e-9)
    discounted = fit_predictions(shop, as_of=AS_OF, discount_rate=0.2, clv_horizon_days=90,
                                 model="bgnbd", store=False)
    longer = fit_predictions(shop, as_of=AS_OF, discount_rate=0.0, clv_horizon_days=365,
                             model="bgnbd", store=False)
    assert discounted.totals["clv"] < base.totals["clv"] < longer.totals["clv"]


def test_each_run_replaces_the_previous_one(shop: Workspace) -> None:
    fit_predictions(shop, as_of="2023-10-01")
    first = stored(shop).num_rows
    run = fit_predictions(shop, as_of=AS_OF, horizon_days=30)
    rows = stored(shop)
    assert set(rows["as_of"].to_pylist()) == {parse_as_of(AS_OF)}
    assert rows.num_rows == run.customers > first
    assert shop.con.table("kq_prediction_runs").count().to_pyarrow().as_py() == 2
    latest = latest_run(shop)
    assert latest["run_id"] == run.run_id
    assert latest["report"]["options"]["horizon_days"] == 30
    assert latest["report"]["frequency_model"]["params"] == run.frequency_model.params_


def test_auto_chooses_a_model_on_a_holdout(shop: Workspace) -> None:
    run = fit_predictions(shop, as_of=AS_OF, horizon_days=60)
    assert run.chosen_by == "holdout fit"
    assert [r.model for r in run.validation] == ["bgnbd", "mbgnbd"]
    assert all(r.holdout_duration == 60 for r in run.validation)
    best = min(run.validation, key=lambda r: r.bucket_error_pct)
    assert run.frequency_model.name == best.model
    assert set(run.timings) >= {"summary", "validation", "fit", "score", "store"}


def test_segments_can_join_predictions(shop: Workspace) -> None:
    fit_predictions(shop, as_of=AS_OF)
    as_of = parse_as_of(AS_OF)
    orders = shop.table("orders")
    recent = buyers(orders.filter(within_last(orders.paid_at, as_of, 365)), as_of)
    p = predictions(shop)
    segment = p.join(recent, "customer_id").filter((p.p_alive < 0.3) & (recent.spend > 500))
    chosen = set(segment.customer_id.to_pyarrow().to_pylist())
    rows = {r["customer_id"]: r for r in p.to_pyarrow().to_pylist()}
    spend = {r["customer_id"]: r["spend"] for r in recent.to_pyarrow().to_pylist()}
    expected = {c for c, s in spend.items() if s > 500 and rows[c]["p_alive"] < 0.3}
    assert chosen == expected
    assert chosen


def order_rows(plan: dict[str, list[tuple[str, float]]]) -> list[dict[str, Any]]:
    rows = []
    for customer, purchases in plan.items():
        for k, (day, amount) in enumerate(purchases):
            t = dt.datetime.fromisoformat(day)
            rows.append({"order_id": f"{customer}-{k}", "customer_id": customer,
                         "created_at": t, "paid_at": t, "status": "paid", "amount": amount})
    return rows


def test_a_small_shop_gets_rfm_estimates_with_a_warning(
        make_shop: Callable[..., Workspace]) -> None:
    ws = make_shop(orders=order_rows({
        "a": [("2023-01-05", 50.0), ("2023-03-01", 60.0), ("2023-11-20", 55.0)],
        "b": [("2023-02-10", 20.0), ("2023-02-25", 0.0)],
        "c": [("2023-06-01", 80.0)],
        "d": [("2023-12-20", 35.0)],
    }))
    with pytest.warns(InsufficientDataWarning, match="only 2 repeat buyers"):
        run = fit_predictions(ws, as_of="2023-12-31", model="bgnbd")
    assert run.model == "rfm+mean_spend"
    assert any("fewer than 50" in w for w in run.warnings)
    rows = {r["customer_id"]: r for r in stored(ws).to_pylist()}
    assert set(rows) == {"a", "b", "c", "d"}
    for r in rows.values():
        assert all(np.isfinite(r[k]) for k in ("p_alive", "expected_orders", "clv"))
        assert r["expected_spend"] > 0
    assert rows["a"]["p_alive"] > rows["b"]["p_alive"]  # b has been silent since February
    assert rows["d"]["p_alive"] > rows["c"]["p_alive"]  # first bought 11 days ago vs June


def test_a_failed_fit_is_reported_in_the_run(make_shop: Callable[..., Workspace]) -> None:
    # 60 customers with identical, perfectly regular histories: BG/NBD runs off to infinity
    plan = {f"c{i}": [("2023-01-01", 10.0), ("2023-02-01", 10.0), ("2023-03-01", 10.0),
                      ("2023-04-01", 10.0)] for i in range(60)}
    ws = make_shop(orders=order_rows(plan))
    with pytest.warns(ConvergenceWarning, match="refitted with a ridge penalizer"):
        run = fit_predictions(ws, as_of="2023-04-01", model="bgnbd")
    assert any("did not converge" in w for w in run.warnings)
    assert run.frequency_model.penalizer_ > 0
    assert run.to_dict()["frequency_model"]["penalizer"] > 0
    assert np.isfinite(stored(ws)["expected_orders"].to_numpy()).all()


def test_no_paid_orders_is_an_error(make_shop: Callable[..., Workspace]) -> None:
    ws = make_shop(orders=[{"order_id": "o1", "customer_id": "c1",
                            "created_at": dt.datetime(2024, 1, 1), "status": "created"}])
    with pytest.raises(PredictionError, match="no paid orders up to 2024-01-01"):
        fit_predictions(ws, as_of=AS_OF)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "pareto"}, "unknown model 'pareto'"),
        ({"horizon_days": 0}, "horizons must be positive"),
        ({"churn_thresholds": (0.8, 0.2)}, "churn thresholds"),
        ({"calibration_end": "2024-02-01"}, "is not before as_of"),
    ],
)
def test_bad_options_are_named(shop: Workspace, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PredictionError, match=message):
        fit_predictions(shop, as_of=AS_OF, **kwargs)


def test_predictions_is_an_ibis_table(make_shop: Callable[..., Workspace]) -> None:
    t = predictions(make_shop())
    assert isinstance(t, ibis.Table)
    assert t.count().to_pyarrow().as_py() == 0


def test_a_shop_without_repeat_buyers_still_gets_rows(
        make_shop: Callable[..., Workspace]) -> None:
    ws = make_shop(orders=order_rows({f"c{i}": [(f"2023-0{1 + i % 9}-15", 10.0 + i)]
                                      for i in range(20)}))
    with pytest.warns(InsufficientDataWarning):
        run = fit_predictions(ws, as_of="2023-12-31")
    rows = stored(ws)
    assert rows.num_rows == 20
    assert run.model == "rfm+mean_spend"
    assert (rows["expected_orders"].to_numpy() == 0).all()  # nobody ever came back
    assert rows["next_purchase_at"].null_count == 20
    spend = rows["expected_spend"].to_numpy()
    assert np.isfinite(spend).all()
    assert (spend > 0).all()


def test_a_short_calibration_validates_the_fallback(
        make_shop: Callable[..., Workspace]) -> None:
    plan = {f"c{i}": [("2023-01-10", 20.0), ("2023-03-10", 25.0), ("2023-11-10", 30.0)]
            for i in range(80)}
    plan.update({f"n{i}": [("2023-06-01", 15.0)] for i in range(40)})
    ws = make_shop(orders=order_rows(plan))
    with pytest.warns(InsufficientDataWarning, match="holdout check: only 0 repeat buyers"):
        run = fit_predictions(ws, as_of="2023-12-31", calibration_end="2023-02-01")
    assert [r.model for r in run.validation] == ["rfm"]
    assert run.chosen_by.startswith("default")
    assert run.frequency_model.name in ("bgnbd", "rfm")
    assert stored(ws).num_rows == 120
