"""A member's own meetings, on the phone (in progress)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from dangjian.core.errors import NotFound

from . import selectors


@login_required
def mine_detail(request, pk):
    try:
        meeting = selectors.my_meeting(request.user, pk)
    except NotFound:
        raise Http404 from None
    return render(request, "meetings/detail.html", {"meeting": meeting})
