"""Resident ID numbers (GB 11643-1999): parsing, checking and the check character."""

import datetime
import re
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# First two digits of province-level regions (GB/T 2260), with 71 Taiwan, 81 Hong Kong, 82 Macao.
PROVINCES = frozenset(
    {
        11,
        12,
        13,
        14,
        15,
        21,
        22,
        23,
        31,
        32,
        33,
        34,
        35,
        36,
        37,
        41,
        42,
        43,
        44,
        45,
        46,
        50,
        51,
        52,
        53,
        54,
        61,
        62,
        63,
        64,
        65,
        71,
        81,
        82,
    }
)
_FULLWIDTH = str.maketrans("０１２３４５６７８９ＸｘX", "0123456789XXX")


class InvalidIdNumber(ValueError):
    """The text is not a valid resident ID number; the message says why.

    `code` names the kind of fault (length, characters, region, date, check) and `params` its
    details, so pages can say the same thing in the user's language.
    """

    def __init__(self, message: str, code: str = "invalid", **params):
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class IdNumber:
    number: str
    birth_date: datetime.date
    sex: int  # GB/T 2261.1: 1 male, 2 female
    region: str


def check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def parse_id_number(text, *, today: datetime.date | None = None) -> IdNumber:
    raw = re.sub(r"\s+", "", str(text or "")).translate(_FULLWIDTH).replace("x", "X")
    if not raw.isascii():  # other scripts' digits would pass isdigit() but are no ID number
        raise InvalidIdNumber("an ID number is written in ASCII digits and X", "characters")
    if len(raw) == 15:
        if not raw.isdigit():
            raise InvalidIdNumber("15-digit ID numbers contain digits only", "characters")
        base = raw[:6] + "19" + raw[6:]
        raw = base + check_char(base)
    if len(raw) != 18:
        raise InvalidIdNumber(
            f"an ID number has 18 characters, this one has {len(raw)}", "length", length=len(raw)
        )
    if not raw[:17].isdigit() or not (raw[17].isdigit() or raw[17] == "X"):
        raise InvalidIdNumber("an ID number is 17 digits followed by a digit or X", "characters")
    if int(raw[:2]) not in PROVINCES:
        raise InvalidIdNumber(f"region code {raw[:6]} names no province", "region", region=raw[:6])
    try:
        birth = datetime.date(int(raw[6:10]), int(raw[10:12]), int(raw[12:14]))
    except ValueError:
        raise InvalidIdNumber(
            f"birth date {raw[6:14]} is not a real date", "date", date=raw[6:14]
        ) from None
    if birth > (today or datetime.date.today()) or birth.year < 1880:
        raise InvalidIdNumber(
            f"birth date {birth.isoformat()} is not plausible", "date", date=birth.isoformat()
        )
    expected = check_char(raw[:17])
    if raw[17] != expected:
        raise InvalidIdNumber(
            f"wrong check character {raw[17]} (expected {expected})",
            "check",
            found=raw[17],
            expected=expected,
        )
    return IdNumber(number=raw, birth_date=birth, sex=1 if int(raw[16]) % 2 else 2, region=raw[:6])
