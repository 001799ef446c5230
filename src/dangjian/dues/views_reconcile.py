"""Pages of bank-statement reconciliation (银行对账) and of the spreadsheet import of yearly
bases (党费基数导入).

Statements: an organisation's list with the upload form -> the checked statement in three
sections (matched, ambiguous with a choice of member by htmx, unmatched) -> "Confirm N matches"
-> the summary with receipt links. Bases: upload -> preview of every row (errors, warnings) ->
commit; the template to fill in is downloadable with the organisation's members.

Reads go through the selectors (404 outside the scope), changes through reconcile.py,
bases_import.py and the services.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import NotFound, ServiceError

from . import bases_import as importer
from . import reconcile, selectors, services
from .models import MatchState, StatementState

VIEW = "dues.view"
MANAGE = "dues.manage"


def _org(request, pk, action=VIEW):
    try:
        return core_selectors.get_organization(request.user, pk, action)
    except NotFound:
        raise Http404 from None


def _statement(request, pk):
    found = (
        selectors.statements(request.user)
        .select_related("organization", "uploaded_by")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _year(value) -> int:
    try:
        return services.check_year(value)
    except ServiceError:
        raise Http404 from None


def _url(name: str, *args) -> str:
    """A page of the other dues page groups, if it exists."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def _crumbs(request, org, year=None) -> dict:
    return {
        "org": org,
        "ancestors": core_selectors.ancestors_visible(request.user, org),
        "year": year or timezone.localdate().year,
    }


# Statements ------------------------------------------------------------------------------------


@login_required
def statements(request, pk):
    """An organisation's statements (its subtree's), with the form to upload a new one."""
    org = _org(request, pk)
    may_manage = core_selectors.can(request.user, MANAGE, org)
    error = error_code = None
    status = 200
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            error, error_code, status = _("Choose a file."), "required", 400
        else:
            try:
                rows = reconcile.read_statement(upload)
                statement = reconcile.match(request.user, org, rows, file_name=upload.name or "")
            except ServiceError as exc:
                error, error_code, status = str(exc.message), exc.code, exc.status
                if exc.status == 404:
                    raise Http404 from None
            else:
                return redirect("dues:statement", pk=statement.pk)
    qs = (
        selectors.statements(request.user)
        .filter(core_selectors.subtree_range("org_path", org.path))
        .select_related("organization", "uploaded_by")
        .annotate(
            n_matched=Count("lines", filter=Q(lines__state=MatchState.MATCHED)),
            n_ambiguous=Count("lines", filter=Q(lines__state=MatchState.AMBIGUOUS)),
            n_unmatched=Count("lines", filter=Q(lines__state=MatchState.UNMATCHED)),
            n_recorded=Count("lines", filter=Q(lines__state=MatchState.RECORDED)),
        )
        .order_by("-uploaded_at", "-id")
    )
    page = Paginator(qs, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "dues/reconcile_list.html",
        {
            **_crumbs(request, org),
            "tail": _("Bank statements"),
            "page": page,
            "may_manage": may_manage,
            "error": error,
            "error_code": error_code or "",
            "max_mb": reconcile.importing.MAX_BYTES // (1024 * 1024),
        },
        status=status,
    )


def _statement_context(request, statement, error=None, error_code="") -> dict:
    groups = reconcile.lines_for_display(statement)
    for lines in groups.values():
        for line in lines:
            line.receipt_url = _url("dues:receipt", line.payment_id) if line.payment_id else ""
    pending = [
        line
        for line in groups[MatchState.MATCHED] + groups[MatchState.AMBIGUOUS]
        if line.chosen and not line.payment_id
    ]
    recorded_now = [
        line
        for line in groups[MatchState.MATCHED] + groups[MatchState.AMBIGUOUS]
        if line.payment_id
    ]
    return {
        **_crumbs(request, statement.organization),
        "tail": _("Bank statement"),
        "statement": statement,
        "groups": groups,
        "matched": groups[MatchState.MATCHED],
        "ambiguous": groups[MatchState.AMBIGUOUS],
        "unmatched": groups[MatchState.UNMATCHED],
        "recorded": groups[MatchState.RECORDED],
        "to_confirm": len(pending),
        "to_confirm_amount": sum((line.amount for line in pending), 0),
        "recorded_now": recorded_now,
        "recorded_amount": sum((line.amount for line in recorded_now), 0),
        "confirmed": statement.state == StatementState.CONFIRMED,
        "may_manage": core_selectors.can(request.user, MANAGE, statement.organization),
        "error": error,
        "error_code": error_code,
    }


@login_required
def statement(request, pk):
    """A checked statement: matched, ambiguous and unmatched lines and the confirmation; once
    confirmed, what was recorded with links to the receipts."""
    found = _statement(request, pk)
    return render(request, "dues/reconcile_detail.html", _statement_context(request, found))


@login_required
@require_POST
def statement_choose(request, pk, line_pk):
    """Choose the member of an ambiguous line (htmx: the line and the confirm button again)."""
    found = _statement(request, pk)
    error = None
    try:
        reconcile.choose(request.user, found, line_pk, request.POST.get("member") or None)
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404 from None
        error = str(exc.message)
    if not _is_htmx(request):
        if error:
            messages.error(request, error)
        return redirect("dues:statement", pk=found.pk)
    context = _statement_context(request, found)
    line = next((x for x in context["ambiguous"] if x.pk == int(line_pk)), None)
    if line is None:
        raise Http404
    # htmx swaps 2xx answers only: the error is shown inside the line.
    return render(
        request,
        "dues/reconcile_choose.html",
        {**context, "line": line, "line_error": error, "oob": True},
    )


@login_required
@require_POST
def statement_confirm(request, pk):
    """Record every matched (and chosen) line in one step."""
    found = _statement(request, pk)
    if found.state == StatementState.CONFIRMED:
        messages.info(request, _("This statement is confirmed already: nothing more recorded."))
        return redirect("dues:statement", pk=found.pk)
    try:
        result = reconcile.confirm(request.user, found)
    except ServiceError as exc:
        if exc.status == 404:
            raise Http404 from None
        found.refresh_from_db()
        return render(
            request,
            "dues/reconcile_detail.html",
            _statement_context(request, found, str(exc.message), exc.code),
            status=exc.status,
        )
    count = result.lines.filter(payment__isnull=False).exclude(state=MatchState.RECORDED).count()
    messages.success(request, _("%(n)d payments recorded from the statement.") % {"n": count})
    return redirect("dues:statement", pk=found.pk)


# Bases import ----------------------------------------------------------------------------------


@login_required
def bases_import(request, pk, year):
    """Upload -> preview (every row with its errors and warnings) -> commit (all or none)."""
    org = _org(request, pk, MANAGE)
    year = _year(year)
    context = {
        **_crumbs(request, org, year),
        "tail": _("Import bases"),
        "bases_url": _url("dues:bases", org.pk, year),
        "max_mb": reconcile.importing.MAX_BYTES // (1024 * 1024),
        "checked": None,
        "token": "",
        "error": None,
        "error_code": "",
        "line_errors": {},
    }
    status = 200
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "commit":
        try:
            payload = importer.recall(
                request.session, request.POST.get("token"), org=org, year=year
            )
            changed = importer.commit(actor=request.user, org=org, year=year, payload=payload)
        except importer.ImportRowErrors as exc:
            context.update(error=str(exc.message), error_code=exc.code)
            context["line_errors"] = sorted(exc.lines.items())
            status = 400
        except ServiceError as exc:
            if exc.status == 404:
                raise Http404 from None
            context.update(error=str(exc.message), error_code=exc.code)
            status = exc.status
        else:
            importer.recall(
                request.session, request.POST.get("token"), org=org, year=year, forget=True
            )
            messages.success(
                request,
                _("%(n)d rows imported: %(changed)d bases declared or changed.")
                % {"n": len(payload["rows"]), "changed": changed},
            )
            return redirect(context["bases_url"] or reverse("dues:bases_import", args=[pk, year]))
    elif request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context.update(error=_("Choose a file."), error_code="required")
            status = 400
        else:
            try:
                checked = importer.preview(
                    actor=request.user, org=org, year=year, file=upload, name=upload.name or ""
                )
            except ServiceError as exc:
                if exc.status == 404:
                    raise Http404 from None
                context.update(error=str(exc.message), error_code=exc.code)
                status = exc.status
            else:
                context["checked"] = checked
                if checked.ok:
                    context["token"] = importer.remember(request.session, checked)
    return render(request, "dues/import_bases.html", context, status=status)


@login_required
def bases_template(request, pk, year):
    """The xlsx to fill in: the organisation's members with their bases."""
    org = _org(request, pk, MANAGE)
    year = _year(year)
    try:
        name, data = importer.template(actor=request.user, org=org, year=year)
    except ServiceError:
        raise Http404 from None
    response = HttpResponse(
        data, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
