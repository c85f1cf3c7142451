"""The campaigns' state tables in the workspace, and the few DuckDB statements that write them.

The tables live beside the shop's data (SPEC §5: recipient lists are frozen and kept). They are
small bookkeeping tables written by parameterised statements; everything analytic about them
(audiences, guards, measurement) reads them back as Ibis tables.
"""

from __future__ import annotations

import json
from typing import Any

import ibis
import pyarrow as pa
from ibis.backends import BaseBackend

__all__ = ["CAMPAIGN_TABLES", "ensure_campaign_tables", "insert_arrow", "to_json"]

CAMPAIGN_TABLES: dict[str, ibis.Schema] = {
    # one row per campaign; `spec` is the CampaignSpec as JSON
    "kq_campaigns": ibis.schema({
        "campaign_id": "string", "name": "string", "status": "string", "spec": "string",
        "created_at": "timestamp", "created_by": "string", "updated_at": "timestamp",
        "run_key": "string", "next_run_at": "timestamp", "runs": "int64",
    }),
    # the frozen recipient list: campaigns and automations alike, target and holdout
    "kq_recipients": ibis.schema({
        "campaign_id": "string", "event_key": "string", "step": "string",
        "customer_id": "string", "grp": "string", "bucket": "string",
        "skip_reason": "string", "coupon_id": "string", "coupon_code": "string",
        "coupon_threshold": "float64", "coupon_discount": "float64",
        "coupon_expires": "timestamp", "points": "int64", "fields": "string",
        "frozen_at": "timestamp",
    }),
    # a fixed audience given as a customer list when the campaign was created
    "kq_audiences": ibis.schema({"campaign_id": "string", "customer_id": "string"}),
    # one row per message that left or was meant to leave; idem_key is the idempotency key
    "kq_sends": ibis.schema({
        "idem_key": "string", "campaign_id": "string", "event_key": "string",
        "customer_id": "string", "channel": "string", "status": "string", "reason": "string",
        "created_at": "timestamp", "sent_at": "timestamp",
    }),
    # opt-outs beyond customers.opted_out; channel NULL means every channel
    "kq_unsubscribes": ibis.schema({
        "customer_id": "string", "channel": "string", "at": "timestamp", "source": "string",
    }),
    "kq_automations": ibis.schema({
        "automation_id": "string", "enabled": "boolean", "spec": "string",
        "updated_at": "timestamp", "last_run_at": "timestamp",
    }),
    # campaign.* settings, until kq_settings accepts keys the core Settings model does not know
    "kq_campaign_settings": ibis.schema({"key": "string", "value": "string"}),
}


def ensure_campaign_tables(con: BaseBackend) -> None:
    """Create the campaigns' state tables that do not exist yet (idempotent)."""
    existing = set(con.list_tables())
    for name, schema in CAMPAIGN_TABLES.items():
        if name not in existing:
            con.create_table(name, schema=schema)


def insert_arrow(con: BaseBackend, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert row dicts into a state table, columns in the table's order (missing are NULL)."""
    if not rows:
        return
    schema = CAMPAIGN_TABLES[table].to_pyarrow()
    data = {name: [row.get(name) for row in rows] for name in schema.names}
    con.insert(table, pa.table(data, schema=schema))


def to_json(value: Any) -> str:
    """JSON text for the state tables (Chinese kept readable, dates as ISO)."""
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
