"""The public request desk (群众诉求受理): pages for people without an account, made for phones.

A person submits a request (with a CAPTCHA) and is shown its tracking number and check code once.
With both, anyone may follow the request from any browser: the browser that opened a request
(by submitting it, or by number and code) keeps it in its session, and the status page, the
photos and the forms that follow answer only to such a session, so a number alone shows nothing.
Nothing here shows who submitted a request.
"""

import mimetypes
from urllib.parse import urlencode

from django.contrib import messages
from django.core.cache import cache
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dangjian.core.errors import NotFound, ServiceError
from dangjian.core.middleware import client_ip
from dangjian.core.ratelimit import RateLimited

from . import rules, selectors, services
from .forms_public import AddInformationForm, RateForm, RequestForm, TrackForm
from .models import EntryKind, Photo, PublicRequest, Status

OPENED = "desk_opened"  # session: pks of the requests this browser may see
DONE = "desk_done"  # session: the number and code to show once after submitting
MAX_OPENED = 20
DESKS_PER_PAGE = 20
FIGURES_SECONDS = 300  # the public figures are computed at most this often

PROGRESS = (Status.RECEIVED, Status.ACCEPTED, Status.IN_PROGRESS, Status.ANSWERED, Status.CLOSED)


# Helpers ------------------------------------------------------------------------------------------


def _too_many(exc: RateLimited) -> str:
    return ngettext(
        "Too many requests have come from this network or phone number. "
        "Please try again in %(n)d minute.",
        "Too many requests have come from this network or phone number. "
        "Please try again in %(n)d minutes.",
        exc.minutes,
    ) % {"n": exc.minutes}


def _show_error(form, exc: ServiceError) -> int:
    """Put a service's error on the field it names (or above the form); the status to answer."""
    if isinstance(exc, RateLimited):
        form.add_error(None, _too_many(exc))
        return 429
    form.add_error(exc.field if exc.field in form.fields else None, str(exc.message))
    return 200


def _answer(response, status: int, exc: ServiceError | None = None):
    response.status_code = status
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _opened(request) -> list[int]:
    return [pk for pk in request.session.get(OPENED, []) if isinstance(pk, int)]


def _remember(request, req: PublicRequest) -> None:
    opened = [pk for pk in _opened(request) if pk != req.pk] + [req.pk]
    # A new session key whenever the session gains a request: a key planted beforehand by
    # someone else opens nothing.
    request.session.cycle_key()
    request.session[OPENED] = opened[-MAX_OPENED:]


def _opened_request(request, number: str) -> PublicRequest | None:
    pks = _opened(request)
    if not pks:
        return None
    return (
        PublicRequest.objects.select_related(
            "organization", "desk", "merged_into", "merged_into__organization"
        )
        .filter(pk__in=pks, number=str(number)[:20])
        .first()
    )


def _to_track_form(number: str):
    query = urlencode({"number": str(number)[:20]})
    return redirect(f"{reverse('desk:track')}?{query}")


# Home, submitting -------------------------------------------------------------------------------


@require_GET
def home(request):
    """What the desk is, the places that take requests (searchable), where to go next."""
    q = " ".join(request.GET.get("q", "").split())[:50]
    desks = selectors.public_desks()
    if q:
        desks = desks.filter(
            Q(place__icontains=q) | Q(organization__name__icontains=q) | Q(code__iexact=q)
        )
    page = Paginator(desks, DESKS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "feedback/public/home.html",
        {"page": page, "q": q, "query": urlencode({"q": q}) if q else ""},
    )


@require_GET
def at_desk(request, code):
    """The address printed as a QR code on a desk's poster."""
    return redirect(f"{reverse('desk:new')}?{urlencode({'at': code})}")


@require_http_methods(["GET", "POST"])
def new(request):
    """The request form; `?at=<desk code>` (the QR poster) fixes the place."""
    at = request.GET.get("at", "")
    fixed = selectors.desk_by_code(at) if at else None
    status, error = 200, None
    if request.method == "POST":
        form = RequestForm(request.POST, request.FILES, fixed=fixed)
        if form.is_valid():
            try:
                req, code = services.submit(**form.submit_values(), ip=client_ip(request))
            except ServiceError as exc:
                status, error = _show_error(form, exc), exc
            else:
                _remember(request, req)
                request.session[DONE] = {"number": req.number, "code": code}
                return redirect("desk:done")
    else:
        form = RequestForm(fixed=fixed)
    context = {
        "form": form,
        "fixed": fixed,
        "unknown_place": bool(at) and fixed is None,
        "photos_dropped": bool(request.FILES.getlist("photos")),
        "text_max": services.TEXT_MAX,
        "max_photos": form.fields["photos"].max_files,
    }
    return _answer(render(request, "feedback/public/new.html", context), status, error)


@never_cache
@require_GET
def done(request):
    """The tracking number and check code, shown once (popped from the session)."""
    shown = request.session.pop(DONE, None)
    return render(request, "feedback/public/done.html", {"shown": shown})


# Following a request ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def track(request):
    """Tracking number and check code: the request opens in this browser."""
    status, error = 200, None
    if request.method == "POST":
        form = TrackForm(request.POST)
        if form.is_valid():
            try:
                req = services.find_for_public(
                    form.cleaned_data["number"], form.cleaned_data["code"], ip=client_ip(request)
                )
            except NotFound as exc:
                form.add_error(None, str(exc.message))  # one message: number or code wrong
            except ServiceError as exc:
                status, error = _show_error(form, exc), exc
            else:
                _remember(request, req)
                return redirect("desk:status", number=req.number)
    else:
        form = TrackForm(initial={"number": request.GET.get("number", "")[:20]})
    opened = PublicRequest.objects.filter(pk__in=_opened(request)).only(
        "number", "status", "category", "submitted_at"
    )
    context = {"form": form, "opened": opened}
    return _answer(render(request, "feedback/public/track.html", context), status, error)


def _progress(req: PublicRequest) -> list[dict]:
    """The steps received → accepted → in progress → answered → closed, each done, current or
    to come. A request started without being accepted has passed "accepted" all the same."""
    reached = PROGRESS.index(req.status) if req.status in PROGRESS else 0
    return [
        {
            "status": step.value,
            "label": step.label,
            "state": "done" if i < reached else "current" if i == reached else "todo",
        }
        for i, step in enumerate(PROGRESS)
    ]


def _status_page(request, req: PublicRequest, *, add_form=None, rate_form=None, status=200):
    now = timezone.now()
    shown = req.merged_into if req.status == Status.MERGED and req.merged_into else req
    context = {
        "req": req,
        "shown": shown,
        "merged": shown is not req,
        "steps": _progress(shown),
        "history": selectors.history(req, public=True),
        "photos": list(req.photos.all()),
        "ack_state": rules.due_state(req.ack_due_at, req.acknowledged_at is not None, now),
        "answer_state": rules.due_state(
            req.answer_due_at, req.answered_at is not None or not req.is_open, now
        ),
        "may_add": rules.next_status("add", req.status) is not None,
        "may_rate": rules.may_rate(req.status, req.rated_at, req.answered_at),
        "may_reopen": rules.may_reopen(rules.UNSATISFIED, req.reopened),
        "unsatisfied": rules.UNSATISFIED,
        "add_form": add_form or AddInformationForm(),
        "rate_form": rate_form or RateForm(),
        "add_max": services.ADD_MAX,
        "kinds": EntryKind,
    }
    return render(request, "feedback/public/status.html", context, status=status)


@require_GET
def status(request, number):
    """Where the request stands: progress, deadlines, public history, the reply, photos."""
    req = _opened_request(request, number)
    if req is None:
        return _to_track_form(number)
    return _status_page(request, req)


@require_POST
def add(request, number):
    """The person adds words and photos to their request."""
    req = _opened_request(request, number)
    if req is None:
        return _to_track_form(number)
    form = AddInformationForm(request.POST, request.FILES)
    code, error = 200, None
    if form.is_valid():
        try:
            services.add_information(
                req=req,
                text=form.cleaned_data["text"],
                photo_files=form.cleaned_data["photos"],
                ip=client_ip(request),
            )
        except ServiceError as exc:
            code, error = _show_error(form, exc), exc
        else:
            messages.success(request, _("Thank you: your information was added to the request."))
            return redirect("desk:status", number=req.number)
    form.photos_dropped = bool(request.FILES.getlist("photos"))
    return _answer(_status_page(request, req, add_form=form), code, error)


@require_POST
def rate(request, number):
    """Stars for the answer; an unsatisfied person may ask once to handle it again."""
    req = _opened_request(request, number)
    if req is None:
        return _to_track_form(number)
    form = RateForm(request.POST)
    code, error = 200, None
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.rate(
                req=req, rating=data["rating"], comment=data["comment"], reopen=data["reopen"]
            )
        except ServiceError as exc:
            code, error = _show_error(form, exc), exc
        else:
            if data["reopen"]:
                messages.success(request, _("Thank you: the request will be handled again."))
            else:
                messages.success(request, _("Thank you for rating the answer."))
            return redirect("desk:status", number=req.number)
    return _answer(_status_page(request, req, rate_form=form), code, error)


@require_GET
def photo(request, number, pk):
    """A photo the person sent, only to a browser that opened the request (never a media URL)."""
    found = (
        Photo.objects.filter(
            pk=pk, request__number=str(number)[:20], request_id__in=_opened(request)
        )
        .only("image")
        .first()
    )
    if found is None:
        raise Http404
    try:
        handle = found.image.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    kind = mimetypes.guess_type(found.image.name)[0]
    response = FileResponse(
        handle, content_type=kind if kind in ("image/jpeg", "image/png") else "image/jpeg"
    )
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Disposition"] = "inline"
    return response


# Figures -------------------------------------------------------------------------------------------


def _public_figures() -> dict:
    totals = selectors.public_figures()
    months = selectors.figures_by_month(PublicRequest.objects.all())[-12:]
    return {
        "totals": totals,
        "months": [
            {"month": m["month"], "total": m["total"], "answered": m["answered"]} for m in months
        ],
        "chart": {
            "months": [m["month"] for m in months],
            "total": [m["total"] for m in months],
            "answered": [m["answered"] for m in months],
            "labels": {"total": _("received"), "answered": _("answered")},
        },
        "featured": selectors.featured_answers(),
    }


@require_GET
def figures(request):
    """How the platform answers: counts, timeliness, satisfaction, answered examples."""
    key = f"feedback:public-figures:{translation.get_language()}"
    data = cache.get(key)
    if data is None:
        data = _public_figures()
        cache.set(key, data, FIGURES_SECONDS)
    hours = data["totals"]["answer_time_hours"]
    context = data | {
        "answer_days": round(hours / 24, 1) if hours is not None and hours >= 48 else None,
        "answer_hours": hours,
        "within_an_hour": hours is not None and hours < 1,
    }
    return render(request, "feedback/public/figures.html", context)
