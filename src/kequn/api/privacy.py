"""Personal data in responses (SPEC §6): masked unless the caller is an admin, every response
carrying it written to the audit log, and a customer's personal data erased on request."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kequn.api.access import Principal
from kequn.campaigns import audit
from kequn.errors import NotFoundError
from kequn.schema.tables import CUSTOMERS
from kequn.storage.engines import require

if TYPE_CHECKING:
    from kequn.workspace import Workspace

PERSONAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in CUSTOMERS.columns if c.personal)

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*(@[A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"(?<!\d)(\+?\d{3})\d{4,}(\d{4})(?!\d)")


def mask_text(text: str | None) -> str | None:
    """Phones and e-mail addresses inside free text masked (``138****1234``, ``z***@x.com``).

    For raw rows of the quarantine, whose columns are not known to be personal or not.
    """
    if text is None:
        return None
    return _PHONE.sub(r"\1****\2", _EMAIL.sub(r"\1***\2", text))


def log_personal(ws: Workspace, who: Principal, action: str, obj: str, *, rows: int,
                 **detail: Any) -> None:
    """Write one audit row for a response that carries personal data."""
    audit.record(ws, action, obj, {"rows": rows, "role": who.role,
                                   "masked": not who.sees_personal, **detail}, actor=who.actor)


def erase_customer(ws: Workspace, customer_id: str, *, actor: str) -> dict[str, int]:
    """Remove a customer's personal data everywhere kequn keeps it.

    The customer row stays (their orders and segment history need the id) with phone, email,
    name, address and birthday set to NULL; quarantined raw rows naming the customer, or
    holding their phone or e-mail, are deleted. What was removed is counted in the audit log,
    not listed. Loading a file that still holds the data brings it back: erase it at the
    source too.
    """
    require(ws.engine_name, "erase")  # on Spark the shop's data is Parquet kequn cannot rewrite
    row = ws.raw.execute("SELECT phone, email FROM customers WHERE customer_id = ?",
                         [customer_id]).fetchone()
    if row is None:
        msg = f"no customer {customer_id!r}; check the id"
        raise NotFoundError(msg)
    needles = [customer_id, *(v for v in row if v)]
    pattern = "|".join(re.escape(n) for n in needles)
    # the id only as a whole field: c1 must not match c10
    boundary = rf"(^|[^A-Za-z0-9_])({pattern})([^A-Za-z0-9_]|$)"
    sets = ", ".join(f"{c} = NULL" for c in PERSONAL_COLUMNS)  # column names from the schema
    with ws.transaction() as raw:
        raw.execute(f"UPDATE customers SET {sets} WHERE customer_id = ?", [customer_id])
        quarantined = raw.execute(
            "SELECT count(*) FROM kq_quarantine WHERE regexp_matches(raw, ?)",
            [boundary]).fetchone()[0]
        raw.execute("DELETE FROM kq_quarantine WHERE regexp_matches(raw, ?)", [boundary])
    removed = {"customer_fields": len(PERSONAL_COLUMNS), "quarantined_rows": int(quarantined)}
    audit.record(ws, "customer.erase", customer_id, removed, actor=actor)
    return removed
