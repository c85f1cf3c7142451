"""The demo shop's products and how customers pick among them.

Products sit in (category, price band) shelves. Most were on sale before the period; new
arrivals launch through it (SPEC §3 ``new_arrival_fans``). Staples of consumable categories
have a repurchase cycle that their buyers follow (``repurchase_due``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kequn.demo._arrow import id_strings, timestamps
from kequn.demo.reference import BAND_PRICE, BAND_WEIGHTS, BANDS, BRANDS, CATEGORIES, SPECS
from kequn.schema.tables import PRODUCTS
from kequn.storage.setup import table_schema

_KEY = 1_000_000.0  # separates shelves on one sorted axis: shelf * _KEY + launch day
NEW_ARRIVAL_DAYS = 30.0  # SPEC §3 new_arrival_fans: bought within 30 days of launch


@dataclass(frozen=True)
class Catalog:
    """Products sorted by (shelf, launch day), with what the samplers need.

    Times are in days since the calendar start (negative = launched before the period).
    """

    category: np.ndarray
    band: np.ndarray
    launch: np.ndarray
    price: np.ndarray
    cycle: np.ndarray  # repurchase cycle in days, 0 = none
    weight: np.ndarray
    table: pa.Table
    _shelf_keys: np.ndarray
    _shelf_start: np.ndarray
    _cum_weight: np.ndarray
    _cat_order: np.ndarray  # product indices sorted by (category, launch)
    _cat_keys: np.ndarray

    @property
    def size(self) -> int:
        """Number of products."""
        return len(self.price)

    @property
    def ids(self) -> pa.Array:
        """Product ids, one per product index."""
        return self.table.column("product_id").combine_chunks()

    @property
    def staples(self) -> np.ndarray:
        """Indices of products with a repurchase cycle."""
        return np.flatnonzero(self.cycle > 0)

    def pick(self, rng: np.random.Generator, category: np.ndarray, band: np.ndarray,
             t: np.ndarray) -> np.ndarray:
        """A product per request from shelf (category, band), among those launched by ``t``.

        Popular products are picked more often (weights are Zipf-like within a shelf).
        """
        shelf = category * len(BANDS) + band
        end = np.searchsorted(self._shelf_keys, shelf * _KEY + t, side="right")
        first = self._shelf_start[shelf]
        end = np.maximum(end, first + 1)  # every shelf has a product on sale from day 0
        cw = self._cum_weight
        low = np.where(first > 0, cw[np.maximum(first - 1, 0)], 0.0)
        high = cw[end - 1]
        x = low + rng.random(len(t)) * (high - low)
        return np.clip(np.searchsorted(cw, x, side="right"), first, end - 1)

    def pick_new(self, rng: np.random.Generator, category: np.ndarray,
                 t: np.ndarray) -> np.ndarray:
        """A product of ``category`` launched in the 30 days before ``t``, or -1 if none."""
        lo = np.searchsorted(self._cat_keys, category * _KEY + t - NEW_ARRIVAL_DAYS,
                             side="right")
        hi = np.searchsorted(self._cat_keys, category * _KEY + t, side="right")
        pos = lo + (rng.random(len(t)) * (hi - lo)).astype(np.int64)
        found = hi > lo
        out = np.full(len(t), -1, dtype=np.int64)
        out[found] = self._cat_order[pos[found]]
        return out


def build_catalog(rng: np.random.Generator, *, start: dt.datetime, days: int,
                  per_category: int = 54) -> Catalog:
    """Draw the shop's products: ``per_category`` per category, spread over three price bands.

    A shelf (category x band) always has a product on sale before the period starts.
    """
    cats, bands, launches, prices, cycles, weights = [], [], [], [], [], []
    for c, cat in enumerate(CATEGORIES):
        band = rng.choice(len(BANDS), size=per_category, p=BAND_WEIGHTS)
        band[: len(BANDS)] = np.arange(len(BANDS))  # one established product per shelf
        new = rng.random(per_category) < cat.new_share
        new[: len(BANDS)] = False
        launch = np.where(new, rng.uniform(0, days - 7, per_category),
                          -rng.uniform(30, 3 * 365, per_category))
        price = np.round(cat.price * np.asarray(BAND_PRICE)[band]
                         * rng.lognormal(0.0, 0.25, per_category), 0) - 0.1
        price = np.maximum(price, 4.9)
        weight = 1.0 / np.arange(1, per_category + 1) ** 0.9
        weight = weight[rng.permutation(per_category)]
        cycle = np.zeros(per_category, dtype=np.int64)
        if cat.cycles:
            # The most popular established products are the staples bought on a cycle.
            established = np.flatnonzero(~new)
            staples = established[np.argsort(-weight[established])[:4]]
            cycle[staples] = rng.choice(cat.cycles, size=len(staples))
            weight[staples] *= 0.3  # bought mostly on their cycle, rarely on a whim
        cats.append(np.full(per_category, c))
        bands.append(band)
        launches.append(launch)
        prices.append(price)
        cycles.append(cycle)
        weights.append(weight)
    category = np.concatenate(cats)
    band = np.concatenate(bands)
    launch = np.concatenate(launches)
    order = np.lexsort((launch, category * len(BANDS) + band))
    category, band, launch = category[order], band[order], launch[order]
    price = np.concatenate(prices)[order]
    cycle = np.concatenate(cycles)[order]
    weight = np.concatenate(weights)[order]
    shelf = category * len(BANDS) + band
    shelf_start = np.searchsorted(shelf, np.arange(len(CATEGORIES) * len(BANDS)))
    cat_order = np.lexsort((launch, category))
    table = _products_table(rng, category, launch, price, start)
    return Catalog(category=category, band=band, launch=launch, price=price, cycle=cycle,
                   weight=weight, table=table, _shelf_keys=shelf * _KEY + launch,
                   _shelf_start=shelf_start, _cum_weight=np.cumsum(weight),
                   _cat_order=cat_order,
                   _cat_keys=category[cat_order] * _KEY + launch[cat_order])


def product_ids(launch: np.ndarray) -> pa.Array:
    """Ids numbered in launch order, as a shop's listing numbers grow over time."""
    rank = np.empty(len(launch), dtype=np.int64)
    rank[np.argsort(launch, kind="stable")] = np.arange(1, len(launch) + 1)
    return id_strings("P", rank, 5)


def _products_table(rng: np.random.Generator, category: np.ndarray, launch: np.ndarray,
                    price: np.ndarray, start: dt.datetime) -> pa.Table:
    n = len(price)
    brand = rng.choice(len(BRANDS), size=n)
    spec = rng.choice(len(SPECS), size=n)
    noun = rng.integers(0, 1 << 30, size=n)
    names = []
    for i in range(n):  # a few hundred products: a plain loop reads best here
        cat = CATEGORIES[category[i]]
        names.append(f"{BRANDS[brand[i]]} {cat.nouns[noun[i] % len(cat.nouns)]} "
                     f"{SPECS[spec[i]]}")
    launched = np.round(launch * 86400).astype(np.int64)
    # A few old listings carry no launch date (imported from an earlier system).
    launched_mask = (launch < -365) & (rng.random(n) < 0.15)
    schema = table_schema(PRODUCTS).to_pyarrow()
    columns = {
        "product_id": product_ids(launch),
        "name": pa.array(names, pa.string()),
        "category": pa.array([CATEGORIES[c].name for c in category], pa.string()),
        "price": pa.array(price, pa.float64()),
        "brand": pa.array([BRANDS[b] for b in brand], pa.string()),
        "launched_at": timestamps(start, launched, mask=launched_mask),
        "is_standard": pa.array([CATEGORIES[c].standard for c in category], pa.bool_()),
    }
    return pa.table(columns, schema=schema)
