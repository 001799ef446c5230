"""Writing the audit log. Every service calls `record` inside its transaction."""

import datetime
import decimal
import uuid

from django.db import models

from . import context
from .models import AuditEvent


def _jsonable(value):
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(obj: models.Model, fields: list[str]) -> dict:
    """The values of `fields` on obj, ready for JSON. Foreign keys are stored as ids."""
    data = {}
    for name in fields:
        field = obj._meta.get_field(name)
        attname = getattr(field, "attname", name)
        data[name] = _jsonable(getattr(obj, attname))
    return data


def diff(before: dict | None, after: dict | None) -> tuple[dict | None, dict | None]:
    """Keep only the keys whose values changed (both sides), for readable change events."""
    if not before or not after:
        return before, after
    changed = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


def _event(actor, action, obj, before, after, org_path, label, subject=None) -> AuditEvent:
    ctx = context.current()
    actor_id = getattr(actor, "pk", None)
    return AuditEvent(
        user_id=actor_id,
        user_label=(actor.get_username() if actor_id else "system"),
        ip=ctx.ip,
        request_id=ctx.request_id,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        object_label=(label if label is not None else str(obj))[:255],
        org_path=org_path or "",
        before=before,
        after=after,
        subject=subject,
    )


def record(
    actor,
    action: str,
    obj: models.Model,
    *,
    before=None,
    after=None,
    org_path="",
    label: str | None = None,
    subject: str | None = None,
) -> AuditEvent:
    event = _event(actor, action, obj, before, after, org_path, label, subject)
    event.save()
    return event


def record_many(actor, action: str, items, *, batch_size: int = 1000) -> int:
    """One event per object, all under the current request id.

    items: iterable of (obj, before, after, org_path) or (obj, before, after, org_path, subject).
    """
    events = [_event(actor, action, *item[:4], None, *item[4:5]) for item in items]
    AuditEvent.objects.bulk_create(events, batch_size=batch_size)
    return len(events)
