"""Predictions 预测 (SPEC §4): the latest run, per-customer rows, and fitting a new run."""

from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

import ibis
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from kequn.api.deps import Analyst, LimitQuery, OffsetQuery, ReadWs, Viewer, WriteWs
from kequn.api.pages import Page, page_of
from kequn.api.privacy import log_personal
from kequn.clv import PredictionError, PredictionWarning, fit_predictions, latest_run, predictions
from kequn.errors import NotFoundError

router = APIRouter(prefix="/api/predictions", tags=["predictions"])

SortKey = Literal["clv", "p_alive", "expected_orders", "expected_spend", "next_purchase_at"]


class FitRequest(BaseModel):
    """Options of a prediction run (those of ``kequn predict fit``)."""

    as_of: str | None = Field(default=None, max_length=40)
    horizon_days: int = Field(default=90, ge=1, le=3650)
    clv_horizon_days: int = Field(default=365, ge=1, le=3650)
    discount_rate: float = Field(default=0.10, ge=0, le=1)
    model: Literal["auto", "bgnbd", "mbgnbd", "rfm"] = "auto"


def latest(ws: Any) -> dict[str, Any]:
    """The newest run's record, or a 404 saying how to make one."""
    try:
        return latest_run(ws)
    except PredictionError as exc:
        raise NotFoundError(str(exc)) from None


@router.get("", summary="The latest prediction run: models, validation, totals")
def read_predictions(who: Viewer, ws: ReadWs) -> dict[str, Any]:
    """最近一次预测."""
    record = latest(ws)
    return {"run_id": record["run_id"], "created_at": record["created_at"],
            "as_of": record["as_of"], "model": record["model"],
            "customers": record["customers"], "report": record["report"]}


@router.get("/customers", summary="Per-customer predictions of the latest run",
            response_model=Page)
def read_customer_predictions(
    who: Analyst, ws: WriteWs,
    sort: Annotated[SortKey, Query(description="Sort descending by this column.")] = "clv",
    churn_risk: Annotated[Literal["low", "medium", "high"] | None,
                          Query(description="Only this churn risk.")] = None,
    customer_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: LimitQuery = 50, offset: OffsetQuery = 0,
) -> Page:
    """每位客户的预测 (logged in the audit: per-customer rows)."""
    latest(ws)
    t = predictions(ws)
    if churn_risk is not None:
        t = t.filter(t.churn_risk == churn_risk)
    if customer_id is not None:
        t = t.filter(t.customer_id == customer_id)
    t = t.order_by([ibis.desc(sort), "customer_id"])
    page = page_of(t, limit=limit, offset=offset)
    log_personal(ws, who, "personal.view", "predictions", rows=len(page.items),
                 what="customer predictions")
    return page


@router.post("/fit", summary="Fit the models and store predictions for every buyer",
             status_code=201)
def fit(who: Analyst, ws: WriteWs, body: FitRequest) -> dict[str, Any]:
    """拟合模型 (warnings are in the run's report)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PredictionWarning)
        run = fit_predictions(ws, as_of=body.as_of, horizon_days=body.horizon_days,
                              clv_horizon_days=body.clv_horizon_days,
                              discount_rate=body.discount_rate, model=body.model)
    return run.to_dict()
