"""Spreadsheet exports of the core app, run as background jobs."""

import json
import tempfile

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from . import selectors
from .jobs import job_kind


def safe_cell(value):
    """Text that a spreadsheet would run as a formula is prefixed with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


AUDIT_FILTERS = ("user", "org", "object_type", "object_id", "action", "since", "until")


def filter_audit_events(user, data: dict):
    """Audit events the user may see, narrowed by the filter form's cleaned values."""
    import datetime

    events = selectors.audit_events(user)
    if data.get("user"):
        events = events.filter(user_label__iexact=data["user"])
    if data.get("org"):
        org = selectors.organizations(user).filter(code__iexact=data["org"].strip()).first()
        events = (
            events.filter(selectors.subtree_range("org_path", org.path)) if org else events.none()
        )
    if data.get("object_type"):
        events = events.filter(object_type=data["object_type"])
    if data.get("object_id"):
        events = events.filter(object_id=data["object_id"])
    if data.get("action"):
        events = events.filter(action=data["action"])
    tz = timezone.get_current_timezone()
    since, until = data.get("since"), data.get("until")
    if isinstance(since, str) and since:
        since = datetime.date.fromisoformat(since)
    if isinstance(until, str) and until:
        until = datetime.date.fromisoformat(until)
    if since:
        events = events.filter(
            at__gte=datetime.datetime.combine(since, datetime.time.min, tzinfo=tz)
        )
    if until:
        end = datetime.datetime.combine(
            until + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )
        events = events.filter(at__lt=end)
    return events.order_by("-at", "-id")


@job_kind("audit_export")
def export_audit(job, progress):
    from openpyxl import Workbook

    with override(job.params.get("language") or "zh-hans"):
        events = filter_audit_events(job.user, job.params.get("filters", {}))
        progress.total(events.count())
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(_("Audit log"))
        sheet.append(
            [
                _("time"),
                _("user"),
                "IP",
                _("request id"),
                _("action"),
                _("object type"),
                _("object id"),
                _("object"),
                _("before"),
                _("after"),
            ]
        )
        tz = timezone.get_current_timezone()
        rows = events.values_list(
            "at",
            "user_label",
            "ip",
            "request_id",
            "action",
            "object_type",
            "object_id",
            "object_label",
            "before",
            "after",
        )
        for n, (at, *rest, before, after) in enumerate(rows.iterator(chunk_size=2000), 1):
            cells = [at.astimezone(tz).replace(tzinfo=None), *rest]
            cells += [
                json.dumps(before, ensure_ascii=False) if before is not None else "",
                json.dumps(after, ensure_ascii=False) if after is not None else "",
            ]
            sheet.append([safe_cell(c) for c in cells])
            progress.advance(n)
    handle = tempfile.TemporaryFile()
    workbook.save(handle)
    handle.seek(0)
    return f"audit-{timezone.localdate():%Y%m%d}.xlsx", handle
