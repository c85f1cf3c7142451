"""Audiences and the holdout: who a campaign is for, and who is kept out to measure it.

An audience is any Ibis table with a ``customer_id`` column (a segment's members, a list the
shop uploaded, a query). The holdout is decided by a stable hash, so anyone can re-check it:
a customer is held out of campaign K exactly when the first 12 hex digits of
``sha256("K:<customer_id>")`` fall below ``share × 16^12``. The same customer is always on the
same side for the same campaign or automation, on every run and on every machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

from kequn.campaigns.errors import CampaignError
from kequn.segments import evaluate

if TYPE_CHECKING:
    from kequn.workspace import Workspace

__all__ = [
    "BUCKET_DIGITS", "assign_groups", "audience_from", "coupon_code", "coupon_code_expr",
    "evaluate_segment", "holdout_bucket", "holdout_threshold", "is_held_out",
]

BUCKET_DIGITS = 12  # 48 bits of the hash: buckets finer than any share anyone will ask for


def audience_from(table: ir.Table) -> ir.Table:
    """One row per distinct customer of ``table`` (which needs a ``customer_id`` column)."""
    if "customer_id" not in table.columns:
        msg = (f"an audience needs a customer_id column; the table has "
               f"{', '.join(table.columns) or 'no columns'}")
        raise CampaignError(msg)
    ids = table.select(customer_id=table.customer_id.cast("string"))
    return ids.filter(ids.customer_id.notnull()).distinct()


def evaluate_segment(ws: Workspace, segment: str, *, as_of: dt.datetime) -> ir.Table:
    """A segment's members at ``as_of``, through :func:`kequn.segments.evaluate`."""
    return audience_from(evaluate(ws, segment, as_of=as_of))


def holdout_threshold(share: float) -> str:
    """The hex bucket below which a customer is held out, for ``share`` of customers."""
    if not 0 <= share <= 1:
        msg = f"holdout share {share} is not between 0 and 1"
        raise CampaignError(msg)
    limit = 16**BUCKET_DIGITS
    return format(min(round(share * limit), limit), f"0{BUCKET_DIGITS}x")


def _bucket_expr(key: str, customer_id: ir.StringValue) -> ir.StringValue:
    digest = (ibis.literal(f"{key}:") + customer_id).hexdigest("sha256")
    return digest.substr(0, BUCKET_DIGITS)


def assign_groups(audience: ir.Table, key: str, share: float) -> ir.Table:
    """Add ``bucket`` (the hash) and ``grp`` ('holdout' or 'target') to an audience."""
    bucket = _bucket_expr(key, audience.customer_id)
    threshold = holdout_threshold(share)
    with_bucket = audience.mutate(bucket=bucket)
    return with_bucket.mutate(
        grp=ibis.ifelse(with_bucket.bucket < threshold, "holdout", "target"))


def holdout_bucket(key: str, customer_id: str) -> str:
    """The bucket of one customer, computed in plain Python (to audit the stored groups)."""
    return hashlib.sha256(f"{key}:{customer_id}".encode()).hexdigest()[:BUCKET_DIGITS]


def is_held_out(key: str, customer_id: str, share: float) -> bool:
    """Whether ``customer_id`` is in the holdout of ``key`` at ``share``."""
    return holdout_bucket(key, customer_id) < holdout_threshold(share)


def coupon_code_expr(coupon_id: str, salt: str, customer_id: ir.StringValue) -> ir.StringValue:
    """Per-recipient coupon code ``<coupon_id>-<10 hex digits>`` that cannot be guessed."""
    digest = (ibis.literal(f"{salt}:") + customer_id).hexdigest("sha256")
    return ibis.literal(f"{coupon_id}-") + digest.substr(0, 10).upper()


def coupon_code(coupon_id: str, salt: str, customer_id: str) -> str:
    """The same code as :func:`coupon_code_expr`, for one customer."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).hexdigest()
    return f"{coupon_id}-{digest[:10].upper()}"
