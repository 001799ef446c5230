"""Pages of the member import: upload -> column mapping -> preview -> import (background job)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.core import selectors
from dangjian.core.errors import NotFound, ServiceError
from dangjian.core.models import BRANCH_KINDS, Organization, OrgStatus

from . import importing
from .columns import BY_KEY
from .models_import import ImportStatus

MAX_CHOICES = 500


def _import_or_404(request, pk):
    try:
        return importing.get_import(request.user, pk)
    except NotFound:
        raise Http404 from None


def _branches(user):
    return (
        selectors.restrict(Organization.objects.all(), user, "member.change")
        .filter(kind__in=BRANCH_KINDS, status=OrgStatus.ACTIVE)
        .order_by("path")[:MAX_CHOICES]
    )


@login_required
def import_upload(request):
    if not selectors.can(request.user, "member.change"):
        raise Http404
    branches = list(_branches(request.user))
    error = error_code = None
    chosen = request.POST.get("organization") or request.GET.get("org") or ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            org = importing.target_organization(request.user, chosen)
        except NotFound:
            error = _("Choose an organisation.")
        else:
            if upload is None:
                error = _("Choose a file.")
            elif upload.size > importing.MAX_BYTES:
                error = _("The file is larger than %(mb)s MB.") % {
                    "mb": importing.MAX_BYTES // (1024 * 1024)
                }
            else:
                try:
                    imp = importing.upload(
                        actor=request.user,
                        organization=org,
                        data=upload.read(),
                        name=upload.name or "",
                        update=request.POST.get("update") == "on",
                    )
                except ServiceError as exc:
                    error, error_code = str(exc.message), exc.code
                else:
                    return redirect("members:import_mapping", pk=imp.pk)
    return render(
        request,
        "members/import_upload.html",
        {
            "branches": branches,
            "chosen": str(chosen),
            "error": error,
            "error_code": error_code or "",
            "max_mb": importing.MAX_BYTES // (1024 * 1024),
        },
        status=400 if error else 200,
    )


def _columns():
    return [(c.key, c.header) for c in importing.IMPORTABLE]


@login_required
def import_mapping(request, pk):
    imp = _import_or_404(request, pk)
    if imp.status in (ImportStatus.COMMITTING, ImportStatus.DONE):
        return redirect("members:import_status", pk=imp.pk)
    error = None
    mapping = list(imp.mapping)
    update = imp.update
    if request.method == "POST":
        mapping = [request.POST.get(f"col{i}", "") for i in range(len(imp.headers))]
        update = request.POST.get("update") == "on"
        try:
            importing.preview(imp, actor=request.user, mapping=mapping, update=update)
        except ServiceError as exc:
            error = str(exc.message)
        else:
            return redirect("members:import_preview", pk=imp.pk)
    rows = [
        {"index": i, "header": header or f"({i + 1})", "key": key}
        for i, (header, key) in enumerate(zip(imp.headers, mapping, strict=False))
    ]
    return render(
        request,
        "members/import_mapping.html",
        {"imp": imp, "rows": rows, "columns": _columns(), "error": error, "update": update},
        status=400 if error else 200,
    )


@login_required
def import_preview(request, pk):
    imp = _import_or_404(request, pk)
    if imp.status == ImportStatus.UPLOADED:
        try:
            importing.preview(imp, actor=request.user)
        except ServiceError as exc:
            messages.error(request, str(exc.message))
            return redirect("members:import_mapping", pk=imp.pk)
    summary = imp.summary or {}
    mapped = [
        (header, BY_KEY[key].header)
        for header, key in zip(imp.headers, imp.mapping, strict=False)
        if key
    ]
    return render(
        request,
        "members/import_preview.html",
        {
            "imp": imp,
            "summary": summary,
            "problems": summary.get("problems", []),
            "mapped": mapped,
            "may_commit": imp.status == ImportStatus.PREVIEWED and not summary.get("error_rows"),
        },
    )


@login_required
def import_report(request, pk):
    """The original rows with the errors and warnings of each, as .xlsx."""
    imp = _import_or_404(request, pk)
    try:
        table = imp.read_table()
        checked = importing.check_rows(
            table, imp.mapping, actor=request.user, organization=imp.organization, update=imp.update
        )
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("members:import_mapping", pk=imp.pk)
    response = HttpResponse(
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    name = f"import-check-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    importing.error_report(table, checked, response)
    return response


@login_required
@require_POST
def import_commit(request, pk):
    imp = _import_or_404(request, pk)
    try:
        importing.commit(imp, actor=request.user, language=get_language())
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("members:import_preview", pk=imp.pk)
    return redirect("members:import_status", pk=imp.pk)


@login_required
def import_status(request, pk):
    imp = _import_or_404(request, pk)
    if imp.job is None:
        return redirect("members:import_preview", pk=imp.pk)
    imp.job.refresh_from_db()
    return render(
        request,
        "members/import_status.html",
        {
            "imp": imp,
            "job": imp.job,
            "list_url": reverse("members:list") + f"?org={imp.organization_id}",
        },
    )
