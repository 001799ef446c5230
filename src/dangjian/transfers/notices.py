"""Telling the other side: a transfer started reaches the receiving organisation's people, and
its answer reaches the sending side, in the platform's notifications (the bell). Written in the
same transaction as the change; the key makes each notice once per person."""

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
    rows = [
        Notification(user_id=u, kind="transfer", key=key, title=title[:200], url=url) for u in users
    ]
    return len(Notification.objects.bulk_create(rows, ignore_conflicts=True))


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
