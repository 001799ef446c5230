"""Compliance of organisational life (组织生活落实情况), at /meetings/compliance/?org=&year=.

- An organisation that holds activities (a branch, joint branch, general branch or Party group):
  what is due next, then each required activity with its frequency and where that rule comes
  from, period by period (done, due, overdue, upcoming) with the meetings held and planned.
- A committee or general branch: a heat map of its branches × 12 months (a table of coloured
  cells, and a stacked bar of done / due / overdue per month), paginated on the server, with an
  "only overdue" filter, the organisations below to drill into, and the branches most overdue.

Reads go through meetings.selectors and core.selectors; an organisation outside the user's
scope answers 404. The number of queries does not grow with the number of branches.
"""

import datetime
from collections import defaultdict
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import selectors as core_selectors
from dangjian.core.models import Organization, OrgKind
from dangjian.core.pages import organization_or_top

from . import rules, selectors
from .display import LOOKS, look, period_label
from .models import Frequency, MeetingStatus
from .services import type_name

VIEW = selectors.VIEW
EARLIEST_YEAR = 2000
HEATMAP_KINDS = (OrgKind.COMMITTEE, OrgKind.GENERAL_BRANCH)  # show their branches' heat map
CHILDREN_SHOWN = 100  # organisations below listed with their counts (most overdue first)
OVERDUE_SHOWN = 20  # branches in the "most overdue" list
# Types whose default frequency is a common local rule, not the national text (rules.py).
LOCAL_DEFAULTS = {"lecture"}


def _today() -> datetime.date:
    return timezone.localdate()


def _year(value, today: datetime.date) -> int:
    """The year asked for, or this year for anything unreadable or out of range."""
    text = str(value or "")
    if text.isascii() and text.isdigit() and len(text) == 4:
        year = int(text)
        if EARLIEST_YEAR <= year <= today.year + 1:
            return year
    return today.year


def _org(user, raw) -> Organization:
    return organization_or_top(user, raw, VIEW)


def _url(org_id: int, year: int, **extra) -> str:
    query = {"org": org_id, "year": year, **{k: v for k, v in extra.items() if v}}
    return f"{reverse('meetings:compliance')}?{urlencode(query)}"


@login_required
def compliance(request):
    user = request.user
    today = _today()
    year = _year(request.GET.get("year"), today)
    org = _org(user, request.GET.get("org"))
    context = {
        "org": org,
        "year": year,
        "today": today,
        "years": list(range(today.year + 1, max(EARLIEST_YEAR, today.year - 8) - 1, -1)),
        "prev_url": _url(org.pk, year - 1) if year > EARLIEST_YEAR else None,
        "next_url": _url(org.pk, year + 1) if year <= today.year else None,
        "ancestors": [
            {"org": a, "url": _url(a.pk, year)}
            for a in core_selectors.ancestors_visible(user, org)
            if core_selectors.can(user, VIEW, a)
        ],
        "roots": _other_roots(user, org, year),
        "looks": [look(s) for s in LOOKS],
    }
    if org.kind not in HEATMAP_KINDS or org.kind == OrgKind.GENERAL_BRANCH:
        context["own"] = _own(user, org, year, today)
    if org.kind in HEATMAP_KINDS:
        context["heat"] = _heat(request, user, org, year, today)
    return render(request, "meetings/compliance/page.html", context)


def _other_roots(user, org: Organization, year: int) -> list[dict]:
    """The other places where the user's scope starts (when it starts in several)."""
    prefixes = core_selectors.scope_for(user, VIEW)
    if "" in prefixes or len(prefixes) < 2:
        return []
    found = Organization.objects.filter(path__in=prefixes).order_by("display_order", "path")[:50]
    return [{"org": o, "url": _url(o.pk, year), "current": o.pk == org.pk} for o in found]


# One organisation's own activities -------------------------------------------------------------


def _sources(org: Organization, types) -> dict[int, dict]:
    """Where each type's frequency comes from for this organisation: the deepest local rule at
    or above it, else the type's own setting (the national text, a common local rule, or the
    platform's)."""
    rules_here = selectors.rules_in_force(org)
    national = rules.version_on(_today())
    out = {}
    for t in types:
        rule = rules_here.get(t.pk)
        if rule is not None:
            out[t.pk] = {
                "local": True,
                "text": _("Local rule of %(org)s") % {"org": rule.organization.name},
                "note": rule.note,
            }
            continue
        default = national.get(t.code) if t.builtin else None
        if default is not None and default.frequency == t.frequency:
            if t.code in LOCAL_DEFAULTS:
                text = _("Common local rule (the national text sets none for branches)")
            else:
                text = _("Branch work regulations (%(version)s)") % {"version": national.code}
        else:
            text = _("Set for the whole platform")
        out[t.pk] = {"local": False, "text": text, "note": ""}
    return out


def _own(user, org: Organization, year: int, today: datetime.date) -> dict:
    result = selectors.compliance(org, year, today)
    types = [t for t, _f, _s in result.activities]
    sources = _sources(org, types)
    # The meetings of the year, held and planned, by type and month (one query).
    by_month = defaultdict(list)
    for meeting in (
        selectors.meetings(user)
        .filter(organization=org, starts_at__year=year)
        .exclude(status=MeetingStatus.CANCELLED)
        .order_by("starts_at", "id")
    ):
        local = timezone.localtime(meeting.starts_at)
        by_month[(meeting.activity_type_id, local.month)].append(meeting)
    frequency_names = dict(Frequency.choices)
    activities, due_next, overdue = [], [], []
    for t, frequency, states in result.activities:
        periods = []
        for s in states:
            found = [m for month in s.period.months for m in by_month.get((t.pk, month), [])]
            item = {
                "label": period_label(frequency, s.period),
                "period": s.period,
                "look": look(s.state),
                "held": s.held,
                "meetings": [m for m in found if m.status == MeetingStatus.HELD],
                "planned": [m for m in found if m.status == MeetingStatus.PLANNED],
                "activity": type_name(t),
            }
            periods.append(item)
            if s.state == rules.DUE:
                item["days_left"] = (s.period.end - today).days
                due_next.append(item)
            elif s.state == rules.OVERDUE:
                overdue.append(item)
        activities.append(
            {
                "type": t,
                "name": type_name(t),
                "frequency": frequency_names.get(frequency, frequency),
                "source": sources[t.pk],
                "periods": periods,
                "done": sum(s.state == rules.DONE for s in states),
                "overdue": sum(s.state == rules.OVERDUE for s in states),
            }
        )
    due_next.sort(key=lambda item: (item["period"].end, item["activity"]))
    upcoming = []
    if not due_next:
        # Nothing runs now: the next period of each activity that starts later this year.
        for a in activities:
            later = [p for p in a["periods"] if p["look"]["state"] == rules.UPCOMING]
            if later:
                upcoming.append(later[0])
        upcoming.sort(key=lambda item: (item["period"].start, item["activity"]))
    return {
        "result": result,
        "activities": activities,
        "due_next": due_next,
        "upcoming": upcoming[:5],
        "overdue": overdue,
        "months": [look(s) for s in result.months],
        "rate": round(100 * result.done / result.required) if result.required else None,
    }


# A committee's heat map ------------------------------------------------------------------------


def _heat(request, user, org: Organization, year: int, today: datetime.date) -> dict:
    rows = selectors.heatmap(user, org, year, today)
    summary = selectors.heat_summary(rows)
    only_overdue = request.GET.get("overdue") == "1"
    shown = [r for r in rows if r.overdue] if only_overdue else rows
    page = Paginator(shown, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    looks = {state: look(state) for state in LOOKS}

    # The organisations directly below that have branches of their own: drill into their map.
    step = len(org.path) + Organization.steplen
    children = {
        c.path: c
        for c in core_selectors.organizations(user, VIEW)
        .filter(
            core_selectors.subtree_range("path", org.path),
            depth=org.depth + 1,
            kind__in=HEATMAP_KINDS,
            numchild__gt=0,
        )
        .only("id", "path", "name", "kind", "depth", "numchild")
    }
    counts = {path: {"branches": 0, "overdue": 0} for path in children}
    for r in rows:
        above = counts.get(r.org.path[:step]) if len(r.org.path) > step else None
        if above is not None:
            above["branches"] += 1
            above["overdue"] += bool(r.overdue)
    below = [{"org": c, **counts[path]} for path, c in children.items() if counts[path]["branches"]]
    below.sort(key=lambda c: (-c["overdue"], c["org"].path))
    for c in below[:CHILDREN_SHOWN]:
        c["url"] = _url(c["org"].pk, year)

    page_rows = []
    for r in page.object_list:
        parent = children.get(r.org.path[:step]) if len(r.org.path) > step else None
        page_rows.append(
            {
                "org": r.org,
                "url": _url(r.org.pk, year),
                "under": parent,
                "under_url": _url(parent.pk, year) if parent else None,
                "cells": [looks[s] for s in r.months],
                "overdue": r.overdue,
                "done": r.done,
                "required": r.required,
                "rate": round(100 * r.done / r.required) if r.required else None,
            }
        )
    worst = sorted((r for r in rows if r.overdue), key=lambda r: (-r.overdue, r.org.path))
    query = {"org": org.pk, "year": year}
    if only_overdue:
        query["overdue"] = 1
    states = (rules.DONE, rules.DUE, rules.OVERDUE)
    return {
        "rows": page_rows,
        "page": page,
        "page_range": list(
            page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
        ),
        "ellipsis": page.paginator.ELLIPSIS,
        "total": len(rows),
        "shown": len(shown),
        "only_overdue": only_overdue,
        "page_query": urlencode(query),
        "all_url": _url(org.pk, year),
        "overdue_url": _url(org.pk, year, overdue=1),
        "overdue_count": len(worst),
        "worst": [
            {"org": r.org, "url": _url(r.org.pk, year), "overdue": r.overdue}
            for r in worst[:OVERDUE_SHOWN]
        ],
        "below": below[:CHILDREN_SHOWN],
        "below_total": len(below),
        "chart": {
            "months": [f"{m:02d}" for m in range(1, 13)],
            "series": [{"state": s, "name": str(LOOKS[s][2]), "data": summary[s]} for s in states],
        },
        "summary": [
            {"look": looks[s], "counts": summary[s]}
            for s in (rules.DONE, rules.DUE, rules.OVERDUE, rules.UPCOMING)
        ],
    }
