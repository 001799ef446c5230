"""Re-election reminders: the organisation's officers and the committee above hear ahead of the
due date (lead time configurable) and again when it has passed. Sent once per term and stage,
however often and on however many workers the sweep runs (core.Notification.key)."""

import datetime

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import permissions, rules
from dangjian.core.models import Notification, OrgStatus, RoleAssignment

from .models import Term

OFFICER_ROLES = [r for r in permissions.ROLES if "org.officers" in permissions.actions_of(r)]


def send_reelection_reminders(today: datetime.date | None = None, *, batch: int = 500) -> int:
    today = today or timezone.localdate()
    lead = settings.REELECTION_LEAD_DAYS
    horizon = today + datetime.timedelta(days=lead)
    terms = (
        Term.objects.filter(
            ended_on__isnull=True, due_on__lte=horizon, organization__status=OrgStatus.ACTIVE
        )
        .select_related("organization")
        .order_by("id")
    )
    sent = 0
    last_id = 0
    while True:
        chunk = list(terms.filter(id__gt=last_id)[:batch])
        if not chunk:
            return sent
        last_id = chunk[-1].pk
        paths = {p for t in chunk for p in t.organization.ancestor_paths()[-2:]}
        holders: dict[str, set[int]] = {}
        for path, user_id in RoleAssignment.objects.filter(
            organization__path__in=paths, role__in=OFFICER_ROLES, user__is_active=True
        ).values_list("organization__path", "user_id"):
            holders.setdefault(path, set()).add(user_id)
        rows = []
        for term in chunk:
            org = term.organization
            stage = rules.reelection_status(term.due_on, today, lead)
            if stage == "ok":
                continue
            if stage == "overdue":
                title = _("Re-election of %(org)s is overdue (due %(day)s)")
            else:
                title = _("Re-election of %(org)s is due on %(day)s")
            title = title % {"org": org.name, "day": term.due_on.isoformat()}
            users = set()
            for path in org.ancestor_paths()[-2:]:
                users |= holders.get(path, set())
            for user_id in users:
                rows.append(
                    Notification(
                        user_id=user_id,
                        kind="reelection",
                        key=f"reelection:{term.pk}:{term.due_on.isoformat()}:{stage}",
                        title=title[:200],
                        url=reverse("committees:org", args=[org.pk]),
                    )
                )
        if not rows:
            continue
        # bulk_create(ignore_conflicts) returns every row, inserted or not: count only the new
        # ones, so a second run reports 0. The constraint still settles a race between workers.
        keys = {n.key for n in rows}
        known = set(
            Notification.objects.filter(key__in=keys, kind="reelection").values_list(
                "user_id", "key"
            )
        )
        rows = [n for n in rows if (n.user_id, n.key) not in known]
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        sent += len(rows)
