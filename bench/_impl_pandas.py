"""A straightforward pandas implementation of the same feature table and retention matrix.

What a data analyst would write: read the Parquet files (only the columns needed), filter,
``groupby().agg()`` per source, join. Same definitions as kequn (SPEC §1): a paid order has
``paid_at <= as_of`` and a status other than cancelled/refunded; "last N days" is
``as_of - N days < t <= as_of``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _impl_common import INTENT_WEIGHTS, RETENTION_PERIODS, Args, Clock, run

DAY = np.timedelta64(1, "D")


def read(args: Args, table: str, columns: list[str]) -> pd.DataFrame:
    files = sorted(args.data.glob(f"{table}-*.parquet"))
    return pd.concat([pq.read_table(f, columns=columns).to_pandas() for f in files],
                     ignore_index=True)


def paid_orders(orders: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    ok = orders.status.isna() | ~orders.status.isin(["cancelled", "refunded"])
    return orders[orders.paid_at.notna() & (orders.paid_at <= as_of) & ok]


def top_category(rows: pd.DataFrame, weight: pd.Series, prefix: str) -> pd.DataFrame:
    rows = rows.assign(w=weight.astype("float64"))
    per = rows.groupby(["customer_id", "category"], as_index=False).w.sum(min_count=1)
    per["total"] = per.groupby("customer_id").w.transform(lambda s: s.sum(min_count=1))
    per = per.sort_values(["customer_id", "w", "category"], ascending=[True, False, True],
                          na_position="last")
    top = per.drop_duplicates("customer_id")
    share = top.w / top.total.replace(0, np.nan)
    return pd.DataFrame({"customer_id": top.customer_id.to_numpy(),
                         prefix: top.category.to_numpy(),
                         f"{prefix}_share": share.to_numpy()})


def features(args: Args) -> pd.DataFrame:
    as_of = pd.Timestamp(args.as_of)
    customers = read(args, "customers", ["customer_id", "registered_at", "birthday"])
    customers = customers[customers.registered_at.isna() | (customers.registered_at <= as_of)]
    orders = read(args, "orders", ["order_id", "customer_id", "created_at", "paid_at",
                                   "status", "amount"])
    paid = paid_orders(orders, as_of)
    g = paid.groupby("customer_id")
    out = pd.DataFrame({
        "paid_orders": g.size(),
        "spend": g.amount.sum(min_count=1),
        "first_paid_at": g.paid_at.min(),
        "last_paid_at": g.paid_at.max(),
    })
    out["aov"] = out.spend / out.paid_orders
    out["recency_days"] = (as_of - out.last_paid_at) / DAY
    span = (out.last_paid_at - out.first_paid_at) / DAY
    out["mean_gap_days"] = span / (out.paid_orders - 1).replace(0, np.nan)
    for days, count, spend in ((365, "paid_orders_365d", "spend_365d"),
                               (720, "paid_orders_720d", None)):
        recent = paid[paid.paid_at > as_of - pd.Timedelta(days=days)]
        rg = recent.groupby("customer_id")
        out[count] = rg.size()
        if spend:
            out[spend] = rg.amount.sum(min_count=1)

    events = read(args, "events", ["event_time", "customer_id", "event", "product_id",
                                   "duration_s"])
    events = events[events.event_time <= as_of]
    ev = pd.DataFrame({"last_event_at": events.groupby("customer_id").event_time.max()})
    month = events[events.event_time > as_of - pd.Timedelta(days=30)]
    mg = month.groupby("customer_id")
    ev["events_30d"] = mg.size()
    ev["active_days_30d"] = month.assign(d=month.event_time.dt.normalize()).groupby(
        "customer_id").d.nunique()
    fortnight = events[events.event_time > as_of - pd.Timedelta(days=14)]
    weight = fortnight.event.map(INTENT_WEIGHTS).fillna(0.0)
    ev["intent_score_14d"] = weight.groupby(fortnight.customer_id).sum()

    products = read(args, "products", ["product_id", "category"])
    views = events[(events.event == "view")
                   & (events.event_time > as_of - pd.Timedelta(days=90))]
    views = views.merge(products, on="product_id", how="left")
    views = views[views.category.notna()]
    viewed = top_category(views, views.duration_s, "top_category_viewed")

    items = read(args, "order_items", ["order_id", "product_id", "quantity"])
    lines = items.merge(paid[["order_id", "customer_id", "paid_at"]], on="order_id")
    lines = lines[lines.paid_at > as_of - pd.Timedelta(days=365)]
    lines = lines.merge(products, on="product_id", how="left")
    lines = lines[lines.category.notna()]
    bought = top_category(lines, lines.quantity.fillna(1), "top_category_bought")

    table = customers.merge(out, left_on="customer_id", right_index=True, how="left")
    table = table.merge(ev, left_on="customer_id", right_index=True, how="left")
    table = table.merge(viewed, on="customer_id", how="left")
    table = table.merge(bought, on="customer_id", how="left")
    for col in ("paid_orders", "spend", "paid_orders_365d", "spend_365d", "paid_orders_720d",
                "events_30d", "active_days_30d", "intent_score_14d"):
        table[col] = table[col].fillna(0)
    return table


def retention(args: Args) -> pd.DataFrame:
    as_of = pd.Timestamp(args.as_of)
    orders = read(args, "orders", ["customer_id", "paid_at", "status"])
    paid = paid_orders(orders, as_of)
    p = paid.paid_at.dt.year * 12 + paid.paid_at.dt.month - 1
    per = pd.DataFrame({"customer_id": paid.customer_id.to_numpy(), "p": p.to_numpy()})
    per = per.drop_duplicates()
    last = as_of.year * 12 + as_of.month - 1
    cohorts = per.groupby("customer_id", as_index=False).p.min().rename(columns={"p": "cohort"})
    cohorts = cohorts[(cohorts.cohort >= last - RETENTION_PERIODS) & (cohorts.cohort <= last)]
    sizes = cohorts.groupby("cohort").size().rename("cohort_size").reset_index()
    hits = cohorts.merge(per, on="customer_id")
    hits = hits[(hits.p >= hits.cohort) & (hits.p <= hits.cohort + RETENTION_PERIODS)]
    hits["k"] = hits.p - hits.cohort
    cells = hits.groupby(["cohort", "k"]).customer_id.nunique().rename("retained").reset_index()
    grid = sizes.merge(pd.DataFrame({"k": range(RETENTION_PERIODS + 1)}), how="cross")
    grid = grid[grid.cohort + grid.k <= last]
    grid = grid.merge(cells, on=["cohort", "k"], how="left").fillna({"retained": 0})
    grid["rate"] = grid.retained / grid.cohort_size
    start = [dt.date(c // 12, c % 12 + 1, 1) for c in grid.cohort]
    return pd.DataFrame({"cohort_start": start, "cohort_size": grid.cohort_size.to_numpy(),
                         "period": grid.k.to_numpy(), "retained": grid.retained.to_numpy(),
                         "rate": grid.rate.to_numpy()})


def compute(args: Args, clock: Clock) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    with clock.step("features"):
        table = features(args)
    with clock.step("retention"):
        matrix = retention(args)
    return (pa.Table.from_pandas(table, preserve_index=False),
            pa.Table.from_pandas(matrix, preserve_index=False), {})


if __name__ == "__main__":
    run("pandas", compute)
