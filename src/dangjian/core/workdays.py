"""The working-day calendar (工作日历): which days are worked, and deadlines counted in them.

Two halves:

- The pure half (no Django import): `WorkCalendar(holidays=..., workdays=...)` answers
  `is_working_day`, `add_working_days` and `working_days_between` from two sets of dates.
  Monday to Friday are working days and Saturday and Sunday are not, except that a holiday
  (节假日) is off even on a weekday and a make-up working day (调休上班) is worked even on a weekend.
  `CHINA_2026` is the State Council's schedule for 2026, as data.
- The database half: the same questions answered from the calendar that administrators keep
  (`core.models.CalendarDay`), e.g. `add_working_days(start, n)` and `deadline(start, n)`. Each
  year's days are read in one query and kept in the Django cache under a version derived from the
  table, so a change is seen at once by every process.

Counting follows the civil rule for periods (民法典 第二百零一条: the day the period starts is not
counted): `add_working_days(start, n)` is the n-th working day *after* `start`. With n = 0 it is
`start` itself when that is a working day, otherwise the next working day: "the first working day
from `start` on". So a request received on Sunday 27 September 2026 with 0 working days to go is
due on Monday the 28th, and with 1 working day on Tuesday the 29th.
"""

import datetime
from dataclasses import dataclass
from typing import NamedTuple

HOLIDAY = "holiday"
WORKDAY = "workday"


def _weekdays_through(day: datetime.date) -> int:
    """Mondays to Fridays from 0001-01-01 (a Monday) to `day`, both included."""
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


@dataclass(frozen=True)
class WorkCalendar:
    """Working days given the holidays and the make-up working days. The two sets are disjoint:
    a day cannot be both off and worked."""

    holidays: frozenset[datetime.date] = frozenset()
    workdays: frozenset[datetime.date] = frozenset()

    def __post_init__(self):
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"both a holiday and a make-up working day: {min(both).isoformat()}")

    def is_working_day(self, day: datetime.date) -> bool:
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        return day.weekday() < 5

    def add_working_days(self, start: datetime.date, n: int) -> datetime.date:
        """The n-th working day after `start` (start not counted); for n = 0, `start` if it is a
        working day, else the next working day."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        if n == 0:
            while not self.is_working_day(day):
                day += datetime.timedelta(days=1)
            return day
        one = datetime.timedelta(days=1)
        while n:
            day += one
            if self.is_working_day(day):
                n -= 1
        return day

    def working_days_between(self, a: datetime.date, b: datetime.date) -> int:
        """Working days after `a` up to and including `b` (negative when b is before a), so that
        `working_days_between(a, add_working_days(a, n)) == n` for n ≥ 1."""
        if b < a:
            return -self.working_days_between(b, a)
        count = _weekdays_through(b) - _weekdays_through(a)
        count -= sum(1 for d in self.holidays if a < d <= b and d.weekday() < 5)
        count += sum(1 for d in self.workdays if a < d <= b and d.weekday() >= 5)
        return count


# The official schedule, as data ---------------------------------------------------------------


class HolidayPeriod(NamedTuple):
    """A festival's days off (first to last, both included) and the weekend days worked for it."""

    name: str
    first: datetime.date
    last: datetime.date
    workdays: tuple[datetime.date, ...] = ()


_d = datetime.date

# 国务院办公厅关于2026年部分节假日安排的通知. An editable default: seeding (`dangjian seed`) loads it
# only into days the calendar does not hold yet, and administrators change or remove days on the
# calendar page (/calendar/). Each later year is entered there when the notice is published.
CHINA_2026: tuple[HolidayPeriod, ...] = (
    HolidayPeriod("元旦", _d(2026, 1, 1), _d(2026, 1, 3), (_d(2026, 1, 4),)),
    HolidayPeriod("春节", _d(2026, 2, 15), _d(2026, 2, 23), (_d(2026, 2, 14), _d(2026, 2, 28))),
    HolidayPeriod("清明节", _d(2026, 4, 4), _d(2026, 4, 6)),
    HolidayPeriod("劳动节", _d(2026, 5, 1), _d(2026, 5, 5), (_d(2026, 5, 9),)),
    HolidayPeriod("端午节", _d(2026, 6, 19), _d(2026, 6, 21)),
    HolidayPeriod("中秋节", _d(2026, 9, 25), _d(2026, 9, 27)),
    HolidayPeriod("国庆节", _d(2026, 10, 1), _d(2026, 10, 7), (_d(2026, 9, 20), _d(2026, 10, 10))),
)


def expand(periods=CHINA_2026) -> list[tuple[datetime.date, str, str]]:
    """(date, kind, name) of every day of the periods, in date order."""
    days = []
    for period in periods:
        day = period.first
        while day <= period.last:
            days.append((day, HOLIDAY, period.name))
            day += datetime.timedelta(days=1)
        days.extend((w, WORKDAY, period.name) for w in period.workdays)
    return sorted(days)


def calendar_of(days) -> WorkCalendar:
    """A WorkCalendar from (date, kind, ...) rows."""
    return WorkCalendar(
        holidays=frozenset(d[0] for d in days if d[1] == HOLIDAY),
        workdays=frozenset(d[0] for d in days if d[1] == WORKDAY),
    )


# From the database ---------------------------------------------------------------------------
# Django is imported inside the functions below, so the pure half works without settings.

TIME_ZONE = "Asia/Shanghai"
CACHE_SECONDS = 7 * 24 * 3600
_KEY = "workdays:{version}:{year}"


def calendar_version() -> str:
    """Changes whenever the calendar does: rows added (count, last id), changed (last update) or
    removed (count). Read from the table, one aggregate over a few dozen rows a year, rather than
    kept in the cache: the embedded default's cache is local to each process (web workers,
    background worker), where a counter bumped by one would never reach the others."""
    from django.db.models import Count, Max

    from .models import CalendarDay

    row = CalendarDay.objects.aggregate(n=Count("id"), last_id=Max("id"), last=Max("updated_at"))
    stamp = int(row["last"].timestamp() * 1_000_000) if row["last"] else 0
    return f"{row['n']}-{row['last_id'] or 0}-{stamp}"


def calendar_for(first_year: int, last_year: int | None = None) -> WorkCalendar:
    """The calendar of the years first_year to last_year (both included) from the database: one
    query for the version, and on a cache miss one more for all the missing years' days."""
    from django.core.cache import cache

    from .models import CalendarDay

    last_year = first_year if last_year is None else last_year
    version = calendar_version()
    keys = {_KEY.format(version=version, year=y): y for y in range(first_year, last_year + 1)}
    found = cache.get_many(list(keys))
    missing = sorted(y for key, y in keys.items() if key not in found)
    if missing:
        rows = CalendarDay.objects.filter(
            date__gte=datetime.date(missing[0], 1, 1), date__lte=datetime.date(missing[-1], 12, 31)
        ).values_list("date", "kind")
        by_year: dict[int, list] = {y: [] for y in missing}
        for day, kind in rows:
            by_year[day.year].append((day, kind))
        fresh = {_KEY.format(version=version, year=y): tuple(by_year[y]) for y in missing}
        cache.set_many(fresh, CACHE_SECONDS)
        found.update(fresh)
    return calendar_of([row for rows in found.values() for row in rows])


def is_working_day(day: datetime.date) -> bool:
    return calendar_for(day.year).is_working_day(day)


def add_working_days(start: datetime.date, n: int) -> datetime.date:
    """The n-th working day after `start` by the calendar in the database (see the module's
    docstring for n = 0)."""
    if n < 0:
        raise ValueError("n must not be negative")
    # Read the years the answer probably falls in; if it falls later, read up to its year and
    # count again (that year's holidays may push it further).
    last_year = (start + datetime.timedelta(days=n * 7 // 5 + 30)).year
    while True:
        answer = calendar_for(start.year, last_year).add_working_days(start, n)
        if answer.year <= last_year:
            return answer
        last_year = answer.year


def working_days_between(a: datetime.date, b: datetime.date) -> int:
    low, high = min(a, b), max(a, b)
    return calendar_for(low.year, high.year).working_days_between(a, b)


def deadline(start: datetime.datetime | datetime.date, n: int) -> datetime.datetime:
    """The end (23:59:59, Asia/Shanghai) of the n-th working day after `start`: a request received
    at `start` and answerable within n working days is late after this moment. `start` is a date
    or an aware datetime (taken on its Shanghai date)."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(TIME_ZONE)
    if isinstance(start, datetime.datetime):
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        start = start.astimezone(zone).date()
    day = add_working_days(start, n)
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=zone)


def can_manage(user) -> bool:
    """May the user change the calendar? It is one calendar for the whole platform, so only
    those who hold calendar.manage everywhere or at a top-level organisation may (system and
    organisation administrators of the county, not of a township)."""
    from . import selectors
    from .models import Organization

    return any(
        len(prefix) <= Organization.steplen
        for prefix in selectors.scope_for(user, "calendar.manage")
    )


def load_defaults(periods=CHINA_2026) -> int:
    """Writes the default schedule into days the calendar does not hold yet (the days
    administrators entered stay as they are). Returns the number of days added. For seeding."""
    from .models import CalendarDay

    taken = set(
        CalendarDay.objects.filter(date__in=[d for d, _kind, _name in expand(periods)]).values_list(
            "date", flat=True
        )
    )
    rows = [
        CalendarDay(date=day, kind=kind, name=name)
        for day, kind, name in expand(periods)
        if day not in taken
    ]
    CalendarDay.objects.bulk_create(rows)
    return len(rows)
