"""Canonical tables of SPEC §1: columns, types, keys and which columns a file must carry.

Every other module reads table shapes from here, so a column is declared once.
Times are stored as naive timestamps in the shop's time zone (SPEC §1: "timestamps without
zone are in it"); money is DOUBLE in the shop's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["text", "int", "float", "money", "time", "date", "bool", "status", "event", "level"]

# Storage type of each kind, in DuckDB spelling (the one place the loader turns kinds into types).
STORAGE_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "money": "DOUBLE",
    "time": "TIMESTAMP",
    "date": "DATE",
    "bool": "BOOLEAN",
    "status": "VARCHAR",
    "event": "VARCHAR",
    "level": "VARCHAR",
}

ORDER_STATUSES: tuple[str, ...] = ("created", "paid", "cancelled", "refunded")
MEMBER_LEVELS: tuple[str, ...] = ("V0", "V1", "V2", "V3", "V4", "V5", "V6")
EVENT_NAMES: tuple[str, ...] = (
    "visit", "view", "list_view", "search", "favorite", "cart", "order", "pay", "login",
    "register", "review", "banner_view", "banner_click", "download", "share", "coupon_claim",
)


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, kind of value and whether every row needs it."""

    name: str
    kind: Kind
    required: bool = False
    personal: bool = False  # SPEC §6: masked in the interface and exports unless allowed


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its columns and the key that makes a row unique.

    A table without a key (events) is de-duplicated on the whole row.
    """

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    label_zh: str
    keeps_extra_columns: bool = False
    time_column: str | None = None
    customer_column: str | None = None
    _by_name: dict[str, Column] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of the canonical columns, in table order."""
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns a file must map before anything is loaded."""
        return tuple(c.name for c in self.columns if c.required)

    @property
    def identity(self) -> tuple[str, ...]:
        """Columns that identify a row: the key, or every column for a keyless table."""
        return self.key or self.column_names

    def column(self, name: str) -> Column:
        """The canonical column called ``name``."""
        return self._by_name[name]

    def has(self, name: str) -> bool:
        """Whether ``name`` is a canonical column of this table."""
        return name in self._by_name


def _cols(*specs: tuple[str, Kind] | tuple[str, Kind, str]) -> tuple[Column, ...]:
    out = []
    for spec in specs:
        name, kind = spec[0], spec[1]
        flags = spec[2] if len(spec) > 2 else ""
        out.append(Column(name, kind, required="req" in flags, personal="pii" in flags))
    return tuple(out)


CUSTOMERS = TableSpec(
    name="customers",
    label_zh="客户",
    columns=_cols(
        ("customer_id", "text", "req"),
        ("registered_at", "time"),
        ("gender", "text"),
        ("birthday", "date", "pii"),
        ("province", "text"),
        ("city", "text"),
        ("city_tier", "int"),
        ("member_level", "level"),
        ("source_channel", "text"),
        ("device", "text"),
        ("marital_status", "text"),
        ("has_children", "bool"),
        ("occupation", "text"),
        ("industry", "text"),
        ("education", "text"),
        ("phone", "text", "pii"),
        ("email", "text", "pii"),
        ("address", "text", "pii"),
        ("name", "text", "pii"),
        ("opted_out", "bool"),
    ),
    key=("customer_id",),
    keeps_extra_columns=True,
    time_column="registered_at",
    customer_column="customer_id",
)

PRODUCTS = TableSpec(
    name="products",
    label_zh="商品",
    columns=_cols(
        ("product_id", "text", "req"),
        ("name", "text"),
        ("category", "text"),
        ("price", "money"),
        ("brand", "text"),
        ("launched_at", "time"),
        ("is_standard", "bool"),
    ),
    key=("product_id",),
    time_column="launched_at",
)

ORDERS = TableSpec(
    name="orders",
    label_zh="订单",
    columns=_cols(
        ("order_id", "text", "req"),
        ("customer_id", "text", "req"),
        ("created_at", "time", "req"),
        ("paid_at", "time"),
        ("status", "status"),
        ("amount", "money"),
        ("discount", "money"),
        ("coupon_id", "text"),
        ("channel", "text"),
        ("promotion", "text"),
    ),
    key=("order_id",),
    time_column="created_at",
    customer_column="customer_id",
)

ORDER_ITEMS = TableSpec(
    name="order_items",
    label_zh="订单明细",
    columns=_cols(
        ("order_id", "text", "req"),
        ("product_id", "text", "req"),
        ("quantity", "int"),
        ("unit_price", "money"),
    ),
    key=("order_id", "product_id"),
)

EVENTS = TableSpec(
    name="events",
    label_zh="行为",
    columns=_cols(
        ("event_time", "time", "req"),
        ("customer_id", "text", "req"),
        ("event", "event", "req"),
        ("product_id", "text"),
        ("channel", "text"),
        ("session_id", "text"),
        ("duration_s", "float"),
    ),
    key=(),
    time_column="event_time",
    customer_column="customer_id",
)

MARKETING_COSTS = TableSpec(
    name="marketing_costs",
    label_zh="营销费用",
    columns=_cols(
        ("date", "date", "req"),
        ("channel", "text", "req"),
        ("cost", "money", "req"),
    ),
    key=("date", "channel"),
    time_column="date",
)

TABLES: dict[str, TableSpec] = {
    t.name: t for t in (CUSTOMERS, PRODUCTS, ORDERS, ORDER_ITEMS, EVENTS, MARKETING_COSTS)
}
TableName = Literal["customers", "products", "orders", "order_items", "events", "marketing_costs"]
