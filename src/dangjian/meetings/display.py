"""How compliance reads to people: the name of a period, and the colour, icon and word of each
state (never colour alone), shared by the compliance pages and the reminders."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from . import rules

# state -> (Bootstrap colour, Bootstrap icon, word)
LOOKS = {
    rules.DONE: ("success", "check-circle-fill", gettext_lazy("Done")),
    # "Due" elsewhere is money owed (应交); here, a period running without the activity yet.
    rules.DUE: ("warning", "hourglass-split", pgettext_lazy("organisational life", "Due")),
    rules.OVERDUE: ("danger", "x-circle-fill", gettext_lazy("Overdue")),
    rules.UPCOMING: ("light", "clock", gettext_lazy("Upcoming")),
    rules.NOT_REQUIRED: ("secondary", "dash", gettext_lazy("Not required")),
}


def look(state: str) -> dict:
    colour, icon, word = LOOKS.get(state, LOOKS[rules.NOT_REQUIRED])
    return {"state": state, "colour": colour, "icon": icon, "word": str(word)}


def period_label(frequency: str, period: rules.Period) -> str:
    """'2026, month 3', '2026, quarter 2', '2026, first half', 'the year 2026'."""
    year, n = period.start.year, period.index
    if frequency == rules.MONTH:
        return _("%(year)s, month %(n)s") % {"year": year, "n": n}
    if frequency == rules.QUARTER:
        return _("%(year)s, quarter %(n)s") % {"year": year, "n": n}
    if frequency == rules.HALF:
        if n == 1:
            return _("%(year)s, first half") % {"year": year}
        return _("%(year)s, second half") % {"year": year}
    return _("the year %(year)s") % {"year": year}
