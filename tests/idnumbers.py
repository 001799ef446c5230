"""Valid resident ID numbers for tests (GB 11643: the check character is computed)."""

import datetime

from dangjian.core.idnumber import check_char


def make_id(birth: datetime.date | str, sex: int = 1, region: str = "370923", seq: int = 1) -> str:
    """An 18-character ID number born on `birth`; the sequence is made odd (male, sex 1) or even
    (female, sex 2)."""
    if isinstance(birth, str):
        birth = datetime.date.fromisoformat(birth)
    number = (seq * 2 + (1 if sex == 1 else 0)) % 1000
    if number % 2 != (1 if sex == 1 else 0):
        number = (number + 1) % 1000
    first17 = f"{region}{birth:%Y%m%d}{number:03d}"
    return first17 + check_char(first17)
