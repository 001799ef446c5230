"""Dues pages for yearly bases (the branch grid and one member's form), hardship relief and its
sign-off, arrears for the branch meeting, the collection report and the monthly remittance.

Every page is about an organisation or a member of the user's scope (`dues.view`; 404 outside
it). Changes go through dues.services, which check `dues.manage` (bases, relief, decisions) and
the committee above (`dues.approve` at the parent, for signing relief off); the pages offer those
forms only to people who may use them, and a crafted request is refused by the service.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Forbidden, NotFound, ServiceError, ValidationFailed
from dangjian.core.models import BRANCH_KINDS, Organization, OrgKind, OrgStatus
from dangjian.members import selectors as member_selectors
from dangjian.members.models import Member, Status

from . import reports, rules, selectors, services
from .forms_oversight import (
    ArrearsDecisionForm,
    BaseForm,
    BaseRowFormSet,
    ReliefForm,
    SignForm,
)
from .models import ArrearsDecision, DuesBase, LedgerLine, LineStatus, ReliefKind, ReliefState

VIEW = "dues.view"
MANAGE = "dues.manage"
APPROVE = "dues.approve"
EXEMPT_SHOWN = 200  # exempt members listed on the report; the rest are counted
HISTORY = 20  # a member's earlier bases and reliefs shown beside their forms


# Helpers -------------------------------------------------------------------------------------


def _or_404(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound:
        raise Http404 from None


def _org(user, pk) -> Organization:
    return _or_404(core_selectors.get_organization, user, pk, VIEW)


def _member(user, pk) -> Member:
    return _or_404(member_selectors.get_member, user, pk, VIEW)


def _year(value) -> int:
    try:
        return services.check_year(value)
    except ValidationFailed:
        raise Http404 from None


def _url(name: str, *args) -> str | None:
    """The address of a page made elsewhere, or None while it does not exist."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _apply_error(form, exc: ServiceError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


def _page(request, items, param: str = "page"):
    return Paginator(items, settings.PAGE_SIZE).get_page(request.GET.get(param))


def _next_url(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def may_sign(user, org: Organization) -> bool:
    """`dues.approve` at the committee above `org` (as services._require_above asks), from the
    roles already loaded: no query."""
    prefixes = core_selectors.scope_for(user, APPROVE)
    if org.depth <= 1:
        return "" in prefixes
    return any(org.parent_path.startswith(prefix) for prefix in prefixes)


def _context(user, org: Organization, **extra) -> dict:
    """What every page needs: the organisation, its breadcrumbs, and the dues pages' links."""
    today = timezone.localdate()
    year = extra.get("year") or today.year
    month = extra.get("month") or (today.month if year == today.year else 12)
    return {
        "org": org,
        "ancestors": core_selectors.ancestors_visible(user, org),
        "nav_year": year,
        "nav_month": month,
        "grid_url": _url("dues:grid", org.pk, year),
        **extra,
    }


def _years(year: int) -> dict:
    latest = timezone.localdate().year + 1
    return {
        "year": year,
        "prev_year": year - 1 if year - 1 >= services.EARLIEST_YEAR else None,
        "next_year": year + 1 if year + 1 <= latest else None,
    }


def _row_amount(category, base, override, year: int) -> tuple:
    """(amount owed a month, message) for what a row of the grid says; the amount is None and
    the message says why when it cannot be worked out."""
    if not category:
        return None, ""
    try:
        _base, computed, _version = services.compute(category, base, year)
    except ValidationFailed as exc:
        return None, str(exc.message)
    except ArithmeticError:  # a number no decimal context can round (1e30): not an amount
        return None, _("Enter a valid base.")
    if override not in (None, ""):
        try:
            amount = rules.to_amount(override)
            if amount.copy_abs() > rules.MAX_BASE:
                raise ValueError("too large")
            return amount.quantize(rules.CENT), ""
        except (ValueError, ArithmeticError):
            return computed, _("Enter an amount in yuan.")
    return computed, ""


# Bases: the branch's grid ---------------------------------------------------------------------


def _branches_below(request, user, org: Organization, year: int):
    """A page of the branches below `org`, each with its active members and bases declared."""
    qs = (
        core_selectors.organizations(user, VIEW)
        .filter(
            core_selectors.subtree_range("path", org.path),
            kind__in=BRANCH_KINDS,
            status=OrgStatus.ACTIVE,
        )
        .exclude(pk=org.pk)
        .order_by("path")
    )
    page = _page(request, qs)
    ids = [b.pk for b in page.object_list]
    members = dict(
        Member.objects.filter(organization_id__in=ids, status=Status.ACTIVE)
        .values("organization_id")
        .annotate(n=Count("id"))
        .values_list("organization_id", "n")
    )
    declared = dict(
        DuesBase.objects.filter(
            year=year, member__organization_id__in=ids, member__status=Status.ACTIVE
        )
        .values("member__organization_id")
        .annotate(n=Count("id"))
        .values_list("member__organization_id", "n")
    )
    for branch in page.object_list:
        branch.members_count = members.get(branch.pk, 0)
        branch.declared_count = declared.get(branch.pk, 0)
    return page


def _grid_members(user, org: Organization) -> list[Member]:
    return list(
        member_selectors.members(user, VIEW)
        .filter(organization=org, status=Status.ACTIVE)
        .order_by("name", "id")
        .only("id", "name", "org_path", "organization_id")[: BaseRowFormSet.max_num]
    )


def _initial(base: DuesBase | None) -> dict:
    if base is None:
        return {}
    return {
        "category": base.category,
        "base": "" if base.category in rules.FIXED else str(base.base),
        "override": "" if base.override is None else str(base.override),
        "override_reason": base.override_reason,
    }


def _grid_rows(formset, names: dict, declared: dict, year: int) -> list[dict]:
    rows = []
    for form in formset.forms:
        member_id = form["member"].value()
        try:
            member_id = int(member_id)
        except (TypeError, ValueError):
            member_id = None
        category = form["category"].value() or ""
        amount, problem = _row_amount(
            category, form["base"].value(), form["override"].value(), year
        )
        rows.append(
            {
                "form": form,
                "member_id": member_id,
                "name": names.get(member_id, "—"),
                "declared": declared.get(member_id),
                "category": category,
                "amount": amount,
                "problem": problem if not form.errors else "",
                "unusual": amount is not None and rules.is_unusual(amount),
                "fixed": category in rules.FIXED,
                "farmer": category == rules.FARMER,
            }
        )
    return rows


def _posted_rows(formset) -> tuple[list[dict], list[int]]:
    """The rows to declare (those with a category) and, for each, its form's index."""
    rows, index = [], []
    for i, form in enumerate(formset.forms):
        data = form.cleaned_data
        if not data.get("category"):
            continue
        rows.append(
            {
                "member": data["member"],
                "category": data["category"],
                "base": data.get("base", ""),
                "override": data.get("override", ""),
                "override_reason": data.get("override_reason", ""),
            }
        )
        index.append(i)
    return rows, index


@login_required
def bases(request, pk, year):
    """The whole branch's bases for a year in one grid, saved all at once (or not at all)."""
    user = request.user
    org = _org(user, pk)
    year = _year(year)
    if org.kind == OrgKind.GROUP:  # members belong to the branch above a Party group
        return redirect("dues:bases", pk=services.parent_of(org).pk, year=year)
    may_manage = core_selectors.can(user, MANAGE, org) and org.is_active
    context = _context(
        user,
        org,
        **_years(year),
        may_manage=may_manage,
        import_url=_url("dues:bases_import", org.pk, year) or _url("dues:bases_import", org.pk),
    )
    if org.kind not in BRANCH_KINDS:
        context["branches"] = _branches_below(request, user, org, year)
    if org.kind == OrgKind.COMMITTEE:
        return render(request, "dues/bases_pick.html", context)

    members = _grid_members(user, org)
    names = {m.pk: m.name for m in members}
    declared = {
        b.member_id: b
        for b in DuesBase.objects.filter(member_id__in=list(names), year=year).only(
            "member_id", "category", "base", "computed", "override", "override_reason"
        )
    }
    grid_error = ""
    status = 200
    copied = 0
    if request.method == "POST":
        formset = BaseRowFormSet(request.POST, prefix="rows")
        if not formset.management_form.is_valid():
            formset = None
            grid_error = _("The grid was incomplete: it was shown again, please check it.")
            status = 400
        elif formset.is_valid():
            rows, index = _posted_rows(formset)
            if not rows:
                grid_error = _("Choose the dues category of at least one member.")
                status = 400
            else:
                try:
                    changed = services.declare_bases(actor=user, org=org, year=year, rows=rows)
                except services.RowErrors as exc:
                    grid_error = str(exc.message)
                    status = 400
                    for number, errors in exc.rows.items():
                        form = formset.forms[index[number]]
                        for field, message in errors.items():
                            target = field if field in form.fields and field != "member" else None
                            form.add_error(target, message)
                except Forbidden as exc:
                    grid_error = str(exc.message)
                    status = 403
                except ServiceError as exc:
                    grid_error = str(exc.message)
                    status = 400
                else:
                    if changed:
                        text = ngettext(
                            "%(n)d base was saved for %(year)d.",
                            "%(n)d bases were saved for %(year)d.",
                            changed,
                        ) % {"n": changed, "year": year}
                    else:
                        text = _("Nothing had changed.")
                    messages.success(request, text)
                    unusual = _unusual_names(rows, names, year)
                    if unusual:
                        messages.warning(
                            request,
                            _(
                                "Monthly dues above %(limit)s yuan are unusual: please check %(names)s."
                            )
                            % {"limit": rules.UNUSUAL_AMOUNT, "names": "、".join(unusual)},
                        )
                    return redirect("dues:bases", pk=org.pk, year=year)
        else:
            grid_error = _("Some rows need correcting; nothing was saved.")
            status = 400
    else:
        formset = None
    if formset is None:
        previous = {}
        if request.GET.get("copy") and may_manage:
            previous = {
                b.member_id: b
                for b in DuesBase.objects.filter(member_id__in=list(names), year=year - 1)
            }
        initial = []
        for member in members:
            values = _initial(declared.get(member.pk))
            if not values and member.pk in previous:
                values = _initial(previous[member.pk])
                values["override"] = values["override_reason"] = ""
                copied += 1
            initial.append({"member": member.pk, **values})
        formset = BaseRowFormSet(prefix="rows", initial=initial)
    context.update(
        formset=formset,
        rows=_grid_rows(formset, names, declared, year),
        grid_error=grid_error,
        copied=copied,
        copy_asked=bool(request.GET.get("copy")),
        declared_count=len(declared),
        without_lines=selectors.members_without_lines(org, year) if names else 0,
        fixed_json=json.dumps(list(rules.FIXED)),
        farmer_range=rules.rule_for_year(year).farmer_range,
        unusual_limit=rules.UNUSUAL_AMOUNT,
    )
    return render(request, "dues/bases.html", context, status=status)


def _unusual_names(rows: list[dict], names: dict, year: int) -> list[str]:
    found = []
    for row in rows:
        amount, _problem = _row_amount(row["category"], row["base"], row["override"], year)
        if amount is not None and rules.is_unusual(amount):
            found.append(names.get(row["member"], str(row["member"])))
    return found


@login_required
def bases_amount(request):
    """The monthly amount of one row of the grid (or of the one-member form, without `row`) as
    typed (htmx): rules only, no data read."""
    row = request.GET.get("row", "")
    if row and (not row.isdigit() or len(row) > 4):
        return HttpResponse("")
    prefix = f"rows-{row}-" if row else ""
    try:
        year = int(request.GET.get("year", "")[:6])
        rules.rule_for_year(year)
    except (TypeError, ValueError, OverflowError):
        return HttpResponse("")
    category = request.GET.get(prefix + "category", "")
    amount, problem = _row_amount(
        category,
        request.GET.get(prefix + "base", "")[:20],
        request.GET.get(prefix + "override", "")[:20],
        year,
    )
    return render(
        request,
        "dues/bases_amount.html",
        {
            "amount": amount,
            "problem": problem,
            "unusual": amount is not None and rules.is_unusual(amount),
            "unusual_limit": rules.UNUSUAL_AMOUNT,
        },
    )


# Bases: one member ----------------------------------------------------------------------------


@login_required
def base_edit(request, pk, year):
    """One member's category and base for a year, with an amount set by hand and its reason."""
    user = request.user
    member = _member(user, pk)
    year = _year(year)
    org = member.organization
    may_manage = core_selectors.can(user, MANAGE, org)
    current = DuesBase.objects.filter(member=member, year=year).first()
    form = BaseForm(request.POST or None, initial=_initial(current))
    status = 200
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved = services.declare_base(
                    actor=user,
                    member=member,
                    year=year,
                    category=data["category"],
                    base=data["base"],
                    override=data["override"],
                    override_reason=data["override_reason"],
                )
            except Forbidden as exc:
                form.add_error(None, str(exc.message))
                status = 403
            except ServiceError as exc:
                _apply_error(form, exc)
                status = 400
            else:
                messages.success(
                    request,
                    _("%(name)s's base for %(year)d was saved: %(amount)s yuan a month.")
                    % {"name": member.name, "year": year, "amount": saved.amount},
                )
                if saved.unusual:
                    messages.warning(
                        request,
                        _("Monthly dues above %(limit)s yuan are unusual: please check.")
                        % {"limit": rules.UNUSUAL_AMOUNT},
                    )
                return redirect("dues:base_edit", pk=member.pk, year=year)
        else:
            status = 400
    amount, problem = _row_amount(
        form["category"].value(), form["base"].value(), form["override"].value(), year
    )
    return render(
        request,
        "dues/bases_member.html",
        _context(
            user,
            org,
            **_years(year),
            member=member,
            current=current,
            form=form,
            may_manage=may_manage,
            amount=amount,
            problem=problem if not form.errors else "",
            unusual=amount is not None and rules.is_unusual(amount),
            history=list(selectors.bases(user).filter(member=member).order_by("-year")[:HISTORY]),
            reliefs=list(selectors.reliefs(user).filter(member=member)[:HISTORY]),
            fixed_json=json.dumps(list(rules.FIXED)),
            unusual_limit=rules.UNUSUAL_AMOUNT,
        ),
        status=status,
    )


# Relief ---------------------------------------------------------------------------------------


@login_required
def relief_new(request, pk):
    """The branch records its approval of a hardship reduction or exemption for a member."""
    user = request.user
    member = _member(user, pk)
    org = member.organization
    if not core_selectors.can(user, MANAGE, org):
        raise PermissionDenied
    today = timezone.localdate()
    form = ReliefForm(
        request.POST or None,
        initial={"year": today.year, "from_month": today.month, "to_month": 12},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            if data["kind"] != ReliefKind.REDUCE:
                data["amount"] = None
            try:
                services.request_relief(actor=user, member=member, **data)
            except Forbidden as exc:
                form.add_error(None, str(exc.message))
                status = 403
            except ServiceError as exc:
                _apply_error(form, exc)
                status = 400
            else:
                messages.success(
                    request,
                    _(
                        "The branch's approval was recorded for %(name)s. It takes effect when "
                        "the committee above signs it off."
                    )
                    % {"name": member.name},
                )
                return redirect("dues:reliefs", pk=org.pk)
        else:
            status = 400
    return render(
        request,
        "dues/relief_new.html",
        _context(
            user,
            org,
            member=member,
            form=form,
            reliefs=list(selectors.reliefs(user).filter(member=member)[:HISTORY]),
        ),
        status=status,
    )


@login_required
def reliefs(request, pk):
    """Relief in an organisation's subtree, and a tab of what waits for the user's sign-off."""
    user = request.user
    org = _org(user, pk)
    subtree = core_selectors.subtree_range("organization__path", org.path)
    to_sign = selectors.reliefs_to_sign(user).filter(subtree)
    tab = "sign" if request.GET.get("tab") == "sign" else "all"
    state = request.GET.get("state", "")
    if tab == "sign":
        items = to_sign
    else:
        items = selectors.reliefs(user).filter(subtree).order_by("-created_at", "-id")
        if state in ReliefState.values:
            items = items.filter(state=state)
        else:
            state = ""
    page = _page(request, items)
    for relief in page.object_list:
        relief.may_sign = relief.state == ReliefState.PENDING and may_sign(
            user, relief.organization
        )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "dues/reliefs.html",
        _context(
            user,
            org,
            tab=tab,
            state=state,
            states=ReliefState.choices,
            page=page,
            query=query.urlencode(),
            to_sign_count=to_sign.count(),
            sign_form=SignForm(),
            here=request.get_full_path(),
        ),
    )


@login_required
def relief_sign(request, pk):
    """The committee above approves or rejects a relief the branch approved (note required
    when rejecting)."""
    user = request.user
    relief = _or_404(selectors.get_relief, user, pk)
    org = relief.organization
    allowed = relief.state == ReliefState.PENDING and may_sign(user, org)
    form = SignForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if relief.state == ReliefState.PENDING and not may_sign(user, org):
            raise PermissionDenied
        if form.is_valid():
            approve = form.cleaned_data["decision"] == "approve"
            try:
                services.sign_relief(
                    actor=user, relief=relief, approve=approve, note=form.cleaned_data["note"]
                )
            except Forbidden as exc:
                form.add_error(None, str(exc.message))
                status = 403
            except ServiceError as exc:
                _apply_error(form, exc)
                status = 409 if exc.status == 409 else 400
            else:
                text = (
                    _("Approved: the ledger of %(name)s follows the relief.")
                    if approve
                    else _("Not approved: the relief of %(name)s does not take effect.")
                )
                messages.success(request, text % {"name": relief.member.name})
                fallback = reverse("dues:reliefs", args=[org.pk]) + "?tab=sign"
                return redirect(_next_url(request, fallback))
        else:
            status = 400
    return render(
        request,
        "dues/relief_sign.html",
        _context(
            user,
            org,
            relief=relief,
            relief_list=[relief],
            form=form,
            allowed=allowed,
            next=_next_url(request, ""),
        ),
        status=status,
    )


# Arrears --------------------------------------------------------------------------------------


@login_required
def arrears(request, pk):
    """Members six months or more behind, for the branch meeting (printable), with the decisions
    taken so far. Nothing happens to anyone until the meeting decides and someone records it."""
    user = request.user
    org = _org(user, pk)
    rows = selectors.arrears(user, org)
    for row in rows:
        row["may_decide"] = core_selectors.can(user, MANAGE, row["member"].organization)
    decisions = _page(request, selectors.arrears_decisions(user, org), "decisions")
    today = timezone.localdate()
    return render(
        request,
        "dues/arrears.html",
        _context(
            user,
            org,
            rows=rows,
            today=today,
            through=selectors.last_completed_month(today),
            months=rules.ARREARS_MONTHS,
            decisions=decisions,
            owed_total=sum((r["owed"] for r in rows), 0),
        ),
    )


def _run_owed(member: Member, run) -> tuple:
    """Amount owed for the months of the run, and how many months it holds."""
    (first, through) = run
    low, high = rules.month_index(*first), rules.month_index(*through)
    owed = 0
    for y, m, due, paid in LedgerLine.objects.filter(
        member=member, year__gte=first[0], year__lte=through[0], status=LineStatus.UNPAID
    ).values_list("year", "month", "due", "paid"):
        if low <= rules.month_index(y, m) <= high:
            owed += (due or 0) - paid
    return owed, high - low + 1


@login_required
def arrears_decide(request, pk):
    """Record the branch meeting's decision on one member. Deciding that the member has left the
    Party asks for a confirmation first: it also ends the membership on the timeline."""
    user = request.user
    member = _member(user, pk)
    org = member.organization
    if not core_selectors.can(user, MANAGE, org):
        raise PermissionDenied
    today = timezone.localdate()
    run = selectors.unpaid_run_of(member, today) if member.status == Status.ACTIVE else None
    owed, count = _run_owed(member, run) if run else (0, 0)
    form = ArrearsDecisionForm(request.POST or None)
    confirming = False
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            if data["outcome"] == ArrearsDecision.Outcome.LEFT and not data["confirm"]:
                confirming = True
            else:
                try:
                    services.decide_arrears(
                        actor=user,
                        member=member,
                        outcome=data["outcome"],
                        meeting_on=data["meeting_on"],
                        reference=data["reference"],
                        note=data["note"],
                    )
                except Forbidden as exc:
                    form.add_error(None, str(exc.message))
                    status = 403
                except ServiceError as exc:
                    _apply_error(form, exc)
                    status = 409 if exc.status == 409 else 400
                else:
                    messages.success(
                        request,
                        _("The decision of the branch meeting on %(name)s was recorded.")
                        % {"name": member.name},
                    )
                    return redirect("dues:arrears", pk=org.pk)
        else:
            status = 400
    return render(
        request,
        "dues/arrears_decide.html",
        _context(
            user,
            org,
            member=member,
            run=run,
            owed=owed,
            count=count,
            form=form,
            confirming=confirming,
            months=rules.ARREARS_MONTHS,
            decisions=list(selectors.arrears_decisions(user, org).filter(member=member)[:HISTORY]),
        ),
        status=status,
    )


# Reports --------------------------------------------------------------------------------------


def _drill_url(child: dict, year: int) -> str | None:
    org = child["org"]
    if org.kind in BRANCH_KINDS or child["own"]:
        found = _url("dues:grid", org.pk, year)
        if found or child["own"]:
            return found
    return reverse("dues:report", args=[org.pk, year])


@login_required
def report(request, pk, year):
    """Collection by month and by organisation below, for a year: chart, tables, exempt
    members, voluntary payments; the table exports to Excel."""
    user = request.user
    org = _org(user, pk)
    year = _year(year)
    data = selectors.collection_report(user, org, year)
    for child in data["children"]:
        child["url"] = _drill_url(child, year)
    exempt = list(
        selectors.exempt_members(user, org, year)
        .filter(kind=ReliefKind.EXEMPT)
        .only(
            "id",
            "year",
            "from_month",
            "to_month",
            "kind",
            "reason",
            "member__id",
            "member__name",
            "organization__id",
            "organization__name",
            "organization__path",
        )[: EXEMPT_SHOWN + 1]
    )
    upto = data["to_date"]["months"]
    chart = {
        "months": [str(m["month"]) for m in data["months"]],
        "rate": [m["rate"] for m in data["months"]],
        "due": [float(m["due"]) for m in data["months"]],
        "paid": [float(m["paid"]) for m in data["months"]],
        "labels": {
            "rate": _("collection rate (%)"),
            "due": _("due"),
            "paid": _("paid"),
            "org_rate": _("collection rate to date (%)"),
        },
        # By organisation below: the rate of the months owed by now (the whole year's would
        # count months to come).
        "orgs": [
            _("%(name)s (its own members)") % {"name": c["org"].name} if c["own"] else c["org"].name
            for c in data["children"]
        ],
        "org_rates": [c["to_date"]["rate"] for c in data["children"]],
    }
    now = timezone.localdate()
    return render(
        request,
        "dues/report.html",
        _context(
            user,
            org,
            **_years(year),
            report=data,
            upto=upto,
            chart_data=chart,
            exempt=exempt[:EXEMPT_SHOWN],
            exempt_more=len(exempt) > EXEMPT_SHOWN,
            remit_month=now.month if year == now.year else 12,
        ),
    )


@login_required
def report_xlsx(request, pk, year):
    user = request.user
    org = _org(user, pk)
    year = _year(year)
    data = selectors.collection_report(user, org, year)
    today = timezone.localdate()
    exempt = (
        selectors.exempt_members(user, org, year)
        .filter(kind=ReliefKind.EXEMPT)
        .select_related("member", "organization")
        .iterator(chunk_size=2000)
    )
    content = reports.collection_workbook(
        data, org, year, exempt=exempt, arrears=selectors.arrears(user, org, today), on=today
    )
    response = HttpResponse(
        content,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = content_disposition_header(
        True, f"dues-{org.code}-{year}.xlsx"
    )
    return response


@login_required
def remittance(request, pk, year, month):
    """What each organisation below collected in a month, to remit to the committee above:
    dues, voluntary payments, and large one-off payments (remitted on to the centre)."""
    user = request.user
    org = _org(user, pk)
    year = _year(year)
    if not 1 <= month <= 12:
        raise Http404
    rows = reports.remittance_rows(selectors.remittance(user, org, year, month))
    index = rules.month_index(year, month)
    prev_year, prev_month = rules.from_index(index - 1)
    next_year, next_month = rules.from_index(index + 1)
    latest = timezone.localdate().year + 1
    return render(
        request,
        "dues/remittance.html",
        _context(
            user,
            org,
            year=year,
            month=month,
            rows=rows,
            total=reports.remittance_total(rows),
            prev=(prev_year, prev_month) if prev_year >= services.EARLIEST_YEAR else None,
            next=(next_year, next_month) if next_year <= latest else None,
            today=timezone.localdate(),
        ),
    )


# Short addresses: ?year= (and ?month=) instead of path parts, for links that know only the
# organisation (the dues start page). They answer 404 outside the scope, like the pages.


def _asked(request, name: str, default: int, check) -> int:
    try:
        return check(request.GET.get(name, ""))
    except ValidationFailed:
        return default


@login_required
def bases_now(request, pk):
    org = _org(request.user, pk)
    year = _asked(request, "year", timezone.localdate().year, services.check_year)
    return redirect("dues:bases", pk=org.pk, year=year)


@login_required
def report_now(request, pk):
    org = _org(request.user, pk)
    year = _asked(request, "year", timezone.localdate().year, services.check_year)
    return redirect("dues:report", pk=org.pk, year=year)


@login_required
def remittance_now(request, pk):
    org = _org(request.user, pk)
    today = timezone.localdate()
    year = _asked(request, "year", today.year, services.check_year)
    month = _asked(
        request, "month", today.month if year == today.year else 12, services.check_month
    )
    return redirect("dues:remittance", pk=org.pk, year=year, month=month)
