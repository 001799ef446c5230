"""The HTTP API at /api/v1: token authentication, stable error codes; each app adds a router."""

from django.conf import settings
from django.http import Http404
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from dangjian.core.errors import ServiceError


class TokenAuth(HttpBearer):
    """`Authorization: Bearer djt_…` with a personal access token from the profile page."""

    def authenticate(self, request, token):
        from dangjian.core.services import authenticate_token

        user = authenticate_token(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="dangjian API",
    version="1",
    description=str(settings.SITE_NAME) + " — API. Errors answer {code, message, field?}.",
    auth=TokenAuth(),
    urls_namespace="api",
    # Swagger UI from django-ninja's own static files (ninja is in INSTALLED_APPS): no CDN. No
    # online validator badge either: intranets have no internet.
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
)

# Stable codes for errors raised by django-ninja itself (unparsable body, ...).
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "throttled",
}


@api.exception_handler(ServiceError)
def _service_error(request, exc: ServiceError):
    body = exc.as_dict()
    # Several fields at once (members.services.RecordInvalid): every problem, each with its code.
    by_field = getattr(exc, "errors", None)
    if isinstance(by_field, dict):
        field_codes = getattr(exc, "codes", None) or {}
        body["errors"] = [
            {"loc": [field], "msg": str(message), "code": field_codes.get(field, exc.code)}
            for field, messages in by_field.items()
            for message in messages
        ]
    return api.create_response(request, body, status=exc.status)


@api.exception_handler(AuthenticationError)
def _unauthorized(request, exc):
    return api.create_response(
        request,
        {"code": "unauthorized", "message": "A valid API token is required."},
        status=401,
    )


@api.exception_handler(NinjaValidationError)
def _invalid(request, exc: NinjaValidationError):
    errors = exc.errors
    field = None
    if errors:
        loc = [
            str(p)
            for p in errors[0].get("loc", [])
            if p not in ("body", "query", "path", "payload")
        ]
        field = ".".join(loc) or None
    body = {"code": "invalid", "message": errors[0].get("msg", "invalid") if errors else "invalid"}
    if field:
        body["field"] = field
    body["errors"] = [{"loc": e.get("loc"), "msg": e.get("msg")} for e in errors]
    return api.create_response(request, body, status=422)


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = _HTTP_CODES.get(exc.status_code, "error")
    return api.create_response(request, {"code": code, "message": str(exc)}, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request, exc):
    return api.create_response(request, {"code": "not_found", "message": "Not found."}, status=404)


from dangjian.core.api import router as core_router  # noqa: E402

api.add_router("/", core_router)
from dangjian.members.api import router as members_router  # noqa: E402

api.add_router("/members", members_router)
from dangjian.members.api_exports import router as exports_router  # noqa: E402

api.add_router("/member-exports", exports_router)
from dangjian.members.api_imports import router as imports_router  # noqa: E402

api.add_router("/member-imports", imports_router)
from dangjian.committees.api import router as committees_router  # noqa: E402

api.add_router("/committees", committees_router)
from dangjian.transfers.api import router as transfers_router  # noqa: E402

api.add_router("/transfers", transfers_router)
from dangjian.dues.api import router as dues_router  # noqa: E402

api.add_router("/dues", dues_router)
from dangjian.feedback.api import public_router as feedback_public_router  # noqa: E402
from dangjian.feedback.api import router as feedback_router  # noqa: E402

api.add_router("/feedback", feedback_router)
api.add_router("/public", feedback_public_router)
from dangjian.meetings.api import router as meetings_router  # noqa: E402

api.add_router("/meetings", meetings_router)

from dangjian.core.ratelimit import RateLimited  # noqa: E402


@api.exception_handler(RateLimited)
def _rate_limited(request, exc: RateLimited):
    """429 with Retry-After: the seconds to wait, for clients that back off on their own."""
    response = _service_error(request, exc)
    response["Retry-After"] = str(exc.retry_after)
    return response
