"""Create the canonical shop tables and kequn's own state tables in a workspace if missing."""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
from ibis.backends import BaseBackend

from kequn.schema.tables import STORAGE_TYPES, TABLES, TableSpec

_IBIS_TYPES: dict[str, dt.DataType] = {
    "VARCHAR": dt.string,
    "BIGINT": dt.int64,
    "DOUBLE": dt.float64,
    "TIMESTAMP": dt.timestamp,
    "DATE": dt.date,
    "BOOLEAN": dt.boolean,
}

# kequn's own state: small tables beside the shop's data (SPEC: load history, quarantine, audit).
STATE_TABLES: dict[str, ibis.Schema] = {
    "kq_settings": ibis.schema({"key": "string", "value": "string"}),
    "kq_loads": ibis.schema({
        "load_id": "string", "table_name": "string", "files": "string",
        "started_at": "timestamp", "finished_at": "timestamp",
        "read": "int64", "stored": "int64", "inserted": "int64", "unchanged": "int64",
        "updated": "int64", "quarantined": "int64", "customers_added": "int64",
    }),
    "kq_quarantine": ibis.schema({
        "load_id": "string", "table_name": "string", "file": "string", "line": "int64",
        "column_name": "string", "reason": "string", "raw": "string",
    }),
    "kq_predictions": ibis.schema({
        "customer_id": "string", "as_of": "timestamp", "model": "string", "p_alive": "float64",
        "expected_orders": "float64", "horizon_days": "int64", "expected_spend": "float64",
        "clv": "float64", "next_purchase_at": "timestamp", "churn_risk": "string",
    }),
    "kq_prediction_runs": ibis.schema({
        "run_id": "string", "created_at": "timestamp", "as_of": "timestamp", "model": "string",
        "customers": "int64", "horizon_days": "int64", "clv_horizon_days": "int64",
        "discount_rate": "float64", "report": "string",
    }),
    "kq_audit": ibis.schema({
        "at": "timestamp", "actor": "string", "action": "string", "object": "string",
        "detail": "string",
    }),
}


def table_schema(spec: TableSpec) -> ibis.Schema:
    """The Ibis schema of a canonical table."""
    return ibis.schema({c.name: _IBIS_TYPES[STORAGE_TYPES[c.kind]] for c in spec.columns})


def all_state_tables() -> dict[str, ibis.Schema]:
    """kequn's state tables: the core ones above and those each feature package declares."""
    # imported here, not at module level: those packages import the workspace, which imports us
    from kequn.api.access import TOKENS_SCHEMA, TOKENS_TABLE
    from kequn.campaigns.store import CAMPAIGN_TABLES
    from kequn.segments.registry import SEGMENT_TABLES

    return {**STATE_TABLES, **SEGMENT_TABLES, **CAMPAIGN_TABLES, TOKENS_TABLE: TOKENS_SCHEMA}


def ensure_tables(con: BaseBackend) -> None:
    """Create every canonical and state table that does not exist yet (idempotent), so a
    workspace opened read-only later has them all."""
    existing = set(con.list_tables())
    for spec in TABLES.values():
        if spec.name not in existing:
            con.create_table(spec.name, schema=table_schema(spec))
    for name, schema in all_state_tables().items():
        if name not in existing:
            con.create_table(name, schema=schema)
