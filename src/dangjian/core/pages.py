"""Small pieces the apps' page views share: a scoped read answered 404, a service's error put on
the form field it names, and the status a page with errors answers."""

from django.http import Http404

from . import selectors
from .errors import NotFound, ServiceError


def or_404(read, *args, **kwargs):
    """`read(...)` (a selector), with NotFound (outside the scope) answered as a page 404."""
    try:
        return read(*args, **kwargs)
    except NotFound:
        raise Http404 from None


def form_errors(form, exc: ServiceError) -> None:
    """The service's message on the field it names (above the form when the form has none)."""
    form.service_status = exc.status
    target = exc.field if exc.field in form.fields else None
    form.add_error(target, str(exc.message))


def form_status(*forms) -> int:
    """400 for a form with errors (409 when the service found a conflict), else 200."""
    codes = [getattr(f, "service_status", 400) for f in forms if f is not None and f.errors]
    return max(codes) if codes else 200


def organization_or_top(user, raw, action: str):
    """The organisation a page is asked for (`?org=`), in the scope for `action`; without one,
    where the user's scope starts. 404 outside the scope, and for a user with none."""
    if raw not in (None, ""):
        return or_404(selectors.get_organization, user, raw, action)
    org = selectors.top_organization(user, action)
    if org is None:
        raise Http404
    return org
