"""Transfers, introduction letters, mobile members and contact decisions through their services:
one behaviour per test, and nobody ever in two places or none.

People (tests/conftest.py): alice is secretary of branch A, oscar organisation administrator of
the township above A and B, bob secretary of B. Roster: 张三 李四(probationary) 王五 in A,
赵六 钱七 in B.
"""

import datetime
from contextlib import contextmanager

import pytest
from django.utils import timezone, translation

from dangjian.committees import services as committees
from dangjian.committees.models import OfficeHolder
from dangjian.core import services as core_services
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent, Organization
from dangjian.core.rules import add_months
from dangjian.members import selectors as member_selectors
from dangjian.members import services as member_services
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import selectors, services
from dangjian.transfers.models import MobileStay, State, Transfer
from tests.idnumbers import make_id

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


def today() -> datetime.date:
    return timezone.localdate()


def days_ago(n: int) -> datetime.date:
    return today() - datetime.timedelta(days=n)


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Transfer, MobileStay, Member, StandingEvent, OfficeHolder, AuditEvent)
    }


@contextmanager
def nothing_written():
    before = counts()
    yield
    assert counts() == before


def audit_of(action: str, obj) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action=action, object_id=str(obj.pk))
    return event


def assert_in_one_place(member: Member, org: Organization, people: dict) -> None:
    """The member is an active member of exactly `org`, seen there by that branch's secretary
    only, and has at most one transfer under way."""
    m = Member.objects.select_related("organization").get(pk=member.pk)
    assert m.status == "active"
    assert (m.organization_id, m.org_path) == (org.pk, org.path)
    assert m.organization.is_active
    assert Transfer.objects.filter(member=m, state=State.PENDING).count() <= 1
    seen_by = sorted(
        name
        for name in ("alice", "bob")
        if member_selectors.members(people[name]).filter(pk=m.pk).exists()
    )
    assert seen_by == (["alice"] if org.path.startswith(people["alice_org"].path) else ["bob"])
    assert member_selectors.members(people["oscar"]).filter(pk=m.pk).exists()


@pytest.fixture
def who(people, tree):
    return {**people, "alice_org": tree["branch_a"]}


# Within the platform -------------------------------------------------------------------------


def test_a_transfer_moves_the_member_only_when_accepted(who, tree, roster):
    alice, bob = who["alice"], who["bob"]
    zhang, a, b = roster["zhang"], tree["branch_a"], tree["branch_b"]
    assert_in_one_place(zhang, a, who)
    t = services.start_transfer(actor=alice, member=zhang, to_org=b, reason="工作调动")
    assert (t.state, t.from_org, t.to_org, t.person_name) == (State.PENDING, a, b, "张三")
    assert_in_one_place(zhang, a, who)
    services.accept_transfer(actor=bob, transfer=t)
    assert_in_one_place(zhang, b, who)
    t.refresh_from_db()
    assert (t.state, t.decided_by, t.decided_on) == (State.COMPLETED, bob, today())
    [event] = StandingEvent.objects.filter(member=zhang, kind="transferred")
    assert (event.organization_id, event.occurred_on, event.detail) == (b.pk, today(), "工作调动")


def test_start_and_accept_are_audited_with_before_and_after(who, tree, roster):
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    started = audit_of("transfer.start", t)
    assert started.before is None and started.after["state"] == "pending"
    assert started.subject == f"members.member:{roster['zhang'].pk}"
    assert started.org_path == tree["branch_a"].path
    services.accept_transfer(actor=who["bob"], transfer=t)
    accepted = audit_of("transfer.accept", t)
    assert accepted.before == {"state": "pending", "decided_on": None}
    assert accepted.after == {"state": "completed", "decided_on": today().isoformat()}
    assert accepted.org_path == tree["branch_b"].path and accepted.user_id == who["bob"].pk


def test_the_receiving_side_sees_the_transfer_but_not_the_record(who, tree, roster):
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    assert list(selectors.incoming(who["bob"])) == [t]
    assert list(selectors.outgoing(who["alice"])) == [t]
    assert list(selectors.outgoing(who["bob"])) == []
    assert selectors.get_transfer(who["bob"], t.pk) == t
    with pytest.raises(NotFound):
        member_selectors.get_member(who["bob"], roster["zhang"].pk)


def test_a_transfer_is_accepted_once(who, tree, roster):
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    services.accept_transfer(actor=who["bob"], transfer=t)
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.accept_transfer(actor=who["oscar"], transfer=t)
    assert exc.value.code == "already_decided"
    assert StandingEvent.objects.filter(member=roster["zhang"], kind="transferred").count() == 1


def test_the_sending_side_cannot_accept(who, tree, roster):
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    with nothing_written(), pytest.raises(Forbidden):
        services.accept_transfer(actor=who["alice"], transfer=t)
    assert_in_one_place(roster["zhang"], tree["branch_a"], who)


def test_the_committee_above_both_may_accept(who, tree, roster):
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    services.accept_transfer(actor=who["oscar"], transfer=t)
    assert_in_one_place(roster["zhang"], tree["branch_b"], who)


def test_offices_end_when_the_member_transfers_except_those_above_both(who, tree, roster):
    alice, oscar, zhang = who["alice"], who["oscar"], roster["zhang"]
    here = committees.appoint(
        actor=alice,
        org=tree["branch_a"],
        member=zhang,
        position="secretary",
        started_on=D("2024-01-01"),
    )
    above = committees.appoint(
        actor=oscar, org=tree["town"], member=zhang, position="member", started_on=D("2024-01-01")
    )
    t = services.start_transfer(actor=alice, member=zhang, to_org=tree["branch_b"])
    here.refresh_from_db()
    assert here.ended_on is None  # still theirs until the other side accepts
    services.accept_transfer(actor=who["bob"], transfer=t)
    here.refresh_from_db()
    above.refresh_from_db()
    assert here.ended_on == today() and here.end_reason
    assert above.ended_on is None
    event = audit_of("office.end", here)
    assert event.before == {"ended_on": None} and event.after["ended_on"] == today().isoformat()


def test_a_returned_transfer_leaves_the_member_where_they_were(who, tree, roster):
    zhang = roster["zhang"]
    t = services.start_transfer(actor=who["alice"], member=zhang, to_org=tree["branch_b"])
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.return_transfer(actor=who["bob"], transfer=t, reason="  ")
    assert (exc.value.code, exc.value.field) == ("required", "reason")
    services.return_transfer(actor=who["bob"], transfer=t, reason="本人不在我单位工作")
    t.refresh_from_db()
    assert (t.state, t.decision_note) == (State.RETURNED, "本人不在我单位工作")
    assert audit_of("transfer.return", t).after["state"] == "returned"
    assert_in_one_place(zhang, tree["branch_a"], who)
    # and a new transfer may start
    services.start_transfer(actor=who["alice"], member=zhang, to_org=tree["branch_b"])


def test_the_sending_side_cancels(who, tree, roster):
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    with nothing_written(), pytest.raises(Forbidden):
        services.cancel_transfer(actor=who["bob"], transfer=t)
    services.cancel_transfer(actor=who["alice"], transfer=t, reason="填错了")
    t.refresh_from_db()
    assert t.state == State.CANCELLED
    assert audit_of("transfer.cancel", t).before == {
        "state": "pending",
        "decided_on": None,
        "decision_note": "",
    }
    assert_in_one_place(roster["zhang"], tree["branch_a"], who)


def test_one_open_transfer_at_a_time(who, tree, roster, admin):
    c = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="南街社区党支部", kind="branch"
    )
    services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=c)
    assert (exc.value.code, exc.value.field) == ("transfer_open", "member")
    with nothing_written(), pytest.raises(Conflict):
        services.issue_letter(actor=who["alice"], member=roster["zhang"], counterpart="外县党委")


@pytest.fixture
def dissolved(tree, admin):
    org = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B08", name="已撤销党支部", kind="branch"
    )
    core_services.dissolve_organization(actor=admin, org=org)
    org.refresh_from_db()
    return org


@pytest.mark.parametrize(
    ("target", "code"),
    [
        ("missing", "no_such_organization"),
        ("none", "no_such_organization"),
        ("dissolved", "organization_dissolved"),
        ("town", "not_a_branch"),
        ("group_a", "not_a_branch"),
        ("branch_a", "same_organization"),
    ],
    ids=[
        "does-not-exist",
        "not-chosen",
        "dissolved",
        "a-committee",
        "a-party-group",
        "same-branch",
    ],
)
def test_a_transfer_to_an_impossible_organisation_changes_nothing(
    who, tree, roster, dissolved, target, code
):
    to_org = {
        "missing": Organization(pk=987654, path="9999", depth=1, name="不存在"),
        "none": None,
        "dissolved": dissolved,
    }.get(target) or tree.get(target)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=to_org)
    assert (exc.value.code, exc.value.field) == (code, "to_org")
    assert str(exc.value.message)
    assert_in_one_place(roster["zhang"], tree["branch_a"], who)


def test_accepting_into_an_organisation_dissolved_meanwhile_changes_nothing(
    who, tree, roster, admin
):
    c = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="南街社区党支部", kind="branch"
    )
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=c)
    # Dissolving it is refused while the transfer waits; a row dissolved before that rule:
    Organization.objects.filter(pk=c.pk).update(status="dissolved", dissolved_on=today())
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.accept_transfer(actor=who["oscar"], transfer=t)
    assert exc.value.code == "organization_dissolved"
    t.refresh_from_db()
    assert t.state == State.PENDING
    assert_in_one_place(roster["zhang"], tree["branch_a"], who)


@pytest.mark.parametrize(
    ("step", "on", "code", "field"),
    [
        ("start", "tomorrow", "future_date", "started_on"),
        ("start", "2025-13-01", "required", "started_on"),
        ("accept", "before-start", "too_early", "decided_on"),
    ],
    ids=["start-in-the-future", "start-not-a-date", "accept-before-start"],
)
def test_transfer_dates_are_checked(who, tree, roster, step, on, code, field):
    when = {"tomorrow": today() + datetime.timedelta(days=1)}.get(on, on)
    if step == "start":
        with nothing_written(), pytest.raises(ValidationFailed) as exc:
            services.start_transfer(
                actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"], on=when
            )
    else:
        t = services.start_transfer(
            actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"], on=days_ago(3)
        )
        with nothing_written(), pytest.raises(ValidationFailed) as exc:
            services.accept_transfer(actor=who["bob"], transfer=t, on=days_ago(4))
    assert (exc.value.code, exc.value.field) == (code, field)


def test_a_member_outside_the_scope_cannot_be_transferred(who, tree, roster):
    with nothing_written(), pytest.raises(NotFound):
        services.start_transfer(actor=who["bob"], member=roster["zhang"], to_org=tree["branch_b"])


def test_a_group_transfer_is_all_or_nothing(who, tree, roster):
    services.issue_letter(actor=who["alice"], member=roster["wang"], counterpart="外县党委")
    with pytest.raises(Conflict):
        services.start_group_transfer(
            actor=who["alice"], members=[roster["zhang"], roster["wang"]], to_org=tree["branch_b"]
        )
    assert not Transfer.objects.filter(member=roster["zhang"]).exists()


def test_a_group_is_accepted_in_one_step(who, tree, roster):
    members = [roster["zhang"], roster["wang"], roster["li"]]
    started = services.start_group_transfer(
        actor=who["alice"], members=members, to_org=tree["branch_b"], reason="单位合并"
    )
    assert len({t.batch for t in started}) == 1
    batch = list(selectors.batch(who["bob"], started[0].batch))
    assert [t.person_name for t in batch] == sorted(t.person_name for t in started)
    assert services.accept_batch(actor=who["bob"], transfers=batch) == 3
    for m in members:
        assert_in_one_place(m, tree["branch_b"], who)
    assert AuditEvent.objects.filter(action="transfer.accept").count() == 3


def test_an_empty_group_transfer_is_refused(who, tree):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.start_group_transfer(actor=who["alice"], members=[], to_org=tree["branch_b"])
    assert exc.value.field == "members"


def test_stuck_lists_old_transfers_and_letters_past_validity(who, tree, roster, settings):
    settings.TRANSFER_STUCK_DAYS = 30
    old = services.start_transfer(
        actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"], on=days_ago(31)
    )
    services.start_transfer(
        actor=who["alice"], member=roster["wang"], to_org=tree["branch_b"], on=days_ago(5)
    )
    letter = services.issue_letter(
        actor=who["bob"], member=roster["zhao"], counterpart="外县党委", on=days_ago(12),
        valid_days=10,
    )  # fmt: skip
    assert list(selectors.stuck(who["oscar"])) == [old, letter]
    assert list(selectors.stuck(who["alice"])) == [old]
    assert list(selectors.stuck(who["bob"])) == [old, letter]


def test_transfer_lists_take_a_fixed_number_of_queries(
    who, tree, roster, make_member, django_assert_max_num_queries
):
    def listed():
        oscar = type(who["oscar"]).objects.get(pk=who["oscar"].pk)  # roles not cached yet
        with django_assert_max_num_queries(2):
            return [
                (t.person_name, t.from_org.name, t.to_org.name) for t in selectors.incoming(oscar)
            ]

    services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    assert len(listed()) == 1
    for i in range(6):
        m = make_member(tree["branch_a"], f"党员{i}", birth=f"1981-03-{i + 10}")
        services.start_transfer(actor=who["alice"], member=m, to_org=tree["branch_b"])
    assert len(listed()) == 7


# Letters out of the platform -----------------------------------------------------------------


def test_letters_are_numbered_per_issuing_committee_and_year(who, tree, roster, make_member, admin):
    alice = who["alice"]
    first = services.issue_letter(
        actor=alice, member=roster["zhang"], counterpart="外县党委", on=D("2025-12-31")
    )
    second = services.issue_letter(
        actor=alice, member=roster["wang"], counterpart="外县党委", on=D("2026-01-02")
    )
    third = services.issue_letter(
        actor=who["bob"], member=roster["zhao"], counterpart="外县党委", on=D("2026-01-03")
    )
    river = core_services.create_organization(
        actor=admin, parent=tree["other_town"], code="B21", name="河口村党支部", kind="branch"
    )
    elsewhere = make_member(river, "孙九")
    fourth = services.issue_letter(
        actor=admin, member=elsewhere, counterpart="外县党委", on=D("2026-01-04")
    )
    assert [(t.letter_issuer, t.letter_year, t.letter_number) for t in (first, second, third)] == [
        (tree["town"], 2025, "2025-0001"),
        (tree["town"], 2026, "2026-0001"),
        (tree["town"], 2026, "2026-0002"),
    ]
    assert (fourth.letter_issuer, fourth.letter_number) == (tree["other_town"], "2026-0001")


def test_a_letter_is_valid_30_days_by_default_and_audited(who, roster):
    t = services.issue_letter(
        actor=who["alice"],
        member=roster["zhang"],
        counterpart="外县党委",
        addressee="外县党委组织部",
    )
    assert (t.valid_until - t.started_on).days == 30
    assert (t.direction, t.state, t.addressee) == ("outgoing", State.PENDING, "外县党委组织部")
    event = audit_of("letter.issue", t)
    assert event.after["letter_number"] == t.letter_number and event.before is None


@pytest.mark.parametrize(
    ("valid_days", "until"),
    [(1, "2026-01-02"), (90, "2026-04-01"), ("45", "2026-02-15")],
    ids=["one-day", "three-months-exactly", "days-as-text"],
)
def test_letter_validity_up_to_three_months(who, roster, valid_days, until):
    t = services.issue_letter(
        actor=who["alice"],
        member=roster["zhang"],
        counterpart="外县党委",
        on=D("2026-01-01"),
        valid_days=valid_days,
    )
    assert t.valid_until == D(until)


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"valid_days": 91}, "validity", "valid_days"),
        ({"valid_days": 0}, "validity", "valid_days"),
        ({"valid_days": "thirty"}, "not_a_number", "valid_days"),
        ({"counterpart": "  "}, "required", "counterpart"),
        ({"counterpart": "党" * 129}, "too_long", "counterpart"),
        ({"on": "tomorrow"}, "future_date", "started_on"),
    ],
    ids=["over-three-months", "zero-days", "days-in-words", "nowhere", "too-long", "future"],
)
def test_issue_letter_refuses_bad_input(who, roster, values, code, field):
    values = {"counterpart": "外县党委", "on": D("2026-01-01"), **values}
    if values["on"] == "tomorrow":
        values["on"] = today() + datetime.timedelta(days=1)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.issue_letter(actor=who["alice"], member=roster["zhang"], **values)
    assert (exc.value.code, exc.value.field) == (code, field)


def test_the_receipt_takes_the_member_out_of_the_platform(who, tree, roster):
    alice, wang = who["alice"], roster["wang"]
    holder = committees.appoint(
        actor=alice,
        org=tree["branch_a"],
        member=wang,
        position="secretary",
        started_on=D("2024-01-01"),
    )
    t = services.issue_letter(actor=alice, member=wang, counterpart="外县党委", on=days_ago(5))
    assert_in_one_place(wang, tree["branch_a"], who)
    services.record_receipt(actor=alice, transfer=t, on=days_ago(1))
    m = Member.objects.get(pk=wang.pk)
    assert m.status == "transferred_out"
    assert not Transfer.objects.filter(member=m, state=State.PENDING).exists()
    assert not member_selectors.members(alice).filter(pk=m.pk, status="active").exists()
    t.refresh_from_db()
    assert (t.state, t.receipt_on) == (State.COMPLETED, days_ago(1))
    holder.refresh_from_db()
    assert holder.ended_on == days_ago(1)
    assert audit_of("letter.receipt", t).after["state"] == "completed"


def test_a_cancelled_letter_leaves_the_member_here(who, tree, roster):
    t = services.issue_letter(actor=who["alice"], member=roster["wang"], counterpart="外县党委")
    services.cancel_transfer(actor=who["alice"], transfer=t, reason="本人不走了")
    t.refresh_from_db()
    assert t.state == State.CANCELLED
    assert_in_one_place(roster["wang"], tree["branch_a"], who)


def test_letters_expire_exactly_once(who, tree, roster):
    alice = who["alice"]
    old = services.issue_letter(
        actor=alice, member=roster["zhang"], counterpart="外县党委", on=days_ago(40)
    )
    last_day = services.issue_letter(
        actor=alice, member=roster["wang"], counterpart="外县党委", on=days_ago(30)
    )
    internal = services.start_transfer(
        actor=who["bob"], member=roster["zhao"], to_org=tree["branch_a"], on=days_ago(60)
    )
    assert last_day.valid_until == today()  # still valid today
    assert services.expire_letters() == 1
    assert services.expire_letters() == 0
    old.refresh_from_db()
    assert (old.state, old.decided_on) == (State.EXPIRED, today())
    event = audit_of("letter.expire", old)
    assert event.user_id is None and event.after == {
        "state": "expired",
        "decided_on": today().isoformat(),
    }
    for t in (last_day, internal):
        t.refresh_from_db()
        assert t.state == State.PENDING
    assert_in_one_place(roster["zhang"], tree["branch_a"], who)
    # tomorrow the other one goes
    assert services.expire_letters(today() + datetime.timedelta(days=1)) == 1


def test_a_receipt_for_an_expired_letter_changes_nothing(who, roster):
    t = services.issue_letter(
        actor=who["alice"], member=roster["zhang"], counterpart="外县党委", on=days_ago(40)
    )
    services.expire_letters()
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.record_receipt(actor=who["alice"], transfer=t)
    assert exc.value.code == "already_decided"


# Letters into the platform -------------------------------------------------------------------


def register(who, tree, actor="alice", **values):
    values = {
        "to_org": tree["branch_a"],
        "letter_number": "外组〔2026〕42号",
        "counterpart": "外县委组织部",
        "person_name": "孙八",
        **values,
    }
    return services.register_incoming(actor=who[actor], **values)


NEW_MEMBER = {
    "name": "孙八",
    "id_number": make_id("1988-02-02", 1, seq=77),
    "joined_on": D("2012-07-01"),
    "full_on": D("2013-07-01"),
    "category": "full",
}


def test_an_incoming_letter_becomes_a_member_when_confirmed(who, tree):
    t = register(who, tree)
    assert (t.direction, t.state, t.member) == ("incoming", State.PENDING, None)
    assert audit_of("letter.register", t).after["letter_number"] == "外组〔2026〕42号"
    services.confirm_incoming(actor=who["alice"], transfer=t, data=NEW_MEMBER)
    t.refresh_from_db()
    assert t.state == State.COMPLETED and t.member.name == "孙八"
    assert_in_one_place(t.member, tree["branch_a"], who)
    # admitted elsewhere, arrived here by this letter today
    events = list(t.member.events.order_by("occurred_on", "id").values_list("kind", "organization"))
    assert events == [
        ("admitted", None),
        ("became_full", None),
        ("transferred_in", tree["branch_a"].pk),
    ]
    arrival = t.member.events.get(kind="transferred_in")
    assert (arrival.occurred_on, arrival.reference) == (today(), "外组〔2026〕42号")
    assert audit_of("letter.confirm", t).after["member"] == t.member.pk


def test_a_letter_number_used_twice_is_refused(who, tree):
    register(who, tree)
    with nothing_written(), pytest.raises(Conflict) as exc:
        register(who, tree, actor="bob", to_org=tree["branch_b"])
    assert (exc.value.code, exc.value.field) == ("duplicate_letter", "letter_number")
    # the same number from another committee is another letter
    register(who, tree, counterpart="邻县委组织部")


def test_a_cancelled_registration_frees_the_number(who, tree):
    t = register(who, tree)
    services.cancel_transfer(actor=who["alice"], transfer=t, reason="登记错了")
    register(who, tree)


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"letter_number": "<script>"}, "invalid_number", "letter_number"),
        ({"letter_number": " "}, "required", "letter_number"),
        ({"counterpart": ""}, "required", "counterpart"),
        ({"person_name": ""}, "required", "person_name"),
        ({"valid_until": "expired"}, "letter_expired", "valid_until"),
        ({"to_org": "dissolved"}, "organization_dissolved", "to_org"),
        ({"to_org": "town"}, "not_a_branch", "to_org"),
    ],
    ids=["odd-number", "no-number", "from-nowhere", "nobody", "expired", "dissolved", "committee"],
)
def test_register_incoming_refuses_bad_input(who, tree, dissolved, values, code, field):
    if values.get("valid_until") == "expired":
        values["valid_until"] = days_ago(1)
    if values.get("to_org") == "dissolved":
        values["to_org"] = dissolved
    elif values.get("to_org") == "town":
        values["to_org"] = tree["town"]
    actor = who["oscar"] if "to_org" in values else who["alice"]
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.register_incoming(
            actor=actor,
            **{
                "to_org": tree["branch_a"],
                "letter_number": "外组〔2026〕42号",
                "counterpart": "外县委组织部",
                "person_name": "孙八",
                **values,
            },
        )
    assert (exc.value.code, exc.value.field) == (code, field)


def test_confirming_an_expired_letter_changes_nothing(who, tree):
    t = register(who, tree, on=days_ago(20), valid_until=days_ago(2))
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.confirm_incoming(actor=who["alice"], transfer=t, data=NEW_MEMBER)
    assert exc.value.code == "letter_expired"
    services.expire_letters()
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.confirm_incoming(actor=who["alice"], transfer=t, data=NEW_MEMBER)
    assert exc.value.code == "already_decided"


def test_a_record_that_does_not_validate_leaves_the_letter_pending(who, tree):
    t = register(who, tree)
    with nothing_written(), pytest.raises(ValidationFailed):
        services.confirm_incoming(
            actor=who["alice"], transfer=t, data={**NEW_MEMBER, "id_number": "110101199003077574"}
        )
    t.refresh_from_db()
    assert t.state == State.PENDING


def test_a_member_who_left_comes_back_on_the_same_record(who, tree, roster):
    wang = roster["wang"]
    out = services.issue_letter(
        actor=who["alice"], member=wang, counterpart="外县党委", on=days_ago(9)
    )
    services.record_receipt(actor=who["alice"], transfer=out, on=days_ago(8))
    back = services.register_incoming(
        actor=who["bob"],
        to_org=tree["branch_b"],
        letter_number="外组〔2026〕7号",
        counterpart="外县委组织部",
        person_name="王五",
    )
    found = services.returning_member(
        actor=who["bob"], transfer=back, id_number=member_services.member_id_number(wang)
    )
    assert found.pk == wang.pk
    services.confirm_incoming(actor=who["bob"], transfer=back, member=found)
    assert_in_one_place(wang, tree["branch_b"], who)
    assert StandingEvent.objects.filter(member=wang, kind="transferred_in").count() == 1


def test_an_active_member_is_not_confirmed_from_a_letter(who, tree, roster):
    t = register(who, tree, person_name="赵六")
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.confirm_incoming(actor=who["alice"], transfer=t, member=roster["zhao"])
    assert exc.value.code == "already_member"


# Mobile members ------------------------------------------------------------------------------


def test_a_mobile_member_takes_part_at_the_host_and_votes_at_home(who, tree, roster):
    zhang = roster["zhang"]
    stay = services.register_mobile_out(
        actor=who["alice"],
        member=zhang,
        host_org=tree["branch_b"],
        since=days_ago(10),
        expected_return=days_ago(10) + datetime.timedelta(days=90),
        card_number="LD2026001",
    )
    m = Member.objects.get(pk=zhang.pk)
    assert m.mobile and m.mobile_destination == tree["branch_b"].name
    assert_in_one_place(zhang, tree["branch_a"], who)  # still A's member
    assert list(selectors.guests_of(tree["branch_b"])) == [stay]
    assert list(selectors.guests_of(tree["branch_a"])) == []
    assert list(selectors.mobile_in(who["bob"])) == [stay]
    assert list(selectors.mobile_out(who["alice"])) == [stay]
    assert audit_of("mobile.out", stay).after["card_number"] == "LD2026001"


@pytest.mark.parametrize(
    ("months", "days", "ok"),
    [(6, 0, False), (6, -1, True), (7, 0, False), (0, 1, True)],
    ids=["six-months-exactly", "a-day-less", "seven-months", "one-day"],
)
def test_a_mobile_stay_is_shorter_than_six_months(who, roster, months, days, ok):
    since = D("2026-03-31")
    back = add_months(since, months) + datetime.timedelta(days=days)

    def register():
        return services.register_mobile_out(
            actor=who["alice"],
            member=roster["zhang"],
            destination="深圳",
            since=since,
            expected_return=back,
        )

    if ok:
        register()
    else:
        with nothing_written(), pytest.raises(ValidationFailed) as exc:
            register()
        assert (exc.value.code, exc.value.field) == ("too_long", "expected_return")


@pytest.mark.parametrize(
    ("values", "code", "field"),
    [
        ({"destination": ""}, "required", "destination"),
        ({"expected_return": "before"}, "return_before_leaving", "expected_return"),
        ({"host_org": "own"}, "same_organization", "host_org"),
        ({"host_org": "town"}, "not_a_branch", "host_org"),
    ],
    ids=["nowhere", "back-before-leaving", "own-branch", "a-committee"],
)
def test_register_mobile_out_refuses_bad_input(who, tree, roster, values, code, field):
    if values.get("expected_return") == "before":
        values["expected_return"] = days_ago(20)
    if "host_org" in values:
        values["host_org"] = tree["branch_a"] if values["host_org"] == "own" else tree["town"]
    values = {"destination": "深圳", "since": days_ago(10), **values}
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.register_mobile_out(actor=who["oscar"], member=roster["zhang"], **values)
    assert (exc.value.code, exc.value.field) == (code, field)


def test_a_member_is_away_once_at_a_time(who, roster):
    services.register_mobile_out(actor=who["alice"], member=roster["zhang"], destination="深圳")
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.register_mobile_out(actor=who["alice"], member=roster["zhang"], destination="广州")
    assert exc.value.code == "already_mobile"


def test_a_guest_from_elsewhere_never_becomes_a_member_here(who, tree):
    stay = services.register_mobile_in(
        actor=who["bob"],
        host_org=tree["branch_b"],
        person_name="周游",
        home_text="外省某县某村党支部",
        since=days_ago(3),
    )
    assert stay.member is None
    assert list(selectors.guests_of(tree["branch_b"])) == [stay]
    assert not Member.objects.filter(name="周游").exists()
    assert audit_of("mobile.in", stay).after["home_text"] == "外省某县某村党支部"
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.convert_mobile(actor=who["bob"], stay=stay)
    assert exc.value.code == "not_ours"


def test_the_member_comes_back(who, tree, roster):
    stay = services.register_mobile_out(
        actor=who["alice"], member=roster["zhang"], host_org=tree["branch_b"], since=days_ago(10)
    )
    services.end_mobile(actor=who["alice"], stay=stay, on=days_ago(1))
    stay.refresh_from_db()
    assert (stay.state, stay.returned_on) == ("returned", days_ago(1))
    assert not Member.objects.get(pk=roster["zhang"].pk).mobile
    assert list(selectors.guests_of(tree["branch_b"])) == []
    with nothing_written(), pytest.raises(Conflict):
        services.end_mobile(actor=who["alice"], stay=stay)


def test_a_stay_becomes_a_transfer_to_the_host(who, tree, roster):
    stay = services.register_mobile_out(
        actor=who["alice"], member=roster["zhang"], host_org=tree["branch_b"], since=days_ago(10)
    )
    t = services.convert_mobile(actor=who["alice"], stay=stay)
    stay.refresh_from_db()
    assert (stay.state, stay.transfer) == ("converted", t)
    assert (t.direction, t.to_org) == ("internal", tree["branch_b"])
    assert_in_one_place(roster["zhang"], tree["branch_a"], who)
    services.accept_transfer(actor=who["bob"], transfer=t)
    assert_in_one_place(roster["zhang"], tree["branch_b"], who)


def test_a_stay_outside_becomes_a_letter(who, tree, roster):
    stay = services.register_mobile_out(
        actor=who["alice"], member=roster["zhang"], destination="深圳市某街道", since=days_ago(10)
    )
    t = services.convert_mobile(actor=who["alice"], stay=stay)
    assert (t.direction, t.counterpart, t.state) == ("outgoing", "深圳市某街道", State.PENDING)


def test_a_member_away_who_transfers_is_away_from_the_new_home(who, tree, roster):
    stay = services.register_mobile_out(
        actor=who["alice"], member=roster["zhang"], destination="深圳", since=days_ago(10)
    )
    t = services.start_transfer(actor=who["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    services.accept_transfer(actor=who["bob"], transfer=t)
    stay.refresh_from_db()
    assert (stay.state, stay.home_org) == ("active", tree["branch_b"])
    assert list(selectors.mobile_out(who["bob"])) == [stay]
    assert list(selectors.mobile_out(who["alice"])) == []
    event = audit_of("mobile.move", stay)
    assert (event.before, event.after) == (
        {"home_org": tree["branch_a"].pk},
        {"home_org": tree["branch_b"].pk},
    )


def test_a_member_away_who_leaves_the_platform_is_no_longer_listed(who, tree, roster):
    stay = services.register_mobile_out(
        actor=who["alice"], member=roster["zhang"], destination="深圳", since=days_ago(10)
    )
    t = services.issue_letter(actor=who["alice"], member=roster["zhang"], counterpart="深圳某党委")
    services.record_receipt(actor=who["alice"], transfer=t)
    stay.refresh_from_db()
    assert (stay.state, stay.transfer, stay.returned_on) == ("converted", t, today())
    assert list(selectors.mobile_out(who["alice"])) == []


# Out of contact ------------------------------------------------------------------------------


def lose_contact(admin, member, on):
    member_services.record_event(actor=admin, member=member, kind="lost_contact", on=on)


def test_a_member_out_of_contact_for_eight_months_is_flagged_for_suspension(who, roster, admin):
    lost = add_months(today(), -8)
    lose_contact(admin, roster["wang"], lost)
    [row] = selectors.with_flags(selectors.out_of_contact(who["alice"]))
    assert (row.pk, row.flag, row.flag_due) == (roster["wang"].pk, "suspend", add_months(lost, 6))
    assert list(selectors.out_of_contact(who["bob"])) == []
    # a flag only: nothing happened to the member
    assert Member.objects.get(pk=roster["wang"].pk).standing == "normal"


def test_suspension_is_a_recorded_decision_that_ends_offices(who, tree, roster, admin):
    wang = roster["wang"]
    holder = committees.appoint(
        actor=who["alice"], org=tree["branch_a"], member=wang, position="member",
        started_on=D("2024-01-01"),
    )  # fmt: skip
    lose_contact(admin, wang, add_months(today(), -8))
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_contact(actor=who["alice"], member=wang, decision="suspend", reference="")
    assert (exc.value.code, exc.value.field) == ("required", "reference")
    services.decide_contact(
        actor=who["alice"], member=wang, decision="suspend", reference="东支〔2026〕1号"
    )
    m = Member.objects.get(pk=wang.pk)
    assert m.standing == "suspended" and m.status == "active"
    [event] = StandingEvent.objects.filter(member=wang, kind="suspended")
    assert event.reference == "东支〔2026〕1号"
    holder.refresh_from_db()
    assert holder.ended_on == today()


@pytest.mark.parametrize(
    ("decision", "code"),
    [("remove", "not_due"), ("expel", "invalid_decision")],
    ids=["removal-not-due", "unknown-decision"],
)
def test_a_decision_that_is_not_due_changes_nothing(who, roster, admin, decision, code):
    lose_contact(admin, roster["wang"], add_months(today(), -8))
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_contact(
            actor=who["alice"], member=roster["wang"], decision=decision, reference="x"
        )
    assert exc.value.code == code


def test_removal_falls_due_two_years_after_suspension(who, roster, admin):
    wang = roster["wang"]
    lose_contact(admin, wang, D("2023-01-10"))
    services.decide_contact(
        actor=who["alice"], member=wang, decision="suspend", reference="1号", on=D("2023-08-01")
    )
    [row] = selectors.with_flags(selectors.out_of_contact(who["alice"]))
    assert (row.flag, row.flag_due) == ("remove", D("2025-08-01"))
    services.decide_contact(actor=who["alice"], member=wang, decision="remove", reference="2号")
    assert Member.objects.get(pk=wang.pk).status == "removed"
    assert list(selectors.out_of_contact(who["alice"])) == []


def test_a_member_in_contact_is_not_decided_on(who, roster):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_contact(
            actor=who["alice"], member=roster["wang"], decision="suspend", reference="x"
        )
    assert exc.value.code == "not_out_of_contact"


def test_contact_decisions_outside_the_scope_are_not_found(who, roster, admin):
    lose_contact(admin, roster["wang"], add_months(today(), -8))
    with nothing_written(), pytest.raises(NotFound):
        services.decide_contact(
            actor=who["bob"], member=roster["wang"], decision="suspend", reference="x"
        )


# Review fixes: one behaviour each ------------------------------------------------------------


def test_accepting_is_refused_when_the_member_is_no_longer_where_the_transfer_started(
    who, tree, roster, admin
):
    """Moved meanwhile by a path that bypassed the transfer: accepting would move the member out
    of an organisation that never saw it."""
    zhang = roster["zhang"]
    c = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="南街社区党支部", kind="branch"
    )
    t = services.start_transfer(actor=who["alice"], member=zhang, to_org=tree["branch_b"])
    member_services.append_event(
        actor=admin, member=zhang, kind="transferred", on=today(), organization=c
    )
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.accept_transfer(actor=who["bob"], transfer=t)
    assert exc.value.code == "member_moved"
    t.refresh_from_db()
    assert t.state == State.PENDING
    assert Member.objects.get(pk=zhang.pk).organization_id == c.pk


@pytest.mark.parametrize("decision", ["suspend", "remove"])
def test_no_contact_decision_while_a_transfer_is_under_way(who, tree, roster, admin, decision):
    wang = roster["wang"]
    lose_contact(admin, wang, D("2023-01-10"))
    if decision == "remove":
        services.decide_contact(
            actor=who["alice"], member=wang, decision="suspend", reference="1号", on=D("2023-08-01")
        )
    services.issue_letter(actor=who["alice"], member=wang, counterpart="外县党委")
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.decide_contact(actor=who["alice"], member=wang, decision=decision, reference="2号")
    assert (exc.value.code, exc.value.field) == ("transfer_open", "decision")


def test_removal_ends_the_members_stay_away(who, tree, roster, admin):
    wang = roster["wang"]
    stay = services.register_mobile_out(
        actor=who["alice"], member=wang, host_org=tree["branch_b"], since=D("2023-01-05")
    )
    lose_contact(admin, wang, D("2023-01-10"))
    services.decide_contact(
        actor=who["alice"], member=wang, decision="suspend", reference="1号", on=D("2023-08-01")
    )
    assert list(selectors.mobile_out(who["alice"])) == [stay]
    services.decide_contact(actor=who["alice"], member=wang, decision="remove", reference="2号")
    stay.refresh_from_db()
    assert (stay.state, stay.returned_on) == ("returned", today())
    assert list(selectors.mobile_out(who["alice"])) == []
    assert list(selectors.guests_of(tree["branch_b"])) == []
    event = audit_of("mobile.return", stay)
    assert event.subject == member_services.subject_of(wang)
    assert event.after["state"] == "returned"
    # The timeline says so too: back on the day of the removal, then removed; not away.
    wang.refresh_from_db()
    assert (wang.status, wang.mobile) == ("removed", False)
    kinds = list(wang.events.order_by("occurred_on", "id").values_list("kind", flat=True))
    assert kinds[-2:] == ["mobile_back", "removed"]


def left_the_platform(who, member) -> None:
    out = services.issue_letter(actor=who["alice"], member=member, counterpart="外县党委")
    services.record_receipt(actor=who["alice"], transfer=out)


@pytest.mark.parametrize(
    ("letter", "found"),
    [
        ({"person_name": "张三"}, True),
        ({"person_name": " 张 三 "}, True),
        ({"person_name": "李四"}, False),
        ({"person_name": "张三", "birth_date": D("1985-03-12")}, True),
        ({"person_name": "张三", "birth_date": D("1985-03-13")}, False),
    ],
    ids=["same-name", "name-with-spaces", "other-name", "same-birth-date", "other-birth-date"],
)
def test_a_returning_record_is_found_only_as_the_letter_names_it(who, tree, roster, letter, found):
    zhang = roster["zhang"]
    left_the_platform(who, zhang)
    t = register(who, tree, actor="bob", to_org=tree["branch_b"], **letter)
    number = member_services.member_id_number(zhang)
    got = services.returning_member(actor=who["bob"], transfer=t, id_number=number)
    assert (got.pk if got else None) == (zhang.pk if found else None)
    [event] = AuditEvent.objects.filter(action="letter.lookup")
    assert event.user == who["bob"] and event.object_id == str(t.pk)
    assert event.after == {"id_number": number[:6] + "*" * 8 + number[-4:], "found": found}
    assert event.subject == (member_services.subject_of(zhang) if found else None)


def test_a_lookup_is_audited_when_nothing_is_found(who, tree):
    t = register(who, tree)
    assert (
        services.returning_member(
            actor=who["alice"], transfer=t, id_number=make_id("1970-01-01", 2, seq=5)
        )
        is None
    )
    [event] = AuditEvent.objects.filter(action="letter.lookup")
    assert (event.after["found"], event.subject, event.org_path) == (
        False,
        None,
        tree["branch_a"].path,
    )


def test_lookups_by_id_number_are_limited_per_person(who, tree):
    t = register(who, tree)
    number = make_id("1970-01-01", 2, seq=5)
    for _ in range(services.LOOKUPS_ALLOWED):
        services.returning_member(actor=who["alice"], transfer=t, id_number=number)
    with nothing_written(), pytest.raises(services.TooManyLookups) as exc:
        services.returning_member(actor=who["alice"], transfer=t, id_number=number)
    assert (exc.value.status, exc.value.code, exc.value.field) == (429, "throttled", "id_number")
    # another person is not held back
    t2 = register(who, tree, actor="oscar", letter_number="外组〔2026〕43号")
    assert services.returning_member(actor=who["oscar"], transfer=t2, id_number=number) is None


def test_a_lookup_outside_the_scope_is_not_found(who, tree, roster):
    left_the_platform(who, roster["zhang"])
    t = register(who, tree, person_name="张三")
    with nothing_written(), pytest.raises(NotFound):
        services.returning_member(
            actor=who["bob"],
            transfer=t,
            id_number=member_services.member_id_number(roster["zhang"]),
        )


def test_a_linked_record_must_be_the_person_the_letter_names(who, tree, roster):
    zhang = roster["zhang"]
    left_the_platform(who, zhang)
    t = register(who, tree, actor="bob", to_org=tree["branch_b"], person_name="李四")
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.confirm_incoming(actor=who["bob"], transfer=t, member=zhang)
    assert (exc.value.code, exc.value.field) == ("not_the_person", "member")
    assert Member.objects.get(pk=zhang.pk).status == "transferred_out"


def test_a_confirmation_dated_back_does_not_revive_an_expired_letter(who, tree):
    t = register(who, tree, on=days_ago(40), valid_until=days_ago(30))
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.confirm_incoming(actor=who["alice"], transfer=t, on=days_ago(31), data=NEW_MEMBER)
    assert exc.value.code == "letter_expired"


def test_a_letter_valid_until_today_is_still_confirmed(who, tree):
    t = register(who, tree, on=days_ago(10), valid_until=today())
    services.confirm_incoming(actor=who["alice"], transfer=t, data=NEW_MEMBER)
    t.refresh_from_db()
    assert t.state == State.COMPLETED


@pytest.mark.parametrize("days", [3000000, 10**30, 93, -1])
def test_letter_validity_is_bounded_before_any_date_arithmetic(days):
    with pytest.raises(ValidationFailed) as exc:
        services.letter_valid_until(D("2026-01-01"), days)
    assert (exc.value.code, exc.value.field) == ("validity", "valid_days")


@pytest.mark.parametrize(
    ("on", "until"),
    [("2025-11-30", "2026-02-28"), ("2026-01-01", "2026-04-01"), ("2025-05-31", "2025-08-31")],
)
def test_the_default_validity_is_cut_to_three_months(settings, on, until):
    settings.LETTER_VALID_DAYS = 92
    assert services.letter_valid_until(D(on), None) == D(until)
    with pytest.raises(ValidationFailed):  # asked for explicitly, 92 days is too long here
        services.letter_valid_until(D("2025-11-30"), 92)


CONTROL_CASES = [
    ("start", "reason", "工作\x01调动"),
    ("return", "reason", "不在\x1b本单位"),
    ("cancel", "reason", "\x07"),
    ("letter", "counterpart", "外省\x01某支部"),
    ("letter", "addressee", "组织科\x0b"),
    ("letter", "reason", "调动\x00"),
    ("incoming", "counterpart", "外县\x02委组织部"),
    ("incoming", "person_name", "孙\t八"),
    ("incoming", "reason", "调\ud800动"),
    ("mobile_out", "destination", "深圳\n南山"),
    ("mobile_out", "card_number", "LD\x7f1"),
    ("mobile_out", "note", "\x1f"),
    ("mobile_in", "person_name", "周\x0c九"),
    ("mobile_in", "home_text", "外省\x03某支部"),
    ("contact", "reference", "东支\x151号"),
]


def _step(who, tree, roster, admin, step, field, value):
    """Set up what the step needs, and return the refused call."""
    zhang, wang = roster["zhang"], roster["wang"]
    if step == "start":
        return lambda: services.start_transfer(
            actor=who["alice"], member=zhang, to_org=tree["branch_b"], **{field: value}
        )
    if step in ("return", "cancel"):
        t = services.start_transfer(actor=who["alice"], member=zhang, to_org=tree["branch_b"])
        if step == "return":
            return lambda: services.return_transfer(actor=who["bob"], transfer=t, reason=value)
        return lambda: services.cancel_transfer(actor=who["alice"], transfer=t, reason=value)
    if step == "letter":
        values = {"counterpart": "外县党委", field: value}
        return lambda: services.issue_letter(actor=who["alice"], member=zhang, **values)
    if step == "incoming":
        return lambda: register(who, tree, **{field: value})
    if step == "mobile_out":
        values = {"destination": "深圳", field: value}
        return lambda: services.register_mobile_out(actor=who["alice"], member=zhang, **values)
    if step == "mobile_in":
        values = {"person_name": "周九", "home_text": "外省某支部", field: value}
        return lambda: services.register_mobile_in(
            actor=who["alice"], host_org=tree["branch_a"], **values
        )
    lose_contact(admin, wang, add_months(today(), -8))
    return lambda: services.decide_contact(
        actor=who["alice"], member=wang, decision="suspend", **{field: value}
    )


@pytest.mark.parametrize(("step", "field", "value"), CONTROL_CASES)
def test_control_characters_are_refused_naming_the_field(
    who, tree, roster, admin, step, field, value
):
    refused = _step(who, tree, roster, admin, step, field, value)
    with translation.override("en"), nothing_written(), pytest.raises(ValidationFailed) as exc:
        refused()
    assert (exc.value.code, exc.value.field) == ("control_characters", field)
    model = MobileStay if step.startswith("mobile") else Transfer
    with translation.override("en"):
        label = (
            "document number"
            if field == "reference"
            else str(model._meta.get_field(field).verbose_name)
        )
    assert str(exc.value.message) == f"Remove the control characters from “{label}”."


def test_a_member_transferred_to_the_branch_hosting_them_is_back(who, tree, roster):
    zhang = roster["zhang"]
    stay = services.register_mobile_out(
        actor=who["alice"], member=zhang, host_org=tree["branch_b"], since=days_ago(10)
    )
    t = services.start_transfer(actor=who["alice"], member=zhang, to_org=tree["branch_b"])
    services.accept_transfer(actor=who["bob"], transfer=t)
    stay.refresh_from_db()
    assert (stay.state, stay.returned_on, stay.home_org) == (
        "returned",
        today(),
        tree["branch_a"],
    )
    m = Member.objects.get(pk=zhang.pk)
    assert (m.organization_id, m.mobile) == (tree["branch_b"].pk, False)
    assert list(m.events.order_by("occurred_on", "id").values_list("kind", flat=True))[-2:] == [
        "transferred",
        "mobile_back",
    ]
    assert list(selectors.guests_of(tree["branch_b"])) == []
    assert list(selectors.mobile_out(who["bob"])) == []
    assert audit_of("mobile.return", stay).subject == member_services.subject_of(zhang)
    # and the member can go away again
    services.register_mobile_out(actor=who["bob"], member=m, destination="深圳")


def test_a_member_is_never_a_guest_of_their_own_organisation_after_a_merge(
    who, tree, roster, admin
):
    """A member of B away at A and a member of A away at B: merging A into B brings both home."""
    from dangjian.committees import restructure

    zhang, zhao = roster["zhang"], roster["zhao"]
    at_b = services.register_mobile_out(actor=who["alice"], member=zhang, host_org=tree["branch_b"])
    at_a = services.register_mobile_out(actor=who["bob"], member=zhao, host_org=tree["branch_a"])
    restructure.merge(actor=admin, source=tree["branch_a"], target=tree["branch_b"])
    for stay, member in ((at_b, zhang), (at_a, zhao)):
        stay.refresh_from_db()
        member.refresh_from_db()
        assert stay.state == "returned", stay
        assert member.organization_id == tree["branch_b"].pk and not member.mobile
    assert list(selectors.guests_of(tree["branch_b"])) == []


def test_dissolving_into_the_host_brings_the_member_home(who, tree, roster, admin):
    from dangjian.core import services as core_services

    zhang = roster["zhang"]
    stay = services.register_mobile_out(actor=who["alice"], member=zhang, host_org=tree["branch_b"])
    core_services.dissolve_organization(actor=admin, org=tree["group_a"])
    core_services.dissolve_organization(
        actor=admin, org=tree["branch_a"], move_members_to=tree["branch_b"]
    )
    stay.refresh_from_db()
    zhang.refresh_from_db()
    assert stay.state == "returned" and not zhang.mobile
    assert zhang.organization_id == tree["branch_b"].pk
