"""ID number vectors (GB 11643-1999, DOMAIN §1)."""

import datetime

import pytest

from dangjian.core.idnumber import InvalidIdNumber, check_char, parse_id_number

TODAY = datetime.date(2026, 11, 24)


@pytest.mark.parametrize(
    "text,number,birth,sex,region",
    [
        ("11010519491231002X", "11010519491231002X", "1949-12-31", 2, "110105"),
        ("11010519491231002x", "11010519491231002X", "1949-12-31", 2, "110105"),
        (" 110105 19491231 002X ", "11010519491231002X", "1949-12-31", 2, "110105"),
        ("１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", "1949-12-31", 2, "110105"),
        ("110105491231002", "11010519491231002X", "1949-12-31", 2, "110105"),
        ("370923198501120013", "370923198501120013", "1985-01-12", 1, "370923"),
        ("810000200002290046", None, "2000-02-29", 2, "810000"),  # leap day, Hong Kong
    ],
)
def test_valid_numbers(text, number, birth, sex, region):
    parsed = parse_id_number(text, today=TODAY)
    if number is None:  # computed check character
        number = text[:17] + check_char(text[:17])
        parsed = parse_id_number(number, today=TODAY)
    assert parsed.number == number
    assert parsed.birth_date == datetime.date.fromisoformat(birth)
    assert parsed.sex == sex
    assert parsed.region == region


@pytest.mark.parametrize(
    "text,code",
    [
        ("110101199003077574", "check"),
        ("11010519491231002", "length"),
        ("1101051949123100211", "length"),
        ("", "length"),
        (None, "length"),
        ("11010519491231A02X", "characters"),
        ("X10105194912310021", "characters"),
        ("11010A491231002", "characters"),
        ("990105194912310021", "region"),
        ("000105194912310021", "region"),
        ("110105194913310021", "date"),
        ("110105190002290021", "date"),  # 1900 was not a leap year
        ("110105203001010021", "date"),  # in the future
    ],
)
def test_invalid_numbers_say_what_is_wrong(text, code):
    if code in ("region", "date") and text[:2] != "00":
        text = text[:17] + check_char(text[:17])  # only the named fault is present
    with pytest.raises(InvalidIdNumber) as info:
        parse_id_number(text, today=TODAY)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)
    assert str(info.value)


def test_the_wrong_check_character_is_named():
    with pytest.raises(InvalidIdNumber) as info:
        parse_id_number("110101199003077574", today=TODAY)
    assert info.value.params == {"found": "4", "expected": check_char("11010119900307757")}
    assert "expected" in str(info.value)


def test_fifteen_digit_numbers_get_the_century_and_a_check_character():
    parsed = parse_id_number("370923850112001", today=TODAY)
    assert parsed.number == "37092319850112001" + check_char("37092319850112001")
    assert parsed.sex == 1
