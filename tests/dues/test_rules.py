"""The dues rules (DOMAIN §2) as a table: every band edge, the fixed amounts, rounding, invalid
input, and which version of the rules was in force on a day. Pure: no database."""

import datetime
from decimal import Decimal

import pytest

from dangjian.dues import rules

ON = datetime.date(2026, 1, 1)


@pytest.mark.parametrize(
    ("category", "base", "expected"),
    [
        # In service: ≤3000 0.5%, ≤5000 1%, ≤10000 1.5%, above 2%, on the whole base.
        ("in_service", "0", "0.00"),
        ("in_service", "0.01", "0.00"),
        ("in_service", "1000", "5.00"),
        ("in_service", "3000", "15.00"),
        ("in_service", "3000.01", "30.00"),
        ("in_service", "4000", "40.00"),
        ("in_service", "5000", "50.00"),
        ("in_service", "5000.01", "75.00"),  # 75.00015
        ("in_service", "8000", "120.00"),
        ("in_service", "10000", "150.00"),
        ("in_service", "10000.01", "200.00"),  # 200.0002
        ("in_service", "20000", "400.00"),
        ("in_service", "60000", "1200.00"),  # unusual but allowed
        # Retired: ≤5000 0.5%, above 1%.
        ("retired", "0", "0.00"),
        ("retired", "3000.01", "15.00"),  # no in-service band for pensions
        ("retired", "5000", "25.00"),
        ("retired", "5000.01", "50.00"),  # 50.0001
        ("retired", "8000", "80.00"),
        # Farmers choose 0.20 to 1.00 yuan.
        ("farmer", "0.20", "0.20"),
        ("farmer", "0.2", "0.20"),
        ("farmer", "0.50", "0.50"),
        ("farmer", "1.00", "1.00"),
        ("farmer", "1", "1.00"),
        # Students, the unemployed, those on relief: 0.20 yuan whatever the base.
        ("student", None, "0.20"),
        ("student", "9000", "0.20"),
        ("unemployed", None, "0.20"),
        ("unemployed", "0", "0.20"),
        ("relief", None, "0.20"),
        ("relief", "abc", "0.20"),  # the base is not asked for, so not read
    ],
)
def test_monthly_dues(category, base, expected):
    amount = rules.monthly_dues(base, category, ON)
    assert isinstance(amount, Decimal)
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2  # always to the fen


@pytest.mark.parametrize(
    "base", [3000, 3000.0, Decimal("3000"), "3000", " 3000 ", "3,000", "3000.00"]
)
def test_a_base_may_be_given_as_number_or_text(base):
    assert rules.monthly_dues(base, "in_service", ON) == Decimal("15.00")


@pytest.mark.parametrize(
    ("base", "category", "half_up", "half_even"),
    [
        # 1234.5 × 0.5% = 6.1725: not a tie, both give 6.17.
        ("1234.5", "in_service", "6.17", "6.17"),
        # 1001 × 0.5% = 5.005: a tie, half up gives 5.01, half even 5.00.
        ("1001", "in_service", "5.01", "5.00"),
        # 4500.5 × 1% = 45.005
        ("4500.5", "in_service", "45.01", "45.00"),
        # 5000.30 × 1.5% = 75.0045 (below a tie: 75.00 both ways)
        ("5000.30", "in_service", "75.00", "75.00"),
        # 5000.50 × 1% (retired) = 50.005
        ("5000.50", "retired", "50.01", "50.00"),
        # 2999 × 0.5% = 14.995
        ("2999", "retired", "15.00", "15.00"),
        ("2997", "retired", "14.99", "14.98"),  # 14.985
    ],
)
def test_rounding_half_up_by_default_and_configurable(base, category, half_up, half_even):
    assert rules.monthly_dues(base, category, ON) == Decimal(half_up)
    rules.set_rounding("half_even")
    try:
        assert rules.monthly_dues(base, category, ON) == Decimal(half_even)
    finally:
        rules.set_rounding("half_up")
    assert rules.monthly_dues(base, category, ON) == Decimal(half_up)


def test_an_unknown_rounding_is_refused_and_changes_nothing():
    with pytest.raises(ValueError, match="rounding"):
        rules.set_rounding("half_down")
    assert rules.monthly_dues("1001", "in_service", ON) == Decimal("5.01")


@pytest.mark.parametrize(
    ("base", "category", "words"),
    [
        ("3000", "worker", "category"),
        ("3000", "", "category"),
        ("3000", None, "category"),
        ("3000", "IN_SERVICE", "category"),
        ("-1", "in_service", "negative"),
        ("-0.01", "retired", "negative"),
        ("NaN", "in_service", "not an amount"),
        (float("nan"), "in_service", "not an amount"),
        ("Infinity", "in_service", "not an amount"),
        (float("inf"), "retired", "not an amount"),
        ("abc", "in_service", "not an amount"),
        ("", "in_service", "not an amount"),
        ("3000元", "in_service", "not an amount"),
        (None, "in_service", "not an amount"),
        (None, "retired", "not an amount"),
        (True, "in_service", "number"),
        (False, "retired", "number"),
        ("10000000.01", "in_service", "not believable"),
        ("1e12", "in_service", "not believable"),
        # Farmers: outside 0.20 to 1.00, or finer than a fen.
        ("0.19", "farmer", "between"),
        ("1.01", "farmer", "between"),
        ("0", "farmer", "between"),
        ("-0.5", "farmer", "between"),
        ("100", "farmer", "between"),
        ("0.205", "farmer", "two decimals"),
        (None, "farmer", "not an amount"),
        ("abc", "farmer", "not an amount"),
        (True, "farmer", "number"),
    ],
)
def test_invalid_input_raises_value_error_with_a_message(base, category, words):
    with pytest.raises(ValueError, match=words) as caught:
        rules.monthly_dues(base, category, ON)
    assert str(caught.value)


def test_minus_zero_is_zero():
    amount = rules.monthly_dues("-0", "in_service", ON)
    assert amount == 0 and str(amount) == "0.00"


@pytest.mark.parametrize("on", [None, "2026-01-01", 2026])
def test_the_day_must_be_a_date(on):
    with pytest.raises(ValueError, match="date"):
        rules.monthly_dues("3000", "in_service", on)


@pytest.mark.parametrize(
    ("on", "version", "fixed_for_year"),
    [
        (datetime.date(2008, 2, 1), "2008", False),
        (datetime.date(2012, 6, 30), "2008", False),
        (datetime.date(2016, 12, 31), "2008", False),
        (datetime.date(2017, 1, 1), "2017", True),
        (datetime.date(2026, 11, 25), "2017", True),
        (datetime.datetime(2017, 1, 1, 8, 30), "2017", True),
    ],
)
def test_the_rule_in_force_on_a_day(on, version, fixed_for_year):
    rule = rules.rule_on(on)
    assert rule.version == version
    assert rule.fixed_for_year is fixed_for_year
    # Both versions give the same amounts: the bands did not change in 2017.
    assert rules.monthly_dues("3000.01", "in_service", on) == Decimal("30.00")
    assert rules.monthly_dues("5000", "retired", on) == Decimal("25.00")


@pytest.mark.parametrize("on", [datetime.date(2008, 1, 31), datetime.date(1999, 5, 1)])
def test_no_rule_before_february_2008(on):
    with pytest.raises(ValueError, match="no dues rule"):
        rules.rule_on(on)
    with pytest.raises(ValueError, match="no dues rule"):
        rules.monthly_dues("3000", "in_service", on)


@pytest.mark.parametrize(
    ("year", "day", "version"),
    [
        (2008, datetime.date(2008, 2, 1), "2008"),  # January 2008 counts by the first rules
        (2009, datetime.date(2009, 1, 1), "2008"),
        (2016, datetime.date(2016, 1, 1), "2008"),
        (2017, datetime.date(2017, 1, 1), "2017"),
        (2027, datetime.date(2027, 1, 1), "2017"),
    ],
)
def test_the_rule_that_decides_a_years_bases(year, day, version):
    assert rules.rule_day(year) == day
    assert rules.rule_for_year(year).version == version
    # The day given is one the rules can be asked about (rule_on(1 January 2008) fails).
    assert rules.rule_on(rules.rule_day(year)) == rules.rule_for_year(year)


@pytest.mark.parametrize("year", [2007, 1999, 0, -5, "2020", 2020.0, True, None])
def test_no_rule_for_a_year_before_2008_or_not_a_year(year):
    with pytest.raises(ValueError):
        rules.rule_for_year(year)


@pytest.mark.parametrize(
    "value", ["1e30", "-1e30", "1E+13", "12345678901234", "1e999999", Decimal("9.9e12") * 10]
)
def test_amounts_far_too_large_are_refused_as_value_errors(value):
    """Rounding 1e30 to fen raises InvalidOperation (a 500 wherever it was not expected)."""
    with pytest.raises(ValueError):
        rules.to_amount(value)
    for category in ("in_service", "retired", "farmer"):
        with pytest.raises(ValueError):
            rules.monthly_dues(value, category, ON)
    with pytest.raises(ValueError):
        rules.rate_of(value, "in_service", ON)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1e12", Decimal("1000000000000.00")),
        ("9999999999999.99", Decimal("9999999999999.99")),
        ("0E+100", Decimal("0.00")),  # zero, however written
        ("-0E+100", Decimal("0.00")),
        ("1e-30", Decimal("0.00")),
    ],
)
def test_large_and_tiny_amounts_that_can_be_rounded(value, expected):
    assert rules.to_amount(value).quantize(rules.CENT) == expected


@pytest.mark.parametrize(
    ("category", "base", "rate"),
    [
        ("in_service", "3000", "0.005"),
        ("in_service", "3000.01", "0.01"),
        ("in_service", "10000.01", "0.02"),
        ("retired", "5000.01", "0.01"),
        ("farmer", "0.5", None),
        ("student", None, None),
    ],
)
def test_rate_of(category, base, rate):
    assert rules.rate_of(base, category, ON) == (Decimal(rate) if rate else None)


@pytest.mark.parametrize(("amount", "unusual"), [("1000", False), ("1000.01", True), ("15", False)])
def test_monthly_dues_above_1000_are_unusual(amount, unusual):
    assert rules.is_unusual(Decimal(amount)) is unusual


# Months, timing, arrears --------------------------------------------------------------------


def test_months_between_crosses_a_year():
    assert rules.months_between((2025, 11), (2026, 2)) == [
        (2025, 11),
        (2025, 12),
        (2026, 1),
        (2026, 2),
    ]
    with pytest.raises(ValueError):
        rules.months_between((2026, 2), (2025, 11))
    with pytest.raises(ValueError):
        rules.month_index(2026, 13)


@pytest.mark.parametrize(
    ("month", "kind"),
    [
        ((2026, 12), "advance"),
        ((2027, 1), "advance"),
        ((2026, 11), None),
        ((2026, 5), None),  # six months back: still the normal back-payment
        ((2026, 4), "late"),  # seven
        ((2025, 11), "late"),
    ],
)
def test_payment_timing(month, kind):
    timing = rules.payment_timing([month], datetime.date(2026, 11, 25))
    assert timing["advance"] == ([month] if kind == "advance" else [])
    assert timing["late"] == ([month] if kind == "late" else [])


@pytest.mark.parametrize(
    ("due", "paid", "exempt", "status"),
    [
        ("15.00", "0", False, "unpaid"),
        ("15.00", "5", False, "partial"),
        ("15.00", "15", False, "paid"),
        ("15.00", "20", False, "paid"),
        ("0.00", "0", False, "paid"),
        ("15.00", "0", True, "exempt"),
        ("15.00", "15", True, "exempt"),
        (None, "0", False, "nobase"),
        (None, "3", False, "paid"),
    ],
)
def test_line_status(due, paid, exempt, status):
    assert rules.line_status(Decimal(due) if due else None, Decimal(paid), exempt) == status


def statuses(start: tuple, pattern: str) -> list:
    """'uuux' from `start`: u unpaid, p paid, x exempt, q partial, n no base, - no line."""
    names = {"u": "unpaid", "p": "paid", "x": "exempt", "q": "partial", "n": "nobase"}
    first = rules.month_index(*start)
    return [(rules.from_index(first + i), names[c]) for i, c in enumerate(pattern) if c in names]


@pytest.mark.parametrize(
    ("pattern", "run", "flag"),
    [
        ("uuuuuu", 6, True),
        ("puuuuuu", 6, True),
        ("uuuuuuuu", 8, True),
        ("uuuuu", 5, False),
        ("uuupuu", 2, False),
        ("uuuuuxuuu"[:6], 0, False),  # the month asked about is exempt
        ("uuxuuu", 3, False),
        ("uuquuu", 3, False),
        ("uunuuu", 3, False),
        ("uu-uuu", 3, False),
        ("uuuuup", 0, False),
        ("", 0, False),
    ],
)
def test_unpaid_run_across_a_year(pattern, run, flag):
    # The pattern ends with February 2026, so six months reach back into 2025.
    start = rules.from_index(rules.month_index(2026, 2) - len(pattern) + 1)
    found = rules.unpaid_run(list(reversed(statuses(start, pattern))), (2026, 2))
    assert found == run
    assert rules.arrears_flag(found) is flag


# Who owes which month ----------------------------------------------------------------------

A, B, HOST = 1, 2, 3


def owed(events, stays=(), year=2026):
    from dangjian.members import rules as member_rules

    timeline = [member_rules.Event(kind, on, org, i) for i, (kind, on, org) in enumerate(events)]
    return [
        (d.month, d.organization_id, d.hosted)
        for d in rules.months_due(member_rules.derive, timeline, list(stays), year)
    ]


ADMITTED_LONG_AGO = ("admitted", datetime.date(2005, 7, 1), A)


def test_a_plain_year_is_twelve_months_at_home():
    assert owed([ADMITTED_LONG_AGO]) == [(m, A, False) for m in range(1, 13)]


@pytest.mark.parametrize(
    ("day", "last_at_a"),
    [
        (datetime.date(2026, 6, 1), 5),  # moved on the first: June is B's
        (datetime.date(2026, 6, 2), 6),  # moved after the first: June stays A's
        (datetime.date(2026, 6, 30), 6),
        (datetime.date(2026, 1, 1), 0),
        (datetime.date(2026, 12, 31), 12),
    ],
)
def test_a_transfer_changes_the_collector_from_the_next_first_of_month(day, last_at_a):
    found = owed([ADMITTED_LONG_AGO, ("transferred", day, B)])
    assert found == [(m, A if m <= last_at_a else B, False) for m in range(1, 13)]


@pytest.mark.parametrize(
    ("day", "first"), [(datetime.date(2026, 4, 15), 4), (datetime.date(2026, 4, 1), 4)]
)
def test_a_probationary_member_pays_from_the_month_of_admission(day, first):
    assert owed([("admitted", day, A)]) == [(m, A, False) for m in range(first, 13)]


def test_admitted_in_december_of_the_year_before():
    assert owed([("admitted", datetime.date(2025, 12, 20), A)]) == [
        (m, A, False) for m in range(1, 13)
    ]


@pytest.mark.parametrize("kind", ["deceased", "left", "removed", "expelled", "transferred_out"])
def test_an_end_mid_year_owes_up_to_its_month(kind):
    found = owed([ADMITTED_LONG_AGO, (kind, datetime.date(2026, 5, 15), None)])
    assert found == [(m, A, False) for m in range(1, 6)]


def test_a_mobile_stay_pays_the_host_for_months_whose_first_day_falls_in_it():
    stay = rules.Stay(HOST, datetime.date(2026, 3, 10), datetime.date(2026, 7, 20))
    found = owed([ADMITTED_LONG_AGO], [stay])
    assert found == [(m, HOST, True) if 4 <= m <= 7 else (m, A, False) for m in range(1, 13)]
    assert len({m for m, _o, _h in found}) == 12  # one line a month, never two


def test_a_stay_back_on_the_first_leaves_that_month_at_home():
    stay = rules.Stay(HOST, datetime.date(2026, 3, 1), datetime.date(2026, 5, 1))
    assert [m for m, org, _h in owed([ADMITTED_LONG_AGO], [stay]) if org == HOST] == [3, 4]


def test_a_stay_at_the_members_own_organisation_is_not_hosted():
    stay = rules.Stay(A, datetime.date(2026, 3, 10), None)
    assert owed([ADMITTED_LONG_AGO], [stay]) == [(m, A, False) for m in range(1, 13)]
