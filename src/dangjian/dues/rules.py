"""The regulations on Party dues (DOMAIN §2), as pure functions and data (no Django import).

- `monthly_dues(base, category, on)`: the monthly amount, by the rule in force on `on`. Rules
  are versioned by effective date (`RULES`); each declared base stores the version that decided
  it. Rounding is half up to 0.01 yuan (configurable: `set_rounding`).
- `months_due(events, stays, year)`: which months of a year a member owes dues, and to which
  organisation (the member's own, or the host of a mobile stay), from the Party-standing
  timeline. The ledger is generated from it.
- `unpaid_run(statuses)`: the run of consecutive unpaid months that flags a member for the
  branch meeting (six months, DOMAIN §2). Never a removal: the branch decides.

Invalid input raises ValueError with a message (in English; services show their own text).
"""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

IN_SERVICE = "in_service"
RETIRED = "retired"
FARMER = "farmer"
STUDENT = "student"
UNEMPLOYED = "unemployed"
RELIEF = "relief"
CATEGORIES = (IN_SERVICE, RETIRED, FARMER, STUDENT, UNEMPLOYED, RELIEF)
# Categories paying a fixed amount: no base is asked for.
FIXED = (STUDENT, UNEMPLOYED, RELIEF)

CENT = Decimal("0.01")
UNUSUAL_AMOUNT = Decimal("1000")  # monthly dues above this are unusual: warn, don't refuse
LARGE_ONE_OFF = Decimal("1000")  # a voluntary one-off payment from this is remitted apart
ARREARS_MONTHS = 6  # consecutive unpaid months that put a member before the branch meeting
LATE_MONTHS = 6  # back-payment normally covers at most this many months: warn beyond
MAX_BASE = Decimal("10000000")  # a base beyond ten million a month is a typing mistake
MAX_EXPONENT = 12  # to_amount refuses 10**13 and beyond (adjusted exponent above this)

ROUNDINGS = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}
_rounding = ROUND_HALF_UP


def set_rounding(name: str) -> None:
    """Choose the rounding of amounts (settings: DANGJIAN_DUES_ROUNDING)."""
    global _rounding
    if name not in ROUNDINGS:
        raise ValueError(f"unknown rounding {name!r}: use one of {', '.join(ROUNDINGS)}")
    _rounding = ROUNDINGS[name]


@dataclass(frozen=True)
class Band:
    """A rate for bases up to `upto` inclusive (None: no upper limit)."""

    upto: Decimal | None
    rate: Decimal


@dataclass(frozen=True)
class DuesRule:
    version: str
    effective_from: datetime.date
    bands: dict  # category -> tuple of Band, for categories paying a share of their base
    farmer_range: tuple  # (lowest, highest) monthly amount a farmer may choose
    fixed: Decimal  # students, unemployed, relief
    fixed_for_year: bool  # 2017: the amount is set at the start of the year
    source: str


_IN_SERVICE_BANDS = (
    Band(Decimal("3000"), Decimal("0.005")),
    Band(Decimal("5000"), Decimal("0.01")),
    Band(Decimal("10000"), Decimal("0.015")),
    Band(None, Decimal("0.02")),
)
_RETIRED_BANDS = (Band(Decimal("5000"), Decimal("0.005")), Band(None, Decimal("0.01")))

RULES = (
    DuesRule(
        version="2008",
        effective_from=datetime.date(2008, 2, 1),
        bands={IN_SERVICE: _IN_SERVICE_BANDS, RETIRED: _RETIRED_BANDS},
        farmer_range=(Decimal("0.20"), Decimal("1.00")),
        fixed=Decimal("0.20"),
        fixed_for_year=False,
        source="中组发〔2008〕3号",
    ),
    DuesRule(
        version="2017",
        effective_from=datetime.date(2017, 1, 1),
        bands={IN_SERVICE: _IN_SERVICE_BANDS, RETIRED: _RETIRED_BANDS},
        farmer_range=(Decimal("0.20"), Decimal("1.00")),
        fixed=Decimal("0.20"),
        fixed_for_year=True,
        source="组电明字〔2017〕5号",
    ),
)


def rule_on(on: datetime.date) -> DuesRule:
    """The rule in force on a day (a date and time counts by its date)."""
    if not isinstance(on, datetime.date):
        raise ValueError("the day must be a date")
    if isinstance(on, datetime.datetime):  # compares with no date otherwise (TypeError)
        on = on.date()
    found = [r for r in RULES if r.effective_from <= on]
    if not found:
        raise ValueError(f"no dues rule was in force on {on.isoformat()}")
    return max(found, key=lambda r: r.effective_from)


def rule_day(year: int) -> datetime.date:
    """The day whose rule decides a year's bases: 1 January. The first rules took effect on
    1 February 2008 and count January 2008 too: for 2008, that day."""
    if isinstance(year, bool) or not isinstance(year, int):
        raise ValueError("the year must be a whole number")
    first = min(r.effective_from for r in RULES)
    if not first.year <= year <= datetime.MAXYEAR:
        raise ValueError(f"no dues rule was in force in {year}")
    return max(datetime.date(year, 1, 1), first)


def rule_for_year(year: int) -> DuesRule:
    """The rule that decides a year's bases (see `rule_day`); ValueError before 2008."""
    return rule_on(rule_day(year))


def to_amount(value) -> Decimal:
    """A money amount as Decimal; ValueError for text that is not one, NaN, infinity, or a
    number far beyond any amount (1e30: rounding it would fail)."""
    if isinstance(value, bool):
        raise ValueError("an amount must be a number")
    if isinstance(value, float):
        value = repr(value)
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value is not None else None
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not an amount") from None
    if amount is None or not amount.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    if amount.is_zero():
        return abs(amount)  # "-0" is zero, not "-0.00" on a receipt
    # Rounding to fen ("1e30".quantize) would raise InvalidOperation, not ValueError: no amount
    # of the platform comes near ten thousand billion yuan.
    if amount.adjusted() > MAX_EXPONENT:
        raise ValueError(f"{value!r} is too large to be an amount")
    return amount


def round_amount(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=_rounding)


def monthly_dues(base, category: str, on: datetime.date) -> Decimal:
    """Monthly dues to 0.01 yuan. The rate applies to the whole base (not marginal).

    `base` is the monthly income for `in_service` and `retired`; for `farmer` it is the amount
    the member chose, which must lie within the allowed range; it is ignored for `student`,
    `unemployed` and `relief`.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    rule = rule_on(on)
    if category in FIXED:
        return rule.fixed
    amount = to_amount(base)
    if category == FARMER:
        low, high = rule.farmer_range
        if amount != round_amount(amount):
            raise ValueError("a farmer's amount is in yuan and fen (two decimals at most)")
        if not low <= amount <= high:
            raise ValueError(f"a farmer pays between {low} and {high} yuan a month")
        return amount.quantize(CENT)
    if amount < 0:
        raise ValueError("the base cannot be negative")
    if amount > MAX_BASE:
        raise ValueError(f"a base above {MAX_BASE} yuan a month is not believable")
    for band in rule.bands[category]:
        if band.upto is None or amount <= band.upto:
            return round_amount(amount * band.rate)
    raise AssertionError("the last band has no upper limit")  # pragma: no cover


def rate_of(base, category: str, on: datetime.date) -> Decimal | None:
    """The rate applied to the base (None for categories paying a fixed or chosen amount)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}")
    if category not in (IN_SERVICE, RETIRED):
        return None
    amount = to_amount(base)
    for band in rule_on(on).bands[category]:
        if band.upto is None or amount <= band.upto:
            return band.rate
    return None  # pragma: no cover


def is_unusual(amount: Decimal) -> bool:
    return amount > UNUSUAL_AMOUNT


# Months -------------------------------------------------------------------------------------


def month_index(year: int, month: int) -> int:
    """Months since year 0: consecutive months have consecutive indexes."""
    if not 1 <= month <= 12:
        raise ValueError(f"month {month} is not 1 to 12")
    return year * 12 + month - 1


def from_index(index: int) -> tuple[int, int]:
    year, month = divmod(index, 12)
    return year, month + 1


def months_between(first: tuple[int, int], last: tuple[int, int]) -> list[tuple[int, int]]:
    """Every (year, month) from first to last inclusive."""
    start, end = month_index(*first), month_index(*last)
    if end < start:
        raise ValueError("the last month is before the first")
    return [from_index(i) for i in range(start, end + 1)]


def payment_timing(months: Iterable[tuple[int, int]], today: datetime.date) -> dict:
    """Which of `months` are paid in advance (after this month) and which are late beyond the
    normal back-payment limit (more than LATE_MONTHS before this month)."""
    now = month_index(today.year, today.month)
    advance, late = [], []
    for year, month in months:
        i = month_index(year, month)
        if i > now:
            advance.append((year, month))
        elif now - i > LATE_MONTHS:
            late.append((year, month))
    return {"advance": advance, "late": late}


# Who owes which month ----------------------------------------------------------------------

ADMITTED = "admitted"
ACTIVE = "active"


@dataclass(frozen=True)
class Stay:
    """A mobile stay at a host organisation of the platform (hosts outside do not collect)."""

    host_org_id: int
    since: datetime.date
    returned_on: datetime.date | None = None

    def covers(self, day: datetime.date) -> bool:
        return self.since <= day and (self.returned_on is None or self.returned_on > day)


@dataclass(frozen=True)
class MonthDue:
    month: int
    organization_id: int
    hosted: bool  # collected by the host of a mobile stay


def months_due(derive, events: Sequence, stays: Sequence[Stay], year: int) -> list[MonthDue]:
    """The months of `year` a member owes dues, and the organisation collecting each.

    `derive(events, day)` gives the member's state on a day (members.rules.derive); `events`
    are its timeline. A month is owed when the member is a member on its first day (the
    organisation then collects it: a member transferred mid-month pays that month where they
    were), or was admitted during it (probationary members pay from the month the branch
    meeting accepted them). A member away on a mobile stay on the first day pays the host.
    """
    owed: list[MonthDue] = []
    admissions = {(e.on.year, e.on.month): e for e in events if e.kind == ADMITTED}
    for month in range(1, 13):
        first = datetime.date(year, month, 1)
        state = derive(events, first)
        org_id = state.organization_id if state.status == ACTIVE else None
        if org_id is None and (year, month) in admissions:
            org_id = admissions[(year, month)].organization_id
        if org_id is None:
            continue
        host = next((s for s in stays if s.covers(first)), None)
        if host is not None and host.host_org_id != org_id:
            owed.append(MonthDue(month, host.host_org_id, True))
        else:
            owed.append(MonthDue(month, org_id, False))
    return owed


# Arrears ------------------------------------------------------------------------------------

UNPAID = "unpaid"
PARTIAL = "partial"
PAID = "paid"
EXEMPT = "exempt"
NO_BASE = "nobase"


def line_status(due: Decimal | None, paid: Decimal, exempt: bool = False) -> str:
    """The state of one member-month."""
    if exempt:
        return EXEMPT
    if due is None:
        return PAID if paid > 0 else NO_BASE
    if paid >= due:
        return PAID
    if paid > 0:
        return PARTIAL
    return UNPAID


def unpaid_run(statuses: Sequence[tuple[tuple[int, int], str]], through: tuple[int, int]) -> int:
    """How many consecutive months up to `through` (inclusive) are unpaid.

    `statuses` are ((year, month), status) pairs in any order. A month without a line (not
    owed), paid, partly paid or exempt ends the run; so does a month with no base declared
    (nothing was asked of the member yet).
    """
    by_month = dict(statuses)
    run = 0
    index = month_index(*through)
    while by_month.get(from_index(index)) == UNPAID:
        run += 1
        index -= 1
    return run


def arrears_flag(run: int) -> bool:
    return run >= ARREARS_MONTHS
