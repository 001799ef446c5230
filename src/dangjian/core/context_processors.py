"""Navigation entries the current user may use (computed from roles, not from role names)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import selectors

# (url name, label, icon, action needed anywhere in scope)
NAVIGATION = [
    ("core:home", _("Home"), "house", None),
    ("core:org_tree", _("Organisations"), "diagram-3", "org.view"),
    ("members:list", _("Members"), "people", "member.view"),
    ("members:charts", _("Structure"), "pie-chart", "member.view"),
    ("committees:overview", _("Committees"), "people-fill", "org.view"),
    ("transfers:list", _("Transfers"), "arrow-left-right", "transfer.view"),
    ("dues:home", _("Dues"), "cash-coin", "dues.view"),
    ("meetings:list", _("Organisational life"), "calendar-check", "meeting.view"),
    ("feedback:inbox", _("Requests from the public"), "chat-square-text", "feedback.view"),
    ("core:calendar", _("Working days"), "calendar3", None),
    ("core:audit_list", _("Audit log"), "journal-text", "audit.view"),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    allowed = selectors.actions_anywhere(user)
    items = [
        {"url": reverse(name), "label": label, "icon": icon, "name": name}
        for name, label, icon, action in NAVIGATION
        if action is None or action in allowed
    ]
    if _has_record(user):
        items.append(
            {
                "url": reverse("members:me"),
                "label": _("My record"),
                "icon": "person-vcard",
                "name": "members:me",
            }
        )
        items.append(
            {
                "url": reverse("meetings:mine"),
                "label": _("My meetings"),
                "icon": "calendar-event",
                "name": "meetings:mine",
            }
        )
    return {
        "nav_items": items,
        "user_actions": allowed,
        "unread_notifications": _unread(user),
    }


UNREAD_CAP = 100  # the bell shows "99+" beyond; counting stops there


def _unread(user) -> int:
    """Unread notifications of the user: one query on the inbox index, counted up to a cap."""
    from .models import Notification

    return Notification.objects.filter(user=user, read_at__isnull=True)[:UNREAD_CAP].count()


def _has_record(user) -> bool:
    from dangjian.members.models import Member

    cached = getattr(user, "_dangjian_has_record", None)
    if cached is None:
        cached = Member.objects.filter(user=user).exists()
        user._dangjian_has_record = cached
    return cached
