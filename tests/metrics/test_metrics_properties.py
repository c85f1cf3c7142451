"""Properties every shop must satisfy: cohort column 0 is the cohort size, no rate above 100%,
and a past as_of never changes when later data arrives (SPEC §1)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kequn
from kequn.metrics import Metrics
from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema

START = dt.datetime(2024, 3, 1)
CUT = dt.datetime(2024, 4, 10, 12, 0)  # the past as_of
IDS = [f"c{i}" for i in range(8)]
EVENTS = ("visit", "view", "cart", "order", "pay", "login")

moments = st.integers(0, 70 * 24 * 60).map(lambda m: START + dt.timedelta(minutes=m))
events = st.lists(st.tuples(st.sampled_from(IDS), moments, st.sampled_from(EVENTS),
                            st.sampled_from(["app", "web", None])), max_size=40)
orders = st.lists(st.tuples(st.sampled_from(IDS), moments, st.booleans(),
                            st.floats(1, 500, allow_nan=False)), max_size=15)
SETTINGS = settings(max_examples=12, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
# Each example runs a dozen queries on two workspaces, so fewer examples here.
SLOW_SETTINGS = settings(SETTINGS, max_examples=5)


def build(evs, ords, *, before: dt.datetime | None = None) -> kequn.Workspace:
    """A workspace with the rows (only those at or before ``before`` when given)."""
    ws = kequn.open(":memory:")
    keep = (lambda t: t <= before) if before else (lambda t: True)
    customers = [{"customer_id": c} for c in IDS]
    ev_rows = [{"customer_id": c, "event_time": t, "event": e, "channel": ch}
               for c, t, e, ch in evs if keep(t)]
    od_rows = [{"order_id": f"o{i}", "customer_id": c, "created_at": t,
                "paid_at": t + dt.timedelta(minutes=5) if paid else None, "amount": amount,
                "status": "paid" if paid else "created"}
               for i, (c, t, paid, amount) in enumerate(ords) if keep(t)]
    for name, rows in (("customers", customers), ("events", ev_rows), ("orders", od_rows)):
        schema = table_schema(TABLES[name]).to_pyarrow()
        ws.con.insert(name, pa.table({f: [r.get(f) for r in rows] for f in schema.names},
                                     schema=schema))
    return ws


def rates(table: pa.Table) -> list[float]:
    cols = [c for c in table.column_names
            if c.endswith("rate") or c in ("share", "conversion", "overall", "customer_share")]
    return [v for c in cols for v in table.column(c).to_pylist() if v is not None]


@SETTINGS
@given(events, orders, st.sampled_from(["day", "week"]), st.sampled_from(["in", "within"]),
       st.sampled_from(["any", "visit", "purchase"]), st.sampled_from(["first", "any"]))
def test_cohort_column_zero_is_the_cohort_size_and_rates_stay_in_range(
        evs, ords, period, mode, action, cohort_by):
    ws = build(evs, ords)
    result = Metrics(ws).retention(as_of=CUT, start=START, period=period, mode=mode,
                                   action=action, cohort_by=cohort_by, periods=6)
    rows = result.to_pylist()
    for r in rows:
        if r["period"] == 0:
            assert r["retained"] == r["cohort_size"]
        assert 0 <= r["retained"] <= r["cohort_size"]
    if mode == "within":  # cumulative: never falls from period 1 on
        by_cohort: dict = {}
        for r in rows:
            by_cohort.setdefault(r["cohort_start"], []).append((r["period"], r["retained"]))
        for cells in by_cohort.values():
            later = [v for p, v in sorted(cells) if p >= 1]
            assert later == sorted(later)
    ws.close()


@pytest.mark.slow
@SLOW_SETTINGS
@given(events, orders)
def test_no_rate_exceeds_one_hundred_percent(evs, ords):
    ws = build(evs, ords)
    m = Metrics(ws)
    common = {"as_of": CUT, "start": START}
    for result in (m.activity(period="week", **common), m.conversion(period="week", **common),
                   m.funnel(**common), m.funnel(order="strict", **common),
                   m.new_returning(period="week", **common), m.rfm(as_of=CUT),
                   m.active_days(**common), m.day_retention(as_of=CUT, days=(1, 7)),
                   m.repurchase_retention(as_of=CUT, months=1), m.channels(**common)):
        for value in rates(result.table):
            assert 0 <= value <= 1 + 1e-12, result.metric
    ws.close()


@pytest.mark.slow
@SLOW_SETTINGS
@given(events, orders)
def test_a_past_as_of_does_not_change_when_later_data_arrives(evs, ords):
    early, full = build(evs, ords, before=CUT), build(evs, ords)
    for name, options in (
            ("retention", {"period": "week", "action": "any", "periods": 4}),
            ("retention", {"period": "day", "action": "purchase", "mode": "within"}),
            ("activity", {"period": "week"}), ("conversion", {"period": "week"}),
            ("new_returning", {"period": "week"}), ("funnel", {}),
            ("funnel", {"order": "strict"}), ("rfm", {}), ("groups", {}),
            ("decomposition", {"period": "week"}), ("channels", {}),
            ("day_retention", {}), ("attributes", {})):
        a = Metrics(early).run(name, as_of=CUT, **options).to_pylist()
        b = Metrics(full).run(name, as_of=CUT, **options).to_pylist()
        assert a == b, (name, options)
    early.close()
    full.close()
