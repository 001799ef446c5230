"""Pages of transfers (组织关系转接), introduction letters (介绍信), mobile members (流动党员) and
members out of contact (失联党员).

Every page reads through the selectors (404 outside the scope) and changes through the services.
The receiving side of a transfer sees what the transfer says, never a link to or data of the
member's record until it accepts: the member pages answer it 404 until then.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Conflict, NotFound, ServiceError
from dangjian.core.models import BRANCH_KINDS, Organization, OrgStatus
from dangjian.members import selectors as member_selectors
from dangjian.members import services as member_services
from dangjian.members.forms import MemberForm
from dangjian.members.models import EventKind

from . import documents, forms, selectors, services
from .models import Direction, MobileState, State

MANAGE = "transfer.manage"
VIEW = "transfer.view"
# Service fields that are named differently on the forms of these pages.
FIELD_ALIASES = {"occurred_on": "on", "kind": None}


# Helpers -----------------------------------------------------------------------------------


def _or_404(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound:
        raise Http404 from None


def _member(user, pk, action=MANAGE):
    return _or_404(member_selectors.get_member, user, pk, action)


def _transfer(user, pk, action=VIEW):
    return _or_404(selectors.get_transfer, user, pk, action)


def _form_errors(form, exc: ServiceError) -> None:
    form.service_status = exc.status
    errors = getattr(exc, "errors", None) or {exc.field: [str(exc.message)]}
    for field, texts in errors.items():
        field = FIELD_ALIASES.get(field, field)
        target = field if field in form.fields else None
        for text in texts:
            form.add_error(target, text)


def _status(*forms_) -> int:
    """400 for a form with errors (409 when the service found a conflict), else 200."""
    codes = [getattr(f, "service_status", 400) for f in forms_ if f.errors]
    return max(codes) if codes else 200


def _page(request, qs):
    return Paginator(qs, settings.PAGE_SIZE).get_page(request.GET.get("page"))


def _org_by_pk(pk) -> Organization | None:
    """A target chosen in the search. Organisations of the whole tree may receive members
    (their names are not secret); the service decides whether this one can."""
    if pk is None:
        return None
    return Organization.objects.filter(pk=pk).first()


def _target(form, field: str) -> tuple[bool, Organization | None]:
    """(found, organisation) for the organisation field of a valid form; an id that names no
    organisation becomes an error on the field."""
    pk = form.cleaned_data.get(field)
    org = _org_by_pk(pk)
    if pk is not None and org is None:
        form.add_error(field, _("That organisation does not exist."))
        return False, None
    return True, org


def _chosen(form, field: str) -> Organization | None:
    """The organisation already chosen on a form being shown again (to keep what was typed)."""
    raw = str((form[field].value() if form.is_bound else form.initial.get(field)) or "")
    return _org_by_pk(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _search(request, field: str) -> dict:
    """The organisation search of a form, also without JavaScript (`q` in the query string)."""
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:64]
    found = list(selectors.transfer_targets(request.user, q)) if q else []
    # Names repeat across the tree (every village has its 第一党支部): show the parent too.
    step = Organization.steplen
    parents = {o.path[:-step] for o in found if o.depth > 1}
    names = (
        dict(Organization.objects.filter(path__in=parents).values_list("path", "name"))
        if parents
        else {}
    )
    for org in found:
        org.parent_name = names.get(org.path[:-step], "")
    return {"q": q, "targets": found, "target_field": field, "searched": bool(q)}


def _branch(request, action=MANAGE) -> Organization | None:
    """The branch a page works for (`org` in the query string or the form), in the scope."""
    raw = request.POST.get("org") or request.GET.get("org")
    if not raw:
        return None
    org = _or_404(core_selectors.get_organization, request.user, raw, action)
    if org.kind not in BRANCH_KINDS or org.status != OrgStatus.ACTIVE:
        raise Http404
    return org


def _branches(user, action=MANAGE):
    return (
        core_selectors.organizations(user, action)
        .filter(kind__in=BRANCH_KINDS, status=OrgStatus.ACTIVE)
        .order_by("path")[:500]
    )


def _need(user, action=VIEW) -> None:
    if not core_selectors.can(user, action):
        raise Http404


# Transfers ---------------------------------------------------------------------------------


TABS = ("incoming", "outgoing", "stuck")


@login_required
def transfer_list(request):
    """Incoming (to accept), outgoing and stuck transfers, with counts on the tabs."""
    user = request.user
    _need(user)
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "incoming"
    state = request.GET.get("state") or State.PENDING
    if state != "all" and state not in State.values:
        state = State.PENDING
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:64]
    wanted = None if state == "all" else state
    if tab == "incoming":
        qs = selectors.incoming(user, state=wanted)
    elif tab == "outgoing":
        qs = selectors.outgoing(user, state=wanted)
    else:
        qs = selectors.stuck(user)
    if q:
        qs = qs.filter(person_name__startswith=q)
    page = _page(request, qs)
    counts = {
        "incoming": selectors.incoming(user, state=State.PENDING).count(),
        "outgoing": selectors.outgoing(user, state=State.PENDING).count(),
        "stuck": selectors.stuck(user).count(),
    }
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "transfers/list.html",
        {
            "page": page,
            "tab": tab,
            "state": state,
            "q": q,
            "counts": counts,
            "states": forms.STATE_CHOICES,
            "query": params.urlencode(),
            "may_manage": core_selectors.can(user, MANAGE),
        },
    )


@login_required
def transfer_targets(request):
    """The organisation search (htmx partial): active branches of the whole tree."""
    field = request.GET.get("field")
    if field not in ("to_org", "host_org"):
        field = "to_org"
    context = _search(request, field)
    return render(request, "transfers/_targets.html", context)


@login_required
def transfer_start(request, member_pk):
    """The sending branch starts a transfer of one member to an organisation of the platform."""
    user = request.user
    member = _member(user, member_pk)
    form = forms.StartTransferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, to_org = _target(form, "to_org")
        if ok:
            data = form.cleaned_data
            try:
                transfer = services.start_transfer(
                    actor=user,
                    member=member,
                    to_org=to_org,
                    on=data["started_on"],
                    reason=data["reason"],
                )
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("The transfer was started."))
                return redirect("transfers:detail", transfer.pk)
    return render(
        request,
        "transfers/start.html",
        {
            "form": form,
            "member": member,
            "chosen": _chosen(form, "to_org"),
            "open_transfer": selectors.open_transfer_of(member),
            **_search(request, "to_org"),
        },
        status=_status(form),
    )


@login_required
def group_start(request):
    """Transfer several active members of a branch at once (one batch)."""
    user = request.user
    _need(user, MANAGE)
    org = _branch(request)
    if org is None:
        return render(
            request,
            "transfers/choose_branch.html",
            {"branches": _branches(user), "title": _("Group transfer"), "next": request.path},
        )
    candidates = list(
        member_selectors.members(user, MANAGE)
        .filter(organization=org, status="active")
        .annotate(under_way=selectors.has_open_transfer())
        .order_by("name", "id")[:500]
    )
    free = [m for m in candidates if not m.under_way]
    form = forms.GroupTransferForm(request.POST or None, members=free)
    if request.method == "POST" and form.is_valid():
        ok, to_org = _target(form, "to_org")
        if ok:
            data = form.cleaned_data
            chosen = set(data["members"])
            try:
                created = services.start_group_transfer(
                    actor=user,
                    members=[m for m in free if str(m.pk) in chosen],
                    to_org=to_org,
                    on=data["started_on"],
                    reason=data["reason"],
                )
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("%(n)d transfers were started.") % {"n": len(created)})
                return redirect("transfers:detail", created[0].pk)
    return render(
        request,
        "transfers/group.html",
        {
            "form": form,
            "org": org,
            "candidates": candidates,
            "chosen": _chosen(form, "to_org"),
            "picked": set(form["members"].value() or []) if form.is_bound else set(),
            **_search(request, "to_org"),
        },
        status=_status(form),
    )


def _detail_context(user, transfer, **bound) -> dict:
    """What the detail page shows and which actions the viewer may take."""
    open_ = transfer.state == State.PENDING
    internal = transfer.direction == Direction.INTERNAL
    outgoing = transfer.direction == Direction.OUTGOING
    incoming = transfer.direction == Direction.INCOMING
    receiving = transfer.to_org is not None and core_selectors.can(user, MANAGE, transfer.to_org)
    sending = transfer.from_org is not None and core_selectors.can(user, MANAGE, transfer.from_org)
    # The record is linked only for those the member pages would answer (one query).
    member_visible = bool(
        transfer.member_id and member_selectors.members(user).filter(pk=transfer.member_id).exists()
    )
    batch = []
    if transfer.batch:
        batch = list(selectors.batch(user, transfer.batch))
    pending_in_batch = [t for t in batch if t.state == State.PENDING]
    may_accept = open_ and internal and receiving
    return {
        "transfer": transfer,
        "number": documents.display_number(transfer) if transfer.letter_seq else "",
        "member_visible": member_visible,
        "may_accept": may_accept,
        "may_return": may_accept,
        "may_cancel": open_ and ((incoming and receiving) or (not incoming and sending)),
        "may_receipt": open_ and outgoing and sending,
        "may_confirm": open_ and incoming and receiving,
        "may_print": outgoing and member_visible,
        "may_print_full": outgoing
        and member_visible
        and core_selectors.can(user, "member.view_sensitive", transfer.from_org),
        "batch": batch,
        "may_accept_batch": internal and receiving and len(pending_in_batch) > 1,
        "pending_in_batch": len(pending_in_batch),
        "accept_form": bound.get("accept_form") or forms.AcceptForm(),
        "return_form": bound.get("return_form") or forms.ReturnForm(),
        "cancel_form": bound.get("cancel_form") or forms.CancelForm(),
        "receipt_form": bound.get("receipt_form") or forms.ReceiptForm(),
        "batch_form": bound.get("batch_form") or forms.AcceptForm(prefix="batch"),
    }


@login_required
def transfer_detail(request, pk):
    transfer = _transfer(request.user, pk)
    return render(request, "transfers/detail.html", _detail_context(request.user, transfer))


def _act(request, pk, form_name, form, call, done: str):
    """Run an action of the detail page; errors come back on the page with what was typed."""
    user = request.user
    transfer = _transfer(user, pk)
    if form.is_valid():
        try:
            call(user, transfer, form.cleaned_data)
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            messages.success(request, done)
            return redirect("transfers:detail", transfer.pk)
    else:
        status = 400
    context = _detail_context(user, transfer, **{form_name: form})
    context["failed"] = form_name
    return render(request, "transfers/detail.html", context, status=status)


@login_required
@require_POST
def transfer_accept(request, pk):
    return _act(
        request,
        pk,
        "accept_form",
        forms.AcceptForm(request.POST),
        lambda user, t, d: services.accept_transfer(actor=user, transfer=t, on=d["decided_on"]),
        _("The transfer was accepted: the member now belongs here."),
    )


@login_required
@require_POST
def transfer_return(request, pk):
    return _act(
        request,
        pk,
        "return_form",
        forms.ReturnForm(request.POST),
        lambda user, t, d: services.return_transfer(actor=user, transfer=t, reason=d["reason"]),
        _("The transfer was returned to the sending organisation."),
    )


@login_required
@require_POST
def transfer_cancel(request, pk):
    return _act(
        request,
        pk,
        "cancel_form",
        forms.CancelForm(request.POST),
        lambda user, t, d: services.cancel_transfer(actor=user, transfer=t, reason=d["reason"]),
        _("The transfer was cancelled."),
    )


@login_required
@require_POST
def letter_receipt(request, pk):
    return _act(
        request,
        pk,
        "receipt_form",
        forms.ReceiptForm(request.POST),
        lambda user, t, d: services.record_receipt(actor=user, transfer=t, on=d["receipt_on"]),
        _("The receipt was recorded: the member has left the platform."),
    )


def _accept_batch(user, transfer, data):
    if not transfer.batch:
        raise NotFound("not a batch")
    pending = [
        t
        for t in selectors.batch(user, transfer.batch, MANAGE)
        if t.state == State.PENDING and t.direction == Direction.INTERNAL
    ]
    if not pending:
        raise Conflict(_("Nothing of this batch is waiting any more."), code="already_decided")
    return services.accept_batch(actor=user, transfers=pending, on=data["decided_on"])


@login_required
@require_POST
def batch_accept(request, pk):
    return _act(
        request,
        pk,
        "batch_form",
        forms.AcceptForm(request.POST, prefix="batch"),
        _accept_batch,
        _("Every transfer of the batch was accepted."),
    )


# Letters out of the platform -----------------------------------------------------------------


@login_required
def letter_issue(request, member_pk):
    user = request.user
    member = _member(user, member_pk)
    form = forms.IssueLetterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            transfer = services.issue_letter(
                actor=user,
                member=member,
                counterpart=data["counterpart"],
                addressee=data["addressee"],
                on=data["started_on"],
                # The default left as shown is the configured validity, which the service cuts
                # to three months where the months ahead are short.
                valid_days=data["valid_days"] if "valid_days" in form.changed_data else None,
                reason=data["reason"],
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("Letter %(number)s was issued: print it below.")
                % {"number": documents.display_number(transfer)},
            )
            return redirect("transfers:detail", transfer.pk)
    return render(
        request,
        "transfers/simple_form.html",
        {
            "form": form,
            "title": _("Issue an introduction letter"),
            "subtitle": member.name,
            "back": reverse("members:detail", args=[member.pk]),
            "open_transfer": selectors.open_transfer_of(member),
        },
        status=_status(form),
    )


def _letter(request, pk):
    """The outgoing letter, for someone who may see the member's record; and whether the full ID
    number was asked for (and may be shown)."""
    user = request.user
    transfer = _transfer(user, pk)
    if transfer.direction != Direction.OUTGOING or not transfer.member_id:
        raise Http404
    member = _member(user, transfer.member_id, "member.view")
    full = str(request.GET.get("full") or "").lower() in ("1", "true", "yes", "on")
    if full and not member_selectors.can_see_full(user, member):
        return transfer, member, None
    return transfer, member, full


def _forbidden_full(request):
    return render(
        request,
        "transfers/error.html",
        {"message": _("Your role does not show full ID numbers.")},
        status=403,
    )


@login_required
def letter_pdf(request, pk):
    transfer, member, full = _letter(request, pk)
    if full is None:
        return _forbidden_full(request)
    data = documents.letter_pdf(request.user, transfer, member, full=full)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{documents.file_name(transfer)}.pdf"'
    return response


@login_required
def letter_docx(request, pk):
    transfer, member, full = _letter(request, pk)
    if full is None:
        return _forbidden_full(request)
    data = documents.letter_docx(request.user, transfer, member, full=full)
    response = HttpResponse(data, content_type=documents.DOCX_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{documents.file_name(transfer)}.docx"'
    return response


# Letters into the platform ----------------------------------------------------------------


@login_required
def incoming_register(request):
    """Register a letter brought from outside the platform, at a branch."""
    user = request.user
    _need(user, MANAGE)
    org = _branch(request)
    if org is None:
        return render(
            request,
            "transfers/choose_branch.html",
            {
                "branches": _branches(user),
                "title": _("Register an incoming letter"),
                "next": request.path,
            },
        )
    form = forms.RegisterIncomingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            transfer = services.register_incoming(
                actor=user,
                to_org=org,
                letter_number=data["letter_number"],
                counterpart=data["counterpart"],
                person_name=data["person_name"],
                on=data["started_on"],
                valid_until=data["valid_until"],
                reason=data["reason"],
                birth_date=data["birth_date"],
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The letter was registered: now confirm the member."))
            return redirect("transfers:confirm_incoming", transfer.pk)
    return render(
        request,
        "transfers/simple_form.html",
        {
            "form": form,
            "title": _("Register an incoming letter"),
            "subtitle": org.name,
            "org": org,
            "back": reverse("transfers:list") + "?tab=incoming",
        },
        status=_status(form),
    )


def _lookup(user, transfer, form) -> object | None:
    """The record of the letter's person that left the platform, by the ID number of a valid
    lookup form (audited and limited by the service)."""
    try:
        found = services.returning_member(
            actor=user, transfer=transfer, id_number=form.cleaned_data["id_number"]
        )
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        _form_errors(form, exc)
        return None
    if found is None:
        form.add_error(
            "id_number",
            _(
                "No record that left the platform has this ID number and the name on the letter: "
                "fill in the record below."
            ),
        )
    return found


@login_required
def incoming_confirm(request, pk):
    """Confirm a registered letter: link the record of someone who left the platform earlier
    (found by ID number) or fill in a new record."""
    user = request.user
    transfer = _transfer(user, pk, MANAGE)
    if transfer.direction != Direction.INCOMING or not core_selectors.can(
        user, MANAGE, transfer.to_org
    ):
        raise Http404
    if transfer.state != State.PENDING:
        return redirect("transfers:detail", transfer.pk)
    mode = request.POST.get("mode") if request.method == "POST" else None
    lookup = forms.LookupForm(request.POST if mode in ("lookup", "link") else None, prefix="link")
    record = MemberForm(
        request.POST if mode == "new" else None,
        prefix="new",
        initial={
            "name": transfer.person_name,
            "birth_date": (transfer.incoming_data or {}).get("birth_date"),
        },
    )
    when = forms.ConfirmDateForm(request.POST if mode == "new" else None, prefix="new")
    found = None
    if mode in ("lookup", "link") and lookup.is_valid():
        found = _lookup(user, transfer, lookup)
        if found is not None and mode == "link":
            try:
                services.confirm_incoming(
                    actor=user,
                    transfer=transfer,
                    on=lookup.cleaned_data["decided_on"],
                    member=found,
                )
            except NotFound:
                raise Http404 from None
            except ServiceError as exc:
                _form_errors(lookup, exc)
            else:
                messages.success(request, _("The member's record is back on the platform."))
                return redirect("transfers:detail", transfer.pk)
    elif mode == "new" and record.is_valid() and when.is_valid():
        try:
            services.confirm_incoming(
                actor=user,
                transfer=transfer,
                on=when.cleaned_data["decided_on"],
                data=dict(record.cleaned_data),
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            target = when if exc.field in when.fields else record
            _form_errors(target, exc)
        else:
            messages.success(request, _("The member was recorded and the letter confirmed."))
            return redirect("transfers:detail", transfer.pk)
    return render(
        request,
        "transfers/confirm.html",
        {
            "transfer": transfer,
            "lookup": lookup,
            "record": record,
            "when": when,
            "found": found,
            "mode": mode,
        },
        status=_status(lookup, record, when),
    )


# Mobile members -----------------------------------------------------------------------------


@login_required
def mobile_list(request):
    """Outgoing (ours away) and incoming (guests here) mobile members."""
    user = request.user
    _need(user)
    tab = "in" if request.GET.get("tab") == "in" else "out"
    active = request.GET.get("show") != "all"
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:64]
    qs = (
        selectors.mobile_in(user, active=active)
        if tab == "in"
        else selectors.mobile_out(user, active=active)
    )
    if q:
        qs = qs.filter(person_name__startswith=q)
    page = _page(request, qs)
    rows = []
    for stay in page.object_list:
        side = stay.home_org if stay.member_id else stay.host_org
        manage = stay.state == MobileState.ACTIVE and core_selectors.can(user, MANAGE, side)
        rows.append((stay, manage, manage and bool(stay.member_id)))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "transfers/mobile.html",
        {
            "page": page,
            "rows": rows,
            "tab": tab,
            "show": "active" if active else "all",
            "q": q,
            "counts": {
                "out": selectors.mobile_out(user).count(),
                "in": selectors.mobile_in(user).count(),
            },
            "query": params.urlencode(),
            "may_manage": core_selectors.can(user, MANAGE),
        },
    )


@login_required
def mobile_out(request, member_pk):
    user = request.user
    member = _member(user, member_pk)
    form = forms.MobileOutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, host = _target(form, "host_org")
        if ok:
            data = form.cleaned_data
            try:
                services.register_mobile_out(
                    actor=user,
                    member=member,
                    destination=data["destination"],
                    host_org=host,
                    since=data["since"],
                    expected_return=data["expected_return"],
                    card_number=data["card_number"],
                    note=data["note"],
                )
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("The member was recorded as away."))
                return redirect(reverse("transfers:mobile") + "?tab=out")
    return render(
        request,
        "transfers/mobile_out.html",
        {
            "form": form,
            "member": member,
            "chosen": _chosen(form, "host_org"),
            **_search(request, "host_org"),
        },
        status=_status(form),
    )


@login_required
def mobile_in(request):
    """A member of an organisation outside the platform joins a branch's life for a while."""
    user = request.user
    _need(user, MANAGE)
    org = _branch(request)
    if org is None:
        return render(
            request,
            "transfers/choose_branch.html",
            {"branches": _branches(user), "title": _("Register a guest"), "next": request.path},
        )
    form = forms.MobileInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.register_mobile_in(
                actor=user,
                host_org=org,
                person_name=data["person_name"],
                home_text=data["home_text"],
                since=data["since"],
                expected_return=data["expected_return"],
                card_number=data["card_number"],
                note=data["note"],
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The guest was recorded."))
            return redirect(reverse("transfers:mobile") + "?tab=in")
    return render(
        request,
        "transfers/simple_form.html",
        {
            "form": form,
            "title": _("Register a guest mobile member"),
            "subtitle": org.name,
            "org": org,
            "back": reverse("transfers:mobile") + "?tab=in",
        },
        status=_status(form),
    )


def _stay(user, pk, *, ours_only=False):
    """A mobile stay the user may act on (the home side for our members, the host for guests
    from elsewhere); 404 otherwise."""
    stay = _or_404(selectors.get_stay, user, pk)
    side = stay.home_org if stay.member_id else stay.host_org
    if side is None or not core_selectors.can(user, MANAGE, side):
        raise Http404
    if ours_only and not stay.member_id:
        raise Http404
    return stay


@login_required
def mobile_end(request, pk):
    user = request.user
    stay = _stay(user, pk)
    form = forms.EndMobileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.end_mobile(actor=user, stay=stay, on=form.cleaned_data["returned_on"])
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The stay was ended."))
            tab = "out" if stay.member_id else "in"
            return redirect(reverse("transfers:mobile") + f"?tab={tab}")
    return render(
        request,
        "transfers/simple_form.html",
        {
            "form": form,
            "title": _("Back from being away") if stay.member_id else _("The guest has left"),
            "subtitle": stay.person_name,
            "back": reverse("transfers:mobile"),
        },
        status=_status(form),
    )


@login_required
def mobile_convert(request, pk):
    """The stay becomes a transfer: to the host (or another organisation of the platform), or
    with a letter to an organisation outside it."""
    user = request.user
    stay = _stay(user, pk, ours_only=True)
    initial = {"to_org": stay.host_org_id} if stay.host_org_id else {}
    form = forms.ConvertMobileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, to_org = _target(form, "to_org")
        data = form.cleaned_data
        if ok and to_org is None and not data["counterpart"] and stay.host_org_id is None:
            form.add_error(
                "to_org", _("Choose the receiving organisation or name one outside the platform.")
            )
            ok = False
        if ok:
            try:
                transfer = services.convert_mobile(
                    actor=user,
                    stay=stay,
                    on=data["started_on"],
                    to_org=to_org,
                    counterpart=data["counterpart"],
                    reason=data["reason"],
                )
            except NotFound:
                raise Http404 from None
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("The stay became a transfer."))
                return redirect("transfers:detail", transfer.pk)
    return render(
        request,
        "transfers/mobile_convert.html",
        {
            "form": form,
            "stay": stay,
            "chosen": _chosen(form, "to_org"),
            **_search(request, "to_org"),
        },
        status=_status(form),
    )


# Out of contact -----------------------------------------------------------------------------


@login_required
def contact_list(request):
    """Members out of contact in scope, each with its flag. Flags only: a person decides."""
    user = request.user
    _need(user, "member.view")
    q = (request.GET.get("q") or "").replace("\x00", "").strip()[:64]
    qs = selectors.out_of_contact(user)
    if q:
        qs = qs.filter(name__startswith=q)
    flag = request.GET.get("flag") or ""
    if flag in ("suspend", "remove", "none"):
        qs = selectors.with_flag(qs, "" if flag == "none" else flag)
    else:
        flag = ""
    page = _page(request, qs)
    rows = [
        (m, core_selectors.can(user, "member.change", m.organization))
        for m in selectors.with_flags(page.object_list)
    ]
    find = (request.GET.get("find") or "").replace("\x00", "").strip()[:64]
    candidates = []
    if find:
        flt = member_selectors.MemberFilter(q=find, out_of_contact=False)
        candidates = list(member_selectors.member_list(user, flt, "member.change")[:20])
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "transfers/contact.html",
        {
            "page": page,
            "rows": rows,
            "q": q,
            "flag": flag,
            "find": find,
            "candidates": candidates,
            "query": params.urlencode(),
            "may_change": core_selectors.can(user, "member.change"),
        },
    )


@login_required
def contact_mark(request, member_pk):
    """Mark a member out of contact, or back in contact (an event on the timeline)."""
    user = request.user
    member = _member(user, member_pk, "member.change")
    if member.status != "active":
        raise Http404
    kind = EventKind.REGAINED_CONTACT if member.out_of_contact else EventKind.LOST_CONTACT
    form = forms.ContactMarkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member_services.record_event(
                actor=user,
                member=member,
                kind=kind,
                on=form.cleaned_data["on"],
                detail=form.cleaned_data["detail"],
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(name)s is marked out of contact.") % {"name": member.name}
                if kind == EventKind.LOST_CONTACT
                else _("%(name)s is back in contact.") % {"name": member.name},
            )
            return redirect("transfers:contact")
    return render(
        request,
        "transfers/simple_form.html",
        {
            "form": form,
            "title": _("Out of contact since")
            if kind == EventKind.LOST_CONTACT
            else _("Back in contact"),
            "subtitle": member.name,
            "back": reverse("transfers:contact"),
        },
        status=_status(form),
    )


@login_required
def contact_decide(request, member_pk):
    """The decision on a flagged member: suspend the standing, or remove; with its document."""
    user = request.user
    member = _member(user, member_pk, "member.change")
    flagged = selectors.with_flags(selectors.out_of_contact(user).filter(pk=member.pk))
    if not flagged:
        raise Http404
    row = flagged[0]
    form = forms.ContactDecideForm(request.POST or None, initial={"decision": row.flag})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.decide_contact(
                actor=user,
                member=member,
                decision=data["decision"],
                on=data["on"],
                reference=data["reference"],
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The decision was recorded."))
            return redirect("transfers:contact")
    return render(
        request,
        "transfers/contact_decide.html",
        {"form": form, "row": row},
        status=_status(form),
    )
