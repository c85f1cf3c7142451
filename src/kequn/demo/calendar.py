"""The demo shop's calendar: promotions, holidays, weekly rhythm and hours of the day.

Each day gets multipliers for sign-ups, visits and orders, and a promotion label. Purchase
times are drawn on a *warped* time axis (:class:`Intensity`) so that a customer's orders crowd
onto 双11, 618 and the 聚划算 days the way a Taobao shop's do (seeds 000, 004).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

PROMOTIONS: tuple[str, ...] = ("双11", "双12", "618", "年货节", "38女王节", "99划算", "聚划算")
_PROMO = {name: i + 1 for i, name in enumerate(PROMOTIONS)}  # 0 = no promotion

# Lunar-calendar days (春节, 端午, 七夕, 中秋) for the years the demo is likely to cover.
_LUNAR: dict[int, tuple[str, str, str, str]] = {
    2022: ("02-01", "06-03", "08-04", "09-10"),
    2023: ("01-22", "06-22", "08-22", "09-29"),
    2024: ("02-10", "06-10", "08-10", "09-17"),
    2025: ("01-29", "05-31", "08-29", "10-06"),
    2026: ("02-17", "06-19", "08-19", "09-25"),
    2027: ("02-06", "06-09", "08-08", "09-15"),
    2028: ("01-26", "05-28", "08-26", "10-03"),
    2029: ("02-13", "06-16", "08-16", "09-22"),
    2030: ("02-03", "06-05", "08-05", "09-12"),
}

# Share of orders per hour of the day: a lunch bump and the evening peak of mobile shopping;
# on 双11 the first hour after midnight is the busiest of the year.
_HOURS = np.array([2.2, 1.1, 0.6, 0.35, 0.25, 0.3, 0.6, 1.3, 2.6, 3.9, 4.8, 5.0, 5.2, 5.0,
                   4.7, 4.6, 4.6, 4.5, 4.6, 5.4, 6.8, 7.9, 7.6, 4.5])
_HOURS_DOUBLE11 = _HOURS.copy()
_HOURS_DOUBLE11[:2] = (28.0, 9.0)


@dataclass(frozen=True)
class Intensity:
    """A piecewise-constant daily rate, normalised to a mean of 1 per day.

    ``warp(t)`` maps a time in days to the cumulative rate; uniform draws on the warped axis,
    mapped back with :meth:`day_of`, fall on busy days more often (an inhomogeneous Poisson
    process by time change).
    """

    rate: np.ndarray
    cumulative: np.ndarray

    @classmethod
    def of(cls, rate: np.ndarray) -> Intensity:
        """Normalise ``rate`` (one value per day) and precompute its cumulative sum."""
        rate = np.asarray(rate, dtype=np.float64)
        rate = rate / rate.mean()
        return cls(rate, np.concatenate([[0.0], np.cumsum(rate)]))

    @property
    def total(self) -> float:
        """The warped length of the whole period (equal to its number of days)."""
        return float(self.cumulative[-1])

    def warp(self, t: np.ndarray) -> np.ndarray:
        """Cumulative rate at time ``t`` (days since the start, float)."""
        t = np.clip(t, 0.0, len(self.rate) - 1e-9)
        day = t.astype(np.int64)
        return self.cumulative[day] + (t - day) * self.rate[day]

    def day_of(self, w: np.ndarray) -> np.ndarray:
        """The day (index) at which the cumulative rate reaches ``w``."""
        day = np.searchsorted(self.cumulative, w, side="right") - 1
        return np.clip(day, 0, len(self.rate) - 1)


@dataclass(frozen=True)
class ShopCalendar:
    """Every day of the demo period with its promotion and rate multipliers."""

    start: dt.datetime
    days: int
    cutoff: int  # seconds from start to the end of the data (nothing at or after it)
    promotion: np.ndarray  # int8: 0 = none, else index + 1 into PROMOTIONS
    month: np.ndarray  # int32: yymm of each day, for coupon ids
    signups: Intensity
    visits: Intensity
    orders: Intensity
    deals: Intensity  # price-sensitive customers: almost only on promotion days
    juhuasuan: np.ndarray  # bool: a 聚划算 day (that channel's traffic peaks)

    @classmethod
    def build(cls, start: dt.datetime, end: dt.datetime) -> ShopCalendar:
        """The calendar from ``start`` (a midnight) up to, not including, ``end``."""
        cutoff = int((end - start).total_seconds())
        days = -(-cutoff // 86400)
        dates = [start.date() + dt.timedelta(days=i) for i in range(days)]
        promo = np.zeros(days, dtype=np.int8)
        order_m = np.ones(days)
        visit_m = np.ones(days)
        for i, d in enumerate(dates):
            label, boost, pre = _promotion_of(d)
            if label:
                promo[i] = _PROMO[label]
                order_m[i] *= boost
                visit_m[i] *= pre
            name, factor = _holiday_of(d)
            if name:
                order_m[i] *= factor
                visit_m[i] *= max(factor, 0.8)
            weekday = d.weekday()
            order_m[i] *= (0.94, 0.97, 0.98, 0.98, 1.0, 1.08, 1.07)[weekday]
            visit_m[i] *= (0.95, 0.97, 0.98, 0.98, 1.0, 1.1, 1.1)[weekday]
        # The shop grows: sign-ups rise through the period, and promotions bring new customers.
        trend = np.linspace(0.7, 1.3, days)
        signup_m = trend * np.sqrt(order_m) * visit_m
        deal_m = np.where(promo > 0, order_m * 7.0, 0.12)
        month = np.array([(d.year % 100) * 100 + d.month for d in dates], dtype=np.int32)
        juhuasuan = promo == _PROMO["聚划算"]
        return cls(start=start, days=days, cutoff=cutoff, promotion=promo, month=month,
                   signups=Intensity.of(signup_m), visits=Intensity.of(visit_m),
                   orders=Intensity.of(order_m), deals=Intensity.of(deal_m),
                   juhuasuan=juhuasuan)

    def seconds_of_day(self, rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
        """A time of day in seconds for each day index, following the hourly order profile."""
        u = rng.random(len(day))
        hour = np.searchsorted(np.cumsum(_HOURS) / _HOURS.sum(), u, side="right")
        double11 = self.promotion[day] == _PROMO["双11"]
        if double11.any():
            cdf = np.cumsum(_HOURS_DOUBLE11) / _HOURS_DOUBLE11.sum()
            hour[double11] = np.searchsorted(cdf, u[double11], side="right")
        hour = np.minimum(hour, 23)
        return hour * 3600 + rng.integers(0, 3600, len(day))


def _promotion_of(d: dt.date) -> tuple[str | None, float, float]:
    """(label, order multiplier, visit multiplier) of a promotion day, else (None, 1, 1)."""
    md = (d.month, d.day)
    if d.month == 11 and d.day <= 11:
        return ("双11", 7.0, 4.0) if d.day == 11 else ("双11", 1.5, 1.8)
    if d.month == 12 and 10 <= d.day <= 12:
        return ("双12", 3.0 if d.day == 12 else 1.3, 1.6)
    if d.month == 6 and d.day <= 18:
        return ("618", 4.5, 2.6) if d.day == 18 else ("618", 1.35, 1.5)
    if md in ((3, 6), (3, 7), (3, 8)):
        return ("38女王节", 1.9, 1.5)
    if md == (9, 9):
        return ("99划算", 2.2, 1.7)
    lunar = _LUNAR.get(d.year + 1 if d.month >= 12 else d.year)
    if lunar is not None:
        spring = dt.date(d.year + 1 if d.month >= 12 else d.year,
                         *map(int, lunar[0].split("-")))
        if 12 <= (spring - d).days <= 26:
            return ("年货节", 1.6, 1.4)
    # 聚划算: the first and third Thursday of each month.
    if d.weekday() == 3 and (d.day - 1) // 7 in (0, 2):
        return ("聚划算", 1.8, 1.5)
    return (None, 1.0, 1.0)


def _holiday_of(d: dt.date) -> tuple[str | None, float]:
    """(name, order multiplier) of a public holiday or gift day, else (None, 1)."""
    md = (d.month, d.day)
    fixed = {(1, 1): ("元旦", 1.1), (2, 14): ("情人节", 1.35), (5, 1): ("劳动节", 1.2),
             (5, 2): ("劳动节", 1.1), (5, 3): ("劳动节", 1.1), (5, 20): ("520", 1.35),
             (10, 1): ("国庆", 1.1), (10, 2): ("国庆", 1.05), (10, 3): ("国庆", 1.05),
             (4, 5): ("清明", 0.95)}
    if md in fixed:
        return fixed[md]
    lunar = _LUNAR.get(d.year)
    if lunar is None:
        return (None, 1.0)
    spring, dragon, qixi, moon = (dt.date(d.year, *map(int, s.split("-"))) for s in lunar)
    if 0 <= (d - spring).days <= 6:
        return ("春节", 0.55)  # couriers rest: orders drop over the Spring Festival
    if d == dragon:
        return ("端午", 1.1)
    if d == qixi:
        return ("七夕", 1.4)
    if d == moon:
        return ("中秋", 1.15)
    return (None, 1.0)
