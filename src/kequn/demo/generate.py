"""Generate the synthetic demo shop as Parquet files in the canonical tables' columns.

Customers are simulated in fixed-size chunks, each from its own random stream (seed, chunk),
and every chunk is appended to the open Parquet writers as row groups: memory does not grow
with the size of the shop, and the same seed gives the same files.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from kequn.demo._arrow import PartWriter, dates, lookup, money
from kequn.demo.calendar import ShopCalendar
from kequn.demo.catalog import build_catalog
from kequn.demo.events import draw_events
from kequn.demo.orders import DAY, draw_orders
from kequn.demo.people import draw_people
from kequn.demo.reference import CHANNELS, JUHUASUAN
from kequn.errors import KequnError
from kequn.schema.tables import MARKETING_COSTS, TABLES
from kequn.storage.setup import table_schema

__all__ = ["CHUNK_CUSTOMERS", "DemoError", "generate_shop"]

CHUNK_CUSTOMERS = 10_000  # fixed, so a customer's data does not depend on the shop's size
DEFAULT_END = dt.datetime(2026, 10, 31)
ProgressCallback = Callable[[int, int], None]


class DemoError(KequnError, ValueError):
    """Demo options that cannot make a shop (e.g. no customers)."""


def generate_shop(out_dir: str | os.PathLike[str], *, customers: int = 100_000,
                  months: int = 18, seed: int = 0, end: dt.datetime = DEFAULT_END,
                  progress: ProgressCallback | bool | None = None) -> dict[str, list[Path]]:
    """Write a synthetic Taobao-style shop to ``out_dir`` as Parquet files, one set per table.

    The shop has ``customers`` customers who sign up over the ``months`` months before
    ``end`` (nothing is dated at or after ``end``). About ten orders and a hundred events per
    customer, so the default size gives ~1 M orders and ~10 M events; every built-in group
    of SPEC §3 has members.

    Parameters
    ----------
    out_dir
        Folder for the files (created if missing). Earlier demo files there are replaced.
    customers, months, seed, end
        Size, length, random seed and end of the data; the same values give the same files.
    progress
        ``True`` shows a progress bar; a callable gets ``(customers_done, customers)`` after
        each chunk.

    Returns
    -------
    dict[str, list[Path]]
        The files of each table, in load order: customers, products, orders, order_items,
        events, marketing_costs.

    Examples
    --------
    >>> import tempfile
    >>> files = generate_shop(tempfile.mkdtemp(), customers=200, seed=1)
    >>> sorted(files)[:2]
    ['customers', 'events']
    """
    if customers < 1:
        msg = f"customers must be at least 1, got {customers}"
        raise DemoError(msg)
    if not 1 <= months <= 120:
        msg = f"months must be between 1 and 120, got {months}"
        raise DemoError(msg)
    if seed < 0:
        msg = f"seed must be 0 or more, got {seed}"
        raise DemoError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        for old in out.glob(f"{name}-[0-9][0-9][0-9].parquet"):
            old.unlink()

    end = end.replace(tzinfo=None)
    start = dt.datetime.combine(end.date() - dt.timedelta(days=round(months * 365.25 / 12)),
                                dt.time())
    cal = ShopCalendar.build(start, end)
    catalog = build_catalog(_rng(seed, 0), start=start, days=cal.days)
    writers = {name: PartWriter(out, name, table_schema(spec).to_pyarrow())
               for name, spec in TABLES.items()}
    writers["products"].write(catalog.table)
    id_width = max(7, len(str(customers)))
    order_width = max(9, len(str(customers * 40)))
    signups = np.zeros((cal.days, len(CHANNELS)), dtype=np.int64)
    report = _reporter(progress, customers)
    orders_so_far = 0
    try:
        for chunk, first in enumerate(range(0, customers, CHUNK_CUSTOMERS)):
            rng = _rng(seed, 1, chunk)
            n = min(CHUNK_CUSTOMERS, customers - first)
            people = draw_people(rng, cal, catalog, first_number=first + 1, n=n,
                                 id_width=id_width)
            orders = draw_orders(rng, cal, catalog, people, first_number=orders_so_far + 1,
                                 id_width=order_width)
            orders_so_far += orders.size
            order_table, item_table = orders.tables(people, catalog, cal)
            writers["customers"].write(people.table)
            writers["orders"].write(order_table)
            writers["order_items"].write(item_table)
            writers["events"].write(draw_events(rng, cal, catalog, people, orders,
                                                id_width=id_width, first_number=first + 1))
            np.add.at(signups, (people.signup // DAY, people.channel), 1)
            report(first + n)
        writers["marketing_costs"].write(_marketing_costs(_rng(seed, 2), cal, signups))
    finally:
        paths = {name: w.close() for name, w in writers.items()}
        report(None)
    return paths


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _marketing_costs(rng: np.random.Generator, cal: ShopCalendar,
                     signups: np.ndarray) -> pa.Table:
    """Spend per day and paid channel: a cost per sign-up plus a daily base (SPEC §2.6 CAC).

    聚划算 is paid per slot, so it costs only on its days and promotions.
    """
    rows_day, rows_channel, rows_cost = [], [], []
    total = max(signups.sum(), 1)
    scale = total / max(cal.days, 1)  # a bigger shop spends more every day
    for c, channel in enumerate(CHANNELS):
        if channel.cost_per_signup <= 0:
            continue
        base = 0.08 * scale * channel.cost_per_signup * cal.visits.rate
        cost = signups[:, c] * channel.cost_per_signup * rng.lognormal(0.0, 0.2, cal.days) + base
        if c == JUHUASUAN:
            cost = np.where(cal.promotion > 0, cost, 0.0)
        days = np.flatnonzero(cost > 0)
        rows_day.append(days)
        rows_channel.append(np.full(len(days), c))
        rows_cost.append(cost[days])
    day = np.concatenate(rows_day)
    order = np.lexsort((np.concatenate(rows_channel), day))
    return pa.table({
        "date": dates(cal.start, day[order]),
        "channel": lookup([c.name for c in CHANNELS], np.concatenate(rows_channel)[order]),
        "cost": money(np.concatenate(rows_cost)[order]),
    }, schema=table_schema(MARKETING_COSTS).to_pyarrow())


def _reporter(progress: ProgressCallback | bool | None, total: int) -> Callable[[int | None], None]:
    """A function to call after each chunk (and with None at the end)."""
    if callable(progress):
        def call(done: int | None) -> None:
            if done is not None:
                progress(done, total)
        return call
    if not progress:
        return lambda done: None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("generating 生成 customers"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True))
    task = bar.add_task("customers", total=total)
    bar.start()

    def show(done: int | None) -> None:
        if done is None:
            bar.stop()
        else:
            bar.update(task, completed=done)
    return show

