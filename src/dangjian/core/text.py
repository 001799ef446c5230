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


def clean_text(
    value,
    field: str,
    limit: int,
    *,
    required: bool = False,
    lines: bool = False,
    label: str | None = None,
) -> str:
    """A text input as services store it: stripped, no control characters, at most `limit`
    characters (and not empty when `required`); ValidationFailed naming `field` otherwise."""
    from django.utils.translation import gettext as _

    from .errors import ValidationFailed

    value = value if isinstance(value, str) else str(value or "")
    if has_control_characters(value, lines=lines):
        message = (
            _("Remove the control characters from “%(field)s”.") % {"field": label}
            if label
            else _("Remove the control characters.")
        )
        raise ValidationFailed(message, code="control_characters", field=field)
    value = value.strip()
    if required and not value:
        raise ValidationFailed(_("This field is required."), code="required", field=field)
    if len(value) > limit:
        raise ValidationFailed(
            _("At most %(n)d characters.") % {"n": limit}, code="too_long", field=field
        )
    return value


# A mainland mobile number once spaces, hyphens and +86 are gone.
MOBILE = re.compile(r"^1[3-9]\d{9}$")
