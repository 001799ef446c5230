"""Pages of committees, terms, office-holders, elections, re-election and shape warnings."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from dangjian.core import selectors as core_selectors
from dangjian.core.errors import NotFound

from . import selectors


@login_required
def overview(request):
    return render(request, "committees/overview.html", {})


@login_required
def org(request, pk):
    try:
        organization = core_selectors.get_organization(request.user, pk)
    except NotFound:
        from django.http import Http404

        raise Http404 from None
    return render(
        request,
        "committees/org.html",
        {"org": organization, "holders": selectors.current_holders(request.user, organization)},
    )


def _unused():  # pragma: no cover - keeps imports for the pages to come
    return redirect
