"""Pages of committees, terms, office-holders, elections, re-election and shape warnings.

Who sees what: every page is about one organisation of the user's scope (404 outside it).
Recording terms, office-holders and elections needs `org.officers` at the organisation; moving a
re-election date and approving an election need `org.officers` at the committee above, so the
pages offer those forms only there (and a crafted request is refused by the service).
"""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.core import rules
from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Forbidden, NotFound, ServiceError
from dangjian.core.models import BRANCH_KINDS, OrgKind, OrgStatus
from dangjian.members import selectors as member_selectors
from dangjian.members.models import Category, Standing, Status

from . import selectors, services
from .forms import (
    AppointForm,
    DecideForm,
    ElectionForm,
    EndOfficeForm,
    ShiftForm,
    TermForm,
    position_choices,
)
from .models import ElectionKind, ElectionStatus, Form, Position

HISTORY = 100  # rows of history shown on an organisation's page
MEMBER_CHOICES = 300  # members offered in a select; more are found by searching
MAX_CANDIDATES = services.MAX_CANDIDATES
_ID = re.compile(r"[0-9]{1,18}")


def problem_label(code: str) -> str:
    """A shape problem (core.rules.SHAPE_PROBLEMS) in words."""
    labels = {
        "too_few_full": _("Fewer than %(n)d full members: it should join a joint branch.")
        % {"n": rules.BRANCH_MIN_FULL},
        "branch_too_large": _("More than %(n)d members in one branch.")
        % {"n": rules.BRANCH_MAX_MEMBERS},
        "needs_committee": _(
            "No elected committee, though one is required (from %(n)d full members in a "
            "branch; always in a general branch or Party committee)."
        )
        % {"n": rules.COMMITTEE_FROM_FULL},
        "committee_too_small": _("The committee has fewer members than the rules require."),
        "committee_too_large": _("The committee has more members than the rules allow."),
        "should_be_general_branch": _(
            "Its size (%(low)d to %(high)d members) calls for a general branch."
        )
        % {"low": rules.GENERAL_BRANCH_FROM, "high": rules.GRASSROOTS_COMMITTEE_FROM - 1},
        "should_be_committee": _(
            "Its size (%(n)d members or more) calls for a grassroots Party committee."
        )
        % {"n": rules.GRASSROOTS_COMMITTEE_FROM},
        "general_branch_too_small": _("A general branch with fewer than %(n)d members.")
        % {"n": rules.GENERAL_BRANCH_FROM},
        "committee_below_100": _("A Party committee with fewer than %(n)d members.")
        % {"n": rules.GRASSROOTS_COMMITTEE_FROM},
        "no_secretary": _("No secretary."),
    }
    return labels.get(code, code)


def problem_short_label(code: str) -> str:
    """A few words for a chart axis or a filter."""
    labels = {
        "too_few_full": _("Too few full members"),
        "branch_too_large": _("Branch too large"),
        "needs_committee": _("Committee needed"),
        "committee_too_small": _("Committee too small"),
        "committee_too_large": _("Committee too large"),
        "should_be_general_branch": _("Should be a general branch"),
        "should_be_committee": _("Should be a Party committee"),
        "general_branch_too_small": _("General branch too small"),
        "committee_below_100": _("Party committee too small"),
        "no_secretary": _("No secretary"),
    }
    return labels.get(code, code)


# Helpers -------------------------------------------------------------------------------------


def _org_or_404(user, pk, action="org.view"):
    try:
        return core_selectors.get_organization(user, pk, action)
    except NotFound:
        raise Http404 from None


def may_approve(user, org) -> bool:
    """`org.officers` at the committee above `org` (as services._require_above asks), from the
    roles already loaded: no query."""
    prefixes = core_selectors.scope_for(user, "org.officers")
    if org.depth <= 1:
        return "" in prefixes
    parent = org.parent_path
    return any(parent.startswith(prefix) for prefix in prefixes)


def _apply_error(form, exc: ServiceError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


def _page(request, items, param: str):
    return Paginator(items, settings.PAGE_SIZE).get_page(request.GET.get(param))


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def _int_or_none(value) -> int | None:
    value = (value or "").strip()
    return int(value) if _ID.fullmatch(value) else None


def eligible_members(user, org, *, q: str = "", keep=()) -> tuple[list, bool]:
    """Active full members in good standing of `org`'s subtree (who may hold its offices), by
    name; at most MEMBER_CHOICES, plus the ones in `keep` (what the user had chosen). The flag
    says there are more than shown: the page then offers a search."""
    # A Party group's leader comes from its branch (members belong to branches, not groups).
    home = org.parent_path if org.kind == OrgKind.GROUP else org.path
    qs = (
        member_selectors.members(user)
        .filter(
            core_selectors.subtree_range("org_path", home),
            status=Status.ACTIVE,
            category=Category.FULL,
            standing=Standing.NORMAL,
        )
        .select_related("organization")
        .only("id", "name", "organization__name")
    )
    if q:
        qs = qs.filter(member_selectors.search_condition(q[:64]))
    rows = list(qs.order_by("name", "id")[: MEMBER_CHOICES + 1])
    more = len(rows) > MEMBER_CHOICES
    rows = rows[:MEMBER_CHOICES]
    shown = {m.pk for m in rows}
    missing = {pk for pk in keep if pk and pk not in shown}
    if missing:
        rows += list(
            member_selectors.members(user)
            .filter(pk__in=missing)
            .select_related("organization")
            .only("id", "name", "organization__name")
        )
    return rows, more


# The organisation's committee -----------------------------------------------------------------


def annotate_terms(terms_: list, today=None) -> list:
    """Adds .status ("ok", "due", "overdue"), .days_left and .days_overdue to current terms."""
    selectors.annotate_status(terms_, today or timezone.localdate(), settings.REELECTION_LEAD_DAYS)
    for term in terms_:
        term.days_overdue = -term.days_left
    return terms_


def _term_status(term):
    if term is not None:
        annotate_terms([term])
    return term


def _render_org(request, org, *, bound=None, end_form=None, status=200):
    """The committee page; `bound` holds forms that came back with errors (keyed term, appoint,
    shift) and `end_form` the (holder pk, form) of an office that could not be ended."""
    user = request.user
    bound = bound or {}
    may_record = core_selectors.can(user, "org.officers", org) and org.is_active
    term = _term_status(selectors.current_term(user, org))
    holders = list(selectors.current_holders(user, org))
    for holder in holders:
        holder.end_form = None
        if end_form and end_form[0] == holder.pk:
            holder.end_form = end_form[1]
    context = {
        "org": org,
        "ancestors": core_selectors.ancestors_visible(user, org),
        "term": term,
        "holders": holders,
        "history": list(selectors.holder_history(user, org)[:HISTORY]),
        "terms": list(selectors.terms(user, org)[:HISTORY]),
        "elections": list(selectors.elections(user, org)[:HISTORY]),
        "history_limit": HISTORY,
        "may_record": may_record,
        "may_approve": may_approve(user, org) and org.is_active,
        "is_group": org.kind == OrgKind.GROUP,
        "lead_days": settings.REELECTION_LEAD_DAYS,
        "open_end": end_form[0] if end_form else None,
    }
    if may_record:
        appoint_form = bound.get("appoint") or AppointForm(kind=org.kind)
        chosen = _int_or_none(str(appoint_form["member"].value() or ""))
        members, more = eligible_members(user, org, keep=[chosen])
        context.update(
            term_form=bound.get("term")
            or TermForm(initial={"form": Form.COMMITTEE, "elected_on": timezone.localdate()}),
            appoint_form=appoint_form,
            appoint_member=chosen,
            members=members,
            more_members=more,
            positions=position_choices(org.kind),
            end_default=timezone.localdate(),
        )
    if context["may_approve"] and term is not None:
        context["shift_form"] = bound.get("shift") or ShiftForm(
            initial={"due_on": term.due_on, "reference": term.shift_reference}
        )
    return render(request, "committees/org.html", context, status=status)


def _refused(request, exc: Forbidden):
    messages.error(request, str(exc.message))


@login_required
def org(request, pk):
    return _render_org(request, _org_or_404(request.user, pk))


@login_required
def member_options(request, pk):
    """The <option>s of members who may hold office in the organisation, found by name,
    initials, ID or phone number (htmx, for large organisations)."""
    organization = _org_or_404(request.user, pk)
    if not core_selectors.can(request.user, "org.officers", organization):
        raise Http404
    q = request.GET.get("q", "").strip()
    members, more = eligible_members(request.user, organization, q=q)
    return render(
        request, "committees/_member_options.html", {"members": members, "more_members": more}
    )


@login_required
@require_POST
def record_term(request, pk):
    organization = _org_or_404(request.user, pk)
    form = TermForm(request.POST)
    if form.is_valid():
        try:
            services.record_term(actor=request.user, org=organization, **form.cleaned_data)
        except Forbidden as exc:
            _refused(request, exc)
            return _render_org(request, organization, status=403)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("The term was recorded."))
            return redirect("committees:org", pk=organization.pk)
    return _render_org(request, organization, bound={"term": form})


@login_required
@require_POST
def appoint(request, pk):
    user = request.user
    organization = _org_or_404(user, pk)
    form = AppointForm(request.POST, kind=organization.kind)
    if form.is_valid():
        data = form.cleaned_data
        member = member_selectors.members(user).filter(pk=data["member"]).first()
        if member is None:
            form.add_error("member", _("Choose the member."))
        else:
            try:
                services.appoint(
                    actor=user,
                    org=organization,
                    member=member,
                    position=data["position"],
                    started_on=data["started_on"],
                    reference=data["reference"],
                )
            except Forbidden as exc:
                _refused(request, exc)
                return _render_org(request, organization, status=403)
            except ServiceError as exc:
                _apply_error(form, exc)
            else:
                messages.success(
                    request,
                    _("%(name)s now holds the position of %(position)s.")
                    % {"name": member.name, "position": Position(data["position"]).label},
                )
                return redirect("committees:org", pk=organization.pk)
    return _render_org(request, organization, bound={"appoint": form})


@login_required
@require_POST
def end_office(request, pk):
    user = request.user
    try:
        holder = selectors.get_holder(user, pk)
    except NotFound:
        raise Http404 from None
    organization = holder.organization
    form = EndOfficeForm(request.POST)
    if form.is_valid():
        try:
            services.end_office(
                actor=user,
                holder=holder,
                ended_on=form.cleaned_data["ended_on"],
                reason=form.cleaned_data["reason"],
            )
        except Forbidden as exc:
            _refused(request, exc)
            return _render_org(request, organization, status=403)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s has left the position.") % {"name": holder.person_name},
            )
            return redirect("committees:org", pk=organization.pk)
    return _render_org(request, organization, end_form=(holder.pk, form))


@login_required
@require_POST
def shift_due_date(request, pk):
    user = request.user
    try:
        term = selectors.get_term(user, pk)
    except NotFound:
        raise Http404 from None
    organization = term.organization
    form = ShiftForm(request.POST)
    if form.is_valid():
        try:
            services.shift_due_date(actor=user, term=term, **form.cleaned_data)
        except Forbidden as exc:
            _refused(request, exc)
            return _render_org(request, organization, status=403)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, _("The re-election date was moved."))
            return redirect("committees:org", pk=organization.pk)
    return _render_org(request, organization, bound={"shift": form})


# Elections -----------------------------------------------------------------------------------


def _candidate_rows(post) -> list[dict]:
    """The candidate table as typed: parallel lists of member, votes and position; rows left
    wholly empty are dropped."""
    members = post.getlist("candidate_member")[:MAX_CANDIDATES]
    votes = post.getlist("candidate_votes")[:MAX_CANDIDATES]
    positions = post.getlist("candidate_position")[:MAX_CANDIDATES]
    rows = []
    for i in range(max(len(members), len(votes), len(positions))):
        member = members[i].strip() if i < len(members) else ""
        vote = votes[i].strip()[:12] if i < len(votes) else ""
        position = positions[i].strip()[:16] if i < len(positions) else ""
        if not member and not vote:
            continue
        rows.append({"member": member, "votes": vote, "position": position, "error": ""})
    return rows


def _candidates(user, rows: list[dict]) -> list[dict]:
    """The rows for services.record_election: members found in the user's scope (one query);
    anything else (votes, position) is checked by the service."""
    ids = {_int_or_none(row["member"]) for row in rows} - {None}
    found = {m.pk: m for m in member_selectors.members(user).filter(pk__in=ids)}
    return [
        {
            "member": found.get(_int_or_none(row["member"])),
            "votes": row["votes"],
            "position": row["position"] or Position.MEMBER,
        }
        for row in rows
    ]


def _place_election_error(form, rows, exc: ServiceError) -> str:
    """Puts the service's error next to the field or the candidate row it names; returns the
    message meant for the whole candidate table, if that is where it belongs."""
    field = exc.field or ""
    if field.startswith("candidates."):
        index = _int_or_none(field.split(".", 1)[1])
        if index is not None and index < len(rows):
            rows[index]["error"] = str(exc.message)
            return ""
    if field == "candidates":
        return str(exc.message)
    _apply_error(form, exc)
    return ""


def _voting_count(organization) -> int:
    from dangjian.members.selectors import voting_members

    return voting_members(organization).count()


@login_required
def election_new(request, pk):
    user = request.user
    organization = _org_or_404(user, pk)
    if not core_selectors.can(user, "org.officers", organization):
        raise Http404
    today = timezone.localdate()
    form = ElectionForm(
        request.POST or None,
        initial={
            "kind": ElectionKind.GENERAL,
            "form": Form.COMMITTEE,
            "held_on": today,
            # Who may vote now (DOMAIN §4): the usual number of voters expected.
            "voters_expected": None if request.method == "POST" else _voting_count(organization),
        },
    )
    rows = _candidate_rows(request.POST) if request.method == "POST" else []
    table_error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        data = {**form.cleaned_data, "candidates": _candidates(user, rows)}
        try:
            election = services.record_election(actor=user, org=organization, data=data)
        except Forbidden as exc:
            form.add_error(None, str(exc.message))
            status = 403
        except ServiceError as exc:
            table_error = _place_election_error(form, rows, exc)
        else:
            messages.success(request, _("The election was recorded."))
            return redirect("committees:election", pk=election.pk)
    blank = {"member": "", "votes": "", "position": "", "error": ""}
    while len(rows) < 3:
        rows.append(dict(blank))
    members, more = eligible_members(
        user, organization, keep=[_int_or_none(row["member"]) for row in rows]
    )
    return render(
        request,
        "committees/election_form.html",
        {
            "org": organization,
            "ancestors": core_selectors.ancestors_visible(user, organization),
            "form": form,
            "rows": rows,
            "table_error": table_error,
            "members": members,
            "more_members": more,
            "positions": position_choices(organization.kind),
        },
        status=status,
    )


def _render_election(request, election, *, form=None, status=200):
    user = request.user
    org = election.organization
    candidates = list(election.candidates.all())
    committee = election.form == Form.COMMITTEE
    needed = rules.minimum_candidates(election.seats) if committee else 1
    may_decide = election.status == ElectionStatus.RECORDED and may_approve(user, org)
    if may_decide and form is None:
        form = DecideForm(initial={"decided_on": timezone.localdate(), "decision": "approve"})
    return render(
        request,
        "committees/election.html",
        {
            "election": election,
            "org": org,
            "ancestors": core_selectors.ancestors_visible(user, org),
            "candidates": candidates,
            # more than four fifths of those expected must be present
            "quorum_needed": election.voters_expected * 4 // 5 + 1,
            # a winner needs more than half of the votes of those present
            "majority_needed": election.voters_present // 2 + 1,
            "candidates_needed": needed,
            "margin_percent": (
                round((len(candidates) - election.seats) * 100 / election.seats)
                if election.seats
                else 0
            ),
            "is_committee": committee,
            "problems": [services.election_problem_message(p) for p in election.problems],
            "may_decide": may_decide,
            "form": form,
        },
        status=status,
    )


def _election_or_404(user, pk):
    try:
        return selectors.get_election(user, pk)
    except NotFound:
        raise Http404 from None


@login_required
def election(request, pk):
    return _render_election(request, _election_or_404(request.user, pk))


@login_required
@require_POST
def decide(request, pk):
    user = request.user
    found = _election_or_404(user, pk)
    form = DecideForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        approve = data["decision"] == "approve"
        try:
            services.decide_election(
                actor=user,
                election=found,
                approve=approve,
                decided_on=data["decided_on"],
                reference=data["reference"],
                note=data["note"],
            )
        except Forbidden as exc:
            _refused(request, exc)
            return _render_election(request, found, status=403)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            messages.success(
                request,
                _("The election was approved: the elected have taken office.")
                if approve
                else _("The election was not approved."),
            )
            return redirect("committees:election", pk=found.pk)
    return _render_election(request, found, form=form)


# Overview: re-election and what awaits approval ---------------------------------------------


@login_required
def overview(request):
    user = request.user
    if not core_selectors.can(user, "org.view"):
        raise Http404
    today = timezone.localdate()
    lead = settings.REELECTION_LEAD_DAYS
    due = _page(request, selectors.reelection_due(user, today=today, lead_days=lead), "due")
    due.object_list = annotate_terms(list(due.object_list), today)
    return render(
        request,
        "committees/overview.html",
        {
            "due": due,
            "due_query": _query_without(request, "due"),
            "no_term": _page(request, selectors.without_term(user), "none"),
            "no_term_query": _query_without(request, "none"),
            "approvals": _page(request, selectors.pending_approvals(user), "approve"),
            "approvals_query": _query_without(request, "approve"),
            "lead_days": lead,
        },
    )


@login_required
def home_card(request):
    """The home page's card (htmx): re-elections due and overdue (one aggregate query) and
    organisations out of shape per kind (selectors.shape_counts, cached a few minutes)."""
    user = request.user
    if not core_selectors.can(user, "org.view"):
        raise Http404
    today = timezone.localdate()
    counts = selectors.shape_counts(user)
    terms = selectors.reelection_due(user, today=today).aggregate(
        overdue=Count("id", filter=Q(due_on__lt=today)),
        due=Count("id", filter=Q(due_on__gte=today)),
    )
    return render(
        request,
        "committees/_home_card.html",
        {
            "shape": [
                {"code": code, "label": problem_short_label(code), "count": n}
                for code, n in counts.items()
                if n
            ],
            "due": terms["due"],
            "overdue": terms["overdue"],
        },
    )


# Shape warnings ------------------------------------------------------------------------------

SUBTREE_CHOICES = 500


@login_required
def shape(request):
    user = request.user
    if not core_selectors.can(user, "org.view"):
        raise Http404
    root = None
    raw = request.GET.get("org", "").strip()
    if raw:
        root = _org_or_404(user, raw)
    problem = request.GET.get("problem", "")
    if problem not in rules.SHAPE_PROBLEMS:
        problem = ""
    report = selectors.out_of_shape(user, root)
    counts = dict.fromkeys(rules.SHAPE_PROBLEMS, 0)
    for item in report:
        for code in item.problems:
            counts[code] += 1
    rows = [s for s in report if problem in s.problems] if problem else report
    page = _page(request, rows, "page")
    kinds = dict(OrgKind.choices)
    for item in page.object_list:
        item.labels = [problem_label(code) for code in item.problems]
        item.kind_label = kinds.get(item.kind, item.kind)
    # Subtrees worth filtering by: committees and general branches (and the one chosen).
    subtrees = list(
        core_selectors.organizations(user)
        .filter(status=OrgStatus.ACTIVE)
        .exclude(kind__in=[*BRANCH_KINDS, OrgKind.GROUP])
        .order_by("path")
        .only("id", "name", "code", "depth")[:SUBTREE_CHOICES]
    )
    if root is not None and root.pk not in {o.pk for o in subtrees}:
        subtrees.insert(0, root)
    kinds_table = [
        {"code": code, "label": problem_short_label(code), "count": counts[code]}
        for code in rules.SHAPE_PROBLEMS
    ]
    return render(
        request,
        "committees/shape.html",
        {
            "page": page,
            "query": _query_without(request, "page"),
            "root": root,
            "problem": problem,
            "problem_text": problem_label(problem) if problem else "",
            "kinds_table": kinds_table,
            "chart": {
                "labels": [row["label"] for row in kinds_table],
                "values": [row["count"] for row in kinds_table],
            },
            "organisations_out_of_shape": len(report),
            "subtrees": subtrees,
        },
    )
