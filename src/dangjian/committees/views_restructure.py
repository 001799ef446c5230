"""Pages of restructuring: merge two organisations, split one, dissolve one.

Each is a two-step form: the first POST shows the preview of what would move (members,
sub-organisations, offices that end, transfers that block) and a confirm button; the confirming
POST runs the change. Only people who may dissolve organisations there (`org.dissolve`) see them.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import NotFound, ServiceError
from dangjian.core.models import BRANCH_KINDS, OrgKind, OrgStatus
from dangjian.members import selectors as member_selectors
from dangjian.members.models import Status

from . import restructure
from .forms import DissolveForm, MergeForm, SplitForm

TARGET_CHOICES = 500
SPLIT_CHOICES = 2000
# Fields of the first step carried to the confirming step.
CONTROL_FIELDS = {"csrfmiddlewaretoken", "confirm", "back"}


def _restructurable(user, pk):
    try:
        org = core_selectors.get_organization(user, pk)
    except NotFound:
        raise Http404 from None
    if not org.is_active or not core_selectors.can(user, "org.dissolve", org):
        raise Http404
    return org


def _targets(user, org, *, branches_only: bool):
    """Active organisations of the user's restructuring scope outside `org`'s subtree."""
    qs = (
        core_selectors.organizations(user, "org.dissolve")
        .filter(status=OrgStatus.ACTIVE)
        .exclude(core_selectors.subtree_range("path", org.path))
    )
    qs = qs.filter(kind__in=BRANCH_KINDS) if branches_only else qs.exclude(kind=OrgKind.GROUP)
    return list(qs.order_by("path").only("id", "name", "code")[:TARGET_CHOICES])


def _apply_error(form, exc: ServiceError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, str(exc.message))


def _carried(request) -> list[tuple[str, str]]:
    return [
        (name, value)
        for name in request.POST
        if name not in CONTROL_FIELDS
        for value in request.POST.getlist(name)
    ]


def _render(request, org, form, *, action, title, preview=None, summary=()):
    confirming = preview is not None and not form.errors
    return render(
        request,
        "committees/restructure.html",
        {
            "org": org,
            "ancestors": core_selectors.ancestors_visible(request.user, org),
            "form": form,
            "title": title,
            "action": action,
            "preview": preview,
            "confirming": confirming,
            "carried": _carried(request) if confirming else [],
            "summary": summary,
        },
    )


def _step(request) -> str:
    """'edit' (first view, or back to the form), 'preview' or 'confirm'."""
    if request.method != "POST" or "back" in request.POST:
        return "edit"
    return "confirm" if "confirm" in request.POST else "preview"


@login_required
def merge(request, pk):
    user = request.user
    source = _restructurable(user, pk)
    step = _step(request)
    form = MergeForm(request.POST or None, targets=_targets(user, source, branches_only=False))
    title = _("Merge “%(org)s” into another organisation") % {"org": source.name}
    if step == "edit" or not form.is_valid():
        return _render(request, source, form, action="merge", title=title)
    try:
        target = core_selectors.get_organization(user, form.cleaned_data["target"], "org.dissolve")
    except NotFound:
        form.add_error("target", _("No such organisation in your scope."))
        return _render(request, source, form, action="merge", title=title)
    on = form.cleaned_data["on"]
    preview = None
    try:
        if step == "confirm":
            restructure.merge(actor=user, source=source, target=target, on=on)
            messages.success(
                request,
                _("“%(source)s” was merged into “%(target)s”.")
                % {"source": source.name, "target": target.name},
            )
            return redirect("core:org_detail", pk=target.pk)
    except ServiceError as exc:
        _apply_error(form, exc)
    try:
        preview = restructure.preview_merge(actor=user, source=source, target=target)
    except ServiceError as exc:
        _apply_error(form, exc)
    summary = [(_("merge into"), target.name), (_("date of the change"), on.isoformat())]
    return _render(
        request, source, form, action="merge", title=title, preview=preview, summary=summary
    )


def _split_members(user, org):
    return list(
        member_selectors.members(user)
        .filter(organization=org, status=Status.ACTIVE)
        .only("id", "name")
        .order_by("name", "id")[:SPLIT_CHOICES]
    )


@login_required
def split(request, pk):
    user = request.user
    source = _restructurable(user, pk)
    if source.kind not in BRANCH_KINDS:
        raise Http404
    step = _step(request)
    members = _split_members(user, source)
    form = SplitForm(request.POST or None, members=members)
    title = _("Split “%(org)s”") % {"org": source.name}
    if step == "edit" or not form.is_valid():
        return _render(request, source, form, action="split", title=title)
    data = dict(form.cleaned_data)  # a copy: an error on a field drops it from cleaned_data
    ids = list(data["members"])
    preview = None
    try:
        if step == "confirm":
            new_org = restructure.split(
                actor=user,
                source=source,
                values={"code": data["code"], "name": data["name"]},
                member_ids=ids,
                on=data["on"],
            )
            messages.success(
                request,
                _("“%(new)s” was formed from “%(source)s”.")
                % {"new": new_org.name, "source": source.name},
            )
            return redirect("core:org_detail", pk=new_org.pk)
    except ServiceError as exc:
        _apply_error(form, exc)
    try:
        preview = restructure.preview_split(actor=user, source=source, member_ids=ids)
    except ServiceError as exc:
        _apply_error(form, exc)
    summary = [
        (_("code of the new organisation"), data["code"]),
        (_("full name of the new organisation"), data["name"]),
        (_("date of the change"), data["on"].isoformat()),
    ]
    return _render(
        request, source, form, action="split", title=title, preview=preview, summary=summary
    )


@login_required
def dissolve(request, pk):
    user = request.user
    org = _restructurable(user, pk)
    step = _step(request)
    form = DissolveForm(request.POST or None, targets=_targets(user, org, branches_only=True))
    title = _("Dissolve “%(org)s”") % {"org": org.name}
    if step == "edit" or not form.is_valid():
        return _render(request, org, form, action="dissolve", title=title)
    target = None
    if form.cleaned_data["move_members_to"]:
        try:
            target = core_selectors.get_organization(
                user, form.cleaned_data["move_members_to"], "org.dissolve"
            )
        except NotFound:
            form.add_error("move_members_to", _("No such organisation in your scope."))
            return _render(request, org, form, action="dissolve", title=title)
    on = form.cleaned_data["on"]
    preview = None
    try:
        if step == "confirm":
            restructure.dissolve(actor=user, org=org, on=on, move_members_to=target)
            messages.success(request, _("“%(name)s” was dissolved.") % {"name": org.name})
            return redirect("core:org_detail", pk=org.pk)
    except ServiceError as exc:
        _apply_error(form, exc)
    try:
        preview = restructure.preview_dissolve(actor=user, org=org, move_members_to=target)
    except ServiceError as exc:
        _apply_error(form, exc)
    summary = [
        (_("members move to"), target.name if target else "—"),
        (_("dissolved on"), on.isoformat()),
    ]
    return _render(
        request, org, form, action="dissolve", title=title, preview=preview, summary=summary
    )
