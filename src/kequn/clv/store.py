"""Where predictions live: ``kq_predictions`` (one row per buyer, the latest run) and
``kq_prediction_runs`` (one row per run: its options, fitted parameters and diagnostics).

``kq_predictions`` sits beside the shop tables so segments can join it on ``customer_id``
(``p_alive < 0.3 AND spend in last 365 days > 500``). Each run replaces it whole, in one
transaction, so a reader never sees half of two runs.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from kequn.clv.errors import PredictionError

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = [
    "PREDICTIONS_TABLE", "PREDICTION_SCHEMA", "RUNS_TABLE", "RUN_SCHEMA",
    "ensure_prediction_table", "latest_run", "predictions", "write_predictions",
]

PREDICTIONS_TABLE = "kq_predictions"
RUNS_TABLE = "kq_prediction_runs"

PREDICTION_SCHEMA = ibis.schema({
    "customer_id": "string",
    "as_of": "timestamp",
    "model": "string",
    "p_alive": "float64",
    "expected_orders": "float64",
    "horizon_days": "int64",
    "expected_spend": "float64",
    "clv": "float64",
    "next_purchase_at": "timestamp",
    "churn_risk": "string",
})
RUN_SCHEMA = ibis.schema({
    "run_id": "string",
    "created_at": "timestamp",
    "as_of": "timestamp",
    "model": "string",
    "customers": "int64",
    "horizon_days": "int64",
    "clv_horizon_days": "int64",
    "discount_rate": "float64",
    "report": "string",
})


def ensure_prediction_table(con: BaseBackend) -> None:
    """Create ``kq_predictions`` and ``kq_prediction_runs`` if missing (idempotent)."""
    existing = set(con.list_tables())
    for name, schema in ((PREDICTIONS_TABLE, PREDICTION_SCHEMA), (RUNS_TABLE, RUN_SCHEMA)):
        if name not in existing:
            con.create_table(name, schema=schema)


def predictions(ws: Workspace) -> ir.Table:
    """The stored predictions of the latest run (empty before the first run).

    Examples
    --------
    >>> import kequn
    >>> predictions(kequn.open(":memory:")).count().to_pyarrow().as_py()
    0
    """
    if PREDICTIONS_TABLE not in ws.con.list_tables():
        ensure_prediction_table(ws.con)
    return ws.con.table(PREDICTIONS_TABLE)


def write_predictions(ws: Workspace, rows: pa.Table, *, as_of: dt.datetime, model: str,
                      horizon_days: int, clv_horizon_days: int, discount_rate: float,
                      report: dict[str, Any]) -> str:
    """Replace the stored predictions with ``rows`` and record the run; returns its id."""
    ensure_prediction_table(ws.con)
    rows = rows.select(list(PREDICTION_SCHEMA.names)).cast(PREDICTION_SCHEMA.to_pyarrow())
    run_id = uuid.uuid4().hex[:12]
    run = pa.table({
        "run_id": [run_id],
        # when the run was made (bookkeeping only; the predictions depend on as_of alone)
        "created_at": [dt.datetime.now()],
        "as_of": [as_of],
        "model": [model],
        "customers": [rows.num_rows],
        "horizon_days": [horizon_days],
        "clv_horizon_days": [clv_horizon_days],
        "discount_rate": [discount_rate],
        "report": [json.dumps(report, ensure_ascii=False, default=str)],
    }, schema=RUN_SCHEMA.to_pyarrow())
    with ws.transaction():
        ws.con.insert(PREDICTIONS_TABLE, rows, overwrite=True)
        ws.con.insert(RUNS_TABLE, run)
    return run_id


def latest_run(ws: Workspace) -> dict[str, Any]:
    """The newest run's record, with its report parsed; raises when nothing was fitted yet."""
    if RUNS_TABLE not in ws.con.list_tables():
        ensure_prediction_table(ws.con)
    runs = ws.con.table(RUNS_TABLE)
    newest = runs.order_by(ibis.desc("created_at")).limit(1).to_pyarrow().to_pylist()
    if not newest:
        msg = "no predictions in this workspace yet; run 'kequn predict fit' first"
        raise PredictionError(msg)
    record: dict[str, Any] = dict(newest[0])
    record["report"] = json.loads(record["report"])
    return record
