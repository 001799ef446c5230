"""Secretary's pages of organisational life (三会一课, 主题党日, 组织生活会, 民主评议): the list and the
month calendar of meetings, the meeting form, a meeting's page (attendance and leave, summary,
notice, recording as held, minutes, files, resolutions), the sign-in screen with its rotating QR
code for the projector, and an organisation's local frequency rules.

Every page reads through the selectors (404 outside the scope; 403 where the meeting is visible
but the viewer may not change it) and changes through the services; an action that fails comes
back on the page with what was typed and the message on its field (400, or 409 when the meeting
has moved on). Files are served here after the scope check, never from a public media address.
"""

import calendar
import datetime
import html
import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Forbidden, NotFound, ServiceError, ValidationFailed
from dangjian.core.models import Organization, OrgStatus
from dangjian.core.pages import form_errors as _form_errors
from dangjian.core.pages import form_status as _status
from dangjian.core.pages import or_404 as _or_404

from . import forms, rules, selectors, services
from .models import (
    Attendee,
    AttendeeState,
    Frequency,
    Meeting,
    MeetingFile,
    MeetingStatus,
)

VIEW = "meeting.view"
MANAGE = "meeting.manage"
CONFIGURE = "meeting.configure"
ORG_CHOICES = 1000  # organisations offered in a select; larger scopes narrow by ?org=
CALENDAR_LIMIT = 3000  # meetings drawn in one month's calendar (a county's month fits)
CALENDAR_PER_DAY = 6  # more in a day are behind a link to the list of that day


# Helpers ---------------------------------------------------------------------------------------


def _need(user, action=VIEW) -> None:
    if not core_selectors.can(user, action):
        raise Http404


def _meeting(user, pk) -> Meeting:
    return _or_404(selectors.get_meeting, user, pk)


def _may_manage(user, meeting: Meeting) -> bool:
    return core_selectors.can(user, MANAGE, meeting.organization)


def _managed(user, pk) -> Meeting:
    """A meeting the user may change: 404 outside the scope, 403 when only seen."""
    meeting = _meeting(user, pk)
    if not _may_manage(user, meeting):
        raise PermissionDenied
    return meeting


def _org(user, raw) -> Organization:
    return _or_404(core_selectors.get_organization, user, raw, VIEW)


def _top_org(user, action=VIEW) -> Organization:
    org = core_selectors.top_organization(user, action)
    if org is None:
        raise Http404
    return org


def _org_choices(user, action=VIEW, **filters) -> list[Organization]:
    """Active organisations of the scope in tree order, each with a `label` indented by depth."""
    found = list(
        core_selectors.organizations(user, action)
        .filter(status=OrgStatus.ACTIVE, **filters)
        .order_by("path")
        .only("id", "name", "code", "path", "depth", "kind")[:ORG_CHOICES]
    )
    top = min((o.depth for o in found), default=1)
    for org in found:
        org.label = "\u00a0\u00a0" * (org.depth - top) + org.name
    return found


def _label(activity_type):
    activity_type.label = services.type_name(activity_type)
    return activity_type


def _types_for(org: Organization) -> list:
    """The active kinds of meeting the organisation holds (DOMAIN §6), with their labels."""
    return [_label(t) for t in selectors.active_types() if org.kind in t.kind_set]


def _sign_in_url(request, meeting: Meeting, code: str) -> str:
    """What the QR code on the screen opens: the member's sign-in page with the current code."""
    try:
        path = reverse("meetings:sign_in", args=[meeting.pk])
    except NoReverseMatch:  # the member's pages are not there yet
        path = f"{reverse('meetings:list')}sign-in/{meeting.pk}/"
    return request.build_absolute_uri(path) + "?" + urlencode({"code": code})


# The list ----------------------------------------------------------------------------------------


@login_required
def meeting_list(request):
    """Meetings in the scope with filters, one page at a time; the attendance of the page's
    meetings is counted in one query."""
    user = request.user
    _need(user)
    form = forms.ListFilterForm(request.GET)
    form.is_valid()  # a bad value drops that filter only
    data = form.cleaned_data
    org = _org(user, data["org"]) if data.get("org") else None
    types = [_label(t) for t in selectors.active_types()]
    activity_type = next((t for t in types if t.pk == data.get("type")), None)
    qs = selectors.meeting_list(
        user,
        org=org,
        activity_type=activity_type,
        status=data.get("status") or "",
        since=data.get("since"),
        until=data.get("until"),
        text=data.get("q") or "",
    )
    page = Paginator(qs, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    labels = {t.pk: t.label for t in types}
    counts = {}
    if rows:
        counts = {
            c["meeting"]: c
            for c in Attendee.objects.filter(meeting__in=[m.pk for m in rows])
            .values("meeting")
            .annotate(
                expected=Count("id"), present=Count("id", filter=Q(state=AttendeeState.PRESENT))
            )
        }
    for m in rows:
        m.type_label = labels.get(m.activity_type_id) or services.type_name(m.activity_type)
        found = counts.get(m.pk, {})
        m.expected, m.present = found.get("expected", 0), found.get("present", 0)
    params = request.GET.copy()
    params.pop("page", None)
    new_org = org or core_selectors.top_organization(user, MANAGE)
    return render(
        request,
        "meetings/list.html",
        {
            "page": page,
            "rows": rows,
            "form": form,
            "org": org,
            "orgs": _org_choices(user),
            "types": types,
            "statuses": MeetingStatus.choices,
            "query": params.urlencode(),
            "may_schedule": core_selectors.can(user, MANAGE),
            "new_org": new_org if new_org and core_selectors.can(user, MANAGE, new_org) else None,
            "calendar_org": org or core_selectors.top_organization(user, VIEW),
        },
    )


# The month calendar ------------------------------------------------------------------------------


def _month(raw) -> tuple[int, int]:
    try:
        year, month = (int(p) for p in str(raw or "").split("-"))
        datetime.date(year, month, 1)
        if not 1921 <= year <= 2200:
            raise ValueError
    except ValueError:
        today = timezone.localdate()
        return today.year, today.month
    return year, month


def _shift(year: int, month: int, by: int) -> str:
    index = year * 12 + month - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@login_required
def month_calendar(request):
    """One month of an organisation's (subtree's) meetings, week by week."""
    user = request.user
    _need(user)
    raw = request.GET.get("org")
    org = _org(user, raw) if raw else _top_org(user)
    year, month = _month(request.GET.get("month"))
    found = list(selectors.month_meetings(org, year, month)[: CALENDAR_LIMIT + 1])
    truncated = len(found) > CALENDAR_LIMIT
    by_day: dict[datetime.date, list] = {}
    for m in found[:CALENDAR_LIMIT]:
        m.type_label = services.type_name(m.activity_type)
        m.local_start = timezone.localtime(m.starts_at)
        by_day.setdefault(m.local_start.date(), []).append(m)
    today = timezone.localdate()
    list_url = reverse("meetings:list")
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        cells = []
        for day in week:
            items = by_day.get(day, [])
            cells.append(
                {
                    "day": day,
                    "inside": day.month == month,
                    "today": day == today,
                    "meetings": items[:CALENDAR_PER_DAY],
                    "more": max(0, len(items) - CALENDAR_PER_DAY),
                    "more_url": f"{list_url}?"
                    + urlencode(
                        {"org": org.pk, "since": day.isoformat(), "until": day.isoformat()}
                    ),
                }
            )
        weeks.append(cells)
    may_schedule = core_selectors.can(user, MANAGE, org) and bool(_types_for(org))
    return render(
        request,
        "meetings/calendar.html",
        {
            "org": org,
            "orgs": _org_choices(user),
            "weeks": weeks,
            "month": datetime.date(year, month, 1),
            "month_value": f"{year:04d}-{month:02d}",
            "previous": _shift(year, month, -1),
            "next": _shift(year, month, +1),
            "this_month": f"{today.year:04d}-{today.month:02d}",
            "count": len(found[:CALENDAR_LIMIT]),
            "truncated": truncated,
            "weekdays": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
            "may_schedule": may_schedule,
        },
    )


# The meeting form --------------------------------------------------------------------------------


def _recorders(user, org: Organization, current=None) -> list:
    """People who may keep the record: those holding a role at the organisation (and whoever
    keeps it now)."""
    found = {}
    for assignment in core_selectors.role_assignments(user, org):
        found.setdefault(assignment.user.pk, assignment.user)
    if current is not None:
        found.setdefault(current.pk, current)
    return sorted(found.values(), key=lambda u: (str(u), u.pk))


def _meeting_values(form) -> dict:
    data = form.cleaned_data
    activity_type = form.chosen_type()
    hours = (data.get("class_hours") or "").strip()
    return {
        "activity_type": activity_type,
        "topic": data["topic"],
        "starts_at": data["starts_at"],
        "ends_at": data.get("ends_at"),
        "place": data["place"],
        "online_link": data["online_link"],
        "host": data["host"],
        "recorder": form.chosen_recorder(),
        "lecturer": data["lecturer"],
        "lecture_title": data["lecture_title"],
        "agenda": data["agenda"],
        "class_hours": hours or (activity_type.class_hours if activity_type else 0),
    }


def _new_initial(request, types) -> dict:
    """A new meeting's form: the kind asked for (?type=code) or the first, on the day asked
    for (?date=) or tomorrow, at 14:00, with the kind's class hours."""
    chosen = next((t for t in types if t.code == request.GET.get("type")), None)
    chosen = chosen or (types[0] if types else None)
    try:
        day = datetime.date.fromisoformat(str(request.GET.get("date") or ""))
    except ValueError:
        day = timezone.localdate() + datetime.timedelta(days=1)
    start = timezone.make_aware(datetime.datetime(day.year, day.month, day.day, 14))
    initial = {"starts_at": start, "ends_at": start + datetime.timedelta(hours=2)}
    if chosen is not None:
        initial |= {"activity_type": chosen.pk, "class_hours": chosen.class_hours}
        initial["topic"] = chosen.label
    return initial


def _form_page(request, form, *, org, meeting=None, status=None):
    return render(
        request,
        "meetings/form.html",
        {
            "form": form,
            "org": org,
            "meeting": meeting,
            "types": form.types,
            "title": _("Edit the meeting") if meeting else _("New meeting"),
            "cancel_form": forms.CancelForm() if meeting else None,
        },
        status=status or _status(form),
    )


def _holding_orgs(user) -> list[Organization]:
    kinds = set()
    for t in selectors.active_types():
        kinds |= t.kind_set
    return _org_choices(user, MANAGE, kind__in=sorted(kinds))


@login_required
def meeting_new(request):
    """A new meeting at ?org= (chosen first when the user manages several organisations)."""
    user = request.user
    _need(user)
    raw = request.GET.get("org")
    if not raw:
        if not core_selectors.can(user, MANAGE):
            raise PermissionDenied
        orgs = _holding_orgs(user)
        if len(orgs) != 1:
            return render(request, "meetings/choose_org.html", {"orgs": orgs})
        org = orgs[0]
    else:
        org = _org(user, raw)
    if not core_selectors.can(user, MANAGE, org):
        raise PermissionDenied
    types = _types_for(org)
    recorders = _recorders(user, org)
    form = forms.MeetingForm(
        request.POST or None,
        types=types,
        recorders=recorders,
        initial=_new_initial(request, types),
    )
    if request.method == "POST" and form.is_valid():
        try:
            meeting = services.schedule(actor=user, organization=org, **_meeting_values(form))
        except NotFound:
            raise Http404 from None
        except Forbidden:
            raise PermissionDenied from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The meeting was scheduled."))
            return redirect("meetings:detail", meeting.pk)
    return _form_page(request, form, org=org)


@login_required
def meeting_edit(request, pk):
    user = request.user
    meeting = _managed(user, pk)
    org = meeting.organization
    types = _types_for(org)
    if all(t.pk != meeting.activity_type_id for t in types):
        types.append(_label(meeting.activity_type))  # a kind retired since: keep it editable
    recorder = meeting.recorder
    local = timezone.localtime
    initial = {
        "activity_type": meeting.activity_type_id,
        "topic": meeting.topic,
        "starts_at": local(meeting.starts_at),
        "ends_at": local(meeting.ends_at),
        "place": meeting.place,
        "online_link": meeting.online_link,
        "host": meeting.host,
        "recorder": meeting.recorder_id,
        "lecturer": meeting.lecturer,
        "lecture_title": meeting.lecture_title,
        "agenda": meeting.agenda,
        "class_hours": meeting.class_hours,
    }
    form = forms.MeetingForm(
        request.POST or None,
        types=types,
        recorders=_recorders(user, org, recorder),
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update(actor=user, meeting=meeting, **_meeting_values(form))
        except NotFound:
            raise Http404 from None
        except Forbidden:
            raise PermissionDenied from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The meeting was saved."))
            return redirect("meetings:detail", meeting.pk)
    return _form_page(request, form, org=org, meeting=meeting)


# A meeting's page --------------------------------------------------------------------------------


def _rows(attendees, bound) -> list:
    """The attendance grid: each attendee with the state to show checked (what was typed, when
    the page comes back with an error)."""
    typed = bound.posted() if isinstance(bound, forms.AttendanceForm) else {}
    for a in attendees:
        a.chosen = typed.get(a.pk, a.state)
    return attendees


def _rule_numbers(facts: dict) -> dict:
    """The thresholds of DOMAIN §4 for this meeting's voting members."""
    voters = facts["voting_members"]
    return {"voters": voters, "quorum": voters // 2 + 1, "needed": voters // 2 + 1}


def _detail_context(request, meeting: Meeting, *, bound=None) -> dict:
    user = request.user
    may_manage = _may_manage(user, meeting)
    attendees = list(meeting.attendees.all())
    facts = services.summary(meeting)
    initial = {"minutes": {"minutes": meeting.minutes}, "resolution": {"written": 0}}
    action_forms = {}
    for action, form_class in forms.ACTION_FORMS.items():
        if bound is not None and bound.action == action:
            action_forms[action] = bound
        else:
            action_forms[action] = form_class(initial=initial.get(action, {}))
    now = timezone.now()
    opens, closes = services.signin_window(meeting)
    activity_type = _label(meeting.activity_type)
    cancelled = meeting.status == MeetingStatus.CANCELLED
    typed = bound.data.get("minutes") if isinstance(bound, forms.MinutesForm) else None
    return {
        "meeting": meeting,
        "type_label": activity_type.label,
        "may_manage": may_manage,
        "rows": _rows(attendees, bound),
        "asked": [a for a in attendees if a.leave_state == "asked"],
        "summary": facts,
        "numbers": _rule_numbers(facts),
        "files": list(meeting.files.all()),
        "resolutions": list(meeting.resolutions.all()),
        "forms": action_forms,
        # The editor puts this into its area as HTML: cleaned, also when it is what was typed.
        "minutes_value": services.sanitise(str(typed)) if typed is not None else meeting.minutes,
        "failed": bound.action if bound is not None else "",
        # An action whose form the page does not show (the meeting was cancelled, or does not
        # vote): the form is gone, its message stays.
        "orphan_errors": [e for errors in bound.errors.values() for e in errors]
        if bound is not None
        and (
            (cancelled and bound.action in ("cancel", "resolution"))
            or (bound.action == "resolution" and not meeting.activity_type.votes)
        )
        else [],
        "choices": forms.ATTENDANCE_CHOICES,
        "planned": meeting.status == MeetingStatus.PLANNED,
        "cancelled": cancelled,
        "started": meeting.starts_at <= now,
        "signin_open": opens <= now.timestamp() <= closes,
        "is_lecture": meeting.activity_type.code == "lecture"
        or bool(meeting.lecturer or meeting.lecture_title),
    }


@login_required
def detail(request, pk):
    meeting = _meeting(request.user, pk)
    return render(request, "meetings/detail.html", _detail_context(request, meeting))


def _attendance(user, meeting, data):
    changed = services.set_attendance(
        actor=user, meeting=meeting, states=data["states"], shown=data.get("shown") or None
    )
    return _("Attendance saved (%(n)d changed).") % {"n": changed}


def _leave(user, meeting, data):
    attendee = meeting.attendees.filter(pk=data["attendee"]).first()
    if attendee is None:
        raise ValidationFailed(
            _("Nobody of this meeting asked for this leave."), code="not_expected", field="attendee"
        )
    approve = data["decision"] == "approve"
    services.decide_leave(actor=user, attendee=attendee, approve=approve)
    if approve:
        return _("Leave of %(name)s approved.") % {"name": attendee.name}
    return _("Leave of %(name)s refused.") % {"name": attendee.name}


def _notice(user, meeting, data):
    told = services.send_notice(actor=user, meeting=meeting)
    return _("The notice was sent to %(n)d people.") % {"n": told}


def _minutes(user, meeting, data):
    text = data["minutes"] or ""
    if "<" not in text:
        # Typed into the plain text area (no JavaScript): one paragraph per line.
        text = "".join(f"<p>{html.escape(line)}</p>" for line in text.splitlines() if line.strip())
    services.save_minutes(actor=user, meeting=meeting, html=text)
    return _("The minutes were saved.")


def _resolution(user, meeting, data):
    found = services.add_resolution(
        actor=user,
        meeting=meeting,
        title=data["title"],
        yes=data["yes"],
        no=data["no"],
        abstain=data["abstain"],
        written=data["written"],
        secret_ballot=data["secret_ballot"],
    )
    if found.passed:
        return _("The resolution passed.")
    return _("The resolution did not pass.")


def _does(call, message):
    def run(user, meeting, data):
        call(user, meeting, data)
        return str(message)

    return run


# action -> (what it does with the form's data returning the message, where the page returns)
ACTIONS = {
    "notice": (_notice, "notice"),
    "held": (
        _does(
            lambda user, m, d: services.mark_held(actor=user, meeting=m),
            gettext_lazy("The meeting was recorded as held."),
        ),
        "summary",
    ),
    "cancel": (
        _does(
            lambda user, m, d: services.cancel(actor=user, meeting=m, reason=d["reason"]),
            gettext_lazy("The meeting was cancelled."),
        ),
        "",
    ),
    "attendance": (_attendance, "attendance"),
    "leave": (_leave, "attendance"),
    "minutes": (_minutes, "minutes"),
    "file": (
        _does(
            lambda user, m, d: services.add_file(actor=user, meeting=m, upload=d["file"]),
            gettext_lazy("The file was added."),
        ),
        "files",
    ),
    "resolution": (_resolution, "resolutions"),
}


@login_required
@require_POST
def act(request, pk, action):
    """One action of the meeting's page; errors come back on the page with what was typed."""
    if action not in ACTIONS:
        raise Http404
    user = request.user
    meeting = _managed(user, pk)
    form = forms.ACTION_FORMS[action](request.POST, request.FILES)
    status = 400
    if form.is_valid():
        run, anchor = ACTIONS[action]
        try:
            done = run(user, meeting, form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except Forbidden:
            raise PermissionDenied from None
        except ServiceError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            messages.success(request, done)
            url = reverse("meetings:detail", args=[meeting.pk])
            return redirect(f"{url}#{anchor}" if anchor else url)
    meeting = _meeting(user, pk)  # as it is now (the failed change left it as it was)
    context = _detail_context(request, meeting, bound=form)
    return render(request, "meetings/detail.html", context, status=status)


CONTENT_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


@login_required
def meeting_file(request, pk, file_pk):
    """A file of a meeting in the viewer's scope (the files are not served publicly)."""
    meeting = _meeting(request.user, pk)
    found = MeetingFile.objects.filter(pk=file_pk, meeting=meeting).first()
    if found is None:
        raise Http404
    try:
        handle = found.file.open("rb")
    except OSError:
        raise Http404 from None
    suffix = "." + found.file.name.rsplit(".", 1)[-1].lower() if "." in found.file.name else ""
    kind = CONTENT_TYPES.get(suffix) or mimetypes.guess_type(found.file.name)[0]
    response = FileResponse(
        handle,
        content_type=kind or "application/octet-stream",
        as_attachment=found.kind != "photo",
        filename=found.name,
    )
    response["Cache-Control"] = "private, max-age=3600"
    return response


# The sign-in screen ------------------------------------------------------------------------------


def _screen_context(request, meeting: Meeting) -> dict:
    import segno

    code = services.current_code(meeting)
    url = _sign_in_url(request, meeting, code)
    qr = segno.make(url, error="m")
    now = timezone.now().timestamp()
    opens, closes = services.signin_window(meeting)
    return {
        "meeting": meeting,
        "type_label": services.type_name(meeting.activity_type),
        "code": code,
        "url": url,
        "qr_svg": qr.svg_inline(scale=8, border=2, omitsize=True, dark="#000", light="#fff"),
        "summary": services.summary(meeting),
        "refresh": rules.CODE_SECONDS,
        "open": meeting.status != MeetingStatus.CANCELLED and opens <= now <= closes,
        "not_yet": now < opens,
        "opens_at": meeting.starts_at - rules.SIGNIN_BEFORE,
    }


@never_cache
@login_required
def screen(request, pk):
    """The QR code of the meeting for the projector: members scan it to sign in."""
    meeting = _managed(request.user, pk)
    return render(request, "meetings/screen.html", _screen_context(request, meeting))


@never_cache
@login_required
def screen_code(request, pk):
    """The screen's code and counter (htmx polls it every 30 seconds)."""
    meeting = _managed(request.user, pk)
    return render(request, "meetings/_screen_code.html", _screen_context(request, meeting))


# Local frequency rules ---------------------------------------------------------------------------


def _frequency_rows(org: Organization) -> list[dict]:
    """Every active kind of meeting with the frequency in force at `org` and where it comes
    from: the deepest local rule at or above it, else the kind's own (national) frequency."""
    types = [_label(t) for t in selectors.active_types()]
    # The scope was checked on `org`; its ancestors' rules are what applies to it.
    in_force = selectors.rules_in_force(org)
    local = {(r.organization.path, type_id): r.frequency for type_id, r in in_force.items()}
    required = {t.pk: f for t, f in selectors.required_activities(org, types, local)}
    labels = dict(Frequency.choices)
    rows = []
    for t in types:
        source = in_force.get(t.pk)
        frequency = source.frequency if source is not None else t.frequency
        rows.append(
            {
                "type": t,
                "held_here": org.kind in t.kind_set,
                "required": t.pk in required,
                "frequency": frequency,
                "frequency_label": labels.get(frequency, frequency),
                "default_label": labels.get(t.frequency, t.frequency),
                "rule": source,
                "here": source is not None and source.organization_id == org.pk,
            }
        )
    return rows


@login_required
def frequency_rules(request):
    """The kinds of meeting with their frequencies at ?org=, and the local rules set there."""
    user = request.user
    _need(user)
    raw = request.GET.get("org")
    org = _org(user, raw) if raw else _top_org(user)
    may_configure = core_selectors.can(user, CONFIGURE, org)
    types = [_label(t) for t in selectors.active_types()]
    form = None
    if request.method == "POST":
        if not may_configure:
            raise PermissionDenied
        form = forms.FrequencyRuleForm(request.POST, types=types)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.set_frequency_rule(
                    actor=user,
                    organization=org,
                    activity_type=form.chosen_type(),
                    frequency=data["frequency"] or None,
                    note=data["note"],
                )
            except NotFound:
                raise Http404 from None
            except Forbidden:
                raise PermissionDenied from None
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("The local rule was saved."))
                return redirect(f"{reverse('meetings:rules')}?{urlencode({'org': org.pk})}")
    elif may_configure:
        form = forms.FrequencyRuleForm(types=types)
    return render(
        request,
        "meetings/rules.html",
        {
            "org": org,
            "orgs": _org_choices(user),
            "rows": _frequency_rows(org),
            "form": form,
            "may_configure": may_configure,
            "frequencies": Frequency.choices,
        },
        status=_status(form),
    )
