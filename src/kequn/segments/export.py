"""Member lists for export: optional customer attributes, personal data masked (SPEC §6).

Masking happens in the query (Ibis), so an export of a million members never holds unmasked
personal data in Python: phone ``138****1234``, email ``z***@example.com``, name ``张**``,
address its first 6 characters, birthday its year.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from kequn.errors import KequnError
from kequn.schema.tables import CUSTOMERS

ExportFormat = Literal["csv", "json", "parquet"]
PERSONAL_COLUMNS: tuple[str, ...] = tuple(c.name for c in CUSTOMERS.columns if c.personal)


class ExportError(KequnError, ValueError):
    """An export that cannot be written as asked (e.g. parquet to the terminal)."""


def mask_phone(v: ir.StringValue) -> ir.StringValue:
    """``13812341234`` → ``138****1234``; shorter numbers become ``***``."""
    return ibis.cases((v.length() >= 8, v.substr(0, 3).concat("****", v.right(4))),
                      else_=ibis.literal("***")).cast("string")


def mask_email(v: ir.StringValue) -> ir.StringValue:
    """``zhang@example.com`` → ``z***@example.com``."""
    at = v.find("@")
    return ibis.cases((at > 0, v.substr(0, 1).concat("***", v.substr(at))),
                      else_=ibis.literal("***")).cast("string")


def mask_name(v: ir.StringValue) -> ir.StringValue:
    """``张三丰`` → ``张**``."""
    return v.substr(0, 1).concat("**")


def mask_address(v: ir.StringValue) -> ir.StringValue:
    """The first six characters, then ``***``."""
    return v.substr(0, 6).concat("***")


def mask_birthday(v: ir.Value) -> ir.StringValue:
    """``1990-05-01`` → ``1990-**-**``."""
    return v.year().cast("string").concat("-**-**")


_MASKS = {"phone": mask_phone, "email": mask_email, "name": mask_name,
          "address": mask_address, "birthday": mask_birthday}


def member_table(ws: Any, members: ir.Table, *, with_attributes: bool = False,
                 show_personal: bool = False) -> ir.Table:
    """``members`` (customer_id [, label]) with the customers' columns when asked, masked
    unless ``show_personal``."""
    if not with_attributes:
        return members
    customers = ws.table("customers")
    joined = members.left_join(customers, members.customer_id == customers.customer_id)
    joined = joined.drop("customer_id_right")
    if show_personal:
        return joined
    masked = {}
    for name in PERSONAL_COLUMNS:
        if name in joined.columns:
            col = joined[name]
            masked[name] = col.isnull().ifelse(ibis.null("string"), _MASKS[name](col))
    return joined.mutate(**masked)


def write_members(table: ir.Table, fmt: ExportFormat, output: Path | None) -> str | None:
    """Write the members as csv (header, ``customer_id`` first), json or parquet.

    Returns the text when ``output`` is None (csv and json only).
    """
    arrow = table.to_pyarrow()
    if fmt == "parquet":
        if output is None:
            msg = "parquet is binary; give --output FILE"
            raise ExportError(msg)
        pq.write_table(arrow, output)
        return None
    if fmt == "csv":
        buf = io.BytesIO()
        pa_csv.write_csv(_text_times(arrow), buf,
                         write_options=pa_csv.WriteOptions(quoting_style="needed"))
        text = buf.getvalue().decode("utf-8")
    elif fmt == "json":
        text = json.dumps(arrow.to_pylist(), ensure_ascii=False, default=str, indent=1) + "\n"
    else:
        msg = f"unknown format {fmt!r}; use csv, json or parquet"
        raise ExportError(msg)
    if output is None:
        return text
    output.write_text(text, encoding="utf-8")
    return None


def _text_times(arrow: pa.Table) -> pa.Table:
    # ISO text for times, so the CSV reads back the same in any tool.
    cols = []
    for col in arrow.columns:
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            col = pc.cast(col, pa.string())
        cols.append(col)
    return pa.table(cols, names=arrow.column_names)
