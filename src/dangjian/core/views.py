"""Pages of the core app: home dashboard, organisation tree and pages, roles, audit log, profile."""

import datetime

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST

from . import audit, exports, jobs, selectors, services
from .errors import NotFound, ServiceError
from .forms import (
    AuditFilterForm,
    DissolveForm,
    MoveForm,
    OrganizationForm,
    RoleAssignForm,
    TokenForm,
)
from .models import ApiToken, CalendarDayKind, Job, JobStatus, OrgKind, RoleAssignment


def _org_or_404(user, pk, action="org.view"):
    try:
        return selectors.get_organization(user, pk, action)
    except NotFound:
        raise Http404 from None


def _apply_error(form, exc: ServiceError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


# Home ----------------------------------------------------------------------------------------


@login_required
def home(request):
    figures = selectors.dashboard_figures(request.user)
    kind_labels = dict(OrgKind.choices)
    chart = {
        "labels": [str(kind_labels[k]) for k in figures["orgs_by_kind"]],
        "values": list(figures["orgs_by_kind"].values()),
    }
    return render(
        request,
        "core/home.html",
        {
            "figures": figures,
            "chart": chart,
            "chart_rows": list(zip(chart["labels"], chart["values"], strict=True)),
            "roots": selectors.scope_roots(request.user)[:20],
            "full_members": figures["members_by_category"].get("full", 0),
            "probationary_members": figures["members_by_category"].get("probationary", 0),
            # loaded by htmx from committees:home_card: the shape report is the costly part
            "committee_card": selectors.can(request.user, "org.view"),
        },
    )


# Organisation tree ---------------------------------------------------------------------------


@login_required
def org_tree(request):
    query = request.GET.get("q", "").strip()
    results = list(selectors.search_organizations(request.user, query)) if query else None
    roots = list(selectors.scope_roots(request.user))
    if not roots and not selectors.can(request.user, "org.view"):
        raise Http404
    return render(
        request, "core/org_tree.html", {"roots": roots, "query": query, "results": results}
    )


@login_required
def org_children(request, pk):
    org = _org_or_404(request.user, pk)
    show_dissolved = request.GET.get("dissolved") == "1"
    children = selectors.children_of(request.user, org, include_dissolved=show_dissolved)
    return render(request, "core/_tree_nodes.html", {"nodes": children})


@login_required
def org_detail(request, pk):
    org = _org_or_404(request.user, pk)
    user = request.user
    children = selectors.children_of(user, org, include_dissolved=True)
    page = Paginator(children, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    member_count, counts = selectors.member_counts(org, list(page.object_list))
    for child in page.object_list:
        child.member_count = counts.get(child.pk, 0)
    from dangjian.committees import selectors as committee_selectors
    from dangjian.committees.views import annotate_terms

    from .models import BRANCH_KINDS

    term = committee_selectors.current_term(user, org)
    if term is not None:
        annotate_terms([term])
    return render(
        request,
        "core/org_detail.html",
        {
            "org": org,
            "holders": list(committee_selectors.current_holders(user, org)),
            "term": term,
            "may_split": org.kind in BRANCH_KINDS,
            "ancestors": selectors.ancestors_visible(user, org),
            "page": page,
            "member_count": member_count,
            "assignments": selectors.role_assignments(user, org),
            "role_form": RoleAssignForm(),
            "may": {
                action.replace(".", "_"): selectors.can(user, action, org)
                for action in (
                    "org.create",
                    "org.change",
                    "org.move",
                    "org.dissolve",
                    "role.view",
                    "role.assign",
                    "audit.view",
                )
            },
        },
    )


@login_required
def org_create(request, parent_pk):
    parent = _org_or_404(request.user, parent_pk)
    if not selectors.can(request.user, "org.create", parent):
        raise Http404
    form = OrganizationForm(request.POST or None, parent=parent)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.create_organization(actor=request.user, parent=parent, **form.values())
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("“%(name)s” was created.") % {"name": org.name})
            return redirect("core:org_detail", pk=org.pk)
    return render(
        request,
        "core/org_form.html",
        {"form": form, "parent": parent, "title": _("New sub-organisation")},
    )


@login_required
def org_edit(request, pk):
    org = _org_or_404(request.user, pk)
    if not selectors.can(request.user, "org.change", org):
        raise Http404
    initial = {name: getattr(org, name) for name in services.EDITABLE_ORG_FIELDS}
    form = OrganizationForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_organization(actor=request.user, org=org, **form.values())
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("core:org_detail", pk=org.pk)
    return render(
        request, "core/org_form.html", {"form": form, "org": org, "title": _("Edit organisation")}
    )


@login_required
def org_move(request, pk):
    org = _org_or_404(request.user, pk)
    if not selectors.can(request.user, "org.move", org):
        raise Http404
    form = MoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            target = selectors.get_organization_by_code(
                request.user, form.cleaned_data["parent_code"], "org.move"
            )
            services.move_organization(actor=request.user, org=org, new_parent=target)
        except NotFound:
            form.add_error("parent_code", _("No organisation with this code in your scope."))
        except ServiceError as exc:
            form.add_error("parent_code", str(exc.message))
        else:
            messages.success(request, _("Moved."))
            return redirect("core:org_detail", pk=org.pk)
    return render(
        request,
        "core/org_action.html",
        {"form": form, "org": org, "title": _("Move organisation"), "button": _("Move")},
    )


@login_required
def org_dissolve(request, pk):
    org = _org_or_404(request.user, pk)
    if not selectors.can(request.user, "org.dissolve", org):
        raise Http404
    form = DissolveForm(request.POST or None, initial={"on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            target = None
            if form.cleaned_data["move_members_to"]:
                target = selectors.get_organization_by_code(
                    request.user, form.cleaned_data["move_members_to"], "org.dissolve"
                )
            services.dissolve_organization(
                actor=request.user, org=org, on=form.cleaned_data["on"], move_members_to=target
            )
        except NotFound:
            form.add_error("move_members_to", _("No organisation with this code in your scope."))
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("“%(name)s” was dissolved.") % {"name": org.name})
            return redirect("core:org_detail", pk=org.pk)
    return render(
        request,
        "core/org_action.html",
        {
            "form": form,
            "org": org,
            "title": _("Dissolve organisation"),
            "button": _("Dissolve"),
            "danger": True,
        },
    )


# Roles ---------------------------------------------------------------------------------------


@login_required
@require_POST
def role_assign(request, pk):
    org = _org_or_404(request.user, pk)
    if not selectors.can(request.user, "role.assign", org):
        raise Http404
    form = RoleAssignForm(request.POST)
    if form.is_valid():
        found = list(selectors.assignable_users(request.user, org, form.cleaned_data["username"]))
        exact = [u for u in found if u.username.lower() == form.cleaned_data["username"].lower()]
        target = exact[0] if exact else (found[0] if len(found) == 1 else None)
        if target is None:
            messages.error(
                request,
                _("No single account matches “%(text)s”.")
                % {"text": form.cleaned_data["username"]},
            )
        else:
            try:
                services.assign_role(
                    actor=request.user, user=target, org=org, role=form.cleaned_data["role"]
                )
            except ServiceError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Role assigned to %(user)s.") % {"user": target})
    else:
        messages.error(request, _("Fill in the account and the role."))
    return redirect(reverse("core:org_detail", args=[org.pk]) + "#roles")


@login_required
@require_POST
def role_revoke(request, pk):
    assignment = RoleAssignment.objects.select_related("organization", "user").filter(pk=pk).first()
    if assignment is None or not selectors.can(request.user, "role.view", assignment.organization):
        raise Http404
    try:
        services.revoke_role(actor=request.user, assignment=assignment)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Role revoked."))
    return redirect(reverse("core:org_detail", args=[assignment.organization_id]) + "#roles")


# Audit log -----------------------------------------------------------------------------------


def _filtered_events(request):
    form = AuditFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    return form, data, exports.filter_audit_events(request.user, data)


@login_required
def audit_list(request):
    if not selectors.can(request.user, "audit.view"):
        raise Http404
    form, _data, events = _filtered_events(request)
    page = Paginator(events, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "core/audit_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "may_export": selectors.can(request.user, "audit.export"),
        },
    )


@login_required
@require_POST
def audit_export(request):
    """Starts the export as a background job and shows its progress."""
    if not selectors.can(request.user, "audit.export"):
        raise Http404
    form, data, _events = _filtered_events(request)
    filters = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in data.items() if v}
    with transaction.atomic():
        job = jobs.start_job(
            actor=request.user,
            kind="audit_export",
            title=_("Audit log export"),
            params={"filters": filters, "language": get_language()},
        )
        audit.record(
            request.user,
            "audit.export",
            job,
            after={"filters": filters},
            label=_("audit log export"),
        )
    return redirect("core:job_detail", pk=job.pk)


# Background jobs -----------------------------------------------------------------------------


def _own_job(request, pk) -> Job:
    job = Job.objects.filter(pk=pk, user=request.user).first()
    if job is None:
        raise Http404
    return job


@login_required
def job_detail(request, pk):
    return render(request, "core/job_detail.html", {"job": _own_job(request, pk)})


@login_required
def job_progress(request, pk):
    return render(request, "core/_job_progress.html", {"job": _own_job(request, pk)})


@login_required
def job_download(request, pk):
    job = _own_job(request, pk)
    if job.status != JobStatus.DONE or not job.result:
        raise Http404
    return FileResponse(job.result.open("rb"), as_attachment=True, filename=job.result_name)


# Accounts ------------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "core/login.html"
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "core/password_change.html"
    success_url = reverse_lazy("core:profile")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_password_change(user=self.request.user)
        messages.success(self.request, _("Your password was changed."))
        return response


@login_required
def profile(request):
    form = TokenForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            _token, new_secret = services.create_api_token(
                actor=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            form = TokenForm()
    tokens = ApiToken.objects.filter(user=request.user).order_by("-created_at")
    assignments = request.user.role_assignments.select_related("organization").order_by("id")
    return render(
        request,
        "core/profile.html",
        {
            "form": form,
            "tokens": tokens,
            "new_secret": new_secret,
            "assignments": assignments,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def token_revoke(request, pk):
    token = ApiToken.objects.filter(pk=pk, user=request.user).first()
    if token is None:
        raise Http404
    services.revoke_api_token(actor=request.user, token=token)
    messages.success(request, _("Token revoked."))
    return redirect("core:profile")


# Errors --------------------------------------------------------------------------------------


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"code": "not_found", "message": "No such API endpoint."}, status=404)
    return render(request, "404.html", status=404)


def error_500(request):
    return render(request, "500.html", status=500)


# Notifications -------------------------------------------------------------------------------


def _safe_url(request, url: str) -> str:
    """Links of notifications stay on this site."""
    from django.utils.http import url_has_allowed_host_and_scheme

    if url.startswith("/") and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return ""


@login_required
def notifications(request):
    from .models import Notification

    qs = Notification.objects.filter(user=request.user).order_by("-created_at", "-id")
    page = Paginator(qs, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    for note in page.object_list:
        note.safe_url = _safe_url(request, note.url)
    return render(request, "core/notifications.html", {"page": page})


@login_required
@require_POST
def notification_read(request, pk=None):
    """Marks one notification (or, without pk, all of them) as read; with `go`, opens its link.
    Only the user's own notifications: anybody else's answers 404."""
    from . import services as core_services

    if pk is None:
        core_services.mark_notifications_read(user=request.user)
        return redirect("core:notifications")
    note = core_services.mark_notifications_read(user=request.user, pk=pk)
    if note is None:
        raise Http404
    target = _safe_url(request, note.url)
    if request.POST.get("go") and target:
        return redirect(target)
    back = reverse("core:notifications")
    page = request.POST.get("page", "")
    if page.isascii() and page.isdigit():
        back += f"?page={page}"
    return redirect(back)


# Working-day calendar ------------------------------------------------------------------------


class CalendarDayForm(forms.Form):
    day = forms.DateField(label=_lazy("date"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_lazy("kind of day"), choices=CalendarDayKind.choices)
    name = forms.CharField(label=_lazy("name"), max_length=32, required=False)
    note = forms.CharField(label=_lazy("note"), max_length=200, required=False)


# Column heads of the month grids, narrow enough for a phone (Chinese: 一 二 三 … 日).
CALENDAR_WEEKDAYS = [
    pgettext_lazy("calendar column", "Mo"),
    pgettext_lazy("calendar column", "Tu"),
    pgettext_lazy("calendar column", "We"),
    pgettext_lazy("calendar column", "Th"),
    pgettext_lazy("calendar column", "Fr"),
    pgettext_lazy("calendar column", "Sa"),
    pgettext_lazy("calendar column", "Su"),
]


def _calendar_year_or_404(year) -> int:
    low, high = services.CALENDAR_YEARS
    if year is None:
        return timezone.localdate().year
    if not low <= year <= high:
        raise Http404
    return year


def _calendar_months(year: int, entries: dict) -> list[dict]:
    """Twelve month grids (weeks from Monday), each day with what the calendar says of it."""
    import calendar as pycalendar

    from django.utils.dates import MONTHS

    from . import workdays

    cal = workdays.calendar_of([(day, entry.kind) for day, entry in entries.items()])
    today = timezone.localdate()
    weeks_of = pycalendar.Calendar(firstweekday=0).monthdatescalendar
    months = []
    for month in range(1, 13):
        weeks = [
            [
                {
                    "date": day,
                    "in_month": day.month == month,
                    "working": cal.is_working_day(day),
                    "weekend": day.weekday() >= 5,
                    "entry": entries.get(day),
                    "today": day == today,
                }
                for day in week
            ]
            for week in weeks_of(year, month)
        ]
        working = sum(1 for week in weeks for d in week if d["in_month"] and d["working"])
        months.append({"number": month, "name": MONTHS[month], "weeks": weeks, "working": working})
    return months


def _calendar_page(request, year: int, form=None):
    from . import workdays
    from .models import CalendarDay

    entries = {
        e.date: e
        for e in CalendarDay.objects.filter(
            date__gte=datetime.date(year, 1, 1), date__lte=datetime.date(year, 12, 31)
        )
    }
    may_manage = workdays.can_manage(request.user)
    if may_manage and form is None:
        form = CalendarDayForm(initial={"kind": CalendarDayKind.HOLIDAY})
    low, high = services.CALENDAR_YEARS
    return render(
        request,
        "core/calendar.html",
        {
            "year": year,
            "previous_year": year - 1 if year > low else None,
            "next_year": year + 1 if year < high else None,
            "months": _calendar_months(year, entries),
            "weekdays": CALENDAR_WEEKDAYS,
            "entries": list(entries.values()),
            "holiday_count": sum(1 for e in entries.values() if e.kind == CalendarDayKind.HOLIDAY),
            "may_manage": may_manage,
            "form": form if may_manage else None,
        },
    )


@login_required
def calendar_year(request, year=None):
    """The working-day calendar of a year: everyone may look; administrators change it here."""
    return _calendar_page(request, _calendar_year_or_404(year))


@login_required
@require_POST
def calendar_set(request):
    from . import workdays

    if not workdays.can_manage(request.user):
        raise Http404
    form = CalendarDayForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = services.set_calendar_day(
                actor=request.user,
                day=data["day"],
                kind=data["kind"],
                name=data["name"],
                note=data["note"],
            )
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("Saved %(day)s.") % {"day": entry.date.isoformat()})
            return redirect("core:calendar_year", year=entry.date.year)
    # The form again, with its errors, over the year of the day asked for.
    day = form.cleaned_data.get("day")
    low, high = services.CALENDAR_YEARS
    year = day.year if day and low <= day.year <= high else None
    return _calendar_page(request, _calendar_year_or_404(year), form=form)


@login_required
@require_POST
def calendar_remove(request):
    from . import workdays

    if not workdays.can_manage(request.user):
        raise Http404
    raw = request.POST.get("day", "")
    try:
        services.remove_calendar_day(actor=request.user, day=raw)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("core:calendar")
    day = datetime.date.fromisoformat(raw.strip())
    messages.success(request, _("Removed %(day)s from the calendar.") % {"day": day.isoformat()})
    return redirect("core:calendar_year", year=day.year)
