"""Telling the other side: a transfer started reaches the receiving organisation's people, and
its answer reaches the sending side, in the platform's notifications (the bell). Written in the
same transaction as the change; the key makes each notice once per person."""

from django.db.models import CharField, Exists, OuterRef, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse
from django.utils.translation import gettext as _

from dangjian.core import permissions
from dangjian.core.models import Notification, Organization, RoleAssignment

MANAGERS = [r for r in permissions.ROLES if "transfer.manage" in permissions.actions_of(r)]


def _people_at(org: Organization, *, exclude_user_id=None) -> set[int]:
    """Accounts that handle transfers at `org` or at the organisation directly above it."""
    paths = org.ancestor_paths()[-2:]
    ids = set(
        RoleAssignment.objects.filter(
            organization__path__in=paths, role__in=MANAGERS, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    ids.discard(exclude_user_id)
    return ids


def _send(users: set[int], key: str, title: str, url: str) -> int:
    """Notify `users` once per key; returns how many were new (bulk_create with
    ignore_conflicts returns every row given, so those already told are left out first)."""
    if not users:
        return 0
    told = set(
        Notification.objects.filter(key=key, user_id__in=users).values_list("user_id", flat=True)
    )
    rows = [
        Notification(user_id=u, kind="transfer", key=key, title=title[:200], url=url)
        for u in users - told
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def transfer_started(transfer, actor) -> int:
    if transfer.to_org is None:
        return 0
    title = _("%(name)s is being transferred to %(org)s: accept or return it") % {
        "name": transfer.person_name,
        "org": transfer.to_org.name,
    }
    return _send(
        _people_at(transfer.to_org, exclude_user_id=getattr(actor, "pk", None)),
        f"transfer:{transfer.pk}:started",
        title,
        reverse("transfers:detail", args=[transfer.pk]),
    )


def transfer_answered(transfer, actor) -> int:
    if transfer.from_org is None:
        return 0
    if transfer.state == "completed":
        title = _("%(org)s accepted the transfer of %(name)s")
    else:
        title = _("%(org)s returned the transfer of %(name)s")
    title = title % {"org": transfer.to_org.name, "name": transfer.person_name}
    return _send(
        _people_at(transfer.from_org, exclude_user_id=getattr(actor, "pk", None)),
        f"transfer:{transfer.pk}:{transfer.state}",
        title,
        reverse("transfers:detail", args=[transfer.pk]),
    )


def remind_stuck_transfers(today=None, *, batch: int = 500) -> int:
    """Sweep: a transfer pending longer than DANGJIAN_TRANSFER_STUCK_DAYS reminds the receiving
    side (and the committee above it) once. Returns the notifications written."""
    import datetime

    from django.conf import settings
    from django.utils import timezone

    from .models import Direction, State, Transfer

    today = today or timezone.localdate()
    limit = today - datetime.timedelta(days=settings.TRANSFER_STUCK_DAYS)
    reminded = Notification.objects.filter(
        key=Concat(Value("transfer:"), Cast(OuterRef("pk"), CharField()), Value(":stuck"))
    )
    pending = (
        Transfer.objects.filter(
            state=State.PENDING,
            direction__in=(Direction.INTERNAL, Direction.INCOMING),
            started_on__lt=limit,
        )
        .exclude(Exists(reminded))  # once: those reminded before cost nothing on later runs
        .select_related("to_org")
        .order_by("id")
    )
    sent, last = 0, 0
    people: dict[int, set[int]] = {}
    while True:
        chunk = list(pending.filter(id__gt=last)[:batch])
        if not chunk:
            return sent
        last = chunk[-1].pk
        for transfer in chunk:
            if transfer.to_org_id not in people:
                people[transfer.to_org_id] = _people_at(transfer.to_org)
            title = _("The transfer of %(name)s to %(org)s has waited since %(day)s") % {
                "name": transfer.person_name,
                "org": transfer.to_org.name,
                "day": transfer.started_on.isoformat(),
            }
            sent += _send(
                people[transfer.to_org_id],
                f"transfer:{transfer.pk}:stuck",
                title,
                reverse("transfers:detail", args=[transfer.pk]),
            )


def transfer_cancelled(transfer, actor) -> int:
    """The receiving side was asked to accept or return: it hears the request is withdrawn."""
    if transfer.direction != "internal" or transfer.to_org is None:
        return 0
    title = _("%(org)s withdrew the transfer of %(name)s") % {
        "org": transfer.from_org.name,
        "name": transfer.person_name,
    }
    return _send(
        _people_at(transfer.to_org, exclude_user_id=getattr(actor, "pk", None)),
        f"transfer:{transfer.pk}:cancelled",
        title,
        reverse("transfers:detail", args=[transfer.pk]),
    )
