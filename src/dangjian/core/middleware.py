"""Gives every request an id (kept from X-Request-ID when sane) and records the client address."""

import re

from . import context

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request) -> str | None:
    """The client's address. Behind one reverse proxy (DANGJIAN_TRUST_X_FORWARDED_FOR), the
    last address of X-Forwarded-For: the one our proxy saw. The addresses before it are what
    the client itself sent, and anyone can write those (rate limits would fall to a header)."""
    from django.conf import settings

    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        last = forwarded.split(",")[-1].strip()[:64]
        if last:
            return last
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get("X-Request-ID", "")
        token = context.begin(
            request_id=given if _REQUEST_ID.match(given) else None, ip=client_ip(request)
        )
        request.request_id = context.current().request_id
        try:
            response = self.get_response(request)
        finally:
            context.end(token)
        response["X-Request-ID"] = request.request_id
        return response
