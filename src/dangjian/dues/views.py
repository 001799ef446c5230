"""Dues pages (placeholder, replaced by the pages of the dues issue)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse


@login_required
def home(request):
    return HttpResponse("dues")


@login_required
def mine(request):
    return HttpResponse("mine")
