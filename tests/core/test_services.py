"""Services of the core app: the organisation tree, roles and API tokens, read as a specification.

Every refused change answers a ServiceError subclass with a stable `.code` and `.field`, and leaves
the database exactly as it was: no row, path or audit event changes.
"""

import datetime
import hashlib
import itertools

import pytest
from django.utils import timezone

from dangjian.core import context, selectors, services
from dangjian.core.crypto import encrypt, keyed_hash
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import (
    ApiToken,
    AuditEvent,
    Organization,
    OrgKind,
    OrgStatus,
    RoleAssignment,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


_id_numbers = itertools.count(1)


def make_member(org, name="党员"):
    """A member row with only the fields the foundation needs."""
    from dangjian.members.models import Member

    id_number = f"11010519800101{next(_id_numbers):04d}"
    return Member.objects.create(
        organization=org,
        org_path=org.path,
        name=name,
        sex="1",
        birth_date=datetime.date(1980, 1, 1),
        id_number_encrypted=encrypt(id_number),
        id_number_hash=keyed_hash(id_number),
        category="full",
        joined_on=datetime.date(2005, 7, 1),
    )


def database_state():
    """Everything a refused change must leave untouched."""
    from dangjian.members.models import Member

    return {
        "orgs": sorted(
            Organization.objects.values_list(
                "code", "name", "kind", "path", "depth", "numchild", "status", "established_on"
            )
        ),
        "members": sorted(Member.objects.values_list("id", "organization_id", "org_path")),
        "roles": sorted(RoleAssignment.objects.values_list("user_id", "organization_id", "role")),
        "tokens": sorted(ApiToken.objects.values_list("id", "revoked_at")),
        "audit": AuditEvent.objects.count(),
    }


def fresh(org):
    return Organization.objects.get(pk=org.pk)


# Creating organisations ----------------------------------------------------------------------


def test_create_places_the_organisation_under_its_parent(admin, tree):
    org = services.create_organization(
        actor=admin, parent=tree["branch_a"], code="G02", name="第二党小组", kind="group"
    )
    org = fresh(org)
    assert org.path.startswith(tree["branch_a"].path)
    assert org.depth == tree["branch_a"].depth + 1
    assert org.status == OrgStatus.ACTIVE
    assert fresh(tree["branch_a"]).numchild == 2


def test_create_strips_surrounding_spaces(admin, tree):
    org = services.create_organization(
        actor=admin, parent=tree["town"], code="  B03 ", name="  南街党支部  ", kind="branch"
    )
    assert (fresh(org).code, fresh(org).name) == ("B03", "南街党支部")


def test_a_secretary_creates_inside_her_branch(people, tree):
    org = services.create_organization(
        actor=people["alice"], parent=tree["branch_a"], code="G02", name="第二党小组", kind="group"
    )
    assert org.path.startswith(tree["branch_a"].path)


def test_only_a_system_administrator_creates_at_the_root(people):
    before = database_state()
    with pytest.raises(Forbidden):
        services.create_organization(
            actor=people["oscar"], parent=None, code="C09", name="新县委", kind="committee"
        )
    assert database_state() == before


def test_creating_outside_the_scope_is_not_found(people, tree):
    before = database_state()
    with pytest.raises(NotFound):
        services.create_organization(
            actor=people["bob"], parent=tree["branch_a"], code="G09", name="小组", kind="group"
        )
    assert database_state() == before


# Which kind may stand under which: the regulations spelled out, not read back from the code.
ALLOWED = {
    (OrgKind.COMMITTEE, None),
    (OrgKind.COMMITTEE, OrgKind.COMMITTEE),
    (OrgKind.GENERAL_BRANCH, OrgKind.COMMITTEE),
    (OrgKind.BRANCH, OrgKind.COMMITTEE),
    (OrgKind.BRANCH, OrgKind.GENERAL_BRANCH),
    (OrgKind.JOINT_BRANCH, OrgKind.COMMITTEE),
    (OrgKind.JOINT_BRANCH, OrgKind.GENERAL_BRANCH),
    (OrgKind.GROUP, OrgKind.BRANCH),
    (OrgKind.GROUP, OrgKind.JOINT_BRANCH),
}
PARENT_KINDS = [None, *OrgKind.values]


def test_the_placement_table_is_the_regulation():
    from dangjian.core.models import ALLOWED_PARENT_KINDS

    table = {(kind, parent) for kind, parents in ALLOWED_PARENT_KINDS.items() for parent in parents}
    assert table == ALLOWED


@pytest.fixture
def parent_of_kind(admin, tree):
    general = services.create_organization(
        actor=admin, parent=tree["town"], code="GB1", name="机关总支", kind="general_branch"
    )
    joint = services.create_organization(
        actor=admin, parent=tree["town"], code="JB1", name="联合支部", kind="joint_branch"
    )
    return {
        None: None,
        OrgKind.COMMITTEE: tree["town"],
        OrgKind.GENERAL_BRANCH: fresh(general),
        OrgKind.BRANCH: tree["branch_a"],
        OrgKind.JOINT_BRANCH: fresh(joint),
        OrgKind.GROUP: tree["group_a"],
    }


@pytest.mark.parametrize(
    ("kind", "parent_kind"), list(itertools.product(OrgKind.values, PARENT_KINDS))
)
def test_placement_rules_on_create(admin, parent_of_kind, kind, parent_kind):
    parent = parent_of_kind[parent_kind]
    if (kind, parent_kind) in ALLOWED:
        org = services.create_organization(
            actor=admin, parent=parent, code="NEW1", name="新组织", kind=kind
        )
        assert fresh(org).kind == kind
    else:
        before = database_state()
        with pytest.raises(ValidationFailed) as caught:
            services.create_organization(
                actor=admin, parent=parent, code="NEW1", name="新组织", kind=kind
            )
        assert (caught.value.code, caught.value.field) == ("kind_not_allowed", "kind")
        assert database_state() == before


@pytest.mark.parametrize(
    ("kind", "parent_kind"), list(itertools.product(OrgKind.values, OrgKind.values))
)
def test_placement_rules_on_move(admin, tree, parent_of_kind, kind, parent_kind):
    """A fresh leaf of `kind`, placed where it may stand, is moved under a `parent_kind`."""
    home = {OrgKind.COMMITTEE: None, OrgKind.GROUP: tree["branch_b"]}.get(kind, tree["other_town"])
    leaf = services.create_organization(
        actor=admin, parent=home, code="LEAF", name="待迁组织", kind=kind
    )
    target = parent_of_kind[parent_kind]
    if (kind, parent_kind) in ALLOWED:
        services.move_organization(actor=admin, org=fresh(leaf), new_parent=fresh(target))
        assert fresh(leaf).path.startswith(fresh(target).path)
        assert fresh(leaf).depth == fresh(target).depth + 1
    else:
        before = database_state()
        with pytest.raises(ValidationFailed) as caught:
            services.move_organization(actor=admin, org=fresh(leaf), new_parent=fresh(target))
        assert (caught.value.code, caught.value.field) == ("kind_not_allowed", "kind")
        assert database_state() == before


# Bad input: the right error, a stable code and field, and nothing changed -------------------


def _future():
    return timezone.localdate() + datetime.timedelta(days=1)


BAD_INPUT = [
    # (case id, call, error class, code, field)
    (
        "duplicate code",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="B01", name="重复", kind="branch"
        ),
        Conflict,
        "duplicate_code",
        "code",
    ),
    (
        "duplicate code in other letter case",
        lambda t, a: services.create_organization(
            actor=a, parent=t["branch_a"], code="g01", name="重复", kind="group"
        ),
        Conflict,
        "duplicate_code",
        "code",
    ),
    (
        "renaming the code to another's, other case",
        lambda t, a: services.update_organization(actor=a, org=t["branch_b"], code="b01"),
        Conflict,
        "duplicate_code",
        "code",
    ),
    (
        "moving under itself",
        lambda t, a: services.move_organization(actor=a, org=t["town"], new_parent=t["town"]),
        ValidationFailed,
        "move_into_own_subtree",
        "parent",
    ),
    (
        "moving under its own descendant",
        lambda t, a: services.move_organization(actor=a, org=t["town"], new_parent=t["branch_a"]),
        ValidationFailed,
        "move_into_own_subtree",
        "parent",
    ),
    (
        "moving to where it already stands",
        lambda t, a: services.move_organization(actor=a, org=t["branch_a"], new_parent=t["town"]),
        ValidationFailed,
        "move_same_parent",
        "parent",
    ),
    (
        "a group created under a committee",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="G09", name="小组", kind="group"
        ),
        ValidationFailed,
        "kind_not_allowed",
        "kind",
    ),
    (
        "a group moved under a committee",
        lambda t, a: services.move_organization(actor=a, org=t["group_a"], new_parent=t["town"]),
        ValidationFailed,
        "kind_not_allowed",
        "kind",
    ),
    (
        "a branch turned into a committee with a group under it",
        lambda t, a: services.update_organization(actor=a, org=t["branch_a"], kind="committee"),
        ValidationFailed,
        "kind_not_allowed",
        "kind",
    ),
    (
        "a branch at the root",
        lambda t, a: services.create_organization(
            actor=a, parent=None, code="B09", name="支部", kind="branch"
        ),
        ValidationFailed,
        "kind_not_allowed",
        "kind",
    ),
    (
        "dissolving a branch with active children",
        lambda t, a: services.dissolve_organization(actor=a, org=t["branch_a"]),
        ValidationFailed,
        "has_children",
        None,
    ),
    (
        "dissolving on a future date",
        lambda t, a: services.dissolve_organization(actor=a, org=t["group_a"], on=_future()),
        ValidationFailed,
        "invalid",
        "on",
    ),
    (
        "established in the future",
        lambda t, a: services.create_organization(
            actor=a,
            parent=t["town"],
            code="B09",
            name="支部",
            kind="branch",
            established_on=_future(),
        ),
        ValidationFailed,
        "invalid",
        "established_on",
    ),
    (
        "a display order beyond its 32-bit column",
        lambda t, a: services.update_organization(actor=a, org=t["branch_a"], display_order=2**31),
        ValidationFailed,
        "invalid",
        "display_order",
    ),
    (
        "established date edited into the future",
        lambda t, a: services.update_organization(
            actor=a, org=t["branch_a"], established_on=_future()
        ),
        ValidationFailed,
        "invalid",
        "established_on",
    ),
    (
        "code with a space",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="B 09", name="支部", kind="branch"
        ),
        ValidationFailed,
        "invalid",
        "code",
    ),
    (
        "code in Chinese",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="支部九", name="支部", kind="branch"
        ),
        ValidationFailed,
        "invalid",
        "code",
    ),
    (
        "code starting with a dash",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="-B09", name="支部", kind="branch"
        ),
        ValidationFailed,
        "invalid",
        "code",
    ),
    (
        "code of 33 characters",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="B" * 33, name="支部", kind="branch"
        ),
        ValidationFailed,
        "invalid",
        "code",
    ),
    (
        "code missing",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="", name="支部", kind="branch"
        ),
        ValidationFailed,
        "invalid",
        "code",
    ),
    (
        "name of spaces only",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="B09", name="   ", kind="branch"
        ),
        ValidationFailed,
        "invalid",
        "name",
    ),
    (
        "unknown kind",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="B09", name="支部", kind="cell"
        ),
        ValidationFailed,
        "invalid",
        "kind",
    ),
    (
        "unknown unit type",
        lambda t, a: services.create_organization(
            actor=a, parent=t["town"], code="B09", name="支部", kind="branch", unit_type="farm"
        ),
        ValidationFailed,
        "invalid",
        "unit_type",
    ),
    (
        "a field that may not be edited",
        lambda t, a: services.update_organization(actor=a, org=t["branch_a"], path="0001"),
        ValidationFailed,
        "invalid",
        "path",
    ),
]


@pytest.mark.parametrize(
    ("call", "error", "code", "field"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_is_refused_and_changes_nothing(admin, tree, call, error, code, field):
    before = database_state()
    with pytest.raises(error) as caught:
        call(tree, admin)
    assert type(caught.value) is error
    assert (caught.value.code, caught.value.field) == (code, field)
    assert str(caught.value.message)
    assert database_state() == before


def test_dissolving_a_branch_with_members_asks_where_they_go(admin, tree):
    make_member(tree["branch_b"])
    before = database_state()
    with pytest.raises(ValidationFailed) as caught:
        services.dissolve_organization(actor=admin, org=tree["branch_b"])
    assert (caught.value.code, caught.value.field) == ("has_members", "move_members_to")
    assert database_state() == before


def test_members_left_in_a_dissolved_sub_organisation_still_count(admin, tree):
    services.dissolve_organization(actor=admin, org=tree["group_a"])
    make_member(fresh(tree["group_a"]))  # e.g. imported from an old system
    before = database_state()
    with pytest.raises(ValidationFailed) as caught:
        services.dissolve_organization(actor=admin, org=fresh(tree["branch_a"]))
    assert caught.value.code == "has_members"
    assert database_state() == before


def test_creating_under_a_dissolved_parent_is_refused(admin, tree):
    services.dissolve_organization(actor=admin, org=tree["branch_b"])
    before = database_state()
    with pytest.raises(ValidationFailed) as caught:
        services.create_organization(
            actor=admin, parent=fresh(tree["branch_b"]), code="G09", name="小组", kind="group"
        )
    assert caught.value.code == "parent_dissolved"
    assert database_state() == before


def test_dissolving_twice_is_refused(admin, tree):
    services.dissolve_organization(actor=admin, org=tree["branch_b"])
    before = database_state()
    with pytest.raises(ValidationFailed) as caught:
        services.dissolve_organization(actor=admin, org=fresh(tree["branch_b"]))
    assert caught.value.code == "already_dissolved"
    assert database_state() == before


def test_moving_members_into_the_dissolved_subtree_is_refused(admin, tree):
    make_member(tree["group_a"])
    services.dissolve_organization(
        actor=admin, org=tree["group_a"], move_members_to=tree["branch_a"]
    )
    make_member(tree["branch_b"])
    before = database_state()
    with pytest.raises(ValidationFailed) as caught:
        services.dissolve_organization(
            actor=admin, org=tree["branch_b"], move_members_to=fresh(tree["group_a"])
        )
    assert (caught.value.code, caught.value.field) == ("bad_target", "move_members_to")
    assert database_state() == before


def test_a_code_may_change_its_letter_case(admin, tree):
    services.update_organization(actor=admin, org=tree["branch_a"], code="b01")
    assert fresh(tree["branch_a"]).code == "b01"


# Updating ------------------------------------------------------------------------------------


def test_update_changes_only_the_given_fields(admin, tree):
    services.update_organization(
        actor=admin, org=tree["branch_a"], short_name="东街", display_order=3
    )
    org = fresh(tree["branch_a"])
    assert (org.short_name, org.display_order, org.name, org.code) == (
        "东街",
        3,
        "东街社区党支部",
        "B01",
    )


def test_a_secretary_may_edit_but_not_move_or_dissolve_her_branch(people, tree):
    alice = people["alice"]
    services.update_organization(actor=alice, org=tree["branch_a"], contact_person="张丽")
    before = database_state()
    with pytest.raises(Forbidden):
        services.move_organization(actor=alice, org=tree["group_a"], new_parent=tree["branch_a"])
    with pytest.raises(Forbidden):
        services.dissolve_organization(actor=alice, org=tree["group_a"])
    assert database_state() == before


def test_editing_outside_the_scope_is_not_found(people, tree):
    before = database_state()
    with pytest.raises(NotFound):
        services.update_organization(actor=people["bob"], org=tree["branch_a"], name="改名")
    assert database_state() == before


# Moving --------------------------------------------------------------------------------------


def test_move_repaths_the_subtree_and_its_members(admin, tree):
    a, group, other = tree["branch_a"], tree["group_a"], tree["other_town"]
    in_a, in_group = make_member(a), make_member(group)
    in_b = make_member(tree["branch_b"])
    b_path = tree["branch_b"].path

    services.move_organization(actor=admin, org=a, new_parent=other)

    a, group = fresh(a), fresh(group)
    assert a.path.startswith(other.path) and a.depth == other.depth + 1
    assert group.path.startswith(a.path) and group.depth == a.depth + 1
    in_a.refresh_from_db()
    in_group.refresh_from_db()
    in_b.refresh_from_db()
    assert (in_a.org_path, in_group.org_path) == (a.path, group.path)
    assert in_b.org_path == b_path == fresh(tree["branch_b"]).path
    assert fresh(tree["town"]).numchild == 1
    assert fresh(other).numchild == 1
    assert list(selectors.children_of(admin, fresh(other))) == [a]


def test_the_tree_stays_consistent_after_moves(admin, tree):
    """Paths, depths and child counts agree after moving subtrees back and forth."""
    services.move_organization(actor=admin, org=tree["branch_a"], new_parent=tree["other_town"])
    services.move_organization(actor=admin, org=fresh(tree["group_a"]), new_parent=tree["branch_b"])
    services.move_organization(
        actor=admin, org=fresh(tree["branch_a"]), new_parent=fresh(tree["town"])
    )
    services.create_organization(
        actor=admin, parent=fresh(tree["town"]), code="B03", name="南街党支部", kind="branch"
    )
    assert Organization.objects.find_problems() == ([], [], [], [], [])
    for org in Organization.objects.all():
        children = Organization.objects.filter(path__startswith=org.path, depth=org.depth + 1)
        assert org.numchild == children.count(), org.code
        assert org.depth == len(org.path) // Organization.steplen
    assert fresh(tree["group_a"]).path.startswith(fresh(tree["branch_b"]).path)


def test_move_needs_the_right_at_both_ends(people, tree):
    """oscar may move inside his township, not out of it."""
    before = database_state()
    with pytest.raises(NotFound):
        services.move_organization(
            actor=people["oscar"], org=tree["branch_a"], new_parent=tree["other_town"]
        )
    assert database_state() == before


def test_move_inside_the_scope(people, admin, tree):
    joint = services.create_organization(
        actor=admin, parent=tree["town"], code="JB1", name="联合支部", kind="joint_branch"
    )
    services.move_organization(actor=people["oscar"], org=tree["group_a"], new_parent=fresh(joint))
    assert fresh(tree["group_a"]).path.startswith(fresh(joint).path)


# Dissolving ----------------------------------------------------------------------------------


def test_dissolve_an_empty_organisation(admin, tree):
    day = timezone.localdate() - datetime.timedelta(days=3)
    services.dissolve_organization(actor=admin, org=tree["branch_b"], on=day)
    org = fresh(tree["branch_b"])
    assert (org.status, org.dissolved_on) == (OrgStatus.DISSOLVED, day)
    # The row stays: the organisation's history is kept.
    assert Organization.objects.filter(code="B02").exists()


def test_dissolve_moving_members_elsewhere(admin, tree):
    b, a = tree["branch_b"], tree["branch_a"]
    members = [make_member(b, f"党员{i}") for i in range(3)]
    token = context.begin(request_id="dissolve-b02-0001")
    try:
        services.dissolve_organization(actor=admin, org=b, move_members_to=a)
    finally:
        context.end(token)

    for member in members:
        member.refresh_from_db()
        assert (member.organization_id, member.org_path) == (a.pk, a.path)
    events = AuditEvent.objects.filter(request_id="dissolve-b02-0001")
    moves = events.filter(action="member.move")
    assert sorted(moves.values_list("object_id", flat=True)) == sorted(str(m.pk) for m in members)
    for event in moves:
        assert (event.before, event.after) == ({"organization": b.pk}, {"organization": a.pk})
    assert events.filter(action="org.dissolve", object_id=str(b.pk)).count() == 1
    assert events.count() == 4
    assert fresh(b).status == OrgStatus.DISSOLVED


def test_dissolve_is_one_transaction(admin, tree, monkeypatch):
    """If anything fails after the members were moved, they are back where they were."""
    from dangjian.core import audit

    b, a = tree["branch_b"], tree["branch_a"]
    members = [make_member(b) for _ in range(2)]
    real_record = audit.record

    def failing(actor, action, *args, **kwargs):
        if action == "org.dissolve":
            raise RuntimeError("disk full")
        return real_record(actor, action, *args, **kwargs)

    monkeypatch.setattr(audit, "record", failing)
    before = database_state()
    with pytest.raises(RuntimeError):
        services.dissolve_organization(actor=admin, org=b, move_members_to=a)
    assert database_state() == before
    for member in members:
        member.refresh_from_db()
        assert member.organization_id == b.pk


def test_dissolve_moving_members_outside_the_scope_is_not_found(people, tree):
    make_member(tree["branch_a"])
    services.update_organization(actor=people["oscar"], org=tree["branch_a"], name="东街支部")
    before = database_state()
    with pytest.raises(NotFound):
        services.dissolve_organization(
            actor=people["oscar"], org=tree["group_a"], move_members_to=tree["other_town"]
        )
    assert database_state() == before


# Roles ---------------------------------------------------------------------------------------


@pytest.fixture
def carol(make_user):
    return make_user("carol", display_name="王芳")


def test_assign_and_revoke_a_role(people, tree, carol):
    a = tree["branch_a"]
    assert not selectors.can(carol, "org.view", a)
    assignment = services.assign_role(
        actor=people["oscar"], user=carol, org=a, role="committee_member"
    )
    assert (assignment.granted_by, assignment.role) == (people["oscar"], "committee_member")
    assert selectors.can(carol, "org.view", tree["group_a"])
    assert not selectors.can(carol, "org.view", tree["branch_b"])

    services.revoke_role(actor=people["oscar"], assignment=assignment)
    assert not RoleAssignment.objects.filter(pk=assignment.pk).exists()
    assert not selectors.can(carol, "org.view", a)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("member", True),
        ("committee_member", True),
        ("secretary", True),
        ("auditor", False),  # lower rank, but it may export the audit log and she may not
        ("org_admin", False),
        ("sysadmin", False),
    ],
)
def test_a_secretary_grants_only_roles_within_her_own(people, tree, carol, role, allowed):
    if allowed:
        services.assign_role(actor=people["alice"], user=carol, org=tree["branch_a"], role=role)
        assert RoleAssignment.objects.filter(user=carol, role=role).exists()
    else:
        before = database_state()
        with pytest.raises(Forbidden) as caught:
            services.assign_role(actor=people["alice"], user=carol, org=tree["branch_a"], role=role)
        assert (caught.value.code, caught.value.field) == ("forbidden", "role")
        assert database_state() == before


@pytest.mark.parametrize("where", ["branch_b", "town", "other_town"])
def test_a_secretary_cannot_assign_outside_her_scope(people, tree, carol, where):
    before = database_state()
    with pytest.raises(NotFound):
        services.assign_role(actor=people["alice"], user=carol, org=tree[where], role="member")
    assert database_state() == before


def test_a_secretary_cannot_give_herself_more_rights(people, tree):
    alice = people["alice"]
    before = database_state()
    with pytest.raises(Forbidden):
        services.assign_role(actor=alice, user=alice, org=tree["group_a"], role="auditor")
    assert database_state() == before
    assert not selectors.can(alice, "audit.export")


def test_an_org_admin_grants_an_auditor(people, tree, carol):
    services.assign_role(actor=people["oscar"], user=carol, org=tree["branch_a"], role="auditor")
    assert selectors.can(carol, "audit.export", tree["group_a"])


def test_a_secretary_cannot_revoke_an_auditor_placed_above_her(people, tree, carol):
    auditor = services.assign_role(
        actor=people["oscar"], user=carol, org=tree["branch_a"], role="auditor"
    )
    before = database_state()
    with pytest.raises(Forbidden):
        services.revoke_role(actor=people["alice"], assignment=auditor)
    assert database_state() == before


def test_a_role_without_role_assign_cannot_assign(people, tree, carol, admin):
    services.assign_role(actor=admin, user=carol, org=tree["branch_a"], role="committee_member")
    dave = type(carol).objects.create_user("dave", password="x" * 12)
    before = database_state()
    with pytest.raises(Forbidden):
        services.assign_role(actor=carol, user=dave, org=tree["branch_a"], role="member")
    assert database_state() == before


def test_assigning_the_same_role_twice_conflicts(people, tree):
    before = database_state()
    with pytest.raises(Conflict) as caught:
        services.assign_role(
            actor=people["oscar"], user=people["alice"], org=tree["branch_a"], role="secretary"
        )
    assert caught.value.code == "duplicate_role"
    assert database_state() == before


def test_unknown_role_is_refused(people, tree, carol):
    with pytest.raises(ValidationFailed) as caught:
        services.assign_role(actor=people["oscar"], user=carol, org=tree["branch_a"], role="king")
    assert caught.value.field == "role"


def test_no_role_at_a_dissolved_organisation(admin, tree, carol):
    services.dissolve_organization(actor=admin, org=tree["branch_b"])
    before = database_state()
    with pytest.raises(ValidationFailed):
        services.assign_role(actor=admin, user=carol, org=fresh(tree["branch_b"]), role="member")
    assert database_state() == before


def test_a_secretary_cannot_revoke_a_higher_role(people, tree, carol, admin):
    higher = services.assign_role(actor=admin, user=carol, org=tree["branch_a"], role="org_admin")
    before = database_state()
    with pytest.raises(Forbidden):
        services.revoke_role(actor=people["alice"], assignment=higher)
    assert database_state() == before


def test_revoking_outside_the_scope_is_not_found(people):
    assignment = RoleAssignment.objects.get(user=people["alice"])
    before = database_state()
    with pytest.raises(NotFound):
        services.revoke_role(actor=people["bob"], assignment=assignment)
    assert database_state() == before


# Accounts ------------------------------------------------------------------------------------


def test_create_user_with_mobile(admin):
    user = services.create_user(
        actor=admin, username="erin", password="a-long-enough-pass", mobile="138 0013 8000"
    )
    assert user.mobile == "13800138000"
    assert user.check_password("a-long-enough-pass")


@pytest.mark.parametrize(
    ("kwargs", "error", "code", "field"),
    [
        ({"username": "ALICE"}, Conflict, "duplicate_username", "username"),
        ({"mobile": "13812345678"}, Conflict, "duplicate_mobile", "mobile"),
        ({"mobile": "12345"}, ValidationFailed, "invalid", "mobile"),
        ({"password": "123"}, ValidationFailed, "invalid", "password"),
        ({"username": "  "}, ValidationFailed, "invalid", "username"),
    ],
)
def test_create_user_bad_input(people, admin, kwargs, error, code, field):
    values = {"username": "erin", "password": "a-long-enough-pass"} | kwargs
    before = (database_state(), type(admin).objects.count())
    with pytest.raises(error) as caught:
        services.create_user(actor=admin, **values)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert (database_state(), type(admin).objects.count()) == before


# API tokens ----------------------------------------------------------------------------------


def test_a_new_token_authenticates_and_only_its_digest_is_stored(people):
    alice = people["alice"]
    token, secret = services.create_api_token(actor=alice, name="手机", days=30)
    assert services.authenticate_token(secret) == alice
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert stored["digest"] == hashlib.sha256(secret.encode()).hexdigest()
    assert not any(secret in str(value) for value in stored.values())
    assert secret.startswith(stored["prefix"])


def test_a_token_records_when_it_was_used(people):
    token, secret = services.create_api_token(actor=people["alice"], name="手机", days=30)
    assert token.last_used_at is None
    services.authenticate_token(secret)
    assert ApiToken.objects.get(pk=token.pk).last_used_at is not None


@pytest.mark.parametrize(
    "secret",
    ["", "djt_", "djt_not-a-real-token", "Bearer djt_x", "x" * 40],
)
def test_unknown_secrets_do_not_authenticate(people, secret):
    services.create_api_token(actor=people["alice"], name="手机", days=30)
    assert services.authenticate_token(secret) is None


def test_a_revoked_token_does_not_authenticate(people):
    token, secret = services.create_api_token(actor=people["alice"], name="手机", days=30)
    services.revoke_api_token(actor=people["alice"], token=token)
    assert services.authenticate_token(secret) is None


def test_an_expired_token_does_not_authenticate(people):
    token, secret = services.create_api_token(actor=people["alice"], name="手机", days=1)
    ApiToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert services.authenticate_token(secret) is None


def test_a_token_of_a_deactivated_account_does_not_authenticate(people):
    alice = people["alice"]
    _token, secret = services.create_api_token(actor=alice, name="手机", days=30)
    alice.is_active = False
    alice.save()
    assert services.authenticate_token(secret) is None


def test_nobody_revokes_another_persons_token(people):
    token, secret = services.create_api_token(actor=people["alice"], name="手机", days=30)
    with pytest.raises(NotFound):
        services.revoke_api_token(actor=people["bob"], token=token)
    assert services.authenticate_token(secret) == people["alice"]


@pytest.mark.parametrize(
    ("name", "days", "field"),
    [
        ("", 30, "name"),
        ("x" * 65, 30, "name"),
        ("手机", 0, "days"),
        ("手机", 100000, "days"),
        ("手机", "many", "days"),
    ],
)
def test_token_bad_input(people, name, days, field):
    before = database_state()
    with pytest.raises(ValidationFailed) as caught:
        services.create_api_token(actor=people["alice"], name=name, days=days)
    assert caught.value.field == field
    assert database_state() == before
