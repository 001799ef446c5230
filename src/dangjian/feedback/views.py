"""Staff pages of requests from the public (群众诉求): the inbox, the request with its actions,
figures with a spreadsheet, and the settings (desks with their QR posters, routing rules,
deadlines).

Every page reads through the selectors (404 outside the scope) and changes through the services;
an action that fails comes back on the request's page with what was typed and the message on its
field. Photos are served here, after the scope check, never from a public media address.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import NotFound, ServiceError, ValidationFailed
from dangjian.core.models import Organization, OrgStatus
from dangjian.core.pages import form_errors as _form_errors
from dangjian.core.pages import form_status as _status
from dangjian.core.pages import or_404 as _or_404

from . import forms, reports, rules, selectors, services
from .models import Category, Photo, PublicRequest, Status

VIEW = "feedback.view"
HANDLE = "feedback.handle"
CONFIGURE = "feedback.configure"
# The inbox's "due soon" tab holds requests due within two days (selectors.inbox): rows due
# that soon are marked amber, so the tab and the marks agree.
ORG_CHOICES = 1000  # organisations offered in a select; larger scopes narrow by ?org=


# Helpers ---------------------------------------------------------------------------------------


def _need(user, action=VIEW) -> None:
    if not core_selectors.can(user, action):
        raise Http404


def _request(user, pk) -> PublicRequest:
    return _or_404(selectors.get_request, user, pk)


def _top_org(user, action=VIEW) -> Organization:
    """Where the user's scope for `action` starts; 404 when it is nowhere."""
    org = core_selectors.top_organization(user, action)
    if org is None:
        raise Http404
    return org


def _org_choices(user, action=VIEW, **filters) -> list[Organization]:
    """Active organisations of the scope in tree order, each with a `label` indented by depth."""
    found = list(
        core_selectors.organizations(user, action)
        .filter(status=OrgStatus.ACTIVE, **filters)
        .order_by("path")
        .only("id", "name", "code", "path", "depth", "numchild")[:ORG_CHOICES]
    )
    top = min((o.depth for o in found), default=1)
    for org in found:
        org.label = "\u00a0\u00a0" * (org.depth - top) + org.name
    return found


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


# The inbox -------------------------------------------------------------------------------------


@login_required
def inbox(request):
    """Tabs of INBOX_VIEWS with their counts, filters, and one page of requests."""
    user = request.user
    _need(user)
    view = request.GET.get("view")
    if view not in selectors.INBOX_VIEWS:
        view = "open"
    form = forms.InboxFilterForm(request.GET)
    form.is_valid()  # a bad value drops that filter only
    data = form.cleaned_data
    org = (
        _or_404(core_selectors.get_organization, user, data["org"], VIEW)
        if data.get("org")
        else None
    )
    now = timezone.now()
    qs = selectors.inbox(
        user,
        view=view,
        org=org,
        exact=bool(data.get("exact")),
        category=data.get("category") or "",
        status=data.get("status") or "",
        text=data.get("q") or "",
        now=now,
    )
    page = Paginator(qs, settings.PAGE_SIZE).get_page(request.GET.get("page"))
    for req in page.object_list:
        req.due = rules.due_state(req.answer_due_at, not req.is_open, now)
    params = request.GET.copy()
    params.pop("page", None)
    filters = request.GET.copy()
    for key in ("page", "view"):
        filters.pop(key, None)
    return render(
        request,
        "feedback/inbox.html",
        {
            "page": page,
            "view": view,
            "tabs": _tabs(selectors.inbox_counts(user, now)),
            "form": form,
            "org": org,
            "orgs": _org_choices(user),
            "categories": Category.choices,
            "statuses": Status.choices,
            "query": params.urlencode(),
            "filters": filters.urlencode(),
        },
    )


def _tabs(counts: dict[str, int]) -> list[tuple[str, str, int]]:
    labels = {
        "open": _("Open"),
        "new": _("New"),
        "mine": _("Mine"),
        "soon": _("Due soon"),
        "overdue": _("Overdue"),
        "escalated": _("Escalated"),
        "answered": _("Answered"),
        "all": _("All"),
    }
    return [(v, labels[v], counts.get(v, 0)) for v in selectors.INBOX_VIEWS]


# The request -----------------------------------------------------------------------------------


def _detail_context(request, req: PublicRequest, *, bound=None, contact=None, **extra) -> dict:
    """What the request's page shows, and the forms of the actions the viewer may take now."""
    user = request.user
    now = timezone.now()
    may_handle = core_selectors.can(user, HANDLE, req.organization)
    allowed = {
        action: may_handle and rules.next_status(action, req.status) is not None
        for action in forms.ACTION_FORMS
    }
    allowed["feature"] = allowed["feature"] and (req.allow_public or req.featured)
    handlers = list(selectors.handlers(user, req)) if allowed["assign"] else []
    initial = {
        "assign": {"assignee": req.assignee_id},
        "answer": {"reply": req.public_reply, "signed": req.replied_by or req.organization.name},
        "feature": {"featured": not req.featured},
    }
    action_forms = {}
    for action, form_class in forms.ACTION_FORMS.items():
        if bound is not None and bound.action == action:
            action_forms[action] = bound
            continue
        kwargs = {"initial": initial.get(action, {})}
        if action == "assign":
            kwargs["handlers"] = handlers
        action_forms[action] = form_class(**kwargs)
    forward = action_forms["forward"]
    scoped = selectors.requests(user)
    merged_into = scoped.filter(pk=req.merged_into_id).first() if req.merged_into_id else None
    return {
        "req": req,
        "allowed": allowed,
        "may_handle": may_handle,
        "forms": action_forms,
        "failed": bound.action if bound is not None else "",
        # An action refused because the request moved on: its form is gone, its message stays.
        "orphan_errors": [e for errors in bound.errors.values() for e in errors]
        if bound is not None and not allowed.get(bound.action)
        else [],
        "contact": contact or selectors.contact(user, req),
        "history": selectors.history(req),
        "photos": list(req.photos.all()),
        "merged_into": merged_into,
        "duplicates": list(scoped.filter(merged_into=req)),
        "ack_state": rules.due_state(
            req.ack_due_at, req.acknowledged_at is not None or not req.is_open, now
        ),
        "answer_state": rules.due_state(req.answer_due_at, not req.is_open, now),
        "chosen": _chosen(forward),
        **_search(request),
        **extra,
    }


def _chosen(form) -> Organization | None:
    """The organisation already chosen on the forward form being shown again."""
    raw = str((form["to_org"].value() if form.is_bound else "") or "")
    if raw.isascii() and raw.isdigit() and len(raw) < 19:
        return Organization.objects.filter(pk=int(raw)).first()
    return None


def _search(request) -> dict:
    """The organisation search of the forward form, also without JavaScript (`q`)."""
    q = (request.GET.get("q") or request.POST.get("q") or "").replace("\x00", "").strip()[:50]
    found = list(selectors.organizations_to_forward(request.user, q)) if q else []
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
    return {"q": q, "targets": found, "searched": bool(q)}


@login_required
def detail(request, pk):
    req = _request(request.user, pk)
    return render(request, "feedback/detail.html", _detail_context(request, req))


def _org_or_none(pk) -> Organization | None:
    # Any organisation may receive a forwarded request (names are not secret); the service
    # decides whether this one can.
    return Organization.objects.filter(pk=pk).first() if pk else None


def _assign(request, req, data, form):
    chosen = data["assignee"]
    user = None
    if chosen is not None:
        user = next((u for u in form.handlers if u.pk == chosen), None)
    services.assign(actor=request.user, req=req, user=user)
    if user is None:
        return _("Nobody is assigned now.")
    return _("Assigned to %(name)s.") % {"name": user.display_name or user.get_username()}


def _merge(request, req, data, form):
    number = rules.normalise_number(data["into"])
    # Only a request in the viewer's scope: one answer for unknown and unseen numbers.
    into = selectors.requests(request.user).filter(number=number).first() if number else None
    if into is None:
        raise ValidationFailed(
            _("No request with this tracking number is in your care."),
            code="not_found",
            field="into",
        )
    services.merge(actor=request.user, req=req, into=into, note=data["note"])
    return _("Merged into %(number)s.") % {"number": into.number}


def _feature(request, req, data, form):
    services.feature(actor=request.user, req=req, shown=data["featured"])
    if data["featured"]:
        return _("The request is shown on the public page.")
    return _("The request is no longer shown on the public page.")


def _does(call, message):
    """An action that calls one service and says `message` when it is done."""

    def run(request, req, data, form):
        call(request.user, req, data)
        return str(message)

    return run


# action -> what it does with the form's data, returning the message of success
ACTIONS = {
    "accept": _does(
        lambda user, req, d: services.accept(actor=user, req=req),
        gettext_lazy("The request was accepted."),
    ),
    "start": _does(
        lambda user, req, d: services.start(actor=user, req=req),
        gettext_lazy("Work on the request has started."),
    ),
    "assign": _assign,
    "note": _does(
        lambda user, req, d: services.add_note(actor=user, req=req, text=d["text"]),
        gettext_lazy("The note was added."),
    ),
    "forward": _does(
        lambda user, req, d: services.forward(
            actor=user, req=req, to_org=_org_or_none(d["to_org"]), reason=d["reason"]
        ),
        gettext_lazy("The request was forwarded."),
    ),
    "merge": _merge,
    "answer": _does(
        lambda user, req, d: services.answer(
            actor=user, req=req, reply=d["reply"], signed=d["signed"]
        ),
        gettext_lazy("The answer was sent."),
    ),
    "close": _does(
        lambda user, req, d: services.close(actor=user, req=req),
        gettext_lazy("The request was closed."),
    ),
    "reject": _does(
        lambda user, req, d: services.reject(actor=user, req=req, reason=d["reason"]),
        gettext_lazy("The request was rejected."),
    ),
    "feature": _feature,
}


@login_required
@require_POST
def act(request, pk, action):
    """One action of the request's page; errors come back on the page with what was typed."""
    form_class = forms.ACTION_FORMS.get(action)
    if form_class is None:
        raise Http404
    user = request.user
    req = _request(user, pk)
    kwargs = {}
    if action == "assign":
        kwargs["handlers"] = list(selectors.handlers(user, req))
    form = form_class(request.POST, **kwargs)
    form.handlers = kwargs.get("handlers", [])
    status = 400
    if form.is_valid():
        try:
            done = ACTIONS[action](request, req, form.cleaned_data, form)
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
            status = exc.status
        else:
            messages.success(request, done)
            if selectors.requests(user).filter(pk=req.pk).exists():
                return redirect("feedback:detail", req.pk)
            return redirect("feedback:inbox")  # forwarded out of the viewer's scope
    context = _detail_context(request, req, bound=form)
    return render(request, "feedback/detail.html", context, status=status)


@never_cache
@login_required
@require_POST
def reveal(request, pk):
    """The submitter's contact in full, on this response only; each reveal is audited."""
    user = request.user
    req = _request(user, pk)
    try:
        full = services.reveal_contact(actor=user, req=req)
    except NotFound:
        raise Http404 from None
    except ServiceError as exc:
        context = _detail_context(request, req, contact_error=str(exc.message))
        return render(request, "feedback/detail.html", context, status=exc.status)
    return render(request, "feedback/detail.html", _detail_context(request, req, contact=full))


@login_required
def photo(request, pk, photo_pk):
    """A photo of a request in the viewer's scope (the files are not served publicly)."""
    req = _request(request.user, pk)
    found = Photo.objects.filter(pk=photo_pk, request=req).first()
    if found is None:
        raise Http404
    try:
        handle = found.image.open("rb")
    except OSError:
        raise Http404 from None
    kind = "image/png" if found.image.name.lower().endswith(".png") else "image/jpeg"
    response = FileResponse(handle, content_type=kind)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
def targets(request):
    """The organisation search of the forward form (htmx partial)."""
    _need(request.user, HANDLE)
    return render(request, "feedback/_targets.html", _search(request))


# Figures ---------------------------------------------------------------------------------------


def _figures_org(request) -> Organization:
    user = request.user
    _need(user)
    raw = request.GET.get("org")
    return _or_404(core_selectors.get_organization, user, raw, VIEW) if raw else _top_org(user)


@login_required
def figures(request):
    """Volume, lateness and satisfaction of a subtree: by month, by category, by organisation
    below (with drill-down)."""
    user = request.user
    org = _figures_org(request)
    data = _or_404(reports.gather, user, org)
    inbox_url = reverse("feedback:inbox")
    for row in data["children"]:
        item = row["org"]
        row["drill_url"] = (
            f"{reverse('feedback:figures')}?{urlencode({'org': item.pk})}"
            if not row["own"] and item.numchild
            else None
        )
        query = {"org": item.pk, "view": "all"}
        if row["own"]:
            query["exact"] = "on"
        row["inbox_url"] = f"{inbox_url}?{urlencode(query)}"
    chart = {
        "months": [m["month"] for m in data["months"]],
        "total": [m["total"] for m in data["months"]],
        "late_share": [m["late_share"] for m in data["months"]],
        "categories": [{"name": c["label"], "value": c["total"]} for c in data["categories"]],
        "labels": {"total": _("Requests"), "late_share": _("Late share (%)")},
    }
    ancestors = [
        a for a in core_selectors.ancestors_visible(user, org) if core_selectors.can(user, VIEW, a)
    ]
    return render(
        request,
        "feedback/figures.html",
        {"org": org, "ancestors": ancestors, "chart": chart, **data},
    )


@login_required
def figures_xlsx(request):
    org = _figures_org(request)
    data = _or_404(reports.gather, request.user, org)
    response = HttpResponse(
        reports.workbook(org, data),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    name = f"feedback-{org.code}-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


# Settings --------------------------------------------------------------------------------------


def _deadline_rows() -> list[dict]:
    version = rules.deadline_version(timezone.localdate())
    overrides = services.deadline_overrides()
    labels = dict(Category.choices)
    return [
        {
            "category": code,
            "label": labels[code],
            "default": version.days[code],
            "local": overrides.get(code),
        }
        for code in rules.CATEGORIES
    ]


def _try_route(user, form) -> dict | None:
    """What the routing would do with a text typed in the "try it" box."""
    if not form.is_bound or not form.is_valid():
        return None
    data = form.cleaned_data
    desk = selectors.desks(user).filter(pk=data["desk"]).first() if data.get("desk") else None
    # Within the desk's place, or the user's own part of the tree: rules elsewhere stay unseen.
    prefixes = core_selectors.scope_for(user, CONFIGURE)
    within = desk.organization if desk else (None if "" in prefixes else _top_org(user, CONFIGURE))
    route = services.suggest(data["text"], data["category"], within=within)
    found = {"desk": desk, "within": within, "route": route, "org": None, "rule": None}
    if route is not None:
        found["org"] = Organization.objects.filter(pk=route.org_id).first()
        found["rule"] = selectors.routing_rules(user).filter(pk=route.rule_id).first()
    elif desk is not None:
        found["org"] = desk.organization
    return found


def _settings_context(request, **bound) -> dict:
    user = request.user
    desks = list(selectors.desks(user))
    try_form = forms.TryRouteForm(request.GET if "text" in request.GET else None)
    may_set = services.may_set_deadlines(user)
    return {
        "desks": desks,
        "rules": list(selectors.routing_rules(user)[:500]),
        "try_form": try_form,
        "tried": _try_route(user, try_form),
        "deadlines": _deadline_rows(),
        "may_set_deadlines": may_set,
        "deadline_form": bound.get("deadline_form") or (forms.DeadlineForm() if may_set else None),
    }


@login_required
def settings_page(request):
    _need(request.user, CONFIGURE)
    return render(request, "feedback/settings.html", _settings_context(request))


@login_required
def route_try(request):
    """The "try it" box (htmx partial; the settings page shows it without JavaScript)."""
    user = request.user
    _need(user, CONFIGURE)
    if not _is_htmx(request):
        return render(request, "feedback/settings.html", _settings_context(request))
    form = forms.TryRouteForm(request.GET)
    return render(
        request, "feedback/_try.html", {"tried": _try_route(user, form), "try_form": form}
    )


@login_required
def desk_edit(request, pk=None):
    """A new desk (at an organisation without one) or an existing one (its organisation fixed)."""
    user = request.user
    _need(user, CONFIGURE)
    desk = None
    if pk is not None:
        desk = selectors.desks(user).filter(pk=pk).first()
        if desk is None:
            raise Http404
        form = forms.DeskForm(
            request.POST or None,
            initial={
                "code": desk.code,
                "place": desk.place,
                "intro": desk.intro,
                "active": desk.active,
            },
        )
        del form.fields["organization"]
    else:
        orgs = _org_choices(user, CONFIGURE, desk__isnull=True)
        form = forms.DeskForm(request.POST or None, organizations=orgs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = desk.organization if desk else None
        if org is None:
            org = (
                core_selectors.organizations(user, CONFIGURE)
                .filter(pk=data["organization"])
                .first()
            )
        try:
            if org is None:
                raise ValidationFailed(
                    _("Choose an organisation."), code="required", field="organization"
                )
            services.save_desk(
                actor=user,
                organization=org,
                code=data["code"],
                place=data["place"],
                intro=data["intro"],
                active=data["active"],
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The desk was saved."))
            return redirect("feedback:settings")
    return render(
        request,
        "feedback/form.html",
        {
            "form": form,
            "title": _("Edit the desk") if desk else _("New desk"),
            "subtitle": desk.organization.name if desk else "",
            "desk": desk,
        },
        status=_status(form),
    )


def _desk_url(request, desk) -> str:
    """The public desk's page for new requests at this desk, as an absolute address."""
    try:
        base = reverse("desk:new")
    except NoReverseMatch:
        base = reverse("desk:home") + "new/"
    return request.build_absolute_uri(f"{base}?{urlencode({'at': desk.code})}")


@login_required
def desk_poster(request, pk):
    """A printable poster with the desk's QR code (SVG drawn by segno)."""
    import segno

    user = request.user
    desk = selectors.desks(user).filter(pk=pk).first()
    if desk is None:
        raise Http404
    url = _desk_url(request, desk)
    qr = segno.make(url, error="m")
    svg = qr.svg_inline(scale=10, border=2, omitsize=True, dark="#000", light="#fff")
    return render(request, "feedback/poster.html", {"desk": desk, "url": url, "qr_svg": svg})


@login_required
def rule_edit(request, pk=None):
    user = request.user
    _need(user, CONFIGURE)
    rule = None
    if pk is not None:
        rule = selectors.routing_rules(user).filter(pk=pk).first()
        if rule is None:
            raise Http404
    orgs = _org_choices(user, CONFIGURE)
    if rule is not None and all(o.pk != rule.organization_id for o in orgs):
        orgs.append(rule.organization)
    initial = {}
    if rule is not None:
        initial = {
            "organization": rule.organization_id,
            "keywords": rule.keywords,
            "category": rule.category,
            "weight": rule.weight,
            "active": rule.active,
            "note": rule.note,
        }
    form = forms.RuleForm(request.POST or None, organizations=orgs, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        org = next(o for o in orgs if o.pk == data["organization"])
        try:
            services.save_routing_rule(
                actor=user,
                organization=org,
                keywords=data["keywords"],
                category=data["category"],
                weight=data["weight"],
                active=data["active"],
                note=data["note"],
                rule=rule,
            )
        except NotFound:
            raise Http404 from None
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The routing rule was saved."))
            return redirect("feedback:settings")
    return render(
        request,
        "feedback/form.html",
        {
            "form": form,
            "title": _("Edit the routing rule") if rule else _("New routing rule"),
            "rule": rule,
        },
        status=_status(form),
    )


@login_required
@require_POST
def rule_delete(request, pk):
    user = request.user
    rule = selectors.routing_rules(user).filter(pk=pk).first()
    if rule is None:
        raise Http404
    try:
        services.delete_routing_rule(actor=user, rule=rule)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("The routing rule was deleted."))
    return redirect("feedback:settings")


@login_required
@require_POST
def deadline_save(request):
    user = request.user
    _need(user, CONFIGURE)
    form = forms.DeadlineForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.set_deadline(
                actor=user,
                category=data["category"],
                ack_days=data["ack_days"],
                answer_days=data["answer_days"],
            )
        except ServiceError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("The deadline was saved."))
            return redirect("feedback:settings")
    return render(
        request,
        "feedback/settings.html",
        _settings_context(request, deadline_form=form),
        status=_status(form),
    )
