"""Orders and order lines of one chunk of customers.

A buyer's first purchase follows sign-up; repeat purchases arrive as a Poisson process on the
shop's busy-day axis (:class:`~kequn.demo.calendar.Intensity`) until the customer drops out
(BG/NBD). Buyers of a staple rebuy it on its cycle with some jitter. Each order then gets a
status, a payment time, a channel, a promotion, lines, a discount and a coupon.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kequn.demo._arrow import id_strings, lookup, money, timestamps, with_nulls
from kequn.demo._ragged import owners, ranks
from kequn.demo.calendar import PROMOTIONS, ShopCalendar
from kequn.demo.catalog import Catalog
from kequn.demo.people import People
from kequn.demo.reference import BANDS, CATEGORIES, CHANNELS, COUPONS, JUHUASUAN
from kequn.schema.tables import ORDER_ITEMS, ORDER_STATUSES, ORDERS
from kequn.storage.setup import table_schema

DAY = 86400
CREATED, PAID, CANCELLED, REFUNDED = (ORDER_STATUSES.index(s) for s in
                                      ("created", "paid", "cancelled", "refunded"))
# Of all orders: never paid (下单未付款), cancelled, and paid then refunded.
UNPAID_SHARE, CANCELLED_SHARE, REFUNDED_SHARE = 0.055, 0.035, 0.03
FIRST_PURCHASE_DAYS = 14.0  # mean busy-day-weighted wait from sign-up to the first purchase
SAME_VISIT_SHARE = 0.3  # first purchases made in the sign-up visit
LINES = (0.66, 0.22, 0.08, 0.04)  # share of orders with 1, 2, 3, 4 lines


@dataclass(frozen=True)
class Orders:
    """A chunk's orders (sorted by customer, then time) and their lines.

    Times are seconds since the calendar start; ``paid`` is -1 for unpaid orders.
    """

    customer: np.ndarray
    created: np.ndarray
    paid: np.ndarray
    status: np.ndarray
    channel: np.ndarray
    promotion: np.ndarray  # 0 = none, else index + 1 into PROMOTIONS
    coupon: np.ndarray  # coupon code (yymm * 1000 + value), 0 = none
    subtotal: np.ndarray
    discount: np.ndarray
    line_order: np.ndarray
    line_product: np.ndarray
    line_quantity: np.ndarray
    ids: pa.Array

    @property
    def size(self) -> int:
        """Number of orders."""
        return len(self.created)

    def first_product(self) -> np.ndarray:
        """The product on each order's first line."""
        first = np.flatnonzero(ranks(self.line_order) == 0)
        return self.line_product[first]

    def tables(self, people: People, catalog: Catalog, cal: ShopCalendar) -> tuple[pa.Table,
                                                                                    pa.Table]:
        """The orders and order_items tables in the canonical schema."""
        unpaid = self.paid < 0
        orders = pa.table({
            "order_id": self.ids,
            "customer_id": lookup(people.ids, self.customer),
            "created_at": timestamps(cal.start, self.created),
            "paid_at": timestamps(cal.start, np.where(unpaid, 0, self.paid), mask=unpaid),
            "status": lookup(ORDER_STATUSES, self.status),
            "amount": money(self.subtotal - self.discount),
            "discount": money(self.discount),
            "coupon_id": with_nulls(id_strings("QJ", self.coupon, 7), self.coupon <= 0),
            "channel": lookup([c.name for c in CHANNELS], self.channel),
            "promotion": lookup(PROMOTIONS, self.promotion - 1),
        }, schema=table_schema(ORDERS).to_pyarrow())
        items = pa.table({
            "order_id": lookup(self.ids, self.line_order),
            "product_id": lookup(catalog.ids, self.line_product),
            "quantity": pa.array(self.line_quantity, pa.int64()),
            "unit_price": money(catalog.price[self.line_product]),
        }, schema=table_schema(ORDER_ITEMS).to_pyarrow())
        return orders, items


def draw_orders(rng: np.random.Generator, cal: ShopCalendar, catalog: Catalog, people: People,
                *, first_number: int, id_width: int) -> Orders:
    """All orders of ``people``, numbered from ``first_number``."""
    end = cal.cutoff
    customer, created, forced = _purchase_times(rng, cal, catalog, people)
    keep = created < end
    customer, created, forced = customer[keep], created[keep], forced[keep]
    order = np.lexsort((created, customer))
    customer, created, forced = customer[order], created[order], forced[order]
    n = len(created)
    rank = ranks(customer)

    status, paid = _payment(rng, created, end)
    day = created // DAY
    channel = _channels(rng, cal, people, customer, rank, day)
    promotion = np.where((cal.promotion[day] > 0)
                         & ((rng.random(n) < 0.55) | people.deal_seeker[customer]),
                         cal.promotion[day], 0).astype(np.int64)
    juhuasuan = PROMOTIONS.index("聚划算") + 1
    promotion[(channel == JUHUASUAN) & (promotion == 0)] = juhuasuan
    line_order, line_product, quantity = _lines(rng, catalog, people, customer, created, forced)
    subtotal = np.bincount(line_order, catalog.price[line_product] * quantity, minlength=n)
    coupon, discount = _discounts(rng, cal, people, customer, day, promotion, subtotal)
    ids = id_strings("O", np.arange(first_number, first_number + n), id_width)
    return Orders(customer=customer, created=created, paid=paid, status=status, channel=channel,
                  promotion=promotion, coupon=coupon, subtotal=subtotal, discount=discount,
                  line_order=line_order, line_product=line_product, line_quantity=quantity,
                  ids=ids)


def _purchase_times(rng: np.random.Generator, cal: ShopCalendar, catalog: Catalog,
                    people: People) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer, created second, forced product or -1) of every purchase, unsorted."""
    end = cal.cutoff
    buyers = np.flatnonzero(people.buyer)
    deal = people.deal_seeker[buyers]
    signup = people.signup[buyers]
    wait = rng.exponential(FIRST_PURCHASE_DAYS, len(buyers))
    first = _at_time_of_day(rng, cal, _advance(cal, deal, signup / DAY, wait))
    same_visit = rng.random(len(buyers)) < SAME_VISIT_SHARE
    first[same_visit] = signup[same_visit] + rng.integers(120, 1500, int(same_visit.sum()))
    first = np.maximum(first, signup + 120)
    ok = first < end
    buyers, deal, first = buyers[ok], deal[ok], first[ok]
    first_days = first / DAY

    # Repeat purchases: Poisson at the customer's rate on the busy-day axis, stopped at dropout.
    start_w = _warp(cal, deal, first_days)
    span = np.maximum(np.where(deal, cal.deals.total, cal.orders.total) - start_w, 0.0)
    m = rng.poisson(people.rate[buyers] * span)
    lives = rng.geometric(people.dropout[buyers]) - 1  # repeat purchases before dropping out
    owner = owners(m)
    u = rng.random(len(owner))
    u = u[np.argsort(owner + u, kind="stable")]
    keep = ranks(owner) < np.minimum(m, lives)[owner]
    owner, u = owner[keep], u[keep]
    repeat_day = _day_at(cal, deal[owner], start_w[owner] + u * span[owner])

    # Staple buyers rebuy on the product's cycle, with jitter, until they stop.
    staple = people.staple[buyers]
    has = np.flatnonzero(staple >= 0)
    cycle = catalog.cycle[staple[has]].astype(np.float64)
    steps = int(cal.days / (0.7 * cycle.min(initial=30.0))) + 2
    gaps = cycle[:, None] * np.clip(rng.normal(1.0, 0.12, (len(has), steps)), 0.6, 1.6)
    times = first_days[has][:, None] + np.cumsum(gaps, axis=1)
    stay = 1.0 - 0.6 * people.dropout[buyers][has]
    alive = np.cumprod(rng.random((len(has), steps)) < stay[:, None], axis=1).astype(bool)
    alive &= times < cal.days
    row, _ = np.nonzero(alive)
    cycle_day = np.floor(times[alive])

    customer = np.concatenate([buyers, buyers[owner], buyers[has][row]])
    created = np.concatenate([first, _at_time_of_day(rng, cal, repeat_day),
                              _at_time_of_day(rng, cal, cycle_day)])
    forced = np.concatenate([staple, np.full(len(owner), -1), staple[has][row]])
    created = np.maximum(created, people.signup[customer] + 120)
    return customer, created, forced


def _at_time_of_day(rng: np.random.Generator, cal: ShopCalendar, day: np.ndarray) -> np.ndarray:
    """Seconds at a time of day drawn from the hourly profile; days past the end stay past it."""
    whole = day.astype(np.int64)
    inside = np.minimum(whole, cal.days - 1)
    return whole * DAY + cal.seconds_of_day(rng, inside)


def _warp(cal: ShopCalendar, deal: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.where(deal, cal.deals.warp(t), cal.orders.warp(t))


def _day_at(cal: ShopCalendar, deal: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.where(deal, cal.deals.day_of(w), cal.orders.day_of(w)).astype(np.float64)


def _advance(cal: ShopCalendar, deal: np.ndarray, t: np.ndarray, wait: np.ndarray) -> np.ndarray:
    """The day reached from ``t`` after ``wait`` busy-day units (>= days if past the end)."""
    w = _warp(cal, deal, t) + wait
    total = np.where(deal, cal.deals.total, cal.orders.total)
    day = _day_at(cal, deal, np.minimum(w, total - 1e-9))
    return np.where(w >= total, float(cal.days), np.maximum(day, np.floor(t)))


def _payment(rng: np.random.Generator, created: np.ndarray, end: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Status and payment time (-1 = unpaid) of each order."""
    n = len(created)
    u = rng.random(n)
    status = np.full(n, PAID)
    status[u < UNPAID_SHARE] = CREATED
    status[(u >= UNPAID_SHARE) & (u < UNPAID_SHARE + CANCELLED_SHARE)] = CANCELLED
    status[u >= 1.0 - REFUNDED_SHARE] = REFUNDED
    # Most pay within minutes; some later the same day; a few after a reminder (催付).
    kind = rng.random(n)
    delay = np.where(kind < 0.82, rng.uniform(15, 600, n),
                     np.where(kind < 0.96, rng.exponential(3 * 3600, n),
                              rng.uniform(12 * 3600, 60 * 3600, n))).astype(np.int64)
    paid = created + delay
    pays = (status == PAID) | (status == REFUNDED)
    late = pays & (paid >= end)
    status[late] = CREATED  # not paid yet when the data was taken
    paid = np.where(pays & ~late, paid, -1)
    return status, paid


def _channels(rng: np.random.Generator, cal: ShopCalendar, people: People, customer: np.ndarray,
              rank: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The channel of each order's visit: better-converting channels bring more purchases.

    Damped (conversion ** 0.6) so purchase visits do not reorder the channels' traffic.
    """
    weight = np.array([c.traffic * c.conversion ** 0.6 for c in CHANNELS])
    channel = rng.choice(len(CHANNELS), size=len(customer), p=weight / weight.sum())
    first = (rank == 0) & (rng.random(len(customer)) < 0.7)
    channel[first] = people.channel[customer[first]]
    channel[cal.juhuasuan[day] & (rng.random(len(customer)) < 0.2)] = JUHUASUAN
    return channel


def pick_products(rng: np.random.Generator, catalog: Catalog, people: People,
                  customer: np.ndarray, t_days: np.ndarray, *, loyalty: float = 0.6
                  ) -> np.ndarray:
    """A product per request, among those on sale at ``t_days``.

    Follows each customer's favourite category (with probability ``loyalty``), price band and
    taste for new arrivals.
    """
    n = len(customer)
    weights = np.array([c.weight for c in CATEGORIES])
    category = np.where(rng.random(n) < loyalty, people.category[customer],
                        rng.choice(len(CATEGORIES), size=n, p=weights / weights.sum()))
    band = np.where(rng.random(n) < 0.7, people.band[customer], rng.integers(0, len(BANDS), n))
    product = catalog.pick(rng, category, band, t_days)
    wants_new = rng.random(n) < np.where(people.new_fan[customer], 0.75, 0.06)
    if wants_new.any():
        new = catalog.pick_new(rng, category[wants_new], t_days[wants_new])
        product[np.flatnonzero(wants_new)[new >= 0]] = new[new >= 0]
    return product


def _lines(rng: np.random.Generator, catalog: Catalog, people: People, customer: np.ndarray,
           created: np.ndarray, forced: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order lines: (order index, product, quantity), one product at most once per order."""
    n = len(created)
    count = 1 + rng.choice(len(LINES), size=n, p=LINES)
    count[forced >= 0] = 1 + (rng.random(int((forced >= 0).sum())) < 0.3)
    order = owners(count)
    product = pick_products(rng, catalog, people, customer[order], created[order] / DAY)
    first = ranks(order) == 0
    product[first] = np.where(forced >= 0, forced, product[first])
    _, keep = np.unique(order * catalog.size + product, return_index=True)
    keep.sort()
    order, product = order[keep], product[keep]
    staple = catalog.cycle[product] > 0
    quantity = 1 + rng.binomial(2, np.where(staple, 0.15, 0.05))
    return order, product, quantity


def _discounts(rng: np.random.Generator, cal: ShopCalendar, people: People, customer: np.ndarray,
               day: np.ndarray, promotion: np.ndarray, subtotal: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Coupon code (0 = none) and discount of each order."""
    n = len(subtotal)
    deal = people.deal_seeker[customer]
    promo = promotion > 0
    cut = np.where(deal, rng.uniform(0.2, 0.35, n), rng.uniform(0.06, 0.2, n))
    discount = np.where(promo, np.round(subtotal * cut, 0), 0.0)
    values = np.array([v for v, _ in COUPONS])
    thresholds = np.array([m for _, m in COUPONS])
    best = np.searchsorted(thresholds, subtotal, side="right") - 1
    wants = rng.random(n) < np.where(promo, 0.35, 0.1) * np.where(deal, 2.0, 1.0)
    use = wants & (best >= 0)
    choice = np.floor(rng.random(n) * (np.maximum(best, 0) + 1)).astype(np.int64)
    value = np.where(use, values[np.minimum(choice, len(values) - 1)], 0)
    coupon = np.where(use, cal.month[day].astype(np.int64) * 1000 + value, 0)
    discount = np.minimum(discount + value, np.round(subtotal * 0.6, 2))
    return coupon, discount
