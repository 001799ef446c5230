"""Checks of free text shared by every service: characters that have no business in a record.

Control characters (and lone surrogates, U+FFFE/U+FFFF) are invisible on the page, break XML
(Word documents, XLSX) and CSV consumers, and are never typed on purpose; NUL is refused by
PostgreSQL outright. Multi-line fields keep tab, line feed and carriage return.
"""

import re

_CONTROL = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_CONTROL_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")

MULTILINE_FIELDS = frozenset({"note", "detail", "reason", "decision_note"})


def has_control_characters(value: str, *, lines: bool = False) -> bool:
    return bool((_CONTROL_MULTILINE if lines else _CONTROL).search(value))
