"""Reminders to members behind with their dues: in the platform's notifications (the bell), and
by e-mail where an SMTP host is configured (DANGJIAN_EMAIL_HOST) and the member's account has an
address. Each member is reminded once per month owed (the notification key).

A mail goes only for a notification this call actually inserted (two secretaries pressing the
button at once send one mail each member), and only once the transaction has committed: a
reminder rolled back sends nothing, and no SMTP conversation holds the transaction open."""

import logging
from functools import partial

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.models import Notification, Organization

from .models import LedgerLine, LineStatus

logger = logging.getLogger(__name__)

BATCH = 500


def _insert_new(rows: list[Notification]) -> set[tuple[int, str]]:
    """Insert the notifications not there yet; the (user, key) pairs actually inserted.
    (bulk_create with ignore_conflicts cannot tell which rows it inserted.)"""
    meta = Notification._meta
    names = ["user", "kind", "key", "title", "body", "url", "created_at"]
    fields = [meta.get_field(n) for n in names]
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in fields)
    user_col, key_col = q(meta.get_field("user").column), q(meta.get_field("key").column)
    inserted: set[tuple[int, str]] = set()
    with connection.cursor() as cursor:
        for i in range(0, len(rows), BATCH):
            chunk = rows[i : i + BATCH]
            marks = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(chunk))
            params = []
            for row in chunk:
                for f in fields:
                    params.append(f.get_db_prep_save(f.pre_save(row, True), connection))
            # Only quoted names from the model's meta and placeholders go into the text.
            sql = f"INSERT INTO {q(meta.db_table)} ({columns}) VALUES {marks} "  # noqa: S608
            sql += f"ON CONFLICT ({user_col}, {key_col}) DO NOTHING "
            sql += f"RETURNING {user_col}, {key_col}"
            cursor.execute(sql, params)
            inserted.update((user_id, key) for user_id, key in cursor.fetchall())
    return inserted


def _send(mails: list[tuple]) -> None:
    try:
        send_mass_mail(mails, fail_silently=False)
    except OSError:
        # The reminder is in the platform already; a mail server down must not lose it.
        logger.exception("dues reminders: e-mail could not be sent")


def remind_unpaid(org: Organization, year: int, month: int) -> int:
    """Notify the members whose line of `month` at `org` is unpaid or partly paid. Returns how
    many were newly reminded."""
    behind = (
        LedgerLine.objects.filter(
            organization=org,
            year=year,
            month=month,
            status__in=[LineStatus.UNPAID, LineStatus.PARTIAL],
            member__user__isnull=False,
            member__user__is_active=True,
        )
        .select_related("member__user")
        .order_by("member_id")
    )
    url = reverse("dues:mine")
    keys = {}
    for line in behind:
        keys[f"dues:{year}-{month:02d}:{line.member_id}"] = line
    told = set(Notification.objects.filter(key__in=list(keys)).values_list("key", flat=True))
    rows, titles = [], {}
    now = timezone.now()
    for key, line in keys.items():
        if key in told:
            continue
        owed = (line.due or 0) - line.paid
        title = _("Dues for %(year)d-%(month)02d are not yet paid: %(owed)s yuan owed.") % {
            "year": year,
            "month": month,
            "owed": owed,
        }
        user = line.member.user
        rows.append(
            Notification(
                user=user, kind="dues", key=key, title=title[:200], url=url, created_at=now
            )
        )
        titles[(user.pk, key)] = (user, title)
    inserted = _insert_new(rows) if rows else set()
    mails = []
    if settings.EMAIL_HOST:
        subject = _("Party dues reminder")
        for pair in sorted(inserted, key=lambda p: p[1]):
            user, title = titles[pair]
            if user.email:
                mails.append((subject, title, settings.DEFAULT_FROM_EMAIL, [user.email]))
    if mails:
        transaction.on_commit(partial(_send, mails))
    return len(inserted)
