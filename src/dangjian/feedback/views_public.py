"""The public request desk (群众诉求), no account needed (in progress)."""

from django.shortcuts import render

from . import selectors


def home(request):
    return render(request, "feedback/public/home.html", {"desks": selectors.public_desks()})
