"""Telling people in the platform (the bell): who handles something at an organisation, and a
notification sent once per person and key, however often the caller runs."""

from dangjian.core import permissions
from dangjian.core.models import Notification, RoleAssignment


def people_with(action: str, org_paths: list[str], *, exclude_user_id=None) -> set[int]:
    """Active accounts holding a role that grants `action` at one of these organisations
    (exactly there: the people of that organisation, not everyone above it)."""
    roles = [r for r in permissions.ROLES if action in permissions.actions_of(r)]
    ids = set(
        RoleAssignment.objects.filter(
            organization__path__in=org_paths, role__in=roles, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    ids.discard(exclude_user_id)
    return ids


def send_once(users: set[int], *, kind: str, key: str, title: str, url: str, body="") -> int:
    """Notify `users` once per key; returns how many were told now."""
    if not users:
        return 0
    told = set(
        Notification.objects.filter(key=key, user_id__in=users).values_list("user_id", flat=True)
    )
    rows = [
        Notification(user_id=u, kind=kind, key=key, title=title[:200], body=body, url=url)
        for u in users - told
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
