"""A synthetic shop made with numpy: customers, visits that run down a funnel, orders, costs.

Used by the report tests and by ``bench/bench_metrics.py`` (the demo generator is a separate
piece of work). Deterministic for a seed; sizes scale with ``n_customers`` and ``days``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from kequn.schema.tables import TABLES
from kequn.storage.setup import table_schema
from kequn.workspace import Workspace

CHANNELS = ("search", "ads", "partner", "social", "email")
_CHANNEL_P = (0.34, 0.30, 0.14, 0.16, 0.06)
_CART_P = {"search": 0.32, "ads": 0.16, "partner": 0.30, "social": 0.12, "email": 0.40}
LEVELS = ("V0", "V1", "V2", "V3", "V4", "V5", "V6")
_LEVEL_P = (0.40, 0.18, 0.14, 0.11, 0.09, 0.05, 0.03)


def synth_tables(n_customers: int = 2000, days: int = 180, *,
                 start: dt.date = dt.date(2024, 1, 1), seed: int = 7) -> dict[str, pa.Table]:
    """The shop's tables as Arrow, in the canonical schemas."""
    rng = np.random.default_rng(seed)
    n = n_customers
    t0 = np.datetime64(dt.datetime.combine(start, dt.time.min), "s")
    day = np.int64(86400)
    ids = np.array([f"c{i:06d}" for i in range(n)])
    reg_day = rng.integers(0, days, n)
    reg_at = t0 + (reg_day * day + rng.integers(8 * 3600, 23 * 3600, n)).astype("timedelta64[s]")
    source = rng.choice(CHANNELS, n, p=_CHANNEL_P)
    level = rng.choice(LEVELS, n, p=_LEVEL_P)
    gender = rng.choice(np.array(["f", "m", ""], dtype=object), n, p=(0.55, 0.35, 0.10))
    age = rng.integers(16, 66, n)
    bday = np.array([dt.date(start.year - int(a), 1 + int(m), 1 + int(d)) for a, m, d in
                     zip(age, rng.integers(0, 12, n), rng.integers(0, 28, n), strict=True)],
                    dtype=object)
    bday[rng.random(n) < 0.25] = None
    customers = {
        "customer_id": ids, "registered_at": reg_at, "member_level": level,
        "gender": np.where(gender == "", None, gender), "birthday": bday,
        "city_tier": rng.integers(1, 6, n), "source_channel": source,
        "province": rng.choice(np.array(["浙江", "广东", "江苏", "北京", "上海", "四川"]), n),
    }

    # Visits: the first at registration, then a customer-specific rate that favours early days.
    loyalty = rng.gamma(0.7, 0.10, n) * (1 + LEVELS.index("V0") + np.searchsorted(LEVELS, level))
    remaining = (days - reg_day).astype(float)
    extra = rng.poisson(np.minimum(loyalty * remaining * 0.35, 60))
    who = np.concatenate([np.arange(n), np.repeat(np.arange(n), extra)])
    offset = np.concatenate([np.zeros(n), remaining[np.repeat(np.arange(n), extra)]
                             * rng.random(extra.sum()) ** 1.4])
    vt = reg_at[who] + (offset * day).astype("timedelta64[s]")
    m = len(who)
    own = rng.random(m) < 0.75
    chan = np.where(own, source[who], rng.choice(CHANNELS, m, p=_CHANNEL_P))
    cart_p = np.vectorize(_CART_P.get)(chan)
    viewed = rng.random(m) < 0.72
    carted = viewed & (rng.random(m) < cart_p / 0.72 * 0.9)
    ordered = carted & (rng.random(m) < 0.55)
    paid = ordered & (rng.random(m) < 0.86)
    step = lambda mins: (rng.integers(30, mins * 60, m)).astype("timedelta64[s]")  # noqa: E731
    t_view = vt + step(5)
    t_cart = t_view + step(10)
    t_order = t_cart + step(20)
    t_pay = t_order + step(30)
    login = rng.random(m) < 0.35
    ev_parts = [("visit", np.ones(m, bool), vt), ("view", viewed, t_view),
                ("cart", carted, t_cart), ("order", ordered, t_order), ("pay", paid, t_pay),
                ("login", login, vt + step(2)), ("review", paid & (rng.random(m) < 0.1),
                                                t_pay + step(600))]
    events = {"event_time": [], "customer_id": [], "event": [], "channel": []}
    for name, mask, times in ev_parts:
        events["event_time"].append(times[mask])
        events["customer_id"].append(ids[who][mask])
        events["event"].append(np.full(mask.sum(), name, dtype=object))
        events["channel"].append(chan[mask])
    events = {k: np.concatenate(v) for k, v in events.items()}

    k = int(ordered.sum())
    amount = np.round(rng.lognormal(4.6, 0.55, k), 2)
    orders = {
        "order_id": np.array([f"o{i:07d}" for i in range(k)]),
        "customer_id": ids[who][ordered], "created_at": t_order[ordered],
        "paid_at": np.where(paid[ordered], t_pay[ordered], np.datetime64("NaT")),
        "status": np.where(paid[ordered], "paid", "created"), "amount": amount,
        "channel": chan[ordered],
    }
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    costs = {"date": np.repeat(np.array(dates, dtype=object), len(CHANNELS)),
             "channel": np.tile(np.array(CHANNELS), days),
             "cost": np.round(rng.uniform(50, 400, days * len(CHANNELS)), 2)}
    return {"customers": _arrow("customers", customers), "events": _arrow("events", events),
            "orders": _arrow("orders", orders), "marketing_costs": _arrow("marketing_costs",
                                                                         costs)}


def _arrow(table: str, columns: dict[str, np.ndarray]) -> pa.Table:
    schema = table_schema(TABLES[table]).to_pyarrow()
    size = len(next(iter(columns.values())))
    data = {}
    for f in schema:
        if f.name in columns:
            values = columns[f.name]
            if np.issubdtype(np.asarray(values).dtype, np.datetime64):
                arr = pa.array(values.astype("datetime64[us]"), pa.timestamp("us"))
                data[f.name] = arr.cast(f.type)
            else:
                data[f.name] = pa.array(list(values) if values.dtype == object else values,
                                        from_pandas=True).cast(f.type)
        else:
            data[f.name] = pa.nulls(size, f.type)
    return pa.table(data, schema=schema)


def fill_workspace(ws: Workspace, tables: dict[str, pa.Table]) -> Workspace:
    """Insert synthetic tables into a workspace (straight in, bypassing the loader)."""
    for name, table in tables.items():
        ws.con.insert(name, table)
    return ws
