"""Customers of the demo shop: who they are (the customers table) and how they behave.

Behaviour follows BG/NBD (Fader, Hardie & Lee 2005): each customer buys at their own rate
while alive and may drop out after every purchase, so a shop's buyers spread over active,
sleeping, pre-churn and churned (SPEC §3, seed 004). Member level raises the rate and lowers
the dropout, as seed 002 observes retention rising with the level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kequn.demo._arrow import dates, digit_strings, id_strings, lookup, timestamps, with_nulls
from kequn.demo.calendar import ShopCalendar
from kequn.demo.catalog import Catalog
from kequn.demo.reference import (
    BAND_WEIGHTS,
    CATEGORIES,
    CHANNELS,
    CITIES,
    DEVICE_WEIGHTS,
    DEVICES,
    DISTRICTS,
    EDUCATION,
    EDUCATION_WEIGHTS,
    EMAIL_DOMAINS,
    EMAIL_WEIGHTS,
    GENDER_WEIGHTS,
    GENDERS,
    GIVEN_NAMES,
    INDUSTRIES,
    JUHUASUAN,
    LEVEL_DROPOUT,
    LEVEL_RATE,
    LEVEL_SHARES,
    MARITAL,
    MISSING,
    OCCUPATION_WEIGHTS,
    OCCUPATIONS,
    OPT_OUT_SHARE,
    PHONE_PREFIXES,
    STREETS,
    SURNAMES,
)
from kequn.schema.tables import CUSTOMERS, MEMBER_LEVELS
from kequn.storage.setup import table_schema

# Calibrated so that the default shop has about ten orders per customer (the benchmark ratio).
RATE_SHAPE = 0.6
RATE_SCALE = 0.6  # purchases per day, before the member-level multiplier
MAX_RATE = 0.6  # nobody orders more than every two or three days on average
DEAL_SEEKER_SHARE = 0.16  # SPEC §3 price_sensitive / holiday_shoppers
NEW_ARRIVAL_FAN_SHARE = 0.09  # SPEC §3 new_arrival_fans
_AUTONOMOUS = {"广西": "广西壮族自治区", "内蒙古": "内蒙古自治区", "新疆": "新疆维吾尔自治区",
               "西藏": "西藏自治区", "宁夏": "宁夏回族自治区"}
_MUNICIPALITIES = {"北京", "上海", "天津", "重庆"}
_HANDLES = ("xiaomei", "happy", "lucky", "sunny", "amy", "leo", "momo", "coco", "tiantian",
            "yuyu", "kiki", "star", "panda", "candy", "lily", "jack")


@dataclass(frozen=True)
class People:
    """One chunk of customers: the table and the traits the simulation needs.

    Times are seconds since the calendar start.
    """

    table: pa.Table
    ids: pa.Array
    signup: np.ndarray  # seconds
    channel: np.ndarray  # index into CHANNELS
    level: np.ndarray  # index into MEMBER_LEVELS
    buyer: np.ndarray  # bool: will buy if their first purchase falls in the period
    rate: np.ndarray  # purchases per (average) day while alive
    dropout: np.ndarray  # probability of dropping out after a purchase
    deal_seeker: np.ndarray  # bool
    new_fan: np.ndarray  # bool
    category: np.ndarray  # favourite category
    band: np.ndarray  # favourite price band
    staple: np.ndarray  # product bought on its cycle, -1 = none
    browse: np.ndarray  # browsing sessions per day while engaged

    @property
    def size(self) -> int:
        """Customers in the chunk."""
        return len(self.signup)


def draw_people(rng: np.random.Generator, cal: ShopCalendar, catalog: Catalog, *,
                first_number: int, n: int, id_width: int) -> People:
    """Draw ``n`` customers numbered from ``first_number``."""
    day = cal.signups.day_of(rng.uniform(0, cal.signups.total, n))
    signup = day * 86400 + cal.seconds_of_day(rng, day)
    channel = rng.choice(len(CHANNELS), size=n, p=_normalised([c.signup_share for c in CHANNELS]))
    on_juhuasuan = cal.juhuasuan[day] & (rng.random(n) < 0.3)
    channel[on_juhuasuan] = JUHUASUAN
    level = rng.choice(len(MEMBER_LEVELS), size=n, p=_normalised(LEVEL_SHARES))
    buy_p = np.array([c.buy_probability for c in CHANNELS])[channel] * (1.0 + 0.08 * level)
    buyer = rng.random(n) < np.minimum(buy_p, 0.97)
    rate = np.minimum(rng.gamma(RATE_SHAPE, RATE_SCALE, n) * np.asarray(LEVEL_RATE)[level],
                      MAX_RATE)
    mean_drop = np.asarray(LEVEL_DROPOUT)[level]
    dropout = np.clip(rng.beta(1.2 * mean_drop, 1.2 * (1 - mean_drop)), 1e-4, 0.999)
    category = rng.choice(len(CATEGORIES), size=n, p=_normalised([c.weight for c in CATEGORIES]))
    band = rng.choice(len(BAND_WEIGHTS), size=n, p=_normalised(BAND_WEIGHTS))
    staple = _staples(rng, catalog, category)
    browse = rng.gamma(1.2, 0.04, n) + 0.25 * rate
    ids = id_strings("C", np.arange(first_number, first_number + n), id_width)
    table = _customers_table(rng, cal, ids, signup, channel, level)
    return People(table=table, ids=ids, signup=signup, channel=channel, level=level,
                  buyer=buyer, rate=rate, dropout=dropout,
                  deal_seeker=rng.random(n) < DEAL_SEEKER_SHARE,
                  new_fan=rng.random(n) < NEW_ARRIVAL_FAN_SHARE, category=category, band=band,
                  staple=staple, browse=browse)


def _normalised(weights: tuple[float, ...] | list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / w.sum()


def _staples(rng: np.random.Generator, catalog: Catalog, category: np.ndarray) -> np.ndarray:
    """A staple for most fans of a consumable category and a few others; -1 for the rest."""
    staples = catalog.staples
    out = np.full(len(category), -1, dtype=np.int64)
    for c in np.unique(catalog.category[staples]):
        own = staples[catalog.category[staples] == c]
        fans = np.flatnonzero((category == c) & (rng.random(len(category)) < 0.55))
        p = catalog.weight[own] / catalog.weight[own].sum()
        out[fans] = rng.choice(own, size=len(fans), p=p)
    others = (out < 0) & (rng.random(len(category)) < 0.06)
    p = catalog.weight[staples] / catalog.weight[staples].sum()
    out[others] = rng.choice(staples, size=int(others.sum()), p=p)
    return out


def _customers_table(rng: np.random.Generator, cal: ShopCalendar, ids: pa.Array,
                     signup: np.ndarray, channel: np.ndarray, level: np.ndarray) -> pa.Table:
    n = len(signup)

    def missing(column: str) -> np.ndarray:
        return rng.random(n) < MISSING[column]

    city = rng.choice(len(CITIES), size=n, p=_normalised([c[3] for c in CITIES]))
    no_place = missing("province")
    provinces = [_province(c[0]) for c in CITIES]
    cities = [f"{c[1]}市" for c in CITIES]
    age_days = np.clip(rng.gamma(9.0, 3.3, n) + 14.0, 16.0, 70.0) * 365.25
    birthday = signup // 86400 - age_days.astype(np.int64)
    married = rng.random(n) < np.clip((age_days / 365.25 - 22.0) / 14.0, 0.05, 0.9)
    children = married & (rng.random(n) < 0.7)
    schema = table_schema(CUSTOMERS).to_pyarrow()
    columns = {
        "customer_id": ids,
        "registered_at": timestamps(cal.start, signup),
        "gender": lookup(GENDERS, rng.choice(2, size=n, p=GENDER_WEIGHTS), mask=missing("gender")),
        "birthday": dates(cal.start, birthday, mask=missing("birthday")),
        "province": lookup(provinces, city, mask=no_place),
        "city": lookup(cities, city, mask=no_place),
        "city_tier": pa.array(np.array([c[2] for c in CITIES])[city], pa.int64(), mask=no_place),
        "member_level": lookup(MEMBER_LEVELS, level),
        "source_channel": lookup([c.name for c in CHANNELS], channel),
        "device": lookup(DEVICES, rng.choice(len(DEVICES), size=n, p=DEVICE_WEIGHTS),
                         mask=missing("device")),
        "marital_status": lookup(MARITAL, married.astype(np.int64),
                                 mask=missing("marital_status")),
        "has_children": pa.array(children, pa.bool_(), mask=missing("has_children")),
        "occupation": lookup(OCCUPATIONS, rng.choice(len(OCCUPATIONS), size=n,
                                                     p=_normalised(OCCUPATION_WEIGHTS)),
                             mask=missing("occupation")),
        "industry": lookup(INDUSTRIES, rng.integers(0, len(INDUSTRIES), n),
                           mask=missing("industry")),
        "education": lookup(EDUCATION, rng.choice(len(EDUCATION), size=n, p=EDUCATION_WEIGHTS),
                            mask=missing("education")),
        "phone": _phones(rng, n, missing("phone")),
        "email": _emails(rng, n, missing("email")),
        "address": _addresses(rng, city, missing("address") | no_place),
        "name": _names(rng, n, missing("name")),
        "opted_out": pa.array(rng.random(n) < OPT_OUT_SHARE, pa.bool_()),
    }
    return pa.table(columns, schema=schema)


def _province(name: str) -> str:
    if name in _MUNICIPALITIES:
        return f"{name}市"
    return _AUTONOMOUS.get(name, f"{name}省")


def _phones(rng: np.random.Generator, n: int, mask: np.ndarray) -> pa.Array:
    prefix = lookup(PHONE_PREFIXES, rng.integers(0, len(PHONE_PREFIXES), n))
    return with_nulls(pc.binary_join_element_wise(prefix, digit_strings(rng, n, 8), ""), mask)


def _emails(rng: np.random.Generator, n: int, mask: np.ndarray) -> pa.Array:
    domain = rng.choice(len(EMAIL_DOMAINS), size=n, p=EMAIL_WEIGHTS)
    qq_number = pa.array(rng.integers(10_000, 3_000_000_000, n), pa.int64()).cast(pa.string())
    handle = pc.binary_join_element_wise(
        lookup(_HANDLES, rng.integers(0, len(_HANDLES), n)),
        pa.array(rng.integers(1, 9999, n), pa.int64()).cast(pa.string()), "")
    local = pc.if_else(pa.array(domain == 0), qq_number, handle)
    at_domain = lookup([f"@{d}" for d in EMAIL_DOMAINS], domain)
    return with_nulls(pc.binary_join_element_wise(local, at_domain, ""), mask)


def _addresses(rng: np.random.Generator, city: np.ndarray, mask: np.ndarray) -> pa.Array:
    n = len(city)
    head = lookup([p if p == f"{c}市" else f"{p}{c}市"
                   for p, c in ((_province(c[0]), c[1]) for c in CITIES)], city)
    number = pa.array(rng.integers(1, 999, n), pa.int64()).cast(pa.string())
    parts = [head, lookup(DISTRICTS, rng.integers(0, len(DISTRICTS), n)),
             lookup(STREETS, rng.integers(0, len(STREETS), n)), number]
    return with_nulls(pc.binary_join_element_wise(*parts, pa.scalar("号"), ""), mask)


def _names(rng: np.random.Generator, n: int, mask: np.ndarray) -> pa.Array:
    surname = lookup(SURNAMES, rng.integers(0, len(SURNAMES), n))
    given = lookup(GIVEN_NAMES, rng.integers(0, len(GIVEN_NAMES), n))
    return with_nulls(pc.binary_join_element_wise(surname, given, ""), mask)
