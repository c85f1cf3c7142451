"""Periods and windows: calendar days, ISO weeks (Monday first) and calendar months.

Times are naive shop-local timestamps (SPEC §1), so a period is the calendar day, week or
month of the stored wall time; no zone conversion happens here. A period is addressed by an
integer *index* (days since 1970-01-01, weeks since Monday 1970-01-05, months since January
1970) so that "N periods later" is integer arithmetic that every Ibis backend compiles.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from typing import Literal, get_args

import ibis.expr.types as ir

Period = Literal["day", "week", "month"]
PERIODS: tuple[str, ...] = get_args(Period)

_EPOCH = dt.date(1970, 1, 1)
_EPOCH_MONDAY_DAYS = 4  # 1970-01-05 was the first Monday after the epoch
_TRUNC_UNIT = {"day": "D", "week": "W", "month": "M"}


# -- expressions ------------------------------------------------------------------------------
def period_start(t: ir.TimestampValue, period: Period) -> ir.DateValue:
    """First day of the day, ISO week or month that ``t`` falls in."""
    return t.truncate(_TRUNC_UNIT[period]).date()


def period_index(day: ir.DateValue, period: Period) -> ir.IntegerValue:
    """Integer index of the period holding ``day`` (consecutive periods differ by 1)."""
    if period == "day":
        return day.epoch_days()
    if period == "week":
        return (day.truncate("W").epoch_days() - _EPOCH_MONDAY_DAYS) // 7
    return day.year() * 12 + day.month() - 1


# -- plain Python -----------------------------------------------------------------------------
def start_of(day: dt.date, period: Period) -> dt.date:
    """First day of the period holding ``day``."""
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def index_of(day: dt.date, period: Period) -> int:
    """The same index as :func:`period_index`, for a Python date."""
    if period == "day":
        return (day - _EPOCH).days
    if period == "week":
        return ((start_of(day, "week") - _EPOCH).days - _EPOCH_MONDAY_DAYS) // 7
    return day.year * 12 + day.month - 1


def start_of_index(index: int, period: Period) -> dt.date:
    """First day of the period with this index."""
    if period == "day":
        return _EPOCH + dt.timedelta(days=index)
    if period == "week":
        return _EPOCH + dt.timedelta(days=_EPOCH_MONDAY_DAYS + 7 * index)
    year, month0 = divmod(index, 12)
    return dt.date(year, month0 + 1, 1)


def shift(moment: dt.datetime, period: Period, n: int) -> dt.datetime:
    """``moment`` moved by ``n`` periods; a month shift clips the day to the month's end."""
    if period == "day":
        return moment + dt.timedelta(days=n)
    if period == "week":
        return moment + dt.timedelta(weeks=n)
    months = moment.year * 12 + moment.month - 1 + n
    year, month0 = divmod(months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return moment.replace(year=year, month=month0 + 1, day=min(moment.day, last))


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min)


@dataclass(frozen=True)
class Window:
    """The time a metric looks at: ``start <= t <= as_of``, cut into periods.

    ``as_of`` is also the data cut: nothing later is read, so a past window gives what the
    shop saw that day.
    """

    start: dt.datetime
    as_of: dt.datetime
    period: Period

    @property
    def first_index(self) -> int:
        """Index of the period holding ``start``."""
        return index_of(self.start.date(), self.period)

    @property
    def last_index(self) -> int:
        """Index of the period holding ``as_of``."""
        return index_of(self.as_of.date(), self.period)

    @property
    def n_periods(self) -> int:
        """How many periods the window touches."""
        return self.last_index - self.first_index + 1

    def starts(self) -> list[dt.date]:
        """First day of each period the window touches, oldest first."""
        return [start_of_index(i, self.period)
                for i in range(self.first_index, self.last_index + 1)]

    def previous(self) -> Window:
        """The window of the same length in periods just before this one.

        A period-to-date window (as_of in the middle of a month) is compared with the same
        stretch of the previous month, not with a whole month.
        """
        n = self.n_periods
        return Window(shift(self.start, self.period, -n), shift(self.as_of, self.period, -n),
                      self.period)

    def label(self) -> str:
        """``2024-03-04 – 2024-03-10`` style text for headings."""
        return f"{self.start.date().isoformat()} – {self.as_of.date().isoformat()}"


def resolve_window(period: Period, as_of: dt.datetime, *,
                   start: dt.datetime | dt.date | None = None, span: int = 1) -> Window:
    """The window ending at ``as_of``: from ``start``, or the last ``span`` periods.

    With no ``start`` the window begins at the start of the period ``span - 1`` periods
    before the one holding ``as_of`` (``span=1``: the current period to date).
    """
    if period not in PERIODS:
        from kequn.metrics._base import MetricError

        msg = f"unknown period {period!r}; use one of {', '.join(PERIODS)}"
        raise MetricError(msg)
    if start is None:
        first = start_of_index(index_of(as_of.date(), period) - (span - 1), period)
        begin = _midnight(first)
    elif isinstance(start, dt.datetime):
        begin = start
    else:
        begin = _midnight(start)
    if begin > as_of:
        from kequn.metrics._base import MetricError

        msg = f"window start {begin.date()} is after as_of {as_of}; pick an earlier --from"
        raise MetricError(msg)
    return Window(begin, as_of, period)


def last_complete_window(period: Period, as_of: dt.datetime) -> Window:
    """The latest whole period whose last day is on or before ``as_of``'s date.

    The Monday report reads last week: with as_of on a Sunday that week counts as complete.
    """
    day = as_of.date()
    start = start_of(day, period)
    end_next = start_of_index(index_of(day, period) + 1, period)
    if end_next - dt.timedelta(days=1) != day:
        end_next = start
        start = start_of_index(index_of(day, period) - 1, period)
    end = dt.datetime.combine(end_next - dt.timedelta(days=1), dt.time.max)
    return Window(_midnight(start), min(end, as_of), period)
