"""The pure rules of organisational life, table-driven: periods, compliance, sign-in codes,
appraisal tallies."""

import datetime

import pytest

from dangjian.meetings import rules

D = datetime.date


@pytest.mark.parametrize(
    ("frequency", "count", "first", "last"),
    [
        ("month", 12, (D(2026, 1, 1), D(2026, 1, 31)), (D(2026, 12, 1), D(2026, 12, 31))),
        ("quarter", 4, (D(2026, 1, 1), D(2026, 3, 31)), (D(2026, 10, 1), D(2026, 12, 31))),
        ("half", 2, (D(2026, 1, 1), D(2026, 6, 30)), (D(2026, 7, 1), D(2026, 12, 31))),
        ("year", 1, (D(2026, 1, 1), D(2026, 12, 31)), (D(2026, 1, 1), D(2026, 12, 31))),
        ("none", 0, None, None),
    ],
)
def test_periods_of_a_year(frequency, count, first, last):
    found = rules.periods(frequency, 2026)
    assert len(found) == count
    if count:
        assert (found[0].start, found[0].end) == first
        assert (found[-1].start, found[-1].end) == last


def test_february_of_a_leap_year():
    assert rules.periods("month", 2028)[1].end == D(2028, 2, 29)


def test_an_unknown_frequency_is_refused():
    with pytest.raises(ValueError):
        rules.periods("fortnight", 2026)


TODAY = D(2026, 5, 20)


@pytest.mark.parametrize(
    ("frequency", "held", "states"),
    [
        # A branch with monthly committee meetings, each month held until April.
        (
            "month",
            [D(2026, m, 10) for m in (1, 2, 3, 4)],
            ["done"] * 4 + ["due"] + ["upcoming"] * 7,
        ),
        # A quarter with none: Q1 overdue, Q2 due now.
        ("quarter", [], ["overdue", "due", "upcoming", "upcoming"]),
        # Held in the last days of a quarter counts for that quarter.
        ("quarter", [D(2026, 3, 31)], ["done", "due", "upcoming", "upcoming"]),
        # Twice in a month is one month done, not two.
        (
            "month",
            [D(2026, 1, 5), D(2026, 1, 25)],
            ["done"] + ["overdue"] * 3 + ["due"] + ["upcoming"] * 7,
        ),
        ("year", [], ["due"]),
        ("year", [D(2026, 12, 1)], ["done"]),  # recorded ahead in the planned month
    ],
)
def test_compliance(frequency, held, states):
    assert [s.state for s in rules.compliance(frequency, 2026, held, TODAY)] == states


def test_periods_before_the_organisation_existed_are_not_required():
    states = rules.compliance("month", 2026, [], TODAY, since=D(2026, 3, 15))
    assert [s.state for s in states[:5]] == [
        "not_required",
        "not_required",
        "overdue",
        "overdue",
        "due",
    ]


def test_a_local_rule_changes_the_periods():
    # A province's rule: a Party lecture every month instead of every quarter.
    by_quarter = rules.compliance("quarter", 2026, [D(2026, 1, 9)], TODAY)
    by_month = rules.compliance("month", 2026, [D(2026, 1, 9)], TODAY)
    assert [s.state for s in by_quarter][:1] == ["done"]
    assert [s.state for s in by_month][:5] == ["done", "overdue", "overdue", "overdue", "due"]


def test_compliance_from_month_counts_matches_compliance_from_dates():
    held = [D(2026, 2, 3), D(2026, 2, 20), D(2026, 7, 1)]
    by_month = {2: 2, 7: 1}
    for frequency in ("month", "quarter", "half", "year"):
        assert rules.compliance(frequency, 2026, held, TODAY) == rules.compliance_from_months(
            frequency, 2026, by_month, TODAY
        )


@pytest.mark.parametrize(
    ("month", "state"), [(1, "overdue"), (3, "overdue"), (4, "due"), (6, "due"), (9, "upcoming")]
)
def test_the_heat_map_cell_of_a_month(month, state):
    states = rules.compliance("quarter", 2026, [], TODAY)
    assert rules.month_state(states, month) == state


# Sign-in codes ----------------------------------------------------------------------------------

SECRET = b"s" * 32
T0 = 1_800_000_000.0  # a moment inside the sign-in window
OPENS, CLOSES = T0 - 3600, T0 + 3600


def code_at(moment, meeting=7, secret=SECRET):
    return rules.signin_code(secret, meeting, rules.code_window(moment))


@pytest.mark.parametrize(
    ("code", "moment", "verdict"),
    [
        (code_at(T0), T0, "ok"),
        (code_at(T0), T0 + 29, "ok"),  # the same or the next window
        (code_at(T0), T0 + rules.CODE_SECONDS, "ok"),  # the window just ended: grace
        (code_at(T0), T0 + 2 * rules.CODE_SECONDS + 1, "expired"),  # replayed later
        (code_at(T0 + 600), T0, "expired"),  # a code of the future
        (code_at(T0, meeting=8), T0, "other_meeting"),
        (code_at(T0, secret=b"x" * 32), T0, "forged"),
        ("7.123.deadbeef", T0, "forged"),
        ("garbage", T0, "malformed"),
        ("", T0, "malformed"),
        (code_at(CLOSES + 60), CLOSES + 60, "closed"),
        (code_at(OPENS - 60), OPENS - 60, "closed"),
    ],
)
def test_sign_in_codes(code, moment, verdict):
    assert rules.check_signin_code(SECRET, 7, code, moment, OPENS, CLOSES) == verdict


def test_the_code_rotates_every_thirty_seconds():
    start = rules.code_window(T0) * rules.CODE_SECONDS
    assert code_at(start) == code_at(start + rules.CODE_SECONDS - 1)
    assert code_at(start) != code_at(start + rules.CODE_SECONDS)


# Appraisal ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratings", "grade"),
    [
        (["excellent", "excellent", "qualified"], "excellent"),
        (["qualified", "excellent"], "excellent"),  # a tie goes to the better grade
        (["basic", "unqualified", "unqualified"], "unqualified"),
        ([], None),
        (["nonsense"], None),
    ],
)
def test_appraisal_tally(ratings, grade):
    counts = rules.tally(ratings)
    assert sum(counts.values()) == sum(r in rules.GRADES for r in ratings)
    assert rules.suggested_grade(counts) == grade


def test_periods_after_a_dissolution_are_not_required():
    states = rules.compliance("quarter", 2026, [], TODAY, until=D(2026, 4, 15))
    assert [s.state for s in states] == ["overdue", "not_required", "not_required", "not_required"]
