"""Navigation entries the current user may use (computed from roles, not from role names)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from . import selectors

# (url name, label, icon, action needed anywhere in scope)
NAVIGATION = [
    ("core:home", _("Home"), "house", None),
    ("core:org_tree", _("Organisations"), "diagram-3", "org.view"),
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
    return {"nav_items": items, "user_actions": allowed}
