"""The regulations on organisations, as pure functions and data (no Django import).

- Terms of office (DOMAIN §5): `term_end(kind, unit_type, elected_on)`, versioned by the date of
  the election: the rule in force since 2018-07-12 and the older one.
- Meetings and votes (DOMAIN §4): `meeting_is_valid`, `resolution_passes`, and
  `election_outcome` for committee elections.
- The shape of an organisation (DOMAIN §5): `shape_problems`.

Each function checks its input and raises ValueError with a message for nonsense (negative
counts, more present than expected); the services turn those into form errors.
"""

import calendar
import datetime
from dataclasses import dataclass, field

COMMITTEE = "committee"
GENERAL_BRANCH = "general_branch"
BRANCH = "branch"
JOINT_BRANCH = "joint_branch"
GROUP = "group"
ELECTED_KINDS = (COMMITTEE, GENERAL_BRANCH, BRANCH, JOINT_BRANCH)
BRANCH_KINDS = (BRANCH, JOINT_BRANCH)

VILLAGE_UNITS = ("village", "community")


def add_years(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


# Terms of office ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TermRule:
    """Years of a term by kind of organisation; village and community organisations apart."""

    version: str
    effective_from: datetime.date
    years: dict
    village_years: int
    source: str


TERM_RULES = (
    # The Party Constitution before 2017 and the 1990 provisional election rules: grassroots
    # committees three years, general branches and branches two (the lower ends of "3 to 5"
    # and "2 or 3"); village organisations three.
    TermRule(
        version="pre-2018",
        effective_from=datetime.date.min,
        years={COMMITTEE: 3, GENERAL_BRANCH: 2, BRANCH: 2, JOINT_BRANCH: 2},
        village_years=3,
        source="党章（2012）; 基层组织选举工作暂行条例（1990）",
    ),
    TermRule(
        version="2018",
        effective_from=datetime.date(2018, 7, 12),
        years={COMMITTEE: 5, GENERAL_BRANCH: 3, BRANCH: 3, JOINT_BRANCH: 3},
        village_years=5,
        source="中共中央关于党的基层组织任期的意见（2018-07-12）; 支部工作条例（2018）",
    ),
)


def term_rule(elected_on: datetime.date) -> TermRule:
    """The rule in force on the day of the election."""
    if not isinstance(elected_on, datetime.date):
        raise ValueError("the election date must be a date")
    chosen = TERM_RULES[0]
    for rule in TERM_RULES:
        if rule.effective_from <= elected_on:
            chosen = rule
    return chosen


def term_years(kind: str, unit_type: str, elected_on: datetime.date) -> int:
    if kind not in ELECTED_KINDS:
        raise ValueError(f"a {kind!r} has no elected term")
    rule = term_rule(elected_on)
    if unit_type in VILLAGE_UNITS:
        return rule.village_years
    return rule.years[kind]


def term_end(kind: str, unit_type: str, elected_on: datetime.date) -> datetime.date:
    """The day the term of a committee (or secretary) elected on `elected_on` ends: the day
    re-election is due. It may move by at most one year either way, with approval."""
    return add_years(elected_on, term_years(kind, unit_type, elected_on))


MAX_TERM_SHIFT_YEARS = 1


def shift_allowed(term_end_on: datetime.date, new_due: datetime.date) -> bool:
    """May re-election be moved from `term_end_on` to `new_due` (with approval)?"""
    return (
        add_years(term_end_on, -MAX_TERM_SHIFT_YEARS)
        <= new_due
        <= add_years(term_end_on, MAX_TERM_SHIFT_YEARS)
    )


def reelection_status(term_end_on: datetime.date, today: datetime.date, lead_days: int) -> str:
    """ "overdue" after the end, "due" within `lead_days` before it, "ok" otherwise."""
    if today > term_end_on:
        return "overdue"
    if (term_end_on - today).days <= lead_days:
        return "due"
    return "ok"


# Meetings and votes ------------------------------------------------------------------------


def _count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number")
    if value < 0:
        raise ValueError(f"{name} cannot be negative")
    return value


def meeting_is_valid(voting_members: int, present: int) -> bool:
    """A branch general meeting is valid only if more than half of the voting members attend.

    voting_members: full members not under Party probation (probationary members do not vote);
    present: how many of them attend."""
    voting_members = _count("voting_members", voting_members)
    present = _count("present", present)
    if present > voting_members:
        raise ValueError("more present than voting members")
    return present * 2 > voting_members


def resolution_passes(voting_members: int, present: int, yes: int, written: int = 0) -> bool:
    """A resolution passes only at a valid meeting and with yes votes from more than half of
    the voting members expected (not of those present).

    yes: all yes votes, those cast at the meeting and the written ones; written: how many of
    them are yes opinions sent in writing beforehand by members who are absent."""
    written = _count("written", written)
    yes = _count("yes", yes)
    valid = meeting_is_valid(voting_members, present)
    if written > voting_members - present:
        raise ValueError("more written opinions than absent members")
    if yes > present + written:
        raise ValueError("more yes votes than voters")
    if written > yes:
        raise ValueError("the written yes opinions are part of the yes votes")
    return valid and yes * 2 > voting_members


def minimum_candidates(seats: int) -> int:
    """Candidates needed for `seats`: more than the seats, and at least 20% more."""
    seats = _count("seats", seats)
    if seats < 1:
        raise ValueError("an election fills at least one seat")
    return max(seats + 1, -(-seats * 6 // 5))


@dataclass(frozen=True)
class ElectionOutcome:
    valid: bool  # more than 4/5 of the voters expected were present
    margin_ok: bool  # candidates exceed seats by at least 20%
    elected: tuple = ()  # candidate keys, most votes first
    tied: tuple = ()  # candidates tied for the last seat: a further round is needed
    problems: tuple = field(default=())  # codes: quorum, margin, tie, unfilled


def election_outcome(
    seats: int, votes: dict, voters_expected: int, voters_present: int, *, contested: bool = True
) -> ElectionOutcome:
    """Who is elected: the candidates with more than half of the votes of those present, in
    order of votes, up to the number of seats. `votes` maps a candidate key to its votes.

    contested=False for a single-candidate ballot (a secretary elected by the committee), where
    the 20% margin does not apply."""
    seats = _count("seats", seats)
    expected = _count("voters_expected", voters_expected)
    present = _count("voters_present", voters_present)
    if seats < 1:
        raise ValueError("an election fills at least one seat")
    if present > expected:
        raise ValueError("more voters present than expected")
    if not votes:
        raise ValueError("an election has candidates")
    for key, n in votes.items():
        _count(f"votes of {key}", n)
        if n > present:
            raise ValueError(f"{key} has more votes than voters present")
    if sum(votes.values()) > present * seats:
        raise ValueError("more votes than ballots allow")
    problems = []
    valid = present * 5 > expected * 4
    if not valid:
        problems.append("quorum")
    margin_ok = (not contested) or len(votes) >= minimum_candidates(seats)
    if not margin_ok:
        problems.append("margin")
    if not valid:
        return ElectionOutcome(valid, margin_ok, (), (), tuple(problems))
    winners = sorted(
        (key for key, n in votes.items() if n * 2 > present), key=lambda k: (-votes[k], str(k))
    )
    tied: tuple = ()
    if len(winners) > seats:
        boundary = votes[winners[seats - 1]]
        if votes[winners[seats]] == boundary:
            tied = tuple(k for k in winners if votes[k] == boundary)
            winners = [k for k in winners if votes[k] > boundary]
            problems.append("tie")
        else:
            winners = winners[:seats]
    if len(winners) + len(tied) < seats:
        problems.append("unfilled")
    return ElectionOutcome(valid, margin_ok, tuple(winners), tied, tuple(problems))


# The shape of an organisation --------------------------------------------------------------

# Committee sizes by kind of organisation (基层组织选举工作条例 2020 §5): (fewest, most). The
# regulation gives a usual range and a ceiling ("5 to 7, at most 9"); a warning is for what
# breaks the ceiling, so "most" is the ceiling of each kind.
COMMITTEE_SIZE = {
    COMMITTEE: (5, 11),
    GENERAL_BRANCH: (5, 9),
    BRANCH: (3, 7),
    JOINT_BRANCH: (3, 7),
}
BRANCH_MIN_FULL = 3  # fewer full members: join a joint branch
BRANCH_MAX_MEMBERS = 50  # more: warn; consider a general branch
COMMITTEE_FROM_FULL = 7  # from this many full members a branch elects a committee
GENERAL_BRANCH_FROM = 50  # members from which a general branch is the usual form
GRASSROOTS_COMMITTEE_FROM = 100  # members from which a grassroots committee is the usual form

SHAPE_PROBLEMS = (
    "too_few_full",
    "branch_too_large",
    "needs_committee",
    "committee_too_small",
    "committee_too_large",
    "should_be_general_branch",
    "should_be_committee",
    "general_branch_too_small",
    "committee_below_100",
    "no_secretary",
)


def shape_problems(
    kind: str,
    *,
    full_members: int,
    members: int,
    committee_size: int,
    has_secretary: bool,
) -> list[str]:
    """What is out of shape in one organisation (DOMAIN §5). Counts are of its whole subtree;
    committee_size is the number of current members of its elected committee, or
    0 when the organisation has no elected committee (only a secretary, with or without a
    deputy). Party groups have no rules here."""
    full_members = _count("full_members", full_members)
    members = _count("members", members)
    committee_size = _count("committee_size", committee_size)
    if full_members > members:
        raise ValueError("more full members than members")
    if kind == GROUP:
        return []
    if kind not in ELECTED_KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    problems = []
    has_committee = committee_size > 0
    if kind in BRANCH_KINDS:
        if full_members < BRANCH_MIN_FULL:
            problems.append("too_few_full")
        if members > BRANCH_MAX_MEMBERS:
            problems.append("branch_too_large")
            problems.append(
                "should_be_committee"
                if members >= GRASSROOTS_COMMITTEE_FROM
                else "should_be_general_branch"
            )
        if full_members >= COMMITTEE_FROM_FULL and not has_committee:
            problems.append("needs_committee")
    else:
        if not has_committee:
            problems.append("needs_committee")
        if kind == GENERAL_BRANCH:
            if members < GENERAL_BRANCH_FROM:
                problems.append("general_branch_too_small")
            elif members >= GRASSROOTS_COMMITTEE_FROM:
                problems.append("should_be_committee")
        elif members < GRASSROOTS_COMMITTEE_FROM:
            problems.append("committee_below_100")
    if has_committee:
        fewest, most = COMMITTEE_SIZE[kind]
        if committee_size < fewest:
            problems.append("committee_too_small")
        elif committee_size > most:
            problems.append("committee_too_large")
    if not has_secretary:
        problems.append("no_secretary")
    return problems
