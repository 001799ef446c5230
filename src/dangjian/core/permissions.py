"""What each role may do: the actions and the default role table, as data.

A role is held at an organisation and reaches that organisation's whole subtree. Code asks
`selectors.scope_for(user, action)`; nothing else tests a role by name.
"""

from django.utils.translation import gettext_lazy as _

# action code -> label shown when administrators look at roles
ACTIONS: dict[str, str] = {
    "org.view": _("View organisations"),
    "org.create": _("Create organisations"),
    "org.change": _("Edit organisations"),
    "org.move": _("Move organisations"),
    "org.dissolve": _("Dissolve organisations"),
    "org.officers": _("Record committees, office-holders and elections"),
    "role.view": _("View role holders"),
    "role.assign": _("Assign and revoke roles"),
    "member.view": _("View member records"),
    "member.view_sensitive": _("View full ID and phone numbers"),
    "member.change": _("Edit member records"),
    "transfer.view": _("View transfers and mobile members"),
    "transfer.manage": _("Transfer members, issue letters, record mobile members"),
    "dues.view": _("View dues ledgers and reports"),
    "dues.manage": _("Declare dues bases and record payments"),
    "dues.approve": _("Sign off dues relief for the organisations below"),
    "meeting.view": _("View meetings and compliance of organisational life"),
    "meeting.manage": _("Plan and record meetings, attendance, minutes and votes"),
    "meeting.configure": _("Set local frequencies of organisational life"),
    "feedback.view": _("View requests from the public and their figures"),
    "feedback.handle": _("Handle requests from the public: accept, forward, answer"),
    "feedback.contact": _("See who submitted a request (name and phone)"),
    "feedback.configure": _("Set up desks, routing rules and deadlines for requests"),
    "audit.view": _("View the audit log"),
    "audit.export": _("Export the audit log"),
    "dashboard.view": _("View dashboards"),
    "calendar.manage": _("Maintain the working-day calendar (holidays, make-up days)"),
}

# role code -> (name, the actions it grants, rank). A role may only be assigned by someone whose
# own role in that place grants role.assign and ranks at least as high: a secretary cannot make
# someone a system administrator.
ROLES: dict[str, tuple[str, frozenset[str], int]] = {
    "sysadmin": (_("System administrator"), frozenset(ACTIONS), 100),
    "org_admin": (
        _("Organisation administrator"),
        frozenset(ACTIONS),
        80,
    ),
    "secretary": (
        _("Branch secretary"),
        frozenset(
            {
                "org.view",
                "org.create",
                "org.change",
                "org.officers",
                "role.view",
                "role.assign",
                "member.view",
                "member.view_sensitive",
                "member.change",
                "transfer.view",
                "transfer.manage",
                "dues.view",
                "dues.manage",
                "dues.approve",
                "meeting.view",
                "meeting.manage",
                "meeting.configure",
                "feedback.view",
                "feedback.handle",
                "feedback.contact",
                "feedback.configure",
                "audit.view",
                "dashboard.view",
            }
        ),
        60,
    ),
    "committee_member": (
        _("Branch committee member"),
        frozenset(
            {
                "org.view",
                "role.view",
                "member.view",
                "transfer.view",
                "dues.view",
                "dues.manage",
                "meeting.view",
                "meeting.manage",
                "feedback.view",
                "feedback.handle",
                "dashboard.view",
            }
        ),
        40,
    ),
    "auditor": (
        _("Auditor"),
        frozenset(
            {
                "org.view",
                "role.view",
                "member.view",
                "transfer.view",
                "dues.view",
                "meeting.view",
                "feedback.view",
                "audit.view",
                "audit.export",
                "dashboard.view",
            }
        ),
        30,
    ),
    "member": (_("Member"), frozenset({"org.view", "dashboard.view"}), 10),
}


def role_choices() -> list[tuple[str, str]]:
    return [(code, name) for code, (name, _actions, _rank) in ROLES.items()]


def actions_of(role: str) -> frozenset[str]:
    return ROLES[role][1]


def rank_of(role: str) -> int:
    return ROLES[role][2]
