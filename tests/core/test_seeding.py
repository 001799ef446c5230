"""The demo data generator: a consistent tree, plausible members, demo logins, determinism."""

import datetime
import io
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.committees import selectors as committees
from dangjian.committees.models import Election, OfficeHolder, Term
from dangjian.core import seeding
from dangjian.core.crypto import decrypt, keyed_hash
from dangjian.core.idnumber import parse_id_number
from dangjian.core.models import (
    ALLOWED_PARENT_KINDS,
    BRANCH_KINDS,
    AuditEvent,
    Organization,
    OrgKind,
    RoleAssignment,
    User,
)
from dangjian.members.models import Member
from dangjian.transfers import selectors as transfers
from dangjian.transfers.models import MobileStay, Transfer

TODAY = datetime.date(2025, 6, 1)


def _age(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def seeded(db):
    return seeding.seed(members=300, orgs=40, seed=7)


@pytest.mark.django_db
def test_tree_is_consistent(seeded):
    assert Organization.objects.count() == 40 == seeded.orgs
    assert all(problems == [] for problems in Organization.objects.find_problems())
    orgs = list(Organization.objects.all())
    children = Counter(o.parent_path for o in orgs if o.depth > 1)
    for org in orgs:
        assert org.numchild == children.get(org.path, 0), org.name
    roots = [o for o in orgs if o.depth == 1]
    assert len(roots) == 1 and roots[0].kind == OrgKind.COMMITTEE
    assert roots[0].path == "0001"
    assert Organization.objects.get(path="00010001").depth == 2
    assert len({o.code for o in orgs}) == len(orgs)
    by_path = {o.path: o for o in orgs}
    for org in orgs:
        if org.depth > 1:
            parent = by_path[org.parent_path]
            assert parent.kind in ALLOWED_PARENT_KINDS[org.kind]
            assert org.established_on >= parent.established_on
        assert org.established_on < datetime.date.today()
    kinds = Counter(o.kind for o in orgs)
    assert kinds[OrgKind.COMMITTEE] >= 2
    assert kinds[OrgKind.BRANCH] + kinds[OrgKind.JOINT_BRANCH] >= 20
    assert kinds[OrgKind.GROUP] >= 1


@pytest.mark.django_db
def test_groups_only_under_branches_and_members_only_in_branches(seeded):
    by_path = {o.path: o for o in Organization.objects.all()}
    for org in by_path.values():
        if org.kind == OrgKind.GROUP:
            assert by_path[org.parent_path].kind in BRANCH_KINDS
    members = list(Member.objects.select_related("organization"))
    assert len(members) == 300
    for m in members:
        assert m.organization.kind in BRANCH_KINDS
        assert m.org_path == m.organization.path


@pytest.mark.django_db
def test_members_are_plausible(seeded):
    today = datetime.date.today()
    members = list(Member.objects.all())
    hashes = set()
    for m in members:
        number = decrypt(m.id_number_encrypted)
        parsed = parse_id_number(number)
        assert parsed.number == number
        assert parsed.birth_date == m.birth_date
        assert str(parsed.sex) == m.sex
        assert m.id_number_hash == keyed_hash(number)
        hashes.add(m.id_number_hash)
        assert 18 <= _age(m.birth_date, today) <= 90
        assert _age(m.birth_date, m.joined_on) >= 18
        assert m.joined_on <= today
        if m.category == "probationary":
            assert m.full_on is None
            assert (today - m.joined_on).days <= 366
        else:
            assert m.category == "full"
            assert m.full_on == seeding.add_years(m.joined_on, 1)
            assert m.full_on <= today
        if m.phone_encrypted:
            phone = decrypt(m.phone_encrypted)
            assert len(phone) == 11 and phone.startswith("1") and phone.isdigit()
            assert m.phone_hash == keyed_hash(phone)
        else:
            assert m.phone_hash == ""
        assert 2 <= len(m.name) <= 4
        assert m.name_initials.isascii() and m.name_initials.islower()
        assert len(m.name_initials) == len(m.name)
        assert len(m.ethnicity) == 2 and len(m.education) == 2
    assert len(hashes) == len(members)
    assert 0 < sum(m.category == "probationary" for m in members) < len(members) * 0.2
    assert sum(bool(m.phone_encrypted) for m in members) > len(members) * 0.7


def test_name_initials():
    gen = seeding._Generator(1, TODAY)
    assert gen.initials("张三") == "zs"
    assert gen.initials("曾国藩") == "zgf"
    assert gen.initials("欧阳明") == "oym"


def test_generator_is_deterministic():
    first = seeding.generate(members=500, orgs=60, seed=3, today=TODAY)
    second = seeding.generate(members=500, orgs=60, seed=3, today=TODAY)
    assert [(o.code, o.name, o.path, o.established_on) for o in first.orgs] == [
        (o.code, o.name, o.path, o.established_on) for o in second.orgs
    ]
    assert first.members == second.members
    # Another day: the same tree and people (only dates may move).
    later = seeding.generate(members=500, orgs=60, seed=3, today=TODAY + datetime.timedelta(40))
    assert [(o.code, o.name, o.path) for o in first.orgs] == [
        (o.code, o.name, o.path) for o in later.orgs
    ]
    assert [m.name for m in first.members] == [m.name for m in later.members]
    other = seeding.generate(members=500, orgs=60, seed=4, today=TODAY)
    assert [m.name for m in first.members] != [m.name for m in other.members]


def test_default_size_gives_about_300_branches():
    plan = seeding.generate(members=6000, orgs=seeding.DEFAULT_ORGS, seed=1, today=TODAY)
    kinds = Counter(o.kind for o in plan.orgs)
    assert len(plan.orgs) == seeding.DEFAULT_ORGS
    assert 270 <= kinds[OrgKind.BRANCH] + kinds[OrgKind.JOINT_BRANCH] <= 330
    sizes = [o.size for o in plan.orgs if o.kind in BRANCH_KINDS]
    assert sum(sizes) == 6000
    assert min(sizes) >= 5 and max(sizes) <= 60
    assert len({m.id_number for m in plan.members}) == 6000
    surnames = Counter(m.name[0] for m in plan.members)
    assert surnames.most_common(1)[0][0] in "王李张"


@pytest.mark.django_db
def test_demo_accounts(seeded):
    accounts = {a.username: a for a in seeded.accounts}
    assert set(accounts) == set(seeding.DEMO_USERNAMES)
    for username in seeding.DEMO_USERNAMES:
        assert authenticate(username=username, password=seeding.DEMO_PASSWORD) is not None
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.display_name == "系统管理员"
    root = Organization.objects.get(depth=1)

    def roles(username):
        return [
            (r.role, r.organization)
            for r in RoleAssignment.objects.filter(user__username=username).select_related(
                "organization"
            )
        ]

    assert roles("county") == [("org_admin", root)]
    assert roles("auditor") == [("auditor", root)]
    [(role, town)] = roles("town")
    assert role == "org_admin" and town.depth == 2 and town.kind == OrgKind.COMMITTEE
    [(role, a)] = roles("secretary_a")
    [(role_b, b)] = roles("secretary_b")
    assert role == role_b == "secretary" and a != b
    assert a.kind in BRANCH_KINDS and b.kind in BRANCH_KINDS
    assert a.parent_path == b.parent_path and a.path.startswith(town.path)
    [(role, org)] = roles("member_a")
    assert role == "member" and org == a
    member = Member.objects.get(user__username="member_a")
    assert member.organization == a


@pytest.mark.django_db
def test_refuses_to_seed_twice(seeded):
    terms, transfers = Term.objects.count(), Transfer.objects.count()
    with pytest.raises(seeding.SeedError):
        seeding.seed(members=10, orgs=5, seed=1)
    with pytest.raises(CommandError, match="already holds organisations"):
        call_command("seed", members=10, orgs=5, no_progress=True, stdout=io.StringIO())
    out = io.StringIO()
    call_command("seed", members=10, orgs=5, if_empty=True, no_progress=True, stdout=out)
    assert "already has data" in out.getvalue()
    assert Organization.objects.count() == 40
    assert (Term.objects.count(), Transfer.objects.count()) == (terms, transfers)


@pytest.mark.django_db
def test_command_prints_summary_and_logins():
    out = io.StringIO()
    call_command("seed", members=60, orgs=12, seed=2, no_progress=True, stdout=out)
    text = out.getvalue()
    assert "rows/s" in text and "secretary_a" in text and seeding.DEMO_PASSWORD in text
    assert Member.objects.count() == 60


@pytest.mark.django_db
def test_command_without_demo_accounts_and_bad_input():
    with pytest.raises(CommandError, match="--orgs"):
        call_command("seed", orgs=1, no_progress=True, stdout=io.StringIO())
    call_command(
        "seed", members=30, orgs=8, demo_accounts=False, no_progress=True, stdout=io.StringIO()
    )
    assert not User.objects.exists()
    # the organisations' life comes with the demo accounts (they are its actors)
    assert not Term.objects.exists() and not Transfer.objects.exists()


@pytest.mark.django_db
def test_no_query_per_row():
    # Batches only: SQLite caps a statement at 999 parameters (about 60 member rows), so the
    # bound is per batch there, not per row.
    with CaptureQueriesContext(connection) as queries:
        seeding.seed(members=1500, orgs=100, seed=5, demo_accounts=False)
    # members and organisations, then about two timeline events a member
    assert len(queries) <= 1600 / 40 + 3000 / 60 + 5


# The organisations' life -------------------------------------------------------------------


def _user(username):
    return User.objects.get(username=username)


@pytest.mark.django_db
def test_every_organisation_has_a_term_some_due_and_one_overdue(seeded):
    today = timezone.localdate()
    orgs = Organization.objects.exclude(kind=OrgKind.GROUP)
    assert (
        Term.objects.filter(ended_on__isnull=True).count() == orgs.count() == seeded.life["terms"]
    )
    for term in Term.objects.select_related("organization"):
        assert term.elected_on >= term.organization.established_on
        assert term.ends_on == term.due_on
    county = _user("county")
    rows = committees.annotate_status(list(committees.reelection_due(county)), today, 90)
    statuses = Counter(t.status for t in rows)
    assert statuses["overdue"] == 1 and statuses["due"] >= 1
    [overdue] = [t for t in rows if t.status == "overdue"]
    assert committees.reelection_due(_user("town")).filter(pk=overdue.pk).exists()
    a = RoleAssignment.objects.get(user__username="secretary_a").organization
    assert committees.reelection_due(_user("secretary_a")).filter(organization=a).exists()


@pytest.mark.django_db
def test_most_branches_have_a_secretary_and_the_shape_report_has_something_to_say(seeded):
    branches = Organization.objects.filter(kind__in=BRANCH_KINDS)
    with_secretary = branches.filter(
        office_holders__position="secretary", office_holders__ended_on__isnull=True
    ).distinct()
    assert with_secretary.count() >= branches.count() * 0.7
    for holder in OfficeHolder.objects.select_related("member", "organization"):
        assert holder.member.category == "full" and holder.member.status == "active"
        home = holder.organization
        if home.kind == OrgKind.GROUP:
            home = Organization.objects.get(path=home.parent_path)
        assert holder.member.org_path.startswith(home.path)
        assert holder.started_on >= holder.member.full_on
    assert OfficeHolder.objects.count() == seeded.life["office_holders"]
    counts = committees.shape_counts(_user("county"))
    assert counts["no_secretary"] >= 1


@pytest.mark.django_db
def test_an_election_awaits_the_township(seeded):
    [election] = Election.objects.all()
    a = RoleAssignment.objects.get(user__username="secretary_a").organization
    assert (election.organization, election.status, election.valid) == (a, "recorded", True)
    assert list(committees.pending_approvals(_user("town"))) == [election]
    assert list(committees.pending_approvals(_user("secretary_a"))) == []
    assert election.candidates.filter(elected=True).exists()
    assert AuditEvent.objects.get(action="election.record").user_label == "secretary_a"


@pytest.mark.django_db
def test_transfers_a_letter_and_mobile_members_under_way(seeded):
    a = RoleAssignment.objects.get(user__username="secretary_a").organization
    b = RoleAssignment.objects.get(user__username="secretary_b").organization
    internal = Transfer.objects.filter(direction="internal", state="pending")
    assert sorted((t.from_org_id, t.to_org_id) for t in internal) == sorted(
        [(a.pk, b.pk), (b.pk, a.pk)]
    )
    assert transfers.incoming(_user("secretary_b")).filter(from_org=a).count() == 1
    [letter] = Transfer.objects.filter(direction="outgoing")
    assert (letter.state, letter.from_org, letter.letter_number[:4]) == (
        "pending",
        a,
        str(timezone.localdate().year),
    )
    assert letter.valid_until > timezone.localdate()
    [away] = MobileStay.objects.filter(member__isnull=False)
    assert away.home_org == a and Member.objects.get(pk=away.member_id).mobile
    [guest] = transfers.guests_of(a)
    assert guest.member is None and guest.home_text
    assert not Member.objects.filter(name=guest.person_name, organization__in=[a, b]).exists()
    for t in Transfer.objects.all():  # nobody in two places
        assert Member.objects.get(pk=t.member_id).organization_id == t.from_org_id
    assert AuditEvent.objects.filter(action="transfer.start").count() == 2
    assert seeded.life["transfers"] == 2 and seeded.life["letters"] == 1


@pytest.mark.django_db
def test_a_member_out_of_contact_for_eight_months_is_flagged(seeded):
    b = RoleAssignment.objects.get(user__username="secretary_b").organization
    [row] = transfers.with_flags(transfers.out_of_contact(_user("secretary_b")))
    assert row.organization == b and row.flag == "suspend" and row.standing == "normal"
    months = (timezone.localdate().year - row.out_of_contact_since.year) * 12 + (
        timezone.localdate().month - row.out_of_contact_since.month
    )
    assert months == 8


@pytest.mark.django_db
def test_the_life_is_written_in_bulk():
    with CaptureQueriesContext(connection) as queries:
        seeding.seed(members=1500, orgs=100, seed=5)
    inserts = Counter(
        table
        for q in queries
        if q["sql"].startswith("INSERT")
        for table in ("committees_term", "committees_officeholder")
        if f'"{table}"' in q["sql"].split("(")[0]
    )
    # Batches only (SQLite caps a statement at 999 parameters: about 60 rows), not a row each.
    terms, holders = Term.objects.count(), OfficeHolder.objects.count()
    assert terms > 50 and holders > 100
    assert 1 <= inserts["committees_term"] <= terms / 60 + 1
    assert 1 <= inserts["committees_officeholder"] <= holders / 60 + 1
