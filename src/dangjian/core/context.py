"""Who is acting, from where, under which request id: set per request (or per command)."""

import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ActionContext:
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ip: str | None = None


_current: ContextVar[ActionContext | None] = ContextVar("dangjian_action_context", default=None)


def current() -> ActionContext:
    ctx = _current.get()
    if ctx is None:
        ctx = ActionContext()
        _current.set(ctx)
    return ctx


def begin(*, request_id: str | None = None, ip: str | None = None):
    """Start a new context; returns the token to pass to `end`."""
    return _current.set(ActionContext(request_id=request_id or uuid.uuid4().hex, ip=ip))


def end(token) -> None:
    _current.reset(token)
