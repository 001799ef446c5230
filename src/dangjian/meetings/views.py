"""Pages of organisational life (in progress: the list and a meeting)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from dangjian.core.errors import NotFound

from . import selectors


@login_required
def meeting_list(request):
    return render(
        request, "meetings/list.html", {"page": selectors.meeting_list(request.user)[:50]}
    )


@login_required
def detail(request, pk):
    try:
        meeting = selectors.get_meeting(request.user, pk)
    except NotFound:
        raise Http404 from None
    return render(request, "meetings/detail.html", {"meeting": meeting})
