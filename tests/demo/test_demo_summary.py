"""The demo's summary numbers follow SPEC §1's paid-order and buyer rules exactly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from kequn.demo.summary import summarize
from kequn.workspace import Workspace


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def order(oid: str, customer: str, paid: str | None, amount: float,
          status: str = "paid") -> dict[str, object]:
    created = ts(paid) if paid else ts("2024-03-28 09:00")
    return {"order_id": oid, "customer_id": customer, "created_at": created,
            "paid_at": ts(paid) if paid else None, "status": status, "amount": amount}


@pytest.fixture
def tiny(make_shop: Callable[..., Workspace]) -> Workspace:
    return make_shop(
        customers=[{"customer_id": f"c{i}"} for i in range(1, 7)],
        orders=[
            order("o1", "c1", "2024-01-10 10:00", 100.0),  # c1: bought before, and again lately
            order("o2", "c1", "2024-03-20 10:00", 50.0),
            order("o3", "c2", "2024-03-25 10:00", 80.0),  # c2: first purchase lately
            order("o4", "c3", None, 60.0, status="created"),  # unpaid: not a buyer
            order("o5", "c4", "2024-02-01 10:00", 70.0, status="refunded"),  # not a buyer
            order("o6", "c5", "2024-01-05 10:00", 20.0),  # c5: two orders, none lately
            order("o7", "c5", "2024-01-20 10:00", 30.0),
            order("o8", "c6", "2024-04-05 10:00", 999.0),  # after as_of: ignored
        ],
        events=[{"event_time": ts("2024-03-30 12:00"), "customer_id": "c1", "event": "visit"}],
    )


def test_summary_counts_paid_orders_up_to_as_of(tiny: Workspace) -> None:
    s = summarize(tiny, as_of=ts("2024-03-31 23:59:59"))
    assert s.customers == 6
    assert s.orders == 8
    assert s.events == 1
    assert s.buyers == 3  # c1, c2, c5
    assert s.revenue == 280.0
    assert s.repeat_rate == pytest.approx(2 / 3)  # c1 and c5 paid twice


def test_returning_share_is_among_the_last_30_days_buyers(tiny: Workspace) -> None:
    s = summarize(tiny, as_of=ts("2024-03-31 23:59:59"))
    assert s.recent_buyers == 2  # c1 and c2 paid in the last 30 days
    assert s.returning_share == pytest.approx(0.5)  # only c1 had paid before


def test_as_of_defaults_to_the_latest_data(tiny: Workspace) -> None:
    s = summarize(tiny)
    assert s.as_of == ts("2024-04-05 10:00")
    assert s.buyers == 4  # c6's late order now counts


def test_lifecycle_groups_are_counted_largest_first(
        make_shop: Callable[..., Workspace]) -> None:
    as_of = ts("2024-12-31 23:59:59")
    last_paid = {"a1": 10, "a2": 80, "s1": 100, "p1": 200, "c1": 400}  # days before as_of
    ws = make_shop(
        customers=[{"customer_id": c} for c in last_paid],
        orders=[order(f"o{c}", c, str(as_of - dt.timedelta(days=d)), 10.0)
                for c, d in last_paid.items()])
    groups = summarize(ws, as_of=as_of).groups
    assert groups == {"active": 2, "sleeping": 1, "pre_churn": 1, "churned": 1}
    assert next(iter(groups)) == "active"
