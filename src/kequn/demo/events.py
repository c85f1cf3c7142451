"""Behaviour events of one chunk of customers, grouped in visits (sessions).

Three kinds of visit: the sign-up visit (visit, register, maybe download and a few views), one
purchase visit per order (views and carts of the ordered products, a coupon claim when a coupon
was used, the order event at the order's time and the pay event at its payment time) and
browsing visits that end without an order — where favourites and carts are abandoned (SPEC §3
interest, cart_no_order, favoriters). Reviews follow some paid orders days later.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from kequn.demo._arrow import id_strings, lookup, timestamps
from kequn.demo._ragged import exclusive_cumsum, owners, ranks
from kequn.demo.calendar import ShopCalendar
from kequn.demo.catalog import Catalog
from kequn.demo.orders import DAY, REFUNDED, Orders, pick_products
from kequn.demo.people import People
from kequn.demo.reference import CHANNELS, JUHUASUAN
from kequn.schema.tables import EVENT_NAMES, EVENTS
from kequn.storage.setup import table_schema

E = {name: i for i, name in enumerate(EVENT_NAMES)}
# Order of events inside a visit (views may repeat; the anchor event fixes the visit's time).
_SEQ = {"visit": 0, "register": 1, "download": 2, "login": 3, "search": 4, "list_view": 5,
        "banner_view": 6, "banner_click": 7, "view": 8, "favorite": 9, "cart": 10,
        "coupon_claim": 11, "share": 12, "order": 13}
# Median seconds spent per event (log-normal); events without a duration are null.
_DURATION = {"visit": (150.0, 1.0), "view": (35.0, 0.9), "list_view": (14.0, 0.8),
             "search": (6.0, 0.6), "banner_view": (3.0, 0.5)}
REVIEW_SHARE = 0.22
BROWSE_AFTER_LAST_ORDER_DAYS = 45.0
NON_BUYER_DAYS = 20.0


@dataclass
class _Visits:
    """Visits (customer, channel, anchor event and its time) and their timed events."""

    customer: list[np.ndarray] = field(default_factory=list)
    channel: list[np.ndarray] = field(default_factory=list)
    anchor_event: list[np.ndarray] = field(default_factory=list)
    anchor_time: list[np.ndarray] = field(default_factory=list)
    ev_visit: list[np.ndarray] = field(default_factory=list)
    ev_code: list[np.ndarray] = field(default_factory=list)
    ev_product: list[np.ndarray] = field(default_factory=list)
    ev_seq: list[np.ndarray] = field(default_factory=list)
    fixed_visit: list[np.ndarray] = field(default_factory=list)
    fixed_code: list[np.ndarray] = field(default_factory=list)
    fixed_product: list[np.ndarray] = field(default_factory=list)
    fixed_time: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def open(self, customer: np.ndarray, channel: np.ndarray, anchor: str,
             time: np.ndarray) -> np.ndarray:
        """Start visits; returns their indices."""
        n = len(customer)
        self.customer.append(customer)
        self.channel.append(channel)
        self.anchor_event.append(np.full(n, E[anchor]))
        self.anchor_time.append(time)
        index = np.arange(self.count, self.count + n)
        self.count += n
        return index

    def add(self, visit: np.ndarray, event: str, product: np.ndarray | None = None,
            seq: np.ndarray | float | None = None) -> None:
        """Add ``event`` to each visit in ``visit``, timed by its place in the visit."""
        n = len(visit)
        self.ev_visit.append(visit)
        self.ev_code.append(np.full(n, E[event]))
        self.ev_product.append(np.full(n, -1) if product is None else product)
        order = float(_SEQ[event]) if seq is None else seq
        self.ev_seq.append(np.broadcast_to(np.asarray(order, dtype=np.float64), (n,)))

    def add_at(self, visit: np.ndarray, event: str, product: np.ndarray,
               time: np.ndarray) -> None:
        """Add ``event`` at fixed times (pay at the payment time, reviews days later)."""
        self.fixed_visit.append(visit)
        self.fixed_code.append(np.full(len(visit), E[event]))
        self.fixed_product.append(product)
        self.fixed_time.append(time)


def draw_events(rng: np.random.Generator, cal: ShopCalendar, catalog: Catalog, people: People,
                orders: Orders, *, id_width: int, first_number: int) -> pa.Table:
    """The events table of one chunk (sorted by customer, then time)."""
    visits = _Visits()
    _signup_visits(rng, catalog, people, visits)
    _purchase_visits(rng, catalog, people, orders, visits)
    _browse_visits(rng, cal, catalog, people, orders, visits)
    _reviews(rng, cal, orders, visits)
    return _to_table(rng, cal, catalog, people, visits, id_width=id_width,
                     first_number=first_number)


def _signup_visits(rng: np.random.Generator, catalog: Catalog, people: People,
                   visits: _Visits) -> None:
    n = people.size
    customer = np.arange(n)
    v = visits.open(customer, people.channel, "register", people.signup)
    visits.add(v, "visit")
    visits.add(v, "register")
    visits.add(v[rng.random(n) < 0.12], "download")
    _views(rng, catalog, people, visits, v, customer, people.signup / DAY, 0.9)


def _purchase_visits(rng: np.random.Generator, catalog: Catalog, people: People,
                     orders: Orders, visits: _Visits) -> None:
    n = orders.size
    v = visits.open(orders.customer, orders.channel, "order", orders.created)
    visits.add(v, "visit")
    visits.add(v[rng.random(n) < 0.45], "login")
    visits.add(v[rng.random(n) < 0.3], "search")
    visits.add(v[rng.random(n) < 0.35], "list_view")
    line_visit = v[orders.line_order]
    pos = ranks(orders.line_order)
    visits.add(line_visit, "view", orders.line_product, 8.0 + 0.01 * pos)
    carted = rng.random(len(line_visit)) < 0.6
    visits.add(line_visit[carted], "cart", orders.line_product[carted], 10.0 + 0.01 * pos[carted])
    extra = rng.random(n) < 0.3
    t = orders.created / DAY
    visits.add(v[extra], "view",
               pick_products(rng, catalog, people, orders.customer[extra], t[extra]), 8.5)
    visits.add(v[orders.coupon > 0], "coupon_claim")
    first = orders.first_product()
    visits.add(v, "order", first)
    paid = orders.paid >= 0
    visits.add_at(v[paid], "pay", first[paid], orders.paid[paid])


def _browse_visits(rng: np.random.Generator, cal: ShopCalendar, catalog: Catalog,
                   people: People, orders: Orders, visits: _Visits) -> None:
    """Visits without an order, from sign-up until some weeks after the last order."""
    n = people.size
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, orders.customer, orders.created)
    bought = last >= 0
    lurk = np.where(rng.random(n) < 0.2, 8.0, 1.0) * NON_BUYER_DAYS
    until = np.where(bought, last / DAY + rng.exponential(BROWSE_AFTER_LAST_ORDER_DAYS, n),
                     people.signup / DAY + rng.exponential(lurk))
    until = np.minimum(until, cal.days - 1e-6)
    start_w = cal.visits.warp(people.signup / DAY)
    span = np.maximum(cal.visits.warp(until) - start_w, 0.0)
    count = rng.poisson(people.browse * span)
    customer = owners(count)
    w = start_w[customer] + rng.random(len(customer)) * span[customer]
    day = cal.visits.day_of(w)
    start = np.maximum(day * DAY + cal.seconds_of_day(rng, day), people.signup[customer] + 60)
    m = len(customer)
    traffic = np.array([c.traffic for c in CHANNELS])
    channel = rng.choice(len(CHANNELS), size=m, p=traffic / traffic.sum())
    habit = rng.random(m) < 0.4  # many come back the way they first came
    channel[habit] = people.channel[customer[habit]]
    channel[cal.juhuasuan[day] & (rng.random(m) < 0.3)] = JUHUASUAN
    v = visits.open(customer, channel, "visit", start)
    visits.add(v, "visit")
    visits.add(v[rng.random(m) < 0.4], "login")
    visits.add(v[rng.random(m) < 0.3], "search")
    lists = rng.poisson(0.5, m)
    visits.add(v[owners(lists)], "list_view")
    banner = rng.random(m) < 0.25
    visits.add(v[banner], "banner_view")
    visits.add(v[banner & (rng.random(m) < 0.3)], "banner_click")
    seen_visit, seen_product = _views(rng, catalog, people, visits, v, customer, start / DAY, 1.3)
    # Favourites and carts pick one of the products viewed in the visit; most are abandoned.
    position = seen_visit - visits.count + m  # the visit's place among these m visits
    for event, share in (("favorite", 0.1), ("cart", 0.13), ("share", 0.03)):
        chosen, product = _one_viewed(rng, position, seen_product, m, share)
        visits.add(v[chosen], event, product)
    promo = cal.promotion[day] > 0
    visits.add(v[rng.random(m) < np.where(promo, 0.25, 0.04)], "coupon_claim")


def _views(rng: np.random.Generator, catalog: Catalog, people: People, visits: _Visits,
           v: np.ndarray, customer: np.ndarray, t_days: np.ndarray,
           mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Product views in each visit; returns (visit, product) of every view."""
    count = rng.poisson(mean, len(v))
    owner = owners(count)
    product = pick_products(rng, catalog, people, customer[owner], t_days[owner], loyalty=0.65)
    visits.add(v[owner], "view", product, 8.0 + 0.01 * ranks(owner))
    return v[owner], product


def _one_viewed(rng: np.random.Generator, seen_visit: np.ndarray, seen_product: np.ndarray,
                m: int, share: float) -> tuple[np.ndarray, np.ndarray]:
    """For a ``share`` of the visits with views: (visit position, one viewed product)."""
    count = np.bincount(seen_visit, minlength=m)
    first = np.concatenate([[0], np.cumsum(count)[:-1]])
    chosen = np.flatnonzero((count > 0) & (rng.random(m) < share))
    pick = first[chosen] + (rng.random(len(chosen)) * count[chosen]).astype(np.int64)
    return chosen, seen_product[pick]


def _reviews(rng: np.random.Generator, cal: ShopCalendar, orders: Orders,
             visits: _Visits) -> None:
    ok = (orders.paid >= 0) & (orders.status != REFUNDED) & (rng.random(orders.size)
                                                             < REVIEW_SHARE)
    at = orders.paid[ok] + rng.integers(3 * DAY, 12 * DAY, int(ok.sum()))
    inside = at < cal.cutoff
    index = np.flatnonzero(ok)[inside]
    v = visits.open(orders.customer[index], np.full(len(index), -1), "review", at[inside])
    visits.add_at(v, "review", orders.first_product()[index], at[inside])


def _to_table(rng: np.random.Generator, cal: ShopCalendar, catalog: Catalog, people: People,
              visits: _Visits, *, id_width: int, first_number: int) -> pa.Table:
    customer = np.concatenate(visits.customer)
    channel = np.concatenate(visits.channel)
    anchor_event = np.concatenate(visits.anchor_event)
    anchor_time = np.concatenate(visits.anchor_time)

    # Timed events: offsets from the visit's first event, shifted so the anchor hits its time.
    visit = np.concatenate(visits.ev_visit)
    code = np.concatenate(visits.ev_code)
    product = np.concatenate(visits.ev_product)
    seq = np.concatenate(visits.ev_seq)
    order = np.argsort((visit << 12) | np.round(seq * 100).astype(np.int64))
    visit, code, product = visit[order], code[order], product[order]
    duration = np.full(len(code), np.nan)
    for name, (median, sigma) in _DURATION.items():
        hit = code == E[name]
        duration[hit] = np.round(median * rng.lognormal(0.0, sigma, int(hit.sum())), 1)
    gap = np.where(code == E["visit"], 0.0, np.nan_to_num(duration)) + rng.exponential(8.0,
                                                                                     len(code))
    offset = exclusive_cumsum(visit, np.ceil(gap))
    is_anchor = code == anchor_event[visit]
    anchor_offset = np.zeros(len(customer))
    anchor_offset[visit[is_anchor]] = offset[is_anchor]
    time = (anchor_time[visit] - anchor_offset[visit] + offset).astype(np.int64)

    if visits.fixed_visit:
        fixed_visit = np.concatenate(visits.fixed_visit)
        visit = np.concatenate([visit, fixed_visit])
        code = np.concatenate([code, np.concatenate(visits.fixed_code)])
        product = np.concatenate([product, np.concatenate(visits.fixed_product)])
        time = np.concatenate([time, np.concatenate(visits.fixed_time)])
        duration = np.concatenate([duration, np.full(len(fixed_visit), np.nan)])
    owner = customer[visit]
    # Nothing before sign-up (a purchase right after it) and nothing after the data was taken.
    register = code == E["register"]
    time = np.where(register, time, np.maximum(time, people.signup[owner]))
    keep = time < cal.cutoff
    visit, code, product, time, duration, owner = (a[keep] for a in
                                                   (visit, code, product, time, duration, owner))

    # Visit ids: the customer's number and the visit's place among their visits.
    by_customer = np.lexsort((anchor_time, customer))
    number = np.empty(len(customer), dtype=np.int64)
    number[by_customer] = ranks(customer[by_customer])
    session_ids = id_strings("S", (first_number + customer) * 10_000 + np.minimum(number, 9999),
                             id_width + 4)

    order = np.argsort((owner << 42) | (time << 5) | code)  # customer, time, event
    visit, code, product, time, duration, owner = (a[order] for a in
                                                   (visit, code, product, time, duration, owner))
    nan = np.isnan(duration)
    return pa.table({
        "event_time": timestamps(cal.start, time),
        "customer_id": lookup(people.ids, owner),
        "event": lookup(EVENT_NAMES, code),
        "product_id": lookup(catalog.ids, product),
        "channel": lookup([c.name for c in CHANNELS], channel[visit]),
        "session_id": lookup(session_ids, visit),
        "duration_s": pa.array(np.where(nan, 0.0, duration), pa.float64(), mask=nan),
    }, schema=table_schema(EVENTS).to_pyarrow())
