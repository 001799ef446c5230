"""Errors raised by services and selectors, each with a stable code for the API."""


class ServiceError(Exception):
    """A user mistake or a refused action: shown to the person, never a 500."""

    code = "invalid"
    status = 400

    def __init__(self, message, *, code: str | None = None, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        self.field = field

    def as_dict(self) -> dict:
        body = {"code": self.code, "message": str(self.message)}
        if self.field:
            body["field"] = self.field
        return body


class ValidationFailed(ServiceError):
    code = "invalid"
    status = 400


class Conflict(ServiceError):
    code = "conflict"
    status = 409


class NotFound(ServiceError):
    """Also raised for objects outside the user's scope, so nobody can probe for what exists."""

    code = "not_found"
    status = 404


class Forbidden(ServiceError):
    """The object is visible, but this action on it is not allowed."""

    code = "forbidden"
    status = 403
