"""A tiny shop written row by row, with times counted back from one fixed as_of."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kequn import segments as sg
from kequn.workspace import Workspace

AS_OF = dt.datetime(2024, 6, 30, 12, 0)


def ago(days: float) -> dt.datetime:
    """``days`` before AS_OF (negative: after it)."""
    return AS_OF - dt.timedelta(days=days)


@dataclass
class Shop:
    """Collects rows; ``build(make_shop)`` gives a workspace."""

    customers: list[dict[str, Any]] = field(default_factory=list)
    products: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    order_items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def customer(self, cid: str, **attrs: Any) -> Shop:
        self.customers.append({"customer_id": cid, **attrs})
        return self

    def product(self, pid: str, category: str | None = None, price: float | None = None,
                **attrs: Any) -> Shop:
        self.products.append({"product_id": pid, "category": category, "price": price, **attrs})
        return self

    def order(self, cid: str, days_ago: float | None, *, amount: float = 100.0,
              status: str | None = None, created: float | None = None,
              products: tuple[str, ...] = (), quantity: int | None = None,
              **attrs: Any) -> str:
        """A paid order ``days_ago`` (None: unpaid); ``created`` days ago defaults to paid."""
        oid = f"o{next(self._ids)}"
        created_days = created if created is not None else (days_ago or 0)
        self.orders.append({
            "order_id": oid, "customer_id": cid, "created_at": ago(created_days),
            "paid_at": ago(days_ago) if days_ago is not None else None,
            "status": status or ("paid" if days_ago is not None else "created"),
            "amount": amount, **attrs})
        for pid in products:
            self.order_items.append({"order_id": oid, "product_id": pid, "quantity": quantity})
        return oid

    def event(self, cid: str, event: str, days_ago: float, product: str | None = None,
              **attrs: Any) -> Shop:
        self.events.append({"customer_id": cid, "event": event, "event_time": ago(days_ago),
                            "product_id": product, **attrs})
        return self

    def build(self, make_shop: Callable[..., Workspace]) -> Workspace:
        known = {c["customer_id"] for c in self.customers}
        for row in [*self.orders, *self.events]:
            if row["customer_id"] not in known:
                self.customer(row["customer_id"])
                known.add(row["customer_id"])
        tables = {name: rows for name in ("customers", "products", "orders", "order_items",
                                          "events") if (rows := getattr(self, name))}
        return make_shop(**tables)


def members(ws: Workspace, rule: str, as_of: Any = AS_OF) -> list[str]:
    """Sorted member ids of a segment id or rule."""
    table = sg.evaluate(ws, rule, as_of=as_of)
    return sorted(table.customer_id.to_pyarrow().to_pylist())


def labels(ws: Workspace, rule: str, as_of: Any = AS_OF) -> dict[str, str]:
    """customer → label of a family."""
    rows = sg.evaluate(ws, rule, as_of=as_of).to_pyarrow().to_pylist()
    return {r["customer_id"]: r["label"] for r in rows}
