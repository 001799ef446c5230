"""Rules of organisational life (三会一课, 主题党日, 组织生活会, 民主评议) as pure functions and data:
the activity types and their required frequencies (DOMAIN §6, 支部工作条例 2018), the periods a
year divides into, compliance of a period, the rotating sign-in code, and the tally of a
democratic appraisal. Quorum and votes are `dangjian.core.rules.meeting_is_valid` and
`resolution_passes` (DOMAIN §4).

No Django here.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

# Frequencies: how a year divides into the periods in each of which the activity is due.
MONTH, QUARTER, HALF, YEAR, NONE = "month", "quarter", "half", "year", "none"
FREQUENCIES = (MONTH, QUARTER, HALF, YEAR, NONE)
MONTHS_PER_PERIOD = {MONTH: 1, QUARTER: 3, HALF: 6, YEAR: 12}

BRANCHES = frozenset({"branch", "joint_branch"})


@dataclass(frozen=True)
class ActivityRule:
    code: str
    frequency: str
    kinds: frozenset[str]  # organisation kinds that must hold it
    class_hours: float  # credited to each attendee by default
    votes: bool = False  # resolutions with votes (general meetings)
    appraisal: bool = False  # self and peer assessment


@dataclass(frozen=True)
class FrequencyVersion:
    code: str
    effective: datetime.date
    activities: tuple[ActivityRule, ...]

    def get(self, code: str) -> ActivityRule | None:
        return next((a for a in self.activities if a.code == code), None)


# 中国共产党支部工作条例（试行）, in force from 2018-10-28 (DOMAIN §6). A Party lecture per quarter
# is a local rule most provinces set (the national text sets none for branches): configurable.
VERSIONS: tuple[FrequencyVersion, ...] = (
    FrequencyVersion(
        "2018",
        datetime.date(2018, 10, 28),
        (
            ActivityRule(
                "general_meeting",
                QUARTER,
                BRANCHES | {"general_branch"},
                class_hours=1.0,
                votes=True,
            ),
            ActivityRule(
                "committee_meeting", MONTH, BRANCHES | {"general_branch"}, class_hours=1.0
            ),
            ActivityRule("group_meeting", MONTH, frozenset({"group"}), class_hours=1.0),
            ActivityRule("lecture", QUARTER, BRANCHES, class_hours=2.0),
            ActivityRule("theme_day", MONTH, BRANCHES, class_hours=2.0),
            ActivityRule("life_meeting", YEAR, BRANCHES, class_hours=2.0, appraisal=False),
            ActivityRule("appraisal", YEAR, BRANCHES, class_hours=2.0, appraisal=True),
            ActivityRule("talks", YEAR, BRANCHES, class_hours=0.0),
        ),
    ),
)

# Training hours a year (DOMAIN §6).
YEARLY_HOURS_MEMBER = 32
YEARLY_HOURS_OFFICER = 56


def version_on(day: datetime.date) -> FrequencyVersion:
    found = VERSIONS[0]
    for version in VERSIONS:
        if version.effective <= day:
            found = version
    return found


# Periods -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date  # inclusive
    index: int  # 1-based within the year: month 1..12, quarter 1..4, half 1..2, year 1

    def contains(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end

    @property
    def months(self) -> tuple[int, ...]:
        return tuple(range(self.start.month, self.end.month + 1))


def _month_end(year: int, month: int) -> datetime.date:
    if month == 12:
        return datetime.date(year, 12, 31)
    return datetime.date(year, month + 1, 1) - datetime.timedelta(days=1)


def periods(frequency: str, year: int) -> list[Period]:
    """The periods of `year` in each of which the activity must be held once."""
    if frequency == NONE:
        return []
    if frequency not in MONTHS_PER_PERIOD:
        raise ValueError(f"unknown frequency {frequency!r}")
    step = MONTHS_PER_PERIOD[frequency]
    return [
        Period(
            datetime.date(year, first, 1),
            _month_end(year, first + step - 1),
            1 + (first - 1) // step,
        )
        for first in range(1, 13, step)
    ]


# Compliance --------------------------------------------------------------------------------------

DONE, DUE, OVERDUE, UPCOMING, NOT_REQUIRED = "done", "due", "overdue", "upcoming", "not_required"


@dataclass(frozen=True)
class PeriodState:
    period: Period
    state: str
    held: int


def period_state(
    period: Period,
    held: int,
    today: datetime.date,
    since: datetime.date | None,
    until: datetime.date | None = None,
):
    """done: held at least once; overdue: the period ended without; due: it runs now;
    upcoming: it starts later; not_required: it ended before the organisation existed
    (`since`), or had not ended when it was dissolved (`until`)."""
    if since is not None and period.end < since:
        return NOT_REQUIRED
    if until is not None and period.end > until:
        return NOT_REQUIRED
    if held > 0:
        return DONE
    if period.end < today:
        return OVERDUE
    if period.start <= today:
        return DUE
    return UPCOMING


def compliance(
    frequency: str,
    year: int,
    held_dates: Iterable[datetime.date],
    today: datetime.date,
    since: datetime.date | None = None,
    until: datetime.date | None = None,
) -> list[PeriodState]:
    """Each period of `year` with its state, from the dates of the meetings held. The
    specification the heat map's faster reading (selectors._Year) is tested against."""
    counts = Counter(held_dates)
    out = []
    for period in periods(frequency, year):
        held = sum(n for day, n in counts.items() if period.contains(day))
        out.append(PeriodState(period, period_state(period, held, today, since, until), held))
    return out


def compliance_from_months(
    frequency: str,
    year: int,
    held_by_month: dict[int, int],
    today: datetime.date,
    since: datetime.date | None = None,
) -> list[PeriodState]:
    """The same from counts per month (what the month tallies hold)."""
    out = []
    for period in periods(frequency, year):
        held = sum(held_by_month.get(m, 0) for m in period.months)
        out.append(PeriodState(period, period_state(period, held, today, since), held))
    return out


def month_state(states: list[PeriodState], month: int) -> str:
    """The state a heat map shows for one month: that of the period the month falls in."""
    for s in states:
        if month in s.period.months:
            return s.state
    return NOT_REQUIRED


# Sign-in codes -----------------------------------------------------------------------------------

CODE_SECONDS = 30  # the QR code on the screen changes this often
CODE_GRACE = 1  # the code of the window just ended still counts (a phone scanning at the turn)
SEEN_SECONDS = 300  # a code seen valid when its page opened stays good this long (to log in)
SIGNIN_BEFORE = datetime.timedelta(minutes=30)  # sign-in opens before the start
SIGNIN_AFTER = datetime.timedelta(minutes=30)  # and closes after the end


def code_window(moment: float) -> int:
    return int(moment // CODE_SECONDS)


def signin_code(secret: bytes, meeting_id: int, window: int) -> str:
    """The code for one meeting and one 30-second window: an HMAC of both, so it names its
    meeting and its time and cannot be made without the meeting's secret."""
    mac = hmac.new(secret, f"{meeting_id}:{window}".encode(), hashlib.sha256).hexdigest()
    return f"{meeting_id}.{window}.{mac[:20]}"


def check_signin_code(
    secret: bytes,
    meeting_id: int,
    code: str,
    moment: float,
    opens: float,
    closes: float,
) -> str:
    """'ok', or why not: 'malformed', 'other_meeting', 'forged', 'expired', 'closed'."""
    try:
        mid, window, _mac = str(code).split(".")
        mid, window = int(mid), int(window)
    except ValueError:
        return "malformed"
    if mid != meeting_id:
        return "other_meeting"
    if not hmac.compare_digest(signin_code(secret, meeting_id, window), str(code)):
        return "forged"
    now = code_window(moment)
    if window > now or now - window > CODE_GRACE:
        return "expired"
    if not opens <= moment <= closes:
        return "closed"
    return "ok"


# Democratic appraisal (民主评议党员) ---------------------------------------------------------------

GRADES = ("excellent", "qualified", "basic", "unqualified")  # 优秀 合格 基本合格 不合格


def tally(ratings: Iterable[str]) -> dict[str, int]:
    counts = Counter(r for r in ratings if r in GRADES)
    return {g: counts.get(g, 0) for g in GRADES}


def suggested_grade(counts: dict[str, int]) -> str | None:
    """The grade most peers gave (ties to the better grade), as a suggestion for the branch's
    conclusion, which the branch meeting decides."""
    total = sum(counts.values())
    if not total:
        return None
    return max(GRADES, key=lambda g: (counts.get(g, 0), -GRADES.index(g)))
