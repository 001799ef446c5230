"""Pages of member records: the list with filters and search, the record with its tabs, forms
for the record, the timeline and the related tables, and a member's own page."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dangjian.core import codes
from dangjian.core import selectors as core_selectors
from dangjian.core.errors import Forbidden, NotFound, ServiceError
from dangjian.core.models import BRANCH_KINDS, Organization
from dangjian.transfers import selectors as transfer_selectors

from . import selectors, services
from .columns import BY_KEY, COLUMNS, DEFAULT_KEYS
from .forms import (
    RELATED_FORMS,
    ContactForm,
    DocumentForm,
    EventForm,
    MemberForm,
    PhotoForm,
)
from .models import Category, MemberDocument, Standing, Status

LIST_COLUMNS = [c for c in COLUMNS if c.key not in ("organization_code", "note")]
SESSION_COLUMNS = "member_list_columns"


def _member_or_404(user, pk, action="member.view"):
    try:
        return selectors.get_member(user, pk, action)
    except NotFound:
        raise Http404 from None


def _form_errors(form, exc: ServiceError) -> None:
    errors = getattr(exc, "errors", None) or {exc.field: [str(exc.message)]}
    for field, messages_ in errors.items():
        target = field if field in form.fields else None
        for message in messages_:
            form.add_error(target, message)


def _paginate(request, qs):
    paginator = Paginator(qs, settings.PAGE_SIZE)
    try:
        from .paging import CappedPaginator  # fast counts at a million rows

        paginator = CappedPaginator(qs, settings.PAGE_SIZE)
    except ImportError:
        pass
    return paginator.get_page(request.GET.get("page"))


def _chosen_columns(request) -> list[str]:
    if "cols" in request.GET:
        keys = [k for k in request.GET.getlist("cols") if k in BY_KEY]
        request.session[SESSION_COLUMNS] = keys
    else:
        keys = request.session.get(SESSION_COLUMNS) or []
    keys = [k for k in keys if k in BY_KEY] or DEFAULT_KEYS
    return [k for k in keys if k != "organization_code"]


def _cell(member, key, show_full: bool):
    if key == "id_number":
        return (
            services.member_id_number(member) if show_full else selectors.masked_id_number(member)
        )
    if key == "phone":
        return services.member_phone(member) if show_full else selectors.masked_phone(member)
    if key == "organization":
        return member.organization.name
    if key in ("sex", "ethnicity", "education", "job_category"):
        return codes.name_of(key, getattr(member, key))
    if key in ("category", "standing", "status"):
        return getattr(member, f"get_{key}_display")()
    if key in ("out_of_contact", "mobile"):
        return _("yes") if getattr(member, key) else ""
    value = getattr(member, key, "")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value if value is not None else ""


@login_required
def member_list(request):
    user = request.user
    if not core_selectors.can(user, "member.view"):
        raise Http404
    flt, errors = selectors.MemberFilter.from_params(request.GET)
    org = None
    if flt.org:
        try:
            org = core_selectors.get_organization(user, flt.org, "member.view")
        except NotFound:
            raise Http404 from None
    qs = selectors.member_list(user, flt)
    page = _paginate(request, qs)
    keys = _chosen_columns(request)
    rows = [(member, [_cell(member, key, False) for key in keys]) for member in page.object_list]
    params = request.GET.copy()
    params.pop("page", None)
    sort_params = request.GET.copy()
    sort_params.pop("sort", None)
    sort_params.pop("page", None)
    may_add = (
        org is not None
        and org.kind in BRANCH_KINDS
        and core_selectors.can(user, "member.change", org)
    )
    return render(
        request,
        "members/list.html",
        {
            "page": page,
            "rows": rows,
            "columns": [BY_KEY[k] for k in keys],
            "all_columns": LIST_COLUMNS,
            "chosen": keys,
            "filter": flt,
            "errors": errors,
            "org": org,
            "query": params.urlencode(),
            "sort_query": sort_params.urlencode(),
            "may_add": may_add,
            "may_change_anywhere": core_selectors.can(user, "member.change"),
            "choices": {
                "sex": codes.choices("sex"),
                "education": codes.choices("education"),
                "ethnicity": codes.choices("ethnicity"),
                "job_category": codes.choices("job_category"),
                "category": Category.choices,
                "standing": Standing.choices,
                "status": Status.choices,
            },
            "sortable": {"name", "joined_on", "birth_date", "organization"},
        },
    )


def _branches_for(user):
    return (
        core_selectors.organizations(user, "member.change")
        .filter(kind__in=BRANCH_KINDS, status="active")
        .order_by("path")[:500]
    )


@login_required
def member_create(request):
    user = request.user
    if not core_selectors.can(user, "member.change"):
        raise Http404
    org = None
    raw = request.POST.get("organization") or request.GET.get("org")
    if raw:
        try:
            org = core_selectors.get_organization(user, raw, "member.change")
        except NotFound:
            raise Http404 from None
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if org is None:
            form.add_error(None, _("Choose the organisation."))
        else:
            try:
                member = services.create_member(
                    actor=user, organization=org, data=dict(form.cleaned_data)
                )
            except ServiceError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("The member was recorded."))
                return redirect("members:detail", member.pk)
    return render(
        request,
        "members/form.html",
        {
            "form": form,
            "org": org,
            "branches": _branches_for(user) if org is None else [],
            "title": _("Record a member"),
        },
    )


@login_required
def member_detail(request, pk):
    user = request.user
    member = _member_or_404(user, pk)
    may_change = core_selectors.can(user, "member.change", member.organization)
    history = (
        selectors.change_history(user, member)
        if core_selectors.can(user, "audit.view", member.organization)
        else None
    )
    return render(
        request,
        "members/detail.html",
        {
            "member": member,
            "masked_id": selectors.masked_id_number(member),
            "masked_phone": selectors.masked_phone(member),
            "may_reveal": selectors.can_see_full(user, member),
            "may_change": may_change,
            "events": selectors.timeline(member),
            "family": list(member.family.all()),
            "history_rows": list(member.history.all()),
            "rewards": list(member.rewards.all()),
            "documents": list(member.documents.select_related("uploaded_by")),
            "changes": history,
            "names": {
                "sex": codes.name_of("sex", member.sex),
                "ethnicity": codes.name_of("ethnicity", member.ethnicity),
                "education": codes.name_of("education", member.education),
                "job_category": codes.name_of("job_category", member.job_category),
            },
            "party_years": services.rules.party_years(member.full_on, _today()),
            "age": services.rules.age_on(member.birth_date, _today()),
            "event_form": EventForm(),
            "tab": request.GET.get("tab", "record"),
            # Transfers, letters, mobility and contact (transfers app): one query.
            "open_transfer": transfer_selectors.transfers(user)
            .filter(member=member, state="pending")
            .first(),
            "may_move": member.status == Status.ACTIVE
            and core_selectors.can(user, "transfer.manage", member.organization),
            "may_dues": core_selectors.can(user, "dues.view", member.organization),
            "may_dues_manage": member.status == Status.ACTIVE
            and core_selectors.can(user, "dues.manage", member.organization),
            "this_year": _today().year,
        },
    )


def _today():
    from django.utils import timezone

    return timezone.localdate()


@login_required
def member_edit(request, pk):
    user = request.user
    member = _member_or_404(user, pk, "member.change")
    initial = {
        **{f: getattr(member, f) for f in services.RECORD_FIELDS},
        "joined_on": member.joined_on,
        "full_on": member.full_on,
    }
    masked = {
        "id_number": selectors.masked_id_number(member),
        "phone": selectors.masked_phone(member),
    }
    form = MemberForm(request.POST or None, initial=initial, editing=True, masked=masked)
    if request.method == "POST" and form.is_valid():
        changed = {k: form.cleaned_data[k] for k in form.changed_data}
        for secret in ("id_number", "phone"):  # blank keeps the stored number
            if not changed.get(secret):
                changed.pop(secret, None)
        try:
            services.update_member(actor=user, member=member, data=changed)
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The record was saved."))
            return redirect("members:detail", member.pk)
    return render(
        request,
        "members/form.html",
        {"form": form, "member": member, "org": member.organization, "title": _("Edit record")},
    )


@login_required
@require_POST
def member_reveal(request, pk):
    member = _member_or_404(request.user, pk)
    try:
        full = services.reveal(actor=request.user, member=member)
    except Forbidden:
        raise Http404 from None
    return render(request, "members/_revealed.html", {"member": member, "full": full})


@login_required
def event_create(request, pk):
    user = request.user
    member = _member_or_404(user, pk, "member.change")
    form = EventForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_event(
                actor=user,
                member=member,
                kind=data["kind"],
                on=data["occurred_on"],
                detail=data["detail"],
                reference=data["reference"],
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The event was recorded."))
            return redirect(reverse("members:detail", args=[member.pk]) + "?tab=timeline")
    return render(
        request,
        "members/simple_form.html",
        {"form": form, "member": member, "title": _("Record a Party-standing event")},
    )


@login_required
def related_edit(request, pk, kind, row=None):
    user = request.user
    if kind not in RELATED_FORMS:
        raise Http404
    member = _member_or_404(user, pk, "member.change")
    model = services.RELATED[kind][0]
    instance = None
    if row is not None:
        instance = model.objects.filter(pk=row, member=member).first()
        if instance is None:
            raise Http404
    form = RELATED_FORMS[kind](request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        data = {f: form.cleaned_data[f] for f in form.Meta.fields}
        try:
            services.save_related(
                actor=user, member=member, kind=kind, data=data, instance=instance
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect(reverse("members:detail", args=[member.pk]) + f"?tab={kind}")
    titles = {
        "family": _("Family member"),
        "history": _("Education and work history"),
        "rewards": _("Rewards and discipline"),
    }
    return render(
        request,
        "members/simple_form.html",
        {"form": form, "member": member, "title": titles[kind]},
    )


@login_required
@require_POST
def related_delete(request, pk, kind, row):
    user = request.user
    if kind not in RELATED_FORMS:
        raise Http404
    member = _member_or_404(user, pk, "member.change")
    instance = services.RELATED[kind][0].objects.filter(pk=row, member=member).first()
    if instance is None:
        raise Http404
    services.delete_related(actor=user, member=member, row=instance)
    messages.success(request, _("Deleted."))
    return redirect(reverse("members:detail", args=[member.pk]) + f"?tab={kind}")


@login_required
def document_upload(request, pk):
    user = request.user
    member = _member_or_404(user, pk, "member.change")
    form = DocumentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.add_document(
                actor=user,
                member=member,
                title=form.cleaned_data["title"],
                upload=form.cleaned_data["file"],
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The document was attached."))
            return redirect(reverse("members:detail", args=[member.pk]) + "?tab=documents")
    return render(
        request,
        "members/simple_form.html",
        {"form": form, "member": member, "title": _("Attach a document"), "multipart": True},
    )


def _document(user, pk, doc, action):
    member = _member_or_404(user, pk, action)
    document = MemberDocument.objects.filter(pk=doc, member=member).first()
    if document is None:
        raise Http404
    return member, document


@login_required
def document_download(request, pk, doc):
    _member, document = _document(request.user, pk, doc, "member.view")
    return FileResponse(
        document.file.open("rb"),
        as_attachment=document.content_type == "application/pdf",
        filename=document.file.name.rsplit("/", 1)[-1],
        content_type=document.content_type,
    )


@login_required
@require_POST
def document_delete(request, pk, doc):
    member, document = _document(request.user, pk, doc, "member.change")
    services.delete_document(actor=request.user, member=member, document=document)
    messages.success(request, _("Deleted."))
    return redirect(reverse("members:detail", args=[member.pk]) + "?tab=documents")


@login_required
def photo_upload(request, pk):
    user = request.user
    member = _member_or_404(user, pk, "member.change")
    form = PhotoForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_photo(actor=user, member=member, upload=form.cleaned_data["photo"])
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The photo was saved."))
            return redirect("members:detail", member.pk)
    return render(
        request,
        "members/simple_form.html",
        {"form": form, "member": member, "title": _("Photo"), "multipart": True},
    )


def _own_movement(member) -> dict:
    """What a member sees of their own move: the transfer under way and the stay away."""
    from dangjian.transfers.models import MobileState, MobileStay, State, Transfer

    return {
        "transfer": Transfer.objects.filter(member=member, state=State.PENDING)
        .select_related("to_org")
        .first(),
        "stay": MobileStay.objects.filter(member=member, state=MobileState.ACTIVE).first(),
    }


@login_required
def my_record(request):
    member = selectors.own_member(request.user)
    if member is None:
        raise Http404
    initial = {
        "phone": services.member_phone(member),
        "telephone": member.telephone,
        "home_address": member.home_address,
    }
    form = ContactForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        changed = {k: form.cleaned_data[k] for k in form.changed_data}
        try:
            services.update_own_contact(actor=request.user, data=changed)
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Your contact details were saved."))
            return redirect("members:me")
    return render(
        request,
        "members/me.html",
        {
            "member": member,
            "form": form,
            "events": selectors.timeline(member),
            "movement": _own_movement(member),
            "names": {
                "sex": codes.name_of("sex", member.sex),
                "ethnicity": codes.name_of("ethnicity", member.ethnicity),
                "education": codes.name_of("education", member.education),
            },
            "masked_id": selectors.masked_id_number(member),
        },
    )


def list_url(org: Organization | None = None, **params) -> str:
    if org is not None:
        params["org"] = org.pk
    return reverse("members:list") + ("?" + urlencode(params) if params else "")
