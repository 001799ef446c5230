"""Reminders to members behind with their dues: in the platform's notifications (the bell), and
by e-mail where an SMTP host is configured (DANGJIAN_EMAIL_HOST) and the member's account has an
address. Each member is reminded once per month owed (the notification key)."""

import logging

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse
from django.utils.translation import gettext as _

from dangjian.core.models import Notification, Organization

from .models import LedgerLine, LineStatus

logger = logging.getLogger(__name__)


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
    rows, mails = [], []
    keys = {}
    for line in behind:
        key = f"dues:{year}-{month:02d}:{line.member_id}"
        keys[key] = line
    told = set(Notification.objects.filter(key__in=list(keys)).values_list("key", flat=True))
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
        rows.append(Notification(user=user, kind="dues", key=key, title=title[:200], url=url))
        if settings.EMAIL_HOST and user.email:
            mails.append(
                (_("Party dues reminder"), title, settings.DEFAULT_FROM_EMAIL, [user.email])
            )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if mails:
        try:
            send_mass_mail(mails, fail_silently=False)
        except OSError:
            # The reminder is in the platform already; a mail server down must not lose it.
            logger.exception("dues reminders: e-mail could not be sent")
    return len(rows)
