"""Small pieces the apps' API routers share (core.api holds the id types)."""

import datetime
from contextlib import contextmanager

from django.utils import timezone

from . import selectors
from .errors import NotFound, ServiceError
from .models import Organization


def today() -> datetime.date:
    return timezone.localdate()


@contextmanager
def named(prefix: str = "", **names):
    """Service errors with their field renamed to the name of the API's input (or, with
    `prefix`, every other field put under it: record.id_number)."""
    try:
        yield
    except ServiceError as exc:
        rename = (lambda f: names.get(f, prefix + f)) if prefix else (lambda f: names.get(f, f))
        if exc.field:
            exc.field = rename(exc.field)
        errors = getattr(exc, "errors", None)
        if isinstance(errors, dict):
            exc.errors = {rename(k): v for k, v in errors.items()}
            exc.codes = {rename(k): v for k, v in getattr(exc, "codes", {}).items()}
        raise


def organization(
    request, org_id: int, field: str | None = None, action: str = "org.view"
) -> Organization:
    """An organisation where the caller may do `action` (see it, by default); 404 naming the
    input field otherwise."""
    try:
        return selectors.get_organization(request.user, org_id, action)
    except NotFound as exc:
        exc.field = field
        raise


class Finished:
    """A queryset whose rows of one page are completed in Python once sliced (a status, days
    left, a flag), so a list paginates without reading every row."""

    def __init__(self, qs, finish):
        self.qs, self.finish = qs, finish

    def __len__(self):
        return self.qs.count()

    def __getitem__(self, part):
        return self.finish(list(self.qs[part]))
