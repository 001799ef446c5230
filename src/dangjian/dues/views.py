"""Day-to-day dues pages (党费收缴): the start page with the collection rate of a subtree, an
organisation's members × months grid where a whole month is recorded at once, one member's
payment, a voluntary payment, the receipt and its reversal, the payments list, and the member's
own view on a phone.

Every read goes through dues.selectors and core.selectors (404 outside the scope); every change
through dues.services, whose errors come back onto the fields of the form with what was typed.
"""

import datetime
from decimal import Decimal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Forbidden, NotFound, ServiceError
from dangjian.core.models import BRANCH_KINDS, Job, Organization
from dangjian.members.models import Member
from dangjian.members.paging import CappedPaginator

from . import forms, rules, selectors, services
from .models import LedgerLine, LineStatus, PaymentKind

VIEW = "dues.view"
MANAGE = "dues.manage"
OPEN = (LineStatus.UNPAID, LineStatus.PARTIAL)
PAYMENTS_CAP = 1000  # payments counted on the list, beyond which it says "more than"

# How each state of a ledger line looks: colour, icon and a word (never colour alone).
LOOKS = {
    LineStatus.PAID: ("success", "check-circle-fill", gettext_lazy("Paid")),
    LineStatus.PARTIAL: ("warning", "circle-half", gettext_lazy("Partly paid")),
    LineStatus.UNPAID: ("danger", "x-circle", gettext_lazy("Unpaid")),
    LineStatus.EXEMPT: ("secondary", "dash-circle", gettext_lazy("Exempt")),
    LineStatus.NO_BASE: ("muted", "question-circle", gettext_lazy("No base")),
}

# An unpaid month that has not begun yet: nothing is owed for it so far.
NOT_YET_DUE = ("secondary", "clock", gettext_lazy("Not yet due"))
_NOT_HERE = gettext_lazy("Not owed here")
_PLACEHOLDER = 987654321987

# Pages of the other dues page groups, linked from the start page when they exist.
OTHER_PAGES = [
    ("dues:report", gettext_lazy("Collection report"), "bar-chart"),
    ("dues:bases", gettext_lazy("Yearly bases"), "calculator"),
    ("dues:reliefs", gettext_lazy("Relief"), "heart"),
    ("dues:arrears", gettext_lazy("Six months unpaid"), "exclamation-triangle"),
    ("dues:remittance", gettext_lazy("Monthly remittance"), "send"),
    ("dues:statements", gettext_lazy("Bank statements"), "bank"),
]


# Helpers -----------------------------------------------------------------------------------


def _today() -> datetime.date:
    return timezone.localdate()


def _or_404(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound:
        raise Http404 from None


def _org(user, pk, action=VIEW) -> Organization:
    return _or_404(core_selectors.get_organization, user, pk, action)


def _small_int(value) -> int | None:
    """An id or month typed in a form or a query string, or None for anything else."""
    text = str(value or "")
    if text.isascii() and text.isdigit() and len(text) < 12:
        return int(text)
    return None


def _year(value) -> int | None:
    """A year the ledgers can hold, or None for anything else (bad input is not an error page)."""
    try:
        year = int(str(value)[:6])
    except (TypeError, ValueError):
        return None
    if services.EARLIEST_YEAR <= year <= _today().year + 1:
        return year
    return None


def _year_or_404(value) -> int:
    year = _year(value)
    if year is None:
        raise Http404
    return year


def _years() -> list[int]:
    return list(range(_today().year + 1, services.EARLIEST_YEAR - 1, -1))


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _form_errors(form, exc: ServiceError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


def _status(form) -> int:
    return 400 if form.errors else 200


def _raise_refusal(exc: ServiceError) -> None:
    """Out of scope answers 404; in scope but not allowed, 403."""
    if isinstance(exc, NotFound):
        raise Http404 from None
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.message)) from None


def _need_manage(user, org: Organization) -> None:
    if not core_selectors.can(user, MANAGE, org):
        raise PermissionDenied(_("You may not record dues here."))


def _ancestors(user, org: Organization) -> list[Organization]:
    """The organisations above `org` whose dues the user may see (for the breadcrumbs)."""
    return [
        a for a in core_selectors.ancestors_visible(user, org) if core_selectors.can(user, VIEW, a)
    ]


def _top_org(user) -> Organization:
    """Where the user's dues scope starts; 404 when it is nowhere."""
    org = core_selectors.top_organization(user, VIEW)
    if org is None:
        raise Http404
    return org


def _url_or_none(name: str, *args) -> str | None:
    """The url of a page of another dues page group, if it exists (they are built apart)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _other_pages(org: Organization, year: int) -> list[dict]:
    """Links to the pages of the other dues page groups that exist (url names guessed by
    signature: no argument with ?org=&year=, or the organisation's id)."""
    found = []
    query = urlencode({"org": org.pk, "year": year})
    for name, label, icon in OTHER_PAGES:
        url = None
        for args, suffix in (((), f"?{query}"), ((org.pk,), f"?year={year}")):
            try:
                url = reverse(name, args=args) + suffix
                break
            except NoReverseMatch:
                continue
        if url:
            found.append({"name": name, "label": label, "icon": icon, "url": url})
    return found


# Start page --------------------------------------------------------------------------------


@login_required
def home(request):
    """Collection rate of a subtree by month (chart and table), and its organisations below,
    each with a way to its grid. Members without dues.view go to their own dues."""
    user = request.user
    if not core_selectors.can(user, VIEW):
        return redirect("dues:mine")
    year = _year(request.GET.get("year")) or _today().year
    raw = request.GET.get("org")
    org = _org(user, raw) if raw else _top_org(user)
    report = selectors.collection_report(user, org, year)
    for child in report["children"]:
        item = child["org"]
        child["grid_url"] = reverse("dues:grid", args=[item.pk, year])
        child["drill_url"] = (
            f"{reverse('dues:home')}?{urlencode({'org': item.pk, 'year': year})}"
            if not child["own"] and item.numchild
            else None
        )
        child["is_branch"] = item.kind in BRANCH_KINDS
    chart = {
        "labels": [f"{m:02d}" for m in range(1, 13)],
        "due": [float(m["due"]) for m in report["months"]],
        "paid": [float(m["paid"]) for m in report["months"]],
        "rate": [m["rate"] for m in report["months"]],
        "names": {"due": _("Due"), "paid": _("Paid"), "rate": _("Collection rate (%)")},
    }
    ancestors = _ancestors(user, org)
    prefixes = core_selectors.scope_for(user, VIEW)
    roots = (
        list(Organization.objects.filter(path__in=prefixes).order_by("display_order", "path")[:50])
        if "" not in prefixes
        else []
    )
    return render(
        request,
        "dues/home.html",
        {
            "org": org,
            "year": year,
            "years": _years(),
            "report": report,
            "chart": chart,
            "ancestors": ancestors,
            "roots": roots if len(roots) > 1 else [],
            "may_manage": core_selectors.can(user, MANAGE, org),
            # A committee's own grid is empty unless members belong to it directly.
            "own_grid": org.kind in BRANCH_KINDS or any(c["own"] for c in report["children"]),
            "other_pages": _other_pages(org, year),
            "payments_url": reverse("dues:payments", args=[org.pk]) + f"?year={year}",
        },
    )


# The grid ----------------------------------------------------------------------------------


def _month_limit(year: int) -> int:
    """The last month of `year` whose dues are owed by now (0: none yet)."""
    today = _today()
    if year < today.year:
        return 12
    if year > today.year:
        return 0
    return today.month


def _look(line: LedgerLine, limit: int) -> tuple[str, tuple]:
    """(state, (colour, icon, word)) of a line; `limit` is the last month owed by now."""
    if line.status == LineStatus.UNPAID and line.month > limit:
        return "future", NOT_YET_DUE
    return line.status, LOOKS.get(line.status, LOOKS[LineStatus.NO_BASE])


def _cell_looks() -> dict:
    """state -> (icon, escaped word), translated once per page rather than once per cell."""
    looks = {state: (icon, escape(label)) for state, (_c, icon, label) in LOOKS.items()}
    looks["future"] = (NOT_YET_DUE[1], escape(NOT_YET_DUE[2]))
    looks["none"] = ("", escape(_NOT_HERE))
    return looks


def _cells(row, limit: int, pay_url: str | None, looks: dict) -> None:
    """The twelve cells of a grid row as HTML, built here rather than in the template: a
    branch of hundreds of members has thousands of cells, and the template engine would take
    a second for what string formatting does in milliseconds. Each state has a colour (the
    `dj-<state>` class), an icon and a word for screen readers (the table headers name the
    member and the month)."""
    parts = []
    row.open_months = []
    owed = Decimal(0)
    for month in range(1, 13):
        line = row.cells.get(month)
        if line is None:
            parts.append(
                f'<td data-month="{month}" data-status="none"><span>·'
                f'<span class="visually-hidden">{looks["none"][1]}</span></span></td>'
            )
            continue
        status = line.status
        state = "future" if status == LineStatus.UNPAID and month > limit else status
        icon, label = looks.get(state, looks[LineStatus.NO_BASE])
        if status in OPEN:
            row.open_months.append(month)
            if month <= limit:
                owed += line.remaining
        extra = f"<small>{line.paid}</small>" if state == "partial" else ""
        inner = (
            f'<i class="bi bi-{icon}" aria-hidden="true"></i>'
            f'<span class="visually-hidden">{label}</span>{extra}'
        )
        if pay_url:
            inner = f'<a href="{pay_url}&amp;month={month}" tabindex="-1">{inner}</a>'
        else:
            inner = f"<span>{inner}</span>"
        parts.append(
            f'<td class="dj-{state}" data-month="{month}" data-status="{line.status}">{inner}</td>'
        )
    row.cells_html = mark_safe("".join(parts))  # noqa: S308 (every value escaped above)
    row.owed = owed
    row.open_attr = " ".join(str(m) for m in row.open_months)


def _grid_member_ids(org: Organization, year: int) -> list[int]:
    return list(
        LedgerLine.objects.filter(organization=org, year=year)
        .order_by()
        .values_list("member_id", flat=True)
        .distinct()
    )


def _grid_context(
    request, org, year, *, form=None, checked=None, notice=None, error=None, late=False
):
    user = request.user
    may_manage = core_selectors.can(user, MANAGE, org)
    rows = selectors.grid(org, year)
    limit = _month_limit(year)
    default_month = limit or None
    if form is None:
        form = forms.RecordMonthForm(
            initial={"month": default_month}, member_ids=[r.member_id for r in rows]
        )
    if checked is None:
        checked = set()
        if form.is_bound:
            checked = {_small_int(v) for v in form.data.getlist("members")} - {None}
    chosen_month = _small_int(form["month"].value())
    query = escape(urlencode({"org": org.pk, "year": year}))
    may_declare = may_manage and _url_or_none("dues:base_edit", 1, year) is not None
    # One reverse for all rows: the member's id goes where the placeholder is.
    pay_base = reverse("dues:pay", args=[_PLACEHOLDER])
    looks = _cell_looks()
    for row in rows:
        member_id = str(int(row.member_id))
        pay_url = f"{pay_base.replace(str(_PLACEHOLDER), member_id)}?{query}"
        _cells(row, limit, pay_url if may_manage else None, looks)
        row.checked = row.member_id in checked
        if may_declare and row.base is None and not row.hosted:
            row.base_url = reverse("dues:base_edit", args=[row.member_id, year])
    totals = selectors.month_totals(org, year)
    month_rows = [totals[m] for m in range(1, 13)]
    year_due = sum((t["due"] for t in month_rows), Decimal(0))
    year_paid = sum((t["paid"] for t in month_rows), Decimal(0))
    return {
        "org": org,
        "year": year,
        "years": _years(),
        "form": form,
        "members": [r for r in rows if not r.hosted],
        "guests": [r for r in rows if r.hosted],
        "row_count": len(rows),
        "months": list(range(1, 13)),
        "chosen_month": chosen_month,
        "month_totals": month_rows,
        "year_due": year_due,
        "year_paid": year_paid,
        # The rate of the months owed by now: the whole year's would count months to come.
        "year_rate": selectors.to_date(month_rows, limit)["rate"],
        "rate_months": limit,
        "owed_total": sum((r.owed for r in rows), Decimal(0)),
        "may_manage": may_manage,
        "missing": selectors.members_without_lines(org, year) if may_manage else 0,
        "notice": notice,
        "error": error,
        # The month is more than six months back: the service asks for a confirmation.
        "show_late": late or bool(form.is_bound and form.data.get("confirm_late")),
        "bases_url": _url_or_none("dues:bases", org.pk, year),
        "arrears_url": _url_or_none("dues:arrears", org.pk),
        "looks": [(str(label), css, icon) for css, icon, label in [*LOOKS.values(), NOT_YET_DUE]],
        "ancestors": _ancestors(user, org),
    }


@login_required
def grid(request, pk, year):
    """Members × months of what `org` collects in a year, with the month totals; those who may
    record pick a month, tick members and record them at once."""
    org = _org(request.user, pk)
    year = _year_or_404(year)
    return render(request, "dues/grid.html", _grid_context(request, org, year))


def _grid_answer(request, org, year, context, *, status=200):
    """The grid partial for htmx (errors too: htmx swaps only 2xx), the page otherwise."""
    if _is_htmx(request):
        return render(request, "dues/_grid.html", context)
    return render(request, "dues/grid.html", context, status=status)


@login_required
@require_POST
def record_month(request, pk, year):
    """Record the ticked members' dues of one month in full (services.record_month). The hidden
    request key makes a second click of the same form record nothing new."""
    user = request.user
    org = _org(user, pk)
    year = _year_or_404(year)
    _need_manage(user, org)
    form = forms.RecordMonthForm(request.POST, member_ids=_grid_member_ids(org, year))
    late = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = services.record_month(
                actor=user,
                org=org,
                year=year,
                month=data["month"],
                member_ids=data["members"],
                paid_on=data["paid_on"],
                method=data["method"],
                request_key=services.form_key(user, data["request_key"]),
                confirm_late=data["confirm_late"],
            )
        except ServiceError as exc:
            _raise_refusal(exc)
            _form_errors(form, exc)
            late = exc.code == "late_payment"
        else:
            notice = _("Recorded %(recorded)d, skipped %(skipped)d already paid.") % result
            if not _is_htmx(request):
                messages.success(request, notice)
                return redirect("dues:grid", org.pk, year)
            fresh = forms.RecordMonthForm(
                initial={
                    "month": data["month"],
                    "paid_on": data["paid_on"],
                    "method": data["method"],
                },
                member_ids=[],
            )
            context = _grid_context(request, org, year, form=fresh, checked=set(), notice=notice)
            return _grid_answer(request, org, year, context)
    context = _grid_context(request, org, year, form=form, late=late)
    return _grid_answer(request, org, year, context, status=400)


def _kept_form(request) -> forms.RecordMonthForm:
    """The record form as it was typed, unbound (another button of it was pressed)."""
    post = request.POST
    return forms.RecordMonthForm(
        initial={
            "month": post.get("month"),
            "paid_on": post.get("paid_on"),
            "method": post.get("method"),
            "request_key": (post.get("request_key") or "")[:80] or forms.new_request_key(),
        },
        member_ids=[],
    )


@login_required
@require_POST
def remind(request, pk, year):
    """Remind the members behind with the chosen month (notifications; e-mail where set up)."""
    user = request.user
    org = _org(user, pk)
    year = _year_or_404(year)
    _need_manage(user, org)
    checked = {_small_int(v) for v in request.POST.getlist("members")} - {None}
    month_form = forms.RemindForm(request.POST)
    notice = error = None
    if month_form.is_valid():
        try:
            sent = services.remind_behind(
                actor=user, org=org, year=year, month=month_form.cleaned_data["month"]
            )
        except ServiceError as exc:
            _raise_refusal(exc)
            error = str(exc.message)
        else:
            notice = _(
                "%(n)d members were reminded (nobody is reminded twice for the same month)."
            ) % {"n": sent}
    else:
        error = _("Choose the month column.")
    if not _is_htmx(request):
        if notice:
            messages.success(request, notice)
        else:
            messages.error(request, error)
        return redirect("dues:grid", org.pk, year)
    context = _grid_context(
        request, org, year, form=_kept_form(request), checked=checked, notice=notice, error=error
    )
    return _grid_answer(request, org, year, context)


@login_required
@require_POST
def generate(request, pk, year):
    """Generate or bring in step the year's ledger of the subtree, as a background job."""
    user = request.user
    org = _org(user, pk)
    year = _year_or_404(year)
    try:
        job = services.start_generation(actor=user, org=org, year=year)
    except ServiceError as exc:
        _raise_refusal(exc)
        messages.error(request, str(exc.message))
        return redirect("dues:grid", org.pk, year)
    return redirect("dues:generation", org.pk, year, job.pk)


@login_required
def generation(request, pk, year, job):
    """Progress of a ledger generation (core's progress bar, polled), and the way back."""
    user = request.user
    org = _org(user, pk)
    year = _year_or_404(year)
    found = Job.objects.filter(pk=job, user=user, kind="dues.generate").first()
    if found is None:
        raise Http404
    return render(
        request,
        "dues/generation.html",
        {"org": org, "year": year, "job": found, "ancestors": _ancestors(user, org)},
    )


# One member's payment ----------------------------------------------------------------------


def _payable_member(user, pk) -> Member:
    """A member whose dues the user may record: of an organisation in the user's scope, or a
    mobile member whose lines an organisation of the scope collects."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    member = Member.objects.filter(pk=pk).select_related("organization").first()
    if member is None:
        raise Http404
    if core_selectors.can(user, MANAGE, member.organization):
        return member
    if selectors.lines(user, MANAGE).filter(member=member).exists():
        return member
    if core_selectors.can(user, VIEW, member.organization):
        raise PermissionDenied(_("You may not record dues for this member."))
    raise Http404


def _back_org(request, member: Member) -> Organization | None:
    """The grid the page came from (`org`), if the user may see it."""
    raw = request.GET.get("org") or request.POST.get("org")
    if raw:
        try:
            return core_selectors.get_organization(request.user, raw, VIEW)
        except NotFound:
            return None
    if core_selectors.can(request.user, VIEW, member.organization):
        return member.organization
    return None


@login_required
def pay(request, member_pk):
    """Dues of one member: months of the year ticked (or a range), in full or part of one month,
    with approval for advance or proxy payments and a confirmation for old months."""
    user = request.user
    member = _payable_member(user, member_pk)
    year = _year(request.POST.get("year") or request.GET.get("year")) or _today().year
    lines = list(
        selectors.lines(user, MANAGE)
        .filter(member=member, year=year)
        .select_related("organization")
        .order_by("month")
    )
    limit = _month_limit(year)
    for line in lines:
        _state, (css, icon, label) = _look(line, limit)
        line.look = {"css": css, "icon": icon, "label": label}
        line.is_open = line.status in OPEN
        line.advance = line.month > limit
    open_months = [line.month for line in lines if line.is_open]
    initial = {}
    wanted = _small_int(request.GET.get("month"))
    if wanted in open_months:
        initial["months"] = [wanted]
    # Every month of the ledger is a choice: whether it can be paid is the service's answer
    # (and a form sent twice must reach it to get its payment back).
    form = forms.PaymentForm(
        request.POST or None, initial=initial, months=[line.month for line in lines]
    )
    late = bool(request.POST.get("confirm_late"))
    if request.method == "POST" and form.is_valid():
        months = form.chosen_months()
        if not form.errors:
            data = form.cleaned_data
            try:
                payment = services.record_payment(
                    actor=user,
                    member=member,
                    months=[(year, m) for m in months],
                    paid_on=data["paid_on"],
                    method=data["method"],
                    amount=data["amount"],
                    reference=data["reference"],
                    request_key=services.form_key(user, data["request_key"]),
                    approval=data["approval"],
                    proxy_name=data["proxy_name"],
                    confirm_late=data["confirm_late"],
                    note=data["note"],
                )
            except ServiceError as exc:
                _raise_refusal(exc)
                _form_errors(form, exc)
                late = late or exc.code == "late_payment"
            else:
                messages.success(
                    request, _("Recorded: receipt %(no)s.") % {"no": payment.receipt_no}
                )
                return redirect("dues:receipt", payment.pk)
    back = _back_org(request, member)
    return render(
        request,
        "dues/pay.html",
        {
            "member": member,
            "year": year,
            "years": _years(),
            "lines": lines,
            "form": form,
            "show_late": late,
            "current_month": limit,
            "back": back,
            "back_url": reverse("dues:grid", args=[back.pk, year]) if back else None,
            "base": selectors.bases(user).filter(member=member, year=year).first(),
            "may_voluntary": core_selectors.can(user, MANAGE, member.organization),
        },
        status=_status(form),
    )


@login_required
def voluntary(request, member_pk):
    """A voluntary payment beyond the dues; 1,000 yuan or more is recorded apart (remitted to
    the centre)."""
    user = request.user
    member = _payable_member(user, member_pk)
    if not core_selectors.can(user, MANAGE, member.organization):
        # A guest pays voluntary money to their own branch.
        raise PermissionDenied(_("You may not record dues for this member."))
    form = forms.VoluntaryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            payment = services.record_voluntary(
                actor=user,
                member=member,
                amount=data["amount"],
                paid_on=data["paid_on"],
                method=data["method"],
                reference=data["reference"],
                request_key=services.form_key(user, data["request_key"]),
                note=data["note"],
            )
        except ServiceError as exc:
            _raise_refusal(exc)
            _form_errors(form, exc)
        else:
            messages.success(request, _("Recorded: receipt %(no)s.") % {"no": payment.receipt_no})
            return redirect("dues:receipt", payment.pk)
    return render(
        request,
        "dues/voluntary.html",
        {"member": member, "form": form, "large": rules.LARGE_ONE_OFF},
        status=_status(form),
    )


# Receipts ----------------------------------------------------------------------------------


def _receipt_context(user, payment, reverse_form=None) -> dict:
    allocations = sorted(
        payment.allocations.select_related("line"), key=lambda a: (a.line.year, a.line.month)
    )
    return {
        "payment": payment,
        "allocations": allocations,
        "may_reverse": not payment.reversed
        and core_selectors.can(user, MANAGE, payment.organization),
        "may_view": core_selectors.can(user, VIEW, payment.organization),
        "reverse_form": reverse_form or forms.ReverseForm(),
    }


@login_required
def receipt(request, pk):
    """The printable receipt: for dues.view in scope and for the member who paid."""
    payment = _or_404(selectors.get_payment, request.user, pk)
    return render(request, "dues/receipt.html", _receipt_context(request.user, payment))


@login_required
@require_POST
def reverse_payment(request, pk):
    """Undo a payment recorded in error, with the reason (it stays on file, marked)."""
    user = request.user
    payment = _or_404(selectors.get_payment, user, pk)
    if not core_selectors.can(user, VIEW, payment.organization):
        raise Http404  # the member who paid sees the receipt, not the way to reverse it
    form = forms.ReverseForm(request.POST)
    if form.is_valid():
        try:
            services.reverse_payment(
                actor=user, payment=payment, reason=form.cleaned_data["reason"]
            )
        except ServiceError as exc:
            _raise_refusal(exc)
            if exc.field not in form.fields:
                # Nothing to correct on the form (already reversed): say so on the receipt.
                messages.error(request, str(exc.message))
                return redirect("dues:receipt", payment.pk)
            _form_errors(form, exc)
        else:
            messages.success(request, _("The payment was reversed: its months are owed again."))
            return redirect("dues:receipt", payment.pk)
    payment = _or_404(selectors.get_payment, user, pk)
    context = _receipt_context(user, payment, form)
    context["reverse_open"] = True
    return render(request, "dues/receipt.html", context, status=400)


# Payments list -----------------------------------------------------------------------------


@login_required
def payment_list(request, pk):
    """Payments collected in an organisation's subtree, filtered by year, month, method and
    kind, a page at a time."""
    user = request.user
    org = _org(user, pk)
    filters = forms.PaymentFilterForm(request.GET)
    filters.is_valid()
    data = filters.cleaned_data  # the filters that are valid; a bad one is ignored
    year = data.get("year") or _today().year
    qs = (
        selectors.payments(user)
        .filter(core_selectors.subtree_range("org_path", org.path))
        .filter(paid_on__gte=datetime.date(year, 1, 1), paid_on__lte=datetime.date(year, 12, 31))
    )
    if data.get("month"):
        month = data["month"]
        last = (datetime.date(year + (month == 12), month % 12 + 1, 1)) - datetime.timedelta(1)
        qs = qs.filter(paid_on__gte=datetime.date(year, month, 1), paid_on__lte=last)
    if data.get("method"):
        qs = qs.filter(method=data["method"])
    if data.get("kind"):
        qs = qs.filter(kind=data["kind"])
    qs = qs.order_by("-paid_on", "-id")
    # Counting stops at a horizon (a subtree's year can hold millions of payments), and the
    # sum is taken only over a list short enough to have been counted whole: otherwise the
    # year's figures come from the month totals.
    paginator = CappedPaginator(qs, settings.PAGE_SIZE, cap=PAYMENTS_CAP)
    page = paginator.get_page(request.GET.get("page"))
    total = year_totals = None
    if paginator.count_exact:
        total = qs.filter(reversed_at__isnull=True).aggregate(s=Sum("amount"))["s"] or Decimal(0)
    else:
        year_totals = selectors.totals(user, year, org).aggregate(
            paid=Sum("paid"), voluntary=Sum("voluntary")
        )
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "dues/payments.html",
        {
            "org": org,
            "year": year,
            "years": _years(),
            "ancestors": _ancestors(user, org),
            "page": page,
            "total": total,
            "year_totals": year_totals,
            "filters": data,
            "query": params.urlencode(),
            "months": forms.MONTH_CHOICES,
            "methods": forms.PaymentForm.base_fields["method"].choices,
            "kinds": PaymentKind.choices,
        },
    )


# The member's own dues ---------------------------------------------------------------------


@login_required
def mine(request):
    """A member's own dues on a phone: the year's months, what is owed, receipts."""
    user = request.user
    member = selectors.selectors_own_member(user)
    year = _year(request.GET.get("year")) or _today().year
    if member is None:
        return render(request, "dues/mine.html", {"member": None, "year": year})
    lines = list(selectors.own_lines(user, year).select_related("organization"))
    limit = _month_limit(year)
    owed = Decimal(0)
    for line in lines:
        _state, (css, icon, label) = _look(line, limit)
        line.look = {"css": css, "icon": icon, "label": label}
        if line.status in OPEN and line.month <= limit:
            owed += line.remaining
    years = set(
        LedgerLine.objects.filter(member=member)
        .order_by()
        .values_list("year", flat=True)
        .distinct()
    )
    years |= {_today().year, year}
    payments = list(
        selectors.own_payments(user).filter(
            paid_on__gte=datetime.date(year, 1, 1), paid_on__lte=datetime.date(year, 12, 31)
        )[:200]
    )
    return render(
        request,
        "dues/mine.html",
        {
            "member": member,
            "year": year,
            "years": sorted(years, reverse=True),
            "lines": lines,
            "owed": owed,
            "due": sum((line.due or 0 for line in lines), Decimal(0)),
            "paid": sum((line.paid for line in lines), Decimal(0)),
            "payments": payments,
            "may_view": core_selectors.can(user, VIEW),
        },
    )
