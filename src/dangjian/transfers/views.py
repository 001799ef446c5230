"""Pages of transfers, introduction letters, mobile members and members out of contact."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def transfer_list(request):
    return render(
        request,
        "transfers/list.html",
        {
            "incoming": selectors.incoming(request.user)[:50],
            "outgoing": selectors.outgoing(request.user)[:50],
        },
    )
