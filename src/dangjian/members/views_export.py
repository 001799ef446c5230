"""Pages for the roster export, the PDF documents and the structure charts.

The list's filters travel as query parameters (the names of MemberFilter); bad input answers a
page naming the parameter (400), an organisation outside the user's scope answers 404.
"""

import tempfile

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import get_language

from dangjian.core import selectors
from dangjian.core.errors import NotFound, ServiceError
from dangjian.core.models import Organization

from . import documents, exporting, structure
from .columns import COLUMNS, DEFAULT_KEYS
from .selectors import get_member


def _may_view(user) -> None:
    if not selectors.scope_for(user, "member.view"):
        raise Http404


def _truthy(value) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


def _columns_param(data) -> list[str]:
    keys = data.getlist("columns") if hasattr(data, "getlist") else data.get("columns") or []
    found: list[str] = []
    for value in keys:
        found += [k.strip() for k in str(value).split(",") if k.strip()]
    return found


def _error_page(request, exc: ServiceError, back: str = ""):
    if exc.status == 404:
        raise Http404
    return render(
        request,
        "members/export_error.html",
        {"message": str(exc.message), "field": exc.field, "back": back},
        status=exc.status,
    )


def _pdf_response(data: bytes, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


# Roster export -------------------------------------------------------------------------------


@login_required
def export(request):
    """GET: choose the columns (the list's filters come along in the query string).
    POST: start the export job and show its progress."""
    user = request.user
    _may_view(user)
    params = exporting.filter_params(request.GET)
    try:
        f, org = exporting.parse_filter(user, params)
    except ServiceError as exc:
        return _error_page(request, exc, reverse("members:export"))
    chosen = _columns_param(request.POST if request.method == "POST" else request.GET)
    error = None
    if request.method == "POST":
        try:
            job = exporting.start_export(
                actor=user,
                params=params,
                keys=chosen,
                full=_truthy(request.POST.get("full")),
                language=get_language(),
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            error = exc
        else:
            return redirect("core:job_detail", pk=job.pk)
    chosen = chosen or list(DEFAULT_KEYS)
    query = urlencode(params)
    return render(
        request,
        "members/export.html",
        {
            "columns": COLUMNS,
            "chosen": chosen,
            "org": org,
            "params": params,
            "query": query,
            "may_full": exporting.may_see_full(user, org),
            "error": error,
            "roster_pdf_url": reverse("members:roster_pdf") + (f"?{query}" if query else ""),
            "cards_pdf_url": reverse("members:cards_pdf") + (f"?{query}" if query else ""),
            "limit": documents.roster_limit(),
        },
        status=error.status if error else 200,
    )


@login_required
def roster_pdf(request):
    user = request.user
    _may_view(user)
    try:
        export = exporting.prepare(
            user,
            exporting.filter_params(request.GET),
            _columns_param(request.GET),
            _truthy(request.GET.get("full")),
        )
        data = documents.roster_pdf(export)
    except ServiceError as exc:
        return _error_page(request, exc, reverse("members:export"))
    return _pdf_response(data, exporting.file_name(export, "pdf"))


@login_required
def cards_pdf(request):
    """Information cards of the filtered list (at most documents.CARDS_PDF_LIMIT)."""
    user = request.user
    _may_view(user)
    try:
        export = exporting.prepare(
            user, exporting.filter_params(request.GET), None, _truthy(request.GET.get("full"))
        )
        qs = exporting.member_list(user, export.filter)
        data = documents.cards_pdf(user, qs, full=export.full, export=export)
    except ServiceError as exc:
        return _error_page(request, exc, reverse("members:export"))
    return _pdf_response(data, exporting.file_name(export, "pdf").replace("members", "cards"))


@login_required
def card_pdf(request, pk):
    """The information card (党员信息采集表) of one member."""
    user = request.user
    try:
        member = get_member(user, pk)
    except NotFound:
        raise Http404 from None
    full = _truthy(request.GET.get("full"))
    try:
        documents.check_full_for(user, member, full)
        from .models import Member

        data = documents.cards_pdf(user, Member.objects.filter(pk=member.pk), full=full)
    except ServiceError as exc:
        return _error_page(request, exc)
    return _pdf_response(data, f"card-{member.pk}.pdf")


# Structure charts ----------------------------------------------------------------------------


def _chart_org(request) -> Organization | None:
    """The organisation asked for (?org=id), or the top of the user's scope; 404 outside it."""
    user = request.user
    raw = request.GET.get("org", "").strip()
    if raw:
        try:
            return selectors.get_organization(user, raw, "member.view")
        except NotFound:
            raise Http404 from None
    org = structure.scope_top(user)
    if org is None:
        raise Http404
    return org


@login_required
def charts(request):
    user = request.user
    org = _chart_org(request)
    today = timezone.localdate()
    tables = structure.figures(user, org, today)
    query = request.GET.get("q", "").strip()
    found = (
        [o for o in selectors.search_organizations(user, query) if _in_member_scope(user, o)]
        if query
        else None
    )
    children = list(selectors.children_of(user, org)) if org is not None else []
    roots = list(structure.scope_roots(user))
    return render(
        request,
        "members/charts.html",
        {
            "org": org,
            "today": today,
            "tables": tables,
            "total": tables[0].total if tables else 0,
            "chart_data": [t.as_dict() for t in tables],
            "ancestors": [
                a for a in selectors.ancestors_visible(user, org) if _in_member_scope(user, a)
            ]
            if org
            else [],
            "children": children,
            "roots": roots,
            "query": query,
            "found": found,
        },
    )


def _in_member_scope(user, org) -> bool:
    return selectors.can(user, "member.view", org)


@login_required
def charts_xlsx(request):
    user = request.user
    org = _chart_org(request)
    today = timezone.localdate()
    tables = structure.figures(user, org, today)
    handle = tempfile.TemporaryFile()
    structure.write_xlsx(tables, org, handle, today)
    handle.seek(0)
    name = f"structure-{org.code if org else 'all'}-{today:%Y%m%d}.xlsx"
    return FileResponse(handle, as_attachment=True, filename=name)
