"""Pages and documents of organisational life: a meeting's record (会议记录) as PDF and Word, the
minute book of a year (会议记录本), the democratic appraisal (民主评议党员) with the branch's
conclusions, and planning the year. Everything is looked up through the selectors first: outside
the user's scope a page or a document answers 404."""

import datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import NotFound, ServiceError
from dangjian.core.models import Organization
from dangjian.core.pages import organization_or_top

from . import documents, rules, selectors, services
from .models import Attendee, Conclusion, Frequency, Grade, MeetingStatus

VIEW = selectors.VIEW
MANAGE = services.MANAGE


def _meeting(user, pk, action: str = VIEW):
    try:
        return selectors.get_meeting(user, pk, action)
    except NotFound:
        raise Http404 from None


def _org(user, raw, action: str = VIEW) -> Organization:
    return organization_or_top(user, raw, action)


def _int(value, low: int, high: int) -> int | None:
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _year(raw, low: int, high: int) -> int:
    """The year asked for, this year when none is; 404 for one out of range (not an error page
    for a typo in a URL, nor a 500)."""
    if raw in (None, ""):
        return timezone.localdate().year
    year = _int(raw, low, high)
    if year is None:
        raise Http404
    return year


# Documents ---------------------------------------------------------------------------------------


@login_required
def record_pdf(request, pk):
    meeting = _meeting(request.user, pk)
    response = HttpResponse(documents.record_pdf(meeting), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{documents.file_stem(meeting)}.pdf"'
    return response


@login_required
def record_docx(request, pk):
    meeting = _meeting(request.user, pk)
    response = HttpResponse(documents.record_docx(meeting), content_type=documents.DOCX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{documents.file_stem(meeting)}.docx"'
    return response


@login_required
def book_pdf(request):
    """The minute book of an organisation's own meetings held in a year, in date order."""
    user = request.user
    org = _org(user, request.GET.get("org"))
    year = _year(request.GET.get("year"), 1921, timezone.localdate().year)
    meetings = selectors.meetings(user).filter(organization=org, starts_at__year=year)
    data = documents.minute_book_pdf(org, year, meetings)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{documents.book_stem(org, year)}.pdf"'
    return response


# Appraisal ---------------------------------------------------------------------------------------


def _grade_labels() -> dict[str, str]:
    return {value: str(label) for value, label in Grade.choices}


@login_required
@require_http_methods(["GET", "POST"])
def appraisal(request, pk):
    """The tally of a democratic appraisal (self-assessment, peers' grades counted, never who
    gave which) and the branch's conclusion on each member."""
    user = request.user
    meeting = _meeting(user, pk)
    if not meeting.activity_type.appraisal:
        raise Http404
    status, error, typed = 200, None, {}
    if request.method == "POST":
        member_id = _int(request.POST.get("member"), 1, 2**62)
        typed = {
            "member": member_id,
            "grade": str(request.POST.get("grade") or "")[:20],
            "note": str(request.POST.get("note") or "")[:600],
        }
        attendee = (
            Attendee.objects.filter(meeting=meeting, member_id=member_id, guest=False)
            .select_related("member")
            .first()
            if member_id
            else None
        )
        if attendee is None:
            error, status = _("Choose a member of the organisation."), 400
        else:
            try:
                services.conclude(
                    actor=user,
                    meeting=meeting,
                    member=attendee.member,
                    grade=typed["grade"],
                    note=typed["note"],
                )
            except NotFound:
                raise Http404 from None
            except ServiceError as exc:
                error, status = str(exc.message), exc.status
            else:
                messages.success(
                    request, _("The conclusion on %(name)s was saved.") % {"name": attendee.name}
                )
                url = reverse("meetings:appraisal", args=[meeting.pk])
                return redirect(f"{url}#member-{attendee.member_id}")
    context = _appraisal_context(request, meeting, error, typed)
    return render(request, "meetings/docs/appraisal.html", context, status=status)


def _appraisal_context(request, meeting, error, typed) -> dict:
    rows = selectors.appraisal_tally(meeting)
    notes = dict(Conclusion.objects.filter(meeting=meeting).values_list("member_id", "note"))
    labels = _grade_labels()
    totals = {grade: 0 for grade in rules.GRADES}
    for row in rows:
        row["note"] = notes.get(row["member"].pk, "")
        row["mine"] = typed.get("member") == row["member"].pk  # the row the error belongs to
        # None until the appraisal closes (the meeting held): counts seen while people rate
        # would tell who gave which.
        row["grade_counts"] = (
            [row["counts"][g] for g in rules.GRADES] if row["counts"] is not None else None
        )
        if row["conclusion"] in totals:
            totals[row["conclusion"]] += 1
    undecided = sum(1 for row in rows if row["conclusion"] not in totals)
    chart = {
        "title": _("Conclusions"),
        "data": [
            {"name": labels[g], "value": totals[g], "grade": g} for g in rules.GRADES if totals[g]
        ]
        + (
            [{"name": _("No conclusion yet"), "value": undecided, "grade": ""}] if undecided else []
        ),
    }
    return {
        "meeting": meeting,
        "type_name": services.type_name(meeting.activity_type),
        "rows": rows,
        "grades": [(g, labels[g]) for g in rules.GRADES],
        "labels": labels,
        "totals": [(labels[g], totals[g]) for g in rules.GRADES],
        "undecided": undecided,
        "counted": meeting.status == MeetingStatus.HELD,
        "chart": chart,
        "may_conclude": meeting.status != MeetingStatus.CANCELLED
        and core_selectors.can(request.user, MANAGE, meeting.organization),
        "error": error,
        "typed": typed,
    }


# Plan the year -----------------------------------------------------------------------------------


def _period_label(frequency: str, period: rules.Period) -> str:
    if frequency == rules.MONTH:
        return _("Month %(n)d") % {"n": period.index}
    if frequency == rules.QUARTER:
        return _("Quarter %(n)d") % {"n": period.index}
    if frequency == rules.HALF:
        return _("Half %(n)d") % {"n": period.index}
    return _("The year")


def plan_preview(user, org: Organization, year: int, today: datetime.date) -> list[dict]:
    """What services.plan_year would create: per required activity, each period of the year,
    'past' (ended: left for the secretary to record), 'has' (a meeting is there, planned or
    held) or 'new' (one will be planned)."""
    existing = set()
    for type_id, starts_at in (
        selectors.meetings(user)
        .filter(organization=org, starts_at__year=year)
        .exclude(status=MeetingStatus.CANCELLED)
        .values_list("activity_type_id", "starts_at")
    ):
        existing.add((type_id, timezone.localtime(starts_at).month))
    rows = []
    for activity_type, frequency in selectors.required_activities(org):
        periods = []
        for period in rules.periods(frequency, year):
            if period.end < today:
                state = "past"
            elif any((activity_type.pk, month) in existing for month in period.months):
                state = "has"
            else:
                state = "new"
            periods.append({"label": _period_label(frequency, period), "state": state})
        rows.append(
            {
                "type": activity_type,
                "name": services.type_name(activity_type),
                "frequency": Frequency(frequency).label,
                "periods": periods,
                "new": sum(p["state"] == "new" for p in periods),
            }
        )
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def plan(request):
    """Plan every required activity of a year in one step: first what would be planned, then
    the button."""
    user = request.user
    today = timezone.localdate()
    raw_org = request.POST.get("org") if request.method == "POST" else request.GET.get("org")
    raw_year = request.POST.get("year") if request.method == "POST" else request.GET.get("year")
    org = _org(user, raw_org)
    year = _year(raw_year, today.year, today.year + 1)
    status, errors = 200, {}
    typed = {"day": 15, "hour": 14}
    if request.method == "POST":
        typed = {"day": request.POST.get("day", ""), "hour": request.POST.get("hour", "")}
        day, hour = _int(typed["day"], 1, 28), _int(typed["hour"], 0, 23)
        if day is None:
            errors["day"] = _("A day from 1 to 28.")
        if hour is None:
            errors["hour"] = _("An hour from 0 to 23.")
        if not errors:
            try:
                made = services.plan_year(
                    actor=user, organization=org, year=year, day=day, hour=hour
                )
            except NotFound:
                raise Http404 from None
            except ServiceError as exc:
                errors[exc.field or "form"] = str(exc.message)
                status = exc.status
            else:
                if made:
                    messages.success(
                        request,
                        ngettext(
                            "%(n)d meeting of %(year)d was planned.",
                            "%(n)d meetings of %(year)d were planned.",
                            len(made),
                        )
                        % {"n": len(made), "year": year},
                    )
                else:
                    messages.info(
                        request,
                        _("Nothing was planned: every period still to come has a meeting."),
                    )
                return redirect(f"{reverse('meetings:list')}?{urlencode({'org': org.pk})}")
        status = status if status != 200 else 400
    rows = plan_preview(user, org, year, today)
    children = []
    if not rows:
        children = list(core_selectors.children_of(user, org).order_by("display_order", "path"))
    return render(
        request,
        "meetings/docs/plan.html",
        {
            "org": org,
            "year": year,
            "years": [today.year, today.year + 1],
            "rows": rows,
            "total_new": sum(r["new"] for r in rows),
            "may_plan": core_selectors.can(user, MANAGE, org),
            "children": children,
            "errors": errors,
            "typed": typed,
            "book_url": f"{reverse('meetings:book_pdf')}?{urlencode({'org': org.pk, 'year': year})}",
        },
        status=status,
    )
