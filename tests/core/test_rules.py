"""The regulations on organisations (core.rules) and the out-of-contact flags
(members.rules.contact_flag), table-driven with the examples of DOMAIN §4, §5 and §7."""

import datetime

import pytest

from dangjian.core import rules
from dangjian.members.rules import contact_flag


def D(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


# Dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        ("2025-01-15", 1, "2025-02-15"),
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2025-03-31", 1, "2025-04-30"),
        ("2025-08-31", 6, "2026-02-28"),
        ("2025-11-30", 2, "2026-01-30"),
        ("2025-12-31", 1, "2026-01-31"),
        ("2025-01-10", 6, "2025-07-10"),
        ("2025-03-31", -1, "2025-02-28"),
        ("2026-01-15", -2, "2025-11-15"),
        ("2025-05-20", 0, "2025-05-20"),
        ("2024-02-29", 24, "2026-02-28"),
    ],
    ids=[
        "same-day",
        "jan31-to-feb28",
        "jan31-to-leap-feb29",
        "mar31-to-apr30",
        "aug31-plus-6",
        "over-new-year",
        "dec31-to-jan31",
        "six-months",
        "backwards-month-end",
        "backwards-over-new-year",
        "zero",
        "leap-day-two-years",
    ],
)
def test_add_months(day, months, expected):
    assert rules.add_months(D(day), months) == D(expected)


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        ("2018-07-12", 5, "2023-07-12"),
        ("2024-02-29", 1, "2025-02-28"),
        ("2024-02-29", 4, "2028-02-29"),
        ("2024-02-29", -1, "2023-02-28"),
        ("2023-02-28", 1, "2024-02-28"),
    ],
    ids=["plain", "leap-day-to-common-year", "leap-to-leap", "backwards", "feb28-stays"],
)
def test_add_years(day, years, expected):
    assert rules.add_years(D(day), years) == D(expected)


# Terms of office (DOMAIN §5) -----------------------------------------------------------------

# (kind, unit type, elected on, years, rule version)
TERMS = [
    # since 2018-07-12: committee 5, general branch and branch 3, village and community 5
    ("committee", "government", "2021-03-01", 5, "2018"),
    ("general_branch", "government", "2021-03-01", 3, "2018"),
    ("branch", "government", "2021-03-01", 3, "2018"),
    ("joint_branch", "enterprise", "2021-03-01", 3, "2018"),
    ("committee", "village", "2021-03-01", 5, "2018"),
    ("general_branch", "village", "2021-03-01", 5, "2018"),
    ("branch", "village", "2021-03-01", 5, "2018"),
    ("joint_branch", "village", "2021-03-01", 5, "2018"),
    ("committee", "community", "2021-03-01", 5, "2018"),
    ("general_branch", "community", "2021-03-01", 5, "2018"),
    ("branch", "community", "2021-03-01", 5, "2018"),
    ("joint_branch", "community", "2021-03-01", 5, "2018"),
    ("branch", "school", "2021-03-01", 3, "2018"),
    ("branch", "enterprise", "2021-03-01", 3, "2018"),
    # before: committee 3, general branch and branch 2, village organisations 3
    ("committee", "government", "2015-06-01", 3, "pre-2018"),
    ("general_branch", "government", "2015-06-01", 2, "pre-2018"),
    ("branch", "government", "2015-06-01", 2, "pre-2018"),
    ("joint_branch", "enterprise", "2015-06-01", 2, "pre-2018"),
    ("committee", "village", "2015-06-01", 3, "pre-2018"),
    ("branch", "village", "2015-06-01", 3, "pre-2018"),
    ("branch", "community", "2015-06-01", 3, "pre-2018"),
    ("general_branch", "community", "2015-06-01", 3, "pre-2018"),
    # the boundary: the opinion of 2018-07-12 applies from its day
    ("branch", "government", "2018-07-11", 2, "pre-2018"),
    ("branch", "government", "2018-07-12", 3, "2018"),
    ("committee", "government", "2018-07-11", 3, "pre-2018"),
    ("committee", "government", "2018-07-12", 5, "2018"),
    ("branch", "village", "2018-07-11", 3, "pre-2018"),
    ("branch", "village", "2018-07-12", 5, "2018"),
    ("branch", "government", "1990-01-01", 2, "pre-2018"),
]


@pytest.mark.parametrize(
    ("kind", "unit_type", "elected", "years", "version"),
    TERMS,
    ids=[f"{k}-{u}-{e}" for k, u, e, _y, _v in TERMS],
)
def test_term_end(kind, unit_type, elected, years, version):
    elected_on = D(elected)
    assert rules.term_rule(elected_on).version == version
    assert rules.term_years(kind, unit_type, elected_on) == years
    assert rules.term_end(kind, unit_type, elected_on) == rules.add_years(elected_on, years)


@pytest.mark.parametrize(
    ("kind", "unit_type", "elected", "expected"),
    [
        ("branch", "government", "2020-02-29", "2023-02-28"),
        ("committee", "village", "2020-02-29", "2025-02-28"),
        ("committee", "government", "2024-02-29", "2029-02-28"),
        ("branch", "government", "2016-02-29", "2018-02-28"),
        ("committee", "government", "2016-02-29", "2019-02-28"),
    ],
    ids=["branch-3y", "village-5y", "committee-5y", "old-branch-2y", "old-committee-3y"],
)
def test_term_end_from_29_february(kind, unit_type, elected, expected):
    assert rules.term_end(kind, unit_type, D(elected)) == D(expected)


@pytest.mark.parametrize(
    ("kind", "elected"),
    [("group", D("2021-03-01")), ("club", D("2021-03-01")), ("branch", "2021-03-01")],
    ids=["party-group", "unknown-kind", "date-as-text"],
)
def test_term_end_refuses_nonsense(kind, elected):
    with pytest.raises(ValueError):
        rules.term_end(kind, "government", elected)


@pytest.mark.parametrize(
    ("term_end", "today", "lead", "expected"),
    [
        ("2026-06-30", "2026-01-01", 90, "ok"),
        ("2026-06-30", "2026-03-31", 90, "ok"),  # 91 days ahead
        ("2026-06-30", "2026-04-01", 90, "due"),  # 90 days ahead
        ("2026-06-30", "2026-06-30", 90, "due"),  # the day itself
        ("2026-06-30", "2026-07-01", 90, "overdue"),
        ("2026-06-30", "2026-06-20", 0, "ok"),
        ("2026-06-30", "2026-06-30", 0, "due"),
        ("2026-06-30", "2027-06-30", 90, "overdue"),
    ],
    ids=[
        "far",
        "one-day-before-lead",
        "lead-day",
        "due-day",
        "day-after",
        "no-lead",
        "no-lead-due-day",
        "year-late",
    ],
)
def test_reelection_status(term_end, today, lead, expected):
    assert rules.reelection_status(D(term_end), D(today), lead) == expected


@pytest.mark.parametrize(
    ("term_end", "new_due", "allowed"),
    [
        ("2026-06-30", "2026-06-30", True),
        ("2026-06-30", "2027-06-30", True),
        ("2026-06-30", "2027-07-01", False),
        ("2026-06-30", "2025-06-30", True),
        ("2026-06-30", "2025-06-29", False),
        ("2024-02-29", "2025-02-28", True),
        ("2024-02-29", "2025-03-01", False),
        ("2024-02-29", "2023-02-28", True),
        ("2024-02-29", "2023-02-27", False),
    ],
    ids=[
        "unchanged",
        "a-year-later",
        "a-year-and-a-day-later",
        "a-year-earlier",
        "a-year-and-a-day-earlier",
        "leap-day-later",
        "leap-day-too-late",
        "leap-day-earlier",
        "leap-day-too-early",
    ],
)
def test_shift_allowed(term_end, new_due, allowed):
    assert rules.shift_allowed(D(term_end), D(new_due)) is allowed


# Meetings and votes (DOMAIN §4) --------------------------------------------------------------

# DOMAIN §4: 36 full members, one under Party probation, 4 probationary members -> 35 voting.
FULL, UNDER_PARTY_PROBATION, PROBATIONARY = 36, 1, 4
VOTING = FULL - UNDER_PARTY_PROBATION


def test_domain_example_counts_35_voting_members():
    # Probationary members are not counted at all; the one under Party probation is excluded.
    assert VOTING == 35
    assert FULL + PROBATIONARY - UNDER_PARTY_PROBATION - PROBATIONARY == VOTING


@pytest.mark.parametrize(
    ("voting", "present", "valid"),
    [
        (VOTING, 18, True),
        (VOTING, 17, False),
        (VOTING, 35, True),
        (VOTING, 0, False),
        (34, 17, False),  # exactly half is not more than half
        (34, 18, True),
        (1, 1, True),
        (1, 0, False),
        (2, 1, False),
        (0, 0, False),  # nobody to vote: never a valid meeting
    ],
    ids=[
        "domain-18-of-35",
        "domain-17-of-35",
        "everybody",
        "nobody",
        "half-exactly",
        "half-plus-one",
        "one-of-one",
        "none-of-one",
        "one-of-two",
        "no-voting-members",
    ],
)
def test_meeting_is_valid(voting, present, valid):
    assert rules.meeting_is_valid(voting, present) is valid


@pytest.mark.parametrize(
    ("voting", "present", "yes", "written", "passes"),
    [
        (VOTING, 18, 18, 0, True),
        (VOTING, 18, 17, 0, False),
        (VOTING, 35, 17, 0, False),  # 17 of 35 present is a majority of those present, not of 35
        (VOTING, 35, 18, 0, True),
        (VOTING, 17, 17, 0, False),  # invalid meeting
        (VOTING, 17, 17, 1, False),  # written yes makes 18 votes, but the meeting is invalid
        (VOTING, 18, 18, 3, True),  # 15 at the meeting and 3 in writing
        (VOTING, 20, 18, 2, True),
        (VOTING, 20, 17, 2, False),
        (34, 18, 17, 0, False),  # half exactly of the voting members
        (34, 18, 18, 0, True),
        (0, 0, 0, 0, False),
    ],
    ids=[
        "domain-18-yes",
        "domain-17-yes",
        "majority-of-present-only",
        "all-present-18-yes",
        "invalid-meeting",
        "invalid-meeting-with-written",
        "written-opinions-count",
        "written-reach-18",
        "written-reach-17",
        "half-exactly",
        "half-plus-one",
        "no-voting-members",
    ],
)
def test_resolution_passes(voting, present, yes, written, passes):
    assert rules.resolution_passes(voting, present, yes, written) is passes


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("meeting_is_valid", (-1, 0)),
        ("meeting_is_valid", (35, -1)),
        ("meeting_is_valid", (35, 36)),
        ("meeting_is_valid", (True, 1)),
        ("meeting_is_valid", (35, False)),
        ("meeting_is_valid", (35.0, 18)),
        ("meeting_is_valid", ("35", 18)),
        ("meeting_is_valid", (None, 18)),
        ("resolution_passes", (35, 18, -1)),
        ("resolution_passes", (35, 18, 19)),  # more yes than present
        ("resolution_passes", (35, 36, 18)),
        ("resolution_passes", (35, 18, True)),
        ("resolution_passes", (35, 18, 18, -1)),
        ("resolution_passes", (35, 30, 18, 6)),  # 6 written, only 5 absent
        ("resolution_passes", (35, 18, 2, 3)),  # written yes are among the yes votes
        ("resolution_passes", (35, 18, 22, 3)),  # 18 present + 3 written = 21 at most
    ],
    ids=[
        "negative-voting",
        "negative-present",
        "present-over-voting",
        "bool-voting",
        "bool-present",
        "float",
        "text",
        "none",
        "negative-yes",
        "yes-over-present",
        "present-over-voting-in-resolution",
        "bool-yes",
        "negative-written",
        "written-over-absent",
        "written-over-yes",
        "yes-over-present-and-written",
    ],
)
def test_votes_refuse_nonsense(call, args):
    with pytest.raises(ValueError):
        getattr(rules, call)(*args)


# Elections (DOMAIN §4) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seats", "needed"),
    [(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 8), (7, 9), (9, 11), (10, 12), (11, 14)],
    ids=lambda v: str(v),
)
def test_minimum_candidates(seats, needed):
    # more candidates than seats, and at least 20% more
    assert rules.minimum_candidates(seats) == needed
    assert needed > seats and needed * 5 >= seats * 6
    assert not ((needed - 1) > seats and (needed - 1) * 5 >= seats * 6)


@pytest.mark.parametrize("seats", [0, -1, True, 2.5], ids=["zero", "negative", "bool", "float"])
def test_minimum_candidates_refuses_nonsense(seats):
    with pytest.raises(ValueError):
        rules.minimum_candidates(seats)


# (seats, votes, expected, present, contested, valid, margin_ok, elected, tied, problems)
ELECTIONS = [
    (
        "five-of-six-clean",
        5,
        {"a": 40, "b": 38, "c": 35, "d": 30, "e": 28, "f": 10},
        45,
        40,
        True,
        True,
        True,
        ("a", "b", "c", "d", "e"),
        (),
        (),
    ),
    (
        "quorum-four-fifths-exactly-is-not-enough",
        3,
        {"a": 30, "b": 30, "c": 30, "d": 2},
        40,
        32,
        True,
        False,
        True,
        (),
        (),
        ("quorum",),
    ),
    (
        "quorum-just-above-four-fifths",
        3,
        {"a": 30, "b": 30, "c": 30, "d": 2},
        40,
        33,
        True,
        True,
        True,
        ("a", "b", "c"),
        (),
        (),
    ),
    (
        "margin-below-20-percent",
        5,
        {"a": 9, "b": 9, "c": 9, "d": 9, "e": 9},
        10,
        10,
        True,
        True,
        False,
        ("a", "b", "c", "d", "e"),
        (),
        ("margin",),
    ),
    (
        "margin-with-no-quorum",
        2,
        {"a": 5, "b": 5},
        10,
        5,
        True,
        False,
        False,
        (),
        (),
        ("quorum", "margin"),
    ),
    (
        "single-candidate-uncontested",
        1,
        {"a": 6},
        7,
        7,
        False,
        True,
        True,
        ("a",),
        (),
        (),
    ),
    (
        "single-candidate-contested-lacks-margin",
        1,
        {"a": 6},
        7,
        7,
        True,
        True,
        False,
        ("a",),
        (),
        ("margin",),
    ),
    (
        "half-of-present-is-not-elected",
        3,
        {"a": 20, "b": 20, "c": 10, "d": 9},
        20,
        20,
        True,
        True,
        True,
        ("a", "b"),
        (),
        ("unfilled",),
    ),
    (
        "more-than-half-of-present-not-of-expected",
        1,
        {"a": 9, "b": 8},
        20,
        17,
        True,
        True,
        True,
        ("a",),
        (),
        (),
    ),
    (
        "tie-at-the-last-seat",
        3,
        {"a": 28, "b": 25, "c": 18, "d": 18},
        30,
        30,
        True,
        True,
        True,
        ("a", "b"),
        ("c", "d"),
        ("tie",),
    ),
    (
        "tie-for-both-seats",
        2,
        {"a": 20, "b": 20, "c": 20},
        30,
        30,
        True,
        True,
        True,
        (),
        ("a", "b", "c"),
        ("tie",),
    ),
    (
        "tie-that-fits-the-seats-is-no-tie",
        3,
        {"a": 30, "b": 22, "c": 22, "d": 5},
        30,
        30,
        True,
        True,
        True,
        ("a", "b", "c"),
        (),
        (),
    ),
    (
        "tie-below-the-majority-does-not-matter",
        2,
        {"a": 20, "b": 18, "c": 5, "d": 5},
        30,
        30,
        True,
        True,
        True,
        ("a", "b"),
        (),
        (),
    ),
    (
        "nobody-elected",
        2,
        {"a": 5, "b": 5, "c": 5},
        30,
        30,
        True,
        True,
        True,
        (),
        (),
        ("unfilled",),
    ),
    (
        "most-votes-first",
        2,
        {"x": 16, "y": 25, "z": 19},
        30,
        30,
        True,
        True,
        True,
        ("y", "z"),
        (),
        (),
    ),
]


@pytest.mark.parametrize(
    (
        "seats",
        "votes",
        "expected",
        "present",
        "contested",
        "valid",
        "margin_ok",
        "elected",
        "tied",
        "problems",
    ),
    [row[1:] for row in ELECTIONS],
    ids=[row[0] for row in ELECTIONS],
)
def test_election_outcome(
    seats, votes, expected, present, contested, valid, margin_ok, elected, tied, problems
):
    outcome = rules.election_outcome(seats, votes, expected, present, contested=contested)
    assert outcome.valid is valid
    assert outcome.margin_ok is margin_ok
    assert outcome.elected == elected
    assert outcome.tied == tied
    assert outcome.problems == problems


@pytest.mark.parametrize(
    ("seats", "votes", "expected", "present"),
    [
        (3, {"a": 5, "b": 5, "c": 5, "d": 5}, 10, 11),  # more present than expected
        (3, {"a": 12, "b": 5, "c": 5, "d": 5}, 12, 11),  # a candidate above the present
        (1, {"a": 6, "b": 6}, 10, 10),  # 12 votes from 10 one-vote ballots
        (2, {"a": 10, "b": 10, "c": 1}, 10, 10),  # 21 votes from 10 two-vote ballots
        (0, {"a": 1}, 10, 10),
        (-1, {"a": 1}, 10, 10),
        (2, {}, 10, 10),
        (2, {"a": -1, "b": 3, "c": 3}, 10, 10),
        (2, {"a": True, "b": 3, "c": 3}, 10, 10),
        (2, {"a": 1, "b": 3, "c": 3}, -10, 10),
        (2, {"a": 1, "b": 3, "c": 3}, 10, -1),
        (2, {"a": 1, "b": 3, "c": 3}, 10.0, 10),
        (True, {"a": 1, "b": 3}, 10, 10),
    ],
    ids=[
        "present-over-expected",
        "votes-over-present",
        "votes-over-ballots-one-seat",
        "votes-over-ballots-two-seats",
        "no-seats",
        "negative-seats",
        "no-candidates",
        "negative-votes",
        "bool-votes",
        "negative-expected",
        "negative-present",
        "float-expected",
        "bool-seats",
    ],
)
def test_election_numbers_that_do_not_add_up(seats, votes, expected, present):
    with pytest.raises(ValueError):
        rules.election_outcome(seats, votes, expected, present)


# The shape of an organisation (DOMAIN §5) ----------------------------------------------------

# (id, kind, full, members, committee size, has secretary, problems)
SHAPES = [
    # healthy organisations
    ("healthy-small-branch", "branch", 5, 6, 0, True, []),
    ("healthy-branch-with-committee", "branch", 12, 15, 5, True, []),
    ("healthy-branch-of-50", "branch", 45, 50, 5, True, []),
    ("healthy-joint-branch", "joint_branch", 3, 4, 0, True, []),
    ("healthy-general-branch", "general_branch", 55, 60, 5, True, []),
    ("healthy-general-branch-of-50", "general_branch", 45, 50, 7, True, []),
    ("healthy-committee", "committee", 140, 150, 7, True, []),
    ("healthy-committee-of-100", "committee", 95, 100, 5, True, []),
    ("group-has-no-rules", "group", 0, 0, 0, False, []),
    # each problem
    ("too-few-full", "branch", 2, 5, 0, True, ["too_few_full"]),
    ("too-few-full-joint", "joint_branch", 2, 2, 0, True, ["too_few_full"]),
    ("three-full-is-enough", "branch", 3, 3, 0, True, []),
    (
        "branch-too-large",
        "branch",
        48,
        51,
        5,
        True,
        ["branch_too_large", "should_be_general_branch"],
    ),
    (
        "branch-of-100",
        "branch",
        90,
        100,
        5,
        True,
        ["branch_too_large", "should_be_committee"],
    ),
    ("needs-committee-at-7", "branch", 7, 8, 0, True, ["needs_committee"]),
    ("six-full-need-none", "branch", 6, 8, 0, True, []),
    ("committee-too-small-branch", "branch", 9, 9, 2, True, ["committee_too_small"]),
    ("committee-of-3-is-fine", "branch", 9, 9, 3, True, []),
    ("committee-of-7-is-fine", "branch", 20, 20, 7, True, []),
    ("committee-too-large-branch", "branch", 20, 20, 8, True, ["committee_too_large"]),
    (
        "committee-too-small-committee",
        "committee",
        150,
        160,
        4,
        True,
        ["committee_too_small"],
    ),
    (
        "committee-too-large-committee",
        "committee",
        150,
        160,
        12,
        True,
        ["committee_too_large"],
    ),
    ("general-branch-committee-of-9-is-fine", "general_branch", 60, 70, 9, True, []),
    (
        "committee-too-large-general-branch",
        "general_branch",
        60,
        70,
        10,
        True,
        ["committee_too_large"],
    ),
    ("general-branch-too-small", "general_branch", 40, 49, 5, True, ["general_branch_too_small"]),
    ("general-branch-of-100", "general_branch", 95, 100, 5, True, ["should_be_committee"]),
    ("committee-below-100", "committee", 90, 99, 5, True, ["committee_below_100"]),
    (
        "general-branch-without-committee",
        "general_branch",
        55,
        60,
        0,
        True,
        ["needs_committee"],
    ),
    ("committee-without-committee", "committee", 150, 160, 0, True, ["needs_committee"]),
    ("no-secretary", "branch", 5, 5, 0, False, ["no_secretary"]),
    (
        "empty-branch",
        "branch",
        0,
        0,
        0,
        False,
        ["too_few_full", "no_secretary"],
    ),
    (
        "empty-committee",
        "committee",
        0,
        0,
        0,
        False,
        ["needs_committee", "committee_below_100", "no_secretary"],
    ),
]


@pytest.mark.parametrize(
    ("kind", "full", "members", "size", "secretary", "problems"),
    [row[1:] for row in SHAPES],
    ids=[row[0] for row in SHAPES],
)
def test_shape_problems(kind, full, members, size, secretary, problems):
    found = rules.shape_problems(
        kind, full_members=full, members=members, committee_size=size, has_secretary=secretary
    )
    assert found == problems
    assert set(found) <= set(rules.SHAPE_PROBLEMS)


def test_every_shape_problem_has_a_row():
    seen = {p for row in SHAPES for p in row[-1]}
    assert seen == set(rules.SHAPE_PROBLEMS)


@pytest.mark.parametrize(
    ("kind", "full", "members", "size"),
    [
        ("branch", 6, 5, 0),
        ("branch", -1, 5, 0),
        ("branch", 1, -5, 0),
        ("branch", 1, 5, -1),
        ("branch", True, 5, 0),
        ("club", 1, 5, 0),
    ],
    ids=[
        "more-full-than-members",
        "negative-full",
        "negative-members",
        "negative-size",
        "bool",
        "unknown-kind",
    ],
)
def test_shape_problems_refuses_nonsense(kind, full, members, size):
    with pytest.raises(ValueError):
        rules.shape_problems(
            kind, full_members=full, members=members, committee_size=size, has_secretary=True
        )


# Out of contact (DOMAIN §7) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lost", "suspended", "today", "flag", "due"),
    [
        (None, None, "2026-01-01", "", None),
        ("2025-01-10", None, "2025-07-09", "", "2025-07-10"),  # a day short of six months
        ("2025-01-10", None, "2025-07-10", "suspend", "2025-07-10"),  # six months to the day
        ("2025-01-10", None, "2027-12-31", "suspend", "2025-07-10"),  # never suspended: still
        ("2025-08-31", None, "2026-02-27", "", "2026-02-28"),  # month end
        ("2025-08-31", None, "2026-02-28", "suspend", "2026-02-28"),
        ("2023-08-31", None, "2024-02-29", "suspend", "2024-02-29"),  # month end, leap year
        ("2023-08-31", None, "2024-02-28", "", "2024-02-29"),
        # suspended when due: removal two more years later, to the day
        ("2025-01-10", "2025-07-10", "2027-07-09", "", "2027-07-10"),
        ("2025-01-10", "2025-07-10", "2027-07-10", "remove", "2027-07-10"),
        # suspended late: two years from the suspension
        ("2025-01-10", "2025-09-01", "2027-08-31", "", "2027-09-01"),
        ("2025-01-10", "2025-09-01", "2027-09-01", "remove", "2027-09-01"),
        # suspended early (for another reason): two years from when it fell due
        ("2025-01-10", "2024-11-01", "2027-07-09", "", "2027-07-10"),
        ("2025-01-10", "2024-11-01", "2027-07-10", "remove", "2027-07-10"),
        # suspended on a leap day
        ("2023-08-29", "2024-02-29", "2026-02-27", "", "2026-02-28"),
        ("2023-08-29", "2024-02-29", "2026-02-28", "remove", "2026-02-28"),
    ],
    ids=[
        "in-contact",
        "day-before-six-months",
        "six-months-exactly",
        "long-unsuspended",
        "month-end-day-before",
        "month-end-due",
        "month-end-leap-due",
        "month-end-leap-day-before",
        "day-before-two-more-years",
        "two-more-years-exactly",
        "late-suspension-day-before",
        "late-suspension-due",
        "early-suspension-day-before",
        "early-suspension-due",
        "leap-day-suspension-day-before",
        "leap-day-suspension-due",
    ],
)
def test_contact_flag(lost, suspended, today, flag, due):
    found = contact_flag(D(lost) if lost else None, D(suspended) if suspended else None, D(today))
    assert found == (flag, D(due) if due else None)
