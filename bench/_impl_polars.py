"""The same feature table and retention matrix in polars (lazy scans, one plan per source)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
import pyarrow as pa
from _impl_common import INTENT_WEIGHTS, RETENTION_PERIODS, Args, Clock, run

SECONDS_PER_DAY = 86_400


def scan(args: Args, table: str) -> pl.LazyFrame:
    return pl.scan_parquet(sorted(args.data.glob(f"{table}-*.parquet")))


def days(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds() / 1e6 / SECONDS_PER_DAY


def paid_orders(args: Args, as_of: dt.datetime) -> pl.LazyFrame:
    o = scan(args, "orders")
    ok = pl.col("status").is_null() | ~pl.col("status").is_in(["cancelled", "refunded"])
    return o.filter(pl.col("paid_at").is_not_null() & (pl.col("paid_at") <= as_of) & ok)


def top_category(rows: pl.LazyFrame, weight: pl.Expr, prefix: str) -> pl.LazyFrame:
    per = (rows.with_columns(w=weight.cast(pl.Float64))
           .group_by("customer_id", "category").agg(pl.col("w").sum().alias("w"),
                                                    pl.col("w").count().alias("n"))
           .with_columns(w=pl.when(pl.col("n") > 0).then(pl.col("w")))
           .with_columns(total=pl.col("w").sum().over("customer_id"),
                         any_w=pl.col("w").count().over("customer_id")))
    top = (per.sort(["customer_id", "w", "category"], descending=[False, True, False],
                    nulls_last=True)
           .group_by("customer_id", maintain_order=True).first())
    total = pl.when(pl.col("any_w") > 0).then(pl.col("total"))
    return top.select("customer_id", pl.col("category").alias(prefix),
                      (pl.col("w") / pl.when(total != 0).then(total)).alias(f"{prefix}_share"))


def features(args: Args) -> pl.DataFrame:
    as_of = args.as_of
    since = {n: as_of - dt.timedelta(days=n) for n in (14, 30, 90, 365, 720)}
    customers = scan(args, "customers").filter(
        pl.col("registered_at").is_null() | (pl.col("registered_at") <= as_of)).select(
        "customer_id", "registered_at", "birthday")
    paid = paid_orders(args, as_of)
    amount_or_null = pl.col("amount").sum()
    money = pl.when(pl.col("amount").count() > 0).then(amount_or_null)
    in_year = pl.col("paid_at") > since[365]
    p = paid.group_by("customer_id").agg(
        pl.len().alias("paid_orders"),
        money.alias("spend"),
        pl.col("paid_at").min().alias("first_paid_at"),
        pl.col("paid_at").max().alias("last_paid_at"),
        in_year.sum().alias("paid_orders_365d"),
        pl.col("amount").filter(in_year).sum().alias("spend_365d"),
        (pl.col("paid_at") > since[720]).sum().alias("paid_orders_720d"),
    ).with_columns(
        aov=pl.col("spend") / pl.col("paid_orders"),
        recency_days=days(pl.lit(as_of) - pl.col("last_paid_at")),
        mean_gap_days=days(pl.col("last_paid_at") - pl.col("first_paid_at"))
        / pl.when(pl.col("paid_orders") > 1).then(pl.col("paid_orders") - 1),
    )
    e = scan(args, "events").filter(pl.col("event_time") <= as_of)
    month = pl.col("event_time") > since[30]
    weight = pl.col("event").replace_strict(INTENT_WEIGHTS, default=0.0,
                                            return_dtype=pl.Float64)
    ev = e.group_by("customer_id").agg(
        pl.col("event_time").max().alias("last_event_at"),
        month.sum().alias("events_30d"),
        pl.col("event_time").filter(month).dt.date().n_unique().alias("active_days_30d"),
        weight.filter(pl.col("event_time") > since[14]).sum().alias("intent_score_14d"),
    )
    products = scan(args, "products").select("product_id", "category")
    views = (e.filter((pl.col("event") == "view") & (pl.col("event_time") > since[90]))
             .join(products, on="product_id", how="left")
             .filter(pl.col("category").is_not_null()))
    viewed = top_category(views, pl.col("duration_s"), "top_category_viewed")
    lines = (scan(args, "order_items").select("order_id", "product_id", "quantity")
             .join(paid.select("order_id", "customer_id", "paid_at"), on="order_id")
             .filter(pl.col("paid_at") > since[365])
             .join(products, on="product_id", how="left")
             .filter(pl.col("category").is_not_null()))
    bought = top_category(lines, pl.col("quantity").fill_null(1), "top_category_bought")
    zero = ["paid_orders", "spend", "paid_orders_365d", "spend_365d", "paid_orders_720d",
            "events_30d", "active_days_30d", "intent_score_14d"]
    table = (customers.join(p, on="customer_id", how="left")
             .join(ev, on="customer_id", how="left")
             .join(viewed, on="customer_id", how="left")
             .join(bought, on="customer_id", how="left")
             .with_columns([pl.col(c).fill_null(0) for c in zero]))
    return table.collect()


def retention(args: Args) -> pl.DataFrame:
    as_of = args.as_of
    last = as_of.year * 12 + as_of.month - 1
    per = (paid_orders(args, as_of)
           .select("customer_id",
                   p=pl.col("paid_at").dt.year().cast(pl.Int64) * 12
                   + pl.col("paid_at").dt.month().cast(pl.Int64) - 1)
           .unique())
    cohorts = (per.group_by("customer_id").agg(pl.col("p").min().alias("cohort"))
               .filter(pl.col("cohort").is_between(last - RETENTION_PERIODS, last)))
    sizes = cohorts.group_by("cohort").agg(pl.len().alias("cohort_size"))
    hits = (cohorts.join(per, on="customer_id")
            .filter(pl.col("p").is_between(pl.col("cohort"),
                                           pl.col("cohort") + RETENTION_PERIODS))
            .with_columns(k=pl.col("p") - pl.col("cohort")))
    cells = hits.group_by("cohort", "k").agg(pl.col("customer_id").n_unique().alias("retained"))
    grid = (sizes.join(pl.LazyFrame({"k": list(range(RETENTION_PERIODS + 1))}), how="cross")
            .filter(pl.col("cohort") + pl.col("k") <= last)
            .join(cells, on=["cohort", "k"], how="left")
            .with_columns(pl.col("retained").fill_null(0)))
    return grid.select(
        cohort_start=pl.date(pl.col("cohort") // 12, pl.col("cohort") % 12 + 1, 1),
        cohort_size="cohort_size", period="k", retained="retained",
        rate=pl.col("retained") / pl.col("cohort_size"),
    ).collect()


def compute(args: Args, clock: Clock) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    with clock.step("features"):
        table = features(args)
    with clock.step("retention"):
        matrix = retention(args)
    return table.to_arrow(), matrix.to_arrow(), {}


if __name__ == "__main__":
    run("polars", compute)
