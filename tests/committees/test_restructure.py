"""Restructuring (committees.restructure): merge, split and dissolve, each with a preview that
writes nothing, each moving members, sub-organisations, offices and mobile members in one
audited transaction. Members with a transfer under way block the change."""

import datetime
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.committees import restructure, services
from dangjian.committees.models import OfficeHolder, Term
from dangjian.core import services as core_services
from dangjian.core.errors import Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent, Organization
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services as transfers
from dangjian.transfers.models import MobileStay, Transfer

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


def today() -> datetime.date:
    return timezone.localdate()


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            Organization,
            Member,
            StandingEvent,
            OfficeHolder,
            Term,
            MobileStay,
            Transfer,
            AuditEvent,
        )
    }


@contextmanager
def nothing_written():
    before = counts()
    org_rows = list(Organization.objects.order_by("pk").values_list("pk", "path", "status"))
    member_rows = list(Member.objects.order_by("pk").values_list("pk", "organization", "org_path"))
    yield
    assert counts() == before
    assert list(Organization.objects.order_by("pk").values_list("pk", "path", "status")) == (
        org_rows
    )
    assert (
        list(Member.objects.order_by("pk").values_list("pk", "organization", "org_path"))
        == member_rows
    )


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def b_officers(people, tree, roster):
    """Branch B's term and its secretary 赵六."""
    b = tree["branch_b"]
    term = services.record_term(
        actor=people["bob"], org=b, form="secretary", elected_on=D("2024-01-01")
    )
    holder = services.appoint(
        actor=people["bob"],
        org=b,
        member=roster["zhao"],
        position="secretary",
        started_on=D("2024-01-01"),
    )
    return term, holder


# Merge ---------------------------------------------------------------------------------------


def test_merge_preview_says_what_moves_and_writes_nothing(admin, tree, roster, b_officers):
    with nothing_written():
        preview = restructure.preview_merge(
            actor=admin, source=tree["branch_b"], target=tree["branch_a"]
        )
    assert preview.ok and preview.problems == []
    assert (preview.members, sorted(preview.member_names)) == (2, ["赵六", "钱七"])
    assert [h.person_name for h in preview.holders] == ["赵六"]
    assert preview.children == [] and preview.blocking == []


def test_merge_moves_members_ends_offices_and_the_term_and_dissolves(
    admin, tree, roster, b_officers
):
    a, b = tree["branch_a"], tree["branch_b"]
    term, holder = b_officers
    restructure.merge(actor=admin, source=b, target=a, on=D("2026-01-01"))
    assert fresh(b).status == "dissolved" and fresh(b).dissolved_on == D("2026-01-01")
    for key in ("zhao", "qian"):
        m = fresh(roster[key])
        assert (m.organization_id, m.org_path, m.status) == (a.pk, a.path, "active")
        [event] = StandingEvent.objects.filter(member=m, kind="transferred")
        assert (event.organization_id, event.occurred_on) == (a.pk, D("2026-01-01"))
    assert fresh(holder).ended_on == D("2026-01-01")
    assert fresh(term).ended_on == D("2026-01-01")
    [merged] = AuditEvent.objects.filter(action="org.merge", object_id=str(b.pk))
    assert merged.after == {"into": a.pk, "members": 2, "children": 0}
    moves = AuditEvent.objects.filter(action="member.move")
    assert sorted(e.before["organization"] for e in moves) == [b.pk, b.pk]
    assert {e.after["organization"] for e in moves} == {a.pk}
    [term_end] = AuditEvent.objects.filter(action="term.end", object_id=str(term.pk))
    assert term_end.before == {"ended_on": None} and term_end.after == {"ended_on": "2026-01-01"}


def test_merge_moves_sub_organisations(admin, tree, roster):
    a, b, group = tree["branch_a"], tree["branch_b"], tree["group_a"]
    restructure.merge(actor=admin, source=a, target=b)
    group = fresh(group)
    assert group.parent_path == b.path and group.is_active
    assert fresh(roster["zhang"]).org_path == b.path


def test_merge_moves_mobile_members_with_their_branch(admin, people, tree, roster):
    out = transfers.register_mobile_out(
        actor=people["bob"], member=roster["zhao"], destination="深圳"
    )
    guest = transfers.register_mobile_in(
        actor=people["bob"], host_org=tree["branch_b"], person_name="周游", home_text="外县某支部"
    )
    restructure.merge(actor=admin, source=tree["branch_b"], target=tree["branch_a"])
    assert fresh(out).home_org == tree["branch_a"]
    assert fresh(guest).host_org == tree["branch_a"]
    assert AuditEvent.objects.filter(action="mobile.move").count() == 2


@pytest.mark.parametrize(
    ("source", "target"),
    [("branch_a", "branch_a"), ("town", "branch_a"), ("branch_b", "town"), ("branch_b", "gone")],
    ids=["into-itself", "into-its-own-part", "members-into-a-committee", "into-a-dissolved-one"],
)
def test_impossible_merges_change_nothing(admin, tree, roster, source, target):
    if target == "gone":
        gone = core_services.create_organization(
            actor=admin, parent=tree["town"], code="B09", name="已撤销党支部", kind="branch"
        )
        tree["gone"] = core_services.dissolve_organization(actor=admin, org=gone)
    preview = restructure.preview_merge(actor=admin, source=tree[source], target=tree[target])
    assert not preview.ok and all(str(p) for p in preview.problems)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        restructure.merge(actor=admin, source=tree[source], target=tree[target])
    assert exc.value.code == "cannot_merge"


def test_a_transfer_under_way_blocks_the_merge(admin, people, tree, roster):
    t = transfers.start_transfer(
        actor=people["bob"], member=roster["zhao"], to_org=tree["branch_a"]
    )
    preview = restructure.preview_merge(
        actor=admin, source=tree["branch_b"], target=tree["branch_a"]
    )
    assert preview.blocking == [t] and not preview.ok
    with nothing_written(), pytest.raises(ValidationFailed):
        restructure.merge(actor=admin, source=tree["branch_b"], target=tree["branch_a"])


def test_a_member_with_later_events_blocks_an_earlier_date(admin, tree, roster):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        restructure.merge(
            actor=admin, source=tree["branch_b"], target=tree["branch_a"], on=D("2010-01-01")
        )
    assert (exc.value.code, exc.value.field) == ("later_events", "on")


@pytest.mark.parametrize(("who", "error"), [("alice", Forbidden), ("bob", NotFound)])
def test_restructuring_needs_the_right_to_dissolve(people, tree, roster, who, error):
    with nothing_written(), pytest.raises(error):
        restructure.merge(actor=people[who], source=tree["branch_a"], target=tree["branch_b"])
    with pytest.raises(error):
        restructure.preview_dissolve(actor=people[who], org=tree["branch_a"])


def test_merging_takes_the_same_queries_for_few_or_many_members(admin, tree, make_member):
    def merge_costs(n: int) -> int:
        town = tree["town"]
        source = core_services.create_organization(
            actor=admin, parent=town, code=f"S{n}", name=f"源{n}", kind="branch"
        )
        target = core_services.create_organization(
            actor=admin, parent=town, code=f"T{n}", name=f"目标{n}", kind="branch"
        )
        for i in range(n):
            make_member(source, f"成员{n}x{i}", birth=f"1980-04-{i % 28 + 1:02d}")
        with CaptureQueriesContext(connection) as queries:
            restructure.merge(actor=admin, source=source, target=target)
        return len(queries)

    assert merge_costs(2) == merge_costs(12)


# Split ---------------------------------------------------------------------------------------


def test_split_moves_the_chosen_members_to_a_new_sibling(admin, people, tree, roster):
    a = tree["branch_a"]
    kept = services.appoint(
        actor=admin, org=a, member=roster["zhang"], position="secretary", started_on=D("2024-01-01")
    )
    leaving = services.appoint(
        actor=admin,
        org=a,
        member=roster["wang"],
        position="organisation",
        started_on=D("2024-01-01"),
    )
    ids = [roster["wang"].pk, roster["li"].pk]
    preview = restructure.preview_split(actor=admin, source=a, member_ids=ids)
    assert preview.ok and preview.members == 2 and preview.holders == [leaving]
    new = restructure.split(
        actor=admin,
        source=a,
        values={"code": "B01-2", "name": "东街社区第二党支部"},
        member_ids=ids,
    )
    assert (new.parent_path, new.kind) == (a.parent_path, "branch")
    assert {m.pk for m in Member.objects.filter(organization=new)} == set(ids)
    assert fresh(roster["zhang"]).organization_id == a.pk
    assert fresh(kept).ended_on is None and fresh(leaving).ended_on == today()
    assert AuditEvent.objects.filter(action="org.split", object_id=str(a.pk)).count() == 1


@pytest.mark.parametrize(
    ("source", "chosen"),
    [
        ("branch_a", []),
        ("branch_a", ["zhang", "zhao"]),
        ("town", ["zhang"]),
        ("branch_a", ["zhang", 10**20]),  # beyond 64 bits: SQLite would overflow in pk__in
        ("branch_a", [0, -3]),
    ],
    ids=[
        "nobody-chosen",
        "someone-of-another-branch",
        "not-a-branch",
        "an-id-beyond-64-bits",
        "ids-that-name-no-row",
    ],
)
def test_impossible_splits_change_nothing(admin, tree, roster, source, chosen):
    ids = [k if isinstance(k, int) else roster[k].pk for k in chosen]
    assert not restructure.preview_split(actor=admin, source=tree[source], member_ids=ids).ok
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        restructure.split(
            actor=admin,
            source=tree[source],
            values={"code": "N1", "name": "新支部"},
            member_ids=ids,
        )
    assert exc.value.code == "cannot_split"


# Dissolve ------------------------------------------------------------------------------------


def test_dissolve_moves_members_and_guests_and_ends_offices_and_the_term(
    admin, people, tree, roster, b_officers
):
    term, holder = b_officers
    guest = transfers.register_mobile_in(
        actor=people["bob"], host_org=tree["branch_b"], person_name="周游", home_text="外县某支部"
    )
    b, a = tree["branch_b"], tree["branch_a"]
    with nothing_written():
        preview = restructure.preview_dissolve(actor=admin, org=b)
    assert not preview.ok and preview.guests == 1  # members and guests need somewhere to go
    restructure.dissolve(actor=admin, org=b, move_members_to=a)
    assert fresh(b).status == "dissolved"
    assert Member.objects.filter(organization=a, status="active").count() == 5
    assert fresh(holder).ended_on == today() and fresh(term).ended_on == today()
    assert fresh(guest).host_org == a


def test_an_organisation_with_sub_organisations_is_not_dissolved(admin, tree, roster):
    preview = restructure.preview_dissolve(
        actor=admin, org=tree["branch_a"], move_members_to=tree["branch_b"]
    )
    assert preview.children == [tree["group_a"]] and not preview.ok
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        restructure.dissolve(actor=admin, org=tree["branch_a"], move_members_to=tree["branch_b"])
    assert exc.value.code == "cannot_dissolve"


def test_members_are_not_moved_into_a_committee(admin, tree, roster):
    with nothing_written(), pytest.raises(ValidationFailed):
        restructure.dissolve(actor=admin, org=tree["branch_b"], move_members_to=tree["town"])


def test_an_empty_organisation_is_dissolved_without_a_target(admin, tree):
    empty = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B07", name="空党支部", kind="branch"
    )
    restructure.dissolve(actor=admin, org=empty)
    assert fresh(empty).status == "dissolved"
