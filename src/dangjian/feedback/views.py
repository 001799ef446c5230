"""Staff pages of requests from the public (in progress: the inbox and the request)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from dangjian.core.errors import NotFound

from . import selectors


@login_required
def inbox(request):
    return render(request, "feedback/inbox.html", {"page": selectors.inbox(request.user)[:50]})


@login_required
def detail(request, pk):
    try:
        req = selectors.get_request(request.user, pk)
    except NotFound:
        raise Http404 from None
    return render(request, "feedback/detail.html", {"req": req})
