"""The figures of requests from the public for a subtree, gathered for the page and written as a
spreadsheet (openpyxl write-only; a few hundred rows at most, so in the request).

Counts and shares only: nothing of the people who submitted, so the export is not audited
(as the dues collection report; the audit log and full rosters are).
"""

import io

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from dangjian.core import selectors as core_selectors
from dangjian.core.exports import safe_cell
from dangjian.core.models import Organization

from . import selectors
from .models import Category


def _rating(value):
    return round(value, 2) if value is not None else None


def gather(user, org: Organization, now=None) -> dict:
    """Summary, by month, by category and by organisation below, for `org`'s subtree as the user
    sees it: a fixed number of queries, whatever the size of the tree."""
    now = now or timezone.now()
    scoped: QuerySet = selectors.requests(user)
    qs = scoped.filter(core_selectors.subtree_range("org_path", org.path))
    months = selectors.figures_by_month(qs, now)
    for row in months:
        row["avg_rating"] = _rating(row["avg_rating"])
    labels = dict(Category.choices)
    categories = selectors.figures_by_category(qs)
    for row in categories:
        row["label"] = str(labels.get(row["category"], row["category"]))
        row["avg_rating"] = _rating(row["avg_rating"])
    children = selectors.figures_by_child(user, org, scoped, now)
    for row in children:
        row["avg_rating"] = _rating(row["avg_rating"])
    return {
        "summary": selectors.figures(qs, now),
        "months": months,
        "categories": categories,
        "children": children,
    }


def workbook(org: Organization, data: dict, on=None) -> bytes:
    """Four sheets: summary, by month, by category, by organisation below."""
    from openpyxl import Workbook

    on = on or timezone.localdate()
    title = safe_cell(f"{org.name} · {on.isoformat()}")
    book = Workbook(write_only=True)

    s = data["summary"]
    sheet = book.create_sheet(_("Summary"))
    sheet.append([title])
    for label, value in (
        (_("requests"), s["total"]),
        (_("open"), s["open"]),
        (_("answered"), s["answered"]),
        (_("answered late or overdue"), s["late"]),
        (_("late share (%)"), s["late_share"]),
        (_("open and overdue"), s["overdue_open"]),
        (_("average hours to acknowledge"), s["ack_time_hours"]),
        (_("average hours to answer"), s["answer_time_hours"]),
        (_("rated"), s["rated"]),
        (_("average rating"), s["avg_rating"]),
        (_("satisfied share (%)"), s["satisfied_share"]),
    ):
        sheet.append([label, value])

    sheet = book.create_sheet(_("By month"))
    sheet.append([title])
    sheet.append(
        [_("month"), _("requests"), _("answered"), _("late"), _("late share (%)"), _("rating")]
    )
    for row in data["months"]:
        sheet.append(
            [
                row["month"],
                row["total"],
                row["answered"],
                row["late"],
                row["late_share"],
                row["avg_rating"],
            ]
        )

    sheet = book.create_sheet(_("By category"))
    sheet.append([title])
    sheet.append([pgettext("request", "category"), _("requests"), _("rating")])
    for row in data["categories"]:
        sheet.append([safe_cell(row["label"]), row["total"], row["avg_rating"]])

    sheet = book.create_sheet(_("By organisation"))
    sheet.append([title])
    sheet.append(
        [
            _("organisation"),
            _("code"),
            _("requests"),
            _("open"),
            _("late"),
            _("late share (%)"),
            _("rating"),
        ]
    )
    for row in data["children"]:
        name = row["org"].name
        if row["own"]:
            name = _("%(name)s (its own requests)") % {"name": name}
        sheet.append(
            [
                safe_cell(name),
                safe_cell(row["org"].code),
                row["total"],
                row["open"],
                row["late"],
                row["late_share"],
                row["avg_rating"],
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
