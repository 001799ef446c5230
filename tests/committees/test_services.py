"""Committees, terms, office-holders and elections through their services: one behaviour per test.

People (tests/conftest.py): alice is secretary of branch A, oscar organisation administrator of
the township committee above A and B, bob secretary of B. Approval belongs to the committee above.
"""

import datetime
from contextlib import contextmanager

import pytest
from django.utils import timezone

from dangjian.committees import selectors, services
from dangjian.committees.models import (
    Candidate,
    Election,
    ElectionStatus,
    OfficeHolder,
    Term,
)
from dangjian.core import services as core_services
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import AuditEvent
from dangjian.members import services as member_services

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


def today() -> datetime.date:
    return timezone.localdate()


def counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Term, OfficeHolder, Election, Candidate, AuditEvent)
    }


@contextmanager
def nothing_written():
    before = counts()
    yield
    assert counts() == before


def audit_of(action: str, obj) -> AuditEvent:
    [event] = AuditEvent.objects.filter(action=action, object_id=str(obj.pk))
    return event


@pytest.fixture
def seven(tree, roster, make_member):
    """Branch A with seven full members (张三, 王五 and five more) and one probationary (李四)."""
    a = tree["branch_a"]
    more = [make_member(a, f"党员{i}", birth=f"1980-02-{i + 10}") for i in range(5)]
    return [roster["zhang"], roster["wang"], *more]


def ballot(members, votes, positions=None, **numbers):
    positions = positions or ["member"] * len(members)
    return {
        "kind": numbers.pop("kind", "general"),
        "form": numbers.pop("form", "committee"),
        "held_on": numbers.pop("held_on", D("2025-03-01")),
        "seats": numbers.pop("seats", 3),
        "voters_expected": numbers.pop("voters_expected", 7),
        "voters_present": numbers.pop("voters_present", 7),
        "candidates": [
            {"member": m, "votes": v, "position": p}
            for m, v, p in zip(members, votes, positions, strict=True)
        ],
    }


COMMITTEE_OF_THREE = ["secretary", "organisation", "publicity", "member"]


@pytest.fixture
def recorded(people, tree, seven):
    """A valid election at A: 张三 secretary, 王五 organisation, 党员0 publicity; 党员1 not."""
    data = ballot(seven[:4], [7, 6, 5, 2], COMMITTEE_OF_THREE)
    return services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)


# Terms ---------------------------------------------------------------------------------------


def test_record_term_takes_the_term_from_the_rule_in_force(people, tree):
    term = services.record_term(
        actor=people["alice"], org=tree["branch_a"], form="committee", elected_on=D("2024-03-01")
    )
    assert (term.term_years, term.rule_version) == (3, "2018")
    assert term.ends_on == term.due_on == D("2027-03-01")
    event = audit_of("term.create", term)
    assert event.before is None
    assert event.after["ends_on"] == "2027-03-01" and event.after["rule_version"] == "2018"
    assert event.org_path == tree["branch_a"].path and event.user_id == people["alice"].pk


def test_record_term_before_2018_takes_the_old_rule(people, tree):
    term = services.record_term(
        actor=people["alice"], org=tree["branch_a"], form="secretary", elected_on=D("2018-07-11")
    )
    assert (term.term_years, term.rule_version, term.ends_on) == (2, "pre-2018", D("2020-07-11"))


def test_village_branch_term_is_five_years(people, tree, admin):
    village = core_services.create_organization(
        actor=admin,
        parent=tree["town"],
        code="V01",
        name="柳河村党支部",
        kind="branch",
        unit_type="village",
    )
    term = services.record_term(
        actor=people["oscar"], org=village, form="committee", elected_on=D("2024-02-29")
    )
    assert (term.term_years, term.ends_on) == (5, D("2029-02-28"))


def test_a_new_term_ends_the_current_one(people, tree):
    alice, a = people["alice"], tree["branch_a"]
    first = services.record_term(actor=alice, org=a, form="committee", elected_on=D("2019-05-01"))
    second = services.record_term(actor=alice, org=a, form="committee", elected_on=D("2022-05-01"))
    first.refresh_from_db()
    assert first.ended_on == D("2022-05-01") and second.ended_on is None
    event = audit_of("term.end", first)
    assert event.before == {"ended_on": None} and event.after == {"ended_on": "2022-05-01"}
    assert list(selectors.terms(alice, a)) == [second, first]
    assert selectors.current_term(alice, a) == second


@pytest.mark.parametrize("day", ["2022-05-01", "2021-01-01"], ids=["same-day", "earlier"])
def test_a_term_not_after_the_current_one_is_refused(people, tree, day):
    alice, a = people["alice"], tree["branch_a"]
    services.record_term(actor=alice, org=a, form="committee", elected_on=D("2022-05-01"))
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.record_term(actor=alice, org=a, form="committee", elected_on=D(day))
    assert (exc.value.code, exc.value.field) == ("before_current_term", "elected_on")


@pytest.mark.parametrize(
    ("org", "form", "elected_on", "code", "field"),
    [
        ("branch_a", "committee", "tomorrow", "future_date", "elected_on"),
        ("branch_a", "committee", "2024-03-01", "required", "elected_on"),  # text, not a date
        ("branch_a", "council", D("2024-03-01"), "invalid_form", "form"),
        ("group_a", "committee", D("2024-03-01"), "group", None),
        ("branch_a", "committee", D("0001-01-01"), "before_founding", "elected_on"),
        ("branch_a", "committee", D("1921-06-30"), "before_founding", "elected_on"),
    ],
    ids=["future", "not-a-date", "unknown-form", "party-group", "year-one", "before-1921-07-01"],
)
def test_record_term_refuses_bad_input(people, tree, org, form, elected_on, code, field):
    if elected_on == "tomorrow":
        elected_on = today() + datetime.timedelta(days=1)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.record_term(actor=people["alice"], org=tree[org], form=form, elected_on=elected_on)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert str(exc.value.message)


def test_a_term_from_the_founding_of_the_party_is_taken(people, tree):
    term = services.record_term(
        actor=people["alice"], org=tree["branch_a"], form="secretary", elected_on=D("1921-07-01")
    )
    assert (term.rule_version, term.ends_on) == ("pre-2018", D("1923-07-01"))


def test_record_term_in_a_dissolved_organisation_is_refused(people, tree, admin):
    empty = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B09", name="已撤销党支部", kind="branch"
    )
    core_services.dissolve_organization(actor=admin, org=empty)
    empty.refresh_from_db()
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.record_term(
            actor=people["oscar"], org=empty, form="committee", elected_on=D("2024-03-01")
        )
    assert exc.value.code == "dissolved"


def test_record_term_outside_the_scope_is_not_found_and_without_the_right_forbidden(
    people, tree, make_user, admin
):
    viewer = make_user("viewer")
    core_services.assign_role(
        actor=admin, user=viewer, org=tree["branch_a"], role="committee_member"
    )
    for actor, error in ((people["bob"], NotFound), (viewer, Forbidden)):
        with nothing_written(), pytest.raises(error):
            services.record_term(
                actor=actor, org=tree["branch_a"], form="committee", elected_on=D("2024-03-01")
            )


@pytest.fixture
def term(people, tree):
    return services.record_term(
        actor=people["alice"], org=tree["branch_a"], form="committee", elected_on=D("2024-03-01")
    )


def test_committee_above_moves_the_due_date(people, term):
    services.shift_due_date(
        actor=people["oscar"],
        term=term,
        due_on=D("2027-09-01"),
        reason="与村级换届同步",
        reference="城组〔2027〕3号",
    )
    term.refresh_from_db()
    assert (term.ends_on, term.due_on) == (D("2027-03-01"), D("2027-09-01"))
    event = audit_of("term.shift", term)
    assert event.before == {"due_on": "2027-03-01", "shift_reason": "", "shift_reference": ""}
    assert event.after["due_on"] == "2027-09-01"


@pytest.mark.parametrize(
    ("who", "error"), [("alice", Forbidden), ("bob", NotFound)], ids=["own-branch", "sibling"]
)
def test_only_the_committee_above_moves_the_due_date(people, term, who, error):
    with nothing_written(), pytest.raises(error):
        services.shift_due_date(actor=people[who], term=term, due_on=D("2027-09-01"), reason="理由")


@pytest.mark.parametrize(
    ("due_on", "reason", "code", "field"),
    [
        (D("2028-03-02"), "理由", "shift_too_far", "due_on"),
        (D("2026-02-28"), "理由", "shift_too_far", "due_on"),
        (D("2027-09-01"), "  ", "required", "reason"),
        ("2027-09-01", "理由", "required", "due_on"),
    ],
    ids=["more-than-a-year-later", "more-than-a-year-earlier", "no-reason", "not-a-date"],
)
def test_moving_the_due_date_refuses_bad_input(people, term, due_on, reason, code, field):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.shift_due_date(actor=people["oscar"], term=term, due_on=due_on, reason=reason)
    assert (exc.value.code, exc.value.field) == (code, field)


def test_a_due_date_is_never_moved_before_the_founding_of_the_party(people, tree):
    """A term entered before the bound existed (or by an old system) cannot be moved before
    1921-07-01 either."""
    old = Term.objects.create(
        organization=tree["branch_a"],
        form="committee",
        elected_on=D("1919-06-01"),
        term_years=2,
        rule_version="pre-2018",
        ends_on=D("1921-06-01"),
        due_on=D("1921-06-01"),
    )
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.shift_due_date(
            actor=people["oscar"], term=old, due_on=D("1921-05-01"), reason="理由"
        )
    assert (exc.value.code, exc.value.field) == ("before_founding", "due_on")
    assert "1921-07-01" in str(exc.value.message)


def test_an_ended_term_keeps_its_date(people, tree, term):
    services.record_term(
        actor=people["alice"], org=tree["branch_a"], form="committee", elected_on=D("2025-01-01")
    )
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.shift_due_date(
            actor=people["oscar"], term=term, due_on=D("2027-09-01"), reason="理由"
        )
    assert exc.value.code == "term_ended"


# Office-holders ------------------------------------------------------------------------------


def test_appoint_puts_a_member_in_office_in_the_current_term(people, tree, roster, term):
    holder = services.appoint(
        actor=people["alice"],
        org=tree["branch_a"],
        member=roster["zhang"],
        position="secretary",
        started_on=D("2024-03-01"),
        reference="城组〔2024〕5号",
    )
    assert holder.term == term and holder.person_name == "张三" and holder.is_current
    event = audit_of("office.appoint", holder)
    assert event.after["position"] == "secretary" and event.after["member"] == roster["zhang"].pk
    assert list(selectors.current_holders(people["alice"], tree["branch_a"])) == [holder]


def test_a_second_secretary_is_refused(people, tree, roster):
    alice, a = people["alice"], tree["branch_a"]
    services.appoint(
        actor=alice, org=a, member=roster["zhang"], position="secretary", started_on=D("2024-03-01")
    )
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.appoint(
            actor=alice,
            org=a,
            member=roster["wang"],
            position="secretary",
            started_on=D("2024-03-01"),
        )
    assert (exc.value.code, exc.value.field) == ("position_taken", "position")


def test_several_deputies_but_each_once(people, tree, roster):
    alice, a = people["alice"], tree["branch_a"]
    for m in (roster["zhang"], roster["wang"]):
        services.appoint(
            actor=alice, org=a, member=m, position="deputy", started_on=D("2024-03-01")
        )
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.appoint(
            actor=alice, org=a, member=roster["wang"], position="deputy", started_on=D("2024-04-01")
        )
    assert exc.value.code == "already_holds"


@pytest.mark.parametrize(
    ("org", "who", "position", "started_on", "code", "field"),
    [
        ("branch_a", "li", "member", D("2024-03-01"), "not_eligible", "member"),
        ("branch_a", "zhao", "member", D("2024-03-01"), "not_a_member", "member"),
        ("branch_a", "zhang", "chair", D("2024-03-01"), "invalid_position", "position"),
        ("branch_a", "zhang", "group_leader", D("2024-03-01"), "position_not_here", "position"),
        ("group_a", "zhang", "secretary", D("2024-03-01"), "position_not_here", "position"),
        ("branch_a", "zhang", "member", "tomorrow", "future_date", "started_on"),
    ],
    ids=[
        "probationary",
        "member-of-another-branch",
        "unknown-position",
        "group-leader-in-a-branch",
        "secretary-of-a-group",
        "future",
    ],
)
def test_appoint_refuses_bad_input(
    people, tree, roster, org, who, position, started_on, code, field
):
    if started_on == "tomorrow":
        started_on = today() + datetime.timedelta(days=1)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.appoint(
            actor=people["alice"],
            org=tree[org],
            member=roster[who],
            position=position,
            started_on=started_on,
        )
    assert (exc.value.code, exc.value.field) == (code, field)


def test_a_suspended_member_cannot_hold_office(people, tree, roster, admin):
    member_services.record_event(
        actor=admin, member=roster["wang"], kind="suspended", on=D("2025-01-01")
    )
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.appoint(
            actor=people["alice"],
            org=tree["branch_a"],
            member=roster["wang"],
            position="member",
            started_on=D("2025-02-01"),
        )
    assert exc.value.code == "not_eligible"


def test_a_party_group_has_a_leader_from_its_branch(people, tree, roster):
    holder = services.appoint(
        actor=people["alice"],
        org=tree["group_a"],
        member=roster["zhang"],
        position="group_leader",
        started_on=D("2024-03-01"),
    )
    assert holder.organization == tree["group_a"]
    with pytest.raises(ValidationFailed) as exc:
        services.appoint(
            actor=people["oscar"],
            org=tree["group_a"],
            member=roster["zhao"],  # of branch B
            position="group_leader",
            started_on=D("2024-03-01"),
        )
    assert exc.value.code == "not_a_member"


def test_appoint_in_a_sibling_branch_is_not_found(people, tree, roster):
    with nothing_written(), pytest.raises(NotFound):
        services.appoint(
            actor=people["bob"],
            org=tree["branch_a"],
            member=roster["zhang"],
            position="member",
            started_on=D("2024-03-01"),
        )


def test_end_office_keeps_the_history(people, tree, roster):
    alice, a = people["alice"], tree["branch_a"]
    holder = services.appoint(
        actor=alice, org=a, member=roster["zhang"], position="secretary", started_on=D("2024-03-01")
    )
    services.end_office(actor=alice, holder=holder, ended_on=D("2025-01-31"), reason="工作调动")
    holder.refresh_from_db()
    assert (holder.ended_on, holder.end_reason) == (D("2025-01-31"), "工作调动")
    event = audit_of("office.end", holder)
    assert event.before == {"ended_on": None, "end_reason": ""}
    assert event.after == {"ended_on": "2025-01-31", "end_reason": "工作调动"}
    assert list(selectors.current_holders(alice, a)) == []
    assert list(selectors.holder_history(alice, a)) == [holder]
    # the position is free again
    services.appoint(
        actor=alice, org=a, member=roster["wang"], position="secretary", started_on=D("2025-02-01")
    )


@pytest.mark.parametrize(
    ("ended_on", "code"),
    [(D("2024-02-29"), "too_early"), ("tomorrow", "future_date")],
    ids=["before-starting", "future"],
)
def test_end_office_refuses_bad_dates(people, tree, roster, ended_on, code):
    holder = services.appoint(
        actor=people["alice"],
        org=tree["branch_a"],
        member=roster["zhang"],
        position="secretary",
        started_on=D("2024-03-01"),
    )
    if ended_on == "tomorrow":
        ended_on = today() + datetime.timedelta(days=1)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.end_office(actor=people["alice"], holder=holder, ended_on=ended_on)
    assert (exc.value.code, exc.value.field) == (code, "ended_on")


def test_end_office_twice_is_refused(people, tree, roster):
    holder = services.appoint(
        actor=people["alice"],
        org=tree["branch_a"],
        member=roster["zhang"],
        position="secretary",
        started_on=D("2024-03-01"),
    )
    services.end_office(actor=people["alice"], holder=holder, ended_on=D("2025-01-31"))
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.end_office(actor=people["alice"], holder=holder, ended_on=D("2025-02-28"))
    assert exc.value.code == "ended"


def test_holders_outside_the_scope_are_not_found(people, tree):
    for read in (selectors.current_holders, selectors.holder_history, selectors.terms):
        with pytest.raises(NotFound):
            read(people["bob"], tree["branch_a"])


# Elections -----------------------------------------------------------------------------------


def test_record_election_works_out_who_is_elected(people, tree, seven, recorded):
    assert recorded.status == ElectionStatus.RECORDED
    assert (recorded.valid, recorded.margin_ok, recorded.problems) == (True, True, [])
    assert recorded.rule_version == "2018"
    elected = {c.person_name: c.elected for c in recorded.candidates.all()}
    assert elected == {"张三": True, "王五": True, "党员0": True, "党员1": False}
    event = audit_of("election.record", recorded)
    assert event.after["seats"] == 3 and len(event.after["candidates"]) == 4
    # nobody takes office before the committee above approves
    assert not OfficeHolder.objects.exists() and not Term.objects.exists()


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"voters_present": 8}, "too_many_present", "voters_present"),
        ({"votes": [8, 6, 5, 2]}, "too_many_votes", "candidates.0"),
        ({"seats": 1, "votes": [4, 3, 2, 0]}, "votes_exceed_ballots", "candidates"),
        ({"seats": 0}, "no_seats", "seats"),
        ({"seats": True}, "not_a_number", "seats"),
        ({"seats": 2.5}, "not_a_number", "seats"),
        ({"seats": "三"}, "not_a_number", "seats"),
        ({"voters_expected": -7}, "negative", "voters_expected"),
        ({"votes": [7, 6, -1, 2]}, "negative", "candidates.2"),
        ({"candidates": []}, "no_candidates", "candidates"),
        ({"duplicate": True}, "duplicate", "candidates.3"),
        ({"probationary": True}, "not_eligible", "candidates.3"),
        ({"outsider": True}, "not_a_member", "candidates.3"),
        ({"positions": ["secretary", "secretary", "member", "member"]}, "position_twice",
         "candidates"),
        ({"positions": ["group_leader", "member", "member", "member"]}, "invalid_position",
         "candidates.0"),
        ({"form": "secretary"}, "one_seat", "seats"),
        ({"form": "junta"}, "invalid_form", "form"),
        ({"kind": "coup"}, "invalid_kind", "kind"),
        ({"kind": "by_election"}, "no_current_term", "kind"),
        ({"held_on": "tomorrow"}, "future_date", "held_on"),
        ({"held_on": None}, "required", "held_on"),
        ({"held_on": D("0001-01-01")}, "before_founding", "held_on"),
        ({"seats": 100}, "too_large", "seats"),
        ({"seats": 40000}, "too_large", "seats"),
        ({"seats": 10**20}, "too_large", "seats"),
        ({"seats": float("inf")}, "not_a_number", "seats"),
        ({"voters_expected": 2**31}, "too_large", "voters_expected"),
        ({"voters_expected": 1_000_001}, "too_large", "voters_expected"),
        ({"voters_present": "100000000000000000000"}, "too_large", "voters_present"),
        ({"votes": [7, 10**20, 5, 2]}, "too_large", "candidates.1"),
    ],
    ids=[
        "present-over-expected",
        "votes-over-present",
        "votes-over-ballots",
        "no-seats",
        "bool-seats",
        "fraction-of-a-seat",
        "seats-in-words",
        "negative-voters",
        "negative-votes",
        "no-candidates",
        "candidate-twice",
        "probationary-candidate",
        "candidate-of-another-branch",
        "two-secretaries",
        "group-leader-on-a-committee",
        "secretary-only-with-three-seats",
        "unknown-form",
        "unknown-kind",
        "by-election-without-a-term",
        "future",
        "no-date",
        "year-one",
        "a-hundred-seats",
        "smallint-seats",
        "huge-seats",
        "infinite-seats",
        "int32-voters",
        "a-million-and-one-voters",
        "huge-present-in-words",
        "huge-votes",
    ],
)  # fmt: skip
def test_election_numbers_that_do_not_add_up_change_nothing(
    people, tree, roster, seven, change, code, field
):
    members = list(seven[:4])
    votes = change.pop("votes", [7, 6, 5, 2])
    positions = change.pop("positions", COMMITTEE_OF_THREE)
    if change.pop("duplicate", False):
        members[3] = members[0]
    if change.pop("probationary", False):
        members[3] = roster["li"]
    if change.pop("outsider", False):
        members[3] = roster["zhao"]
    data = ballot(members, votes, positions)
    if change.get("held_on") == "tomorrow":
        change["held_on"] = today() + datetime.timedelta(days=1)
    data.update(change)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert (exc.value.code, exc.value.field) == (code, field)
    assert str(exc.value.message)


def test_an_election_without_quorum_is_kept_but_cannot_be_approved(people, tree, seven):
    data = ballot(seven[:4], [5, 5, 5, 0], COMMITTEE_OF_THREE, voters_present=5)  # 5 of 7
    election = services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert (election.valid, election.problems) == (False, ["quorum"])
    assert not election.candidates.filter(elected=True).exists()
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_election(actor=people["oscar"], election=election, approve=True)
    assert exc.value.code == "cannot_approve"
    services.decide_election(
        actor=people["oscar"], election=election, approve=False, note="未达到应到会人数五分之四"
    )
    election.refresh_from_db()
    assert election.status == ElectionStatus.REJECTED


def test_too_few_candidates_cannot_be_approved(people, tree, seven):
    data = ballot(seven[:3], [7, 6, 5], COMMITTEE_OF_THREE[:3])  # 3 for 3 seats: no margin
    election = services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert election.problems == ["margin"]
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_election(actor=people["oscar"], election=election, approve=True)
    assert exc.value.code == "cannot_approve"


def test_a_tie_for_the_last_seat_cannot_be_approved(people, tree, seven):
    data = ballot(seven[:4], [6, 6, 4, 4], COMMITTEE_OF_THREE)
    election = services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert election.problems == ["tie"]
    with nothing_written(), pytest.raises(ValidationFailed):
        services.decide_election(actor=people["oscar"], election=election, approve=True)


@pytest.mark.parametrize(
    ("who", "error"), [("alice", Forbidden), ("bob", NotFound)], ids=["own-branch", "sibling"]
)
def test_nobody_approves_their_own_election(people, recorded, who, error):
    with nothing_written(), pytest.raises(error):
        services.decide_election(actor=people[who], election=recorded, approve=True)


def test_approval_starts_the_new_term_and_the_elected_take_office(people, tree, seven, recorded):
    alice, oscar, a = people["alice"], people["oscar"], tree["branch_a"]
    old_term = services.record_term(
        actor=alice, org=a, form="secretary", elected_on=D("2021-02-01")
    )
    old = services.appoint(
        actor=alice, org=a, member=seven[6], position="secretary", started_on=D("2021-02-01")
    )
    services.decide_election(
        actor=oscar, election=recorded, approve=True, decided_on=D("2025-03-10"), reference="批复1"
    )
    recorded.refresh_from_db()
    assert (recorded.status, recorded.decided_by) == (ElectionStatus.APPROVED, oscar)
    event = audit_of("election.approve", recorded)
    assert event.before["status"] == "recorded" and event.after["status"] == "approved"
    old.refresh_from_db()
    old_term.refresh_from_db()
    assert old.ended_on == old_term.ended_on == D("2025-03-01")
    term = selectors.current_term(alice, a)
    assert (term.elected_on, term.ends_on, term.election) == (
        D("2025-03-01"),
        D("2028-03-01"),
        recorded,
    )
    holders = {h.person_name: h.position for h in selectors.current_holders(alice, a)}
    assert holders == {"张三": "secretary", "王五": "organisation", "党员0": "publicity"}
    assert all(h.term == term for h in selectors.current_holders(alice, a))
    assert AuditEvent.objects.filter(action="office.appoint").count() == 4  # 1 + 3 elected


def test_an_election_is_decided_once(people, recorded):
    services.decide_election(actor=people["oscar"], election=recorded, approve=False, note="x")
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.decide_election(actor=people["oscar"], election=recorded, approve=True)
    assert exc.value.code == "already_decided"


def test_rejection_changes_no_office(people, tree, recorded):
    services.decide_election(actor=people["oscar"], election=recorded, approve=False, note="重选")
    assert not Term.objects.exists() and not OfficeHolder.objects.exists()
    event = audit_of("election.reject", recorded)
    assert event.after["status"] == "rejected" and event.after["decision_note"] == "重选"


def test_approval_before_the_election_is_refused(people, recorded):
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_election(
            actor=people["oscar"], election=recorded, approve=True, decided_on=D("2025-02-28")
        )
    assert (exc.value.code, exc.value.field) == ("too_early", "decided_on")


def test_unfilled_seats_can_be_approved_with_fewer_elected(people, tree, seven):
    # 党员0 and 党员1 have 3 of 7 votes: not more than half; two of three seats are filled
    data = ballot(seven[:4], [7, 6, 3, 3], COMMITTEE_OF_THREE)
    election = services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert election.problems == ["unfilled"]
    services.decide_election(actor=people["oscar"], election=election, approve=True)
    assert OfficeHolder.objects.filter(ended_on__isnull=True).count() == 2


def test_a_secretary_only_election(people, tree, roster):
    data = ballot(
        [roster["zhang"]], [3], ["member"], form="secretary", seats=1, voters_expected=4,
        voters_present=4,
    )  # fmt: skip
    election = services.record_election(actor=people["alice"], org=tree["branch_a"], data=data)
    assert (election.margin_ok, election.problems) == (True, [])
    services.decide_election(actor=people["oscar"], election=election, approve=True)
    [holder] = selectors.current_holders(people["alice"], tree["branch_a"])
    assert (holder.person_name, holder.position, holder.term.form) == (
        "张三",
        "secretary",
        "secretary",
    )


def test_a_by_election_fills_a_vacancy_in_the_current_term(people, tree, seven):
    alice, oscar, a = people["alice"], people["oscar"], tree["branch_a"]
    term = services.record_term(actor=alice, org=a, form="committee", elected_on=D("2024-03-01"))
    kept = services.appoint(
        actor=alice, org=a, member=seven[0], position="secretary", started_on=D("2024-03-01")
    )
    data = ballot(
        seven[1:3], [5, 2], ["organisation", "member"], kind="by_election", seats=1,
        held_on=D("2025-06-01"),
    )  # fmt: skip
    election = services.record_election(actor=alice, org=a, data=data)
    services.decide_election(actor=oscar, election=election, approve=True)
    holders = {h.person_name: (h.position, h.term_id) for h in selectors.current_holders(alice, a)}
    assert holders == {"张三": ("secretary", term.pk), "王五": ("organisation", term.pk)}
    kept.refresh_from_db()
    assert kept.ended_on is None
    assert Term.objects.count() == 1


def test_a_by_election_for_a_taken_position_is_refused(people, tree, seven):
    alice, a = people["alice"], tree["branch_a"]
    services.record_term(actor=alice, org=a, form="committee", elected_on=D("2024-03-01"))
    services.appoint(
        actor=alice, org=a, member=seven[0], position="secretary", started_on=D("2024-03-01")
    )
    data = ballot(seven[1:3], [5, 2], ["secretary", "member"], kind="by_election", seats=1)
    election = services.record_election(actor=alice, org=a, data=data)
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.decide_election(actor=people["oscar"], election=election, approve=True)
    assert exc.value.code == "position_taken"


def test_a_by_election_of_someone_already_in_that_position_is_refused(people, tree, seven):
    alice, a = people["alice"], tree["branch_a"]
    services.record_term(actor=alice, org=a, form="committee", elected_on=D("2024-03-01"))
    services.appoint(
        actor=alice, org=a, member=seven[1], position="member", started_on=D("2024-03-01")
    )
    data = ballot(seven[1:3], [5, 2], ["member", "member"], kind="by_election", seats=1)
    election = services.record_election(actor=alice, org=a, data=data)
    with nothing_written(), pytest.raises(Conflict) as exc:
        services.decide_election(actor=people["oscar"], election=election, approve=True)
    assert exc.value.code == "already_holds"


def test_someone_elected_who_has_left_since_cannot_take_office(people, tree, seven, recorded):
    from dangjian.transfers import services as transfers

    t = transfers.start_transfer(actor=people["alice"], member=seven[1], to_org=tree["branch_b"])
    transfers.accept_transfer(actor=people["bob"], transfer=t)
    with nothing_written(), pytest.raises(ValidationFailed) as exc:
        services.decide_election(actor=people["oscar"], election=recorded, approve=True)
    assert exc.value.code == "not_a_member"
    recorded.refresh_from_db()
    assert recorded.status == ElectionStatus.RECORDED


def test_pending_approvals_are_seen_by_the_committee_above_only(people, recorded):
    assert list(selectors.pending_approvals(people["oscar"])) == [recorded]
    assert list(selectors.pending_approvals(people["alice"])) == []
    assert list(selectors.pending_approvals(people["bob"])) == []
    assert selectors.get_election(people["alice"], recorded.pk) == recorded
    with pytest.raises(NotFound):
        selectors.get_election(people["bob"], recorded.pk)
    services.decide_election(actor=people["oscar"], election=recorded, approve=False, note="x")
    assert list(selectors.pending_approvals(people["oscar"])) == []


# Re-election lists ---------------------------------------------------------------------------


def test_reelection_due_lists_due_and_overdue_terms_in_scope(people, tree, admin):
    alice, oscar = people["alice"], people["oscar"]
    now = today()
    # A: due in 30 days (elected three years before that); B: overdue by 10 days
    due = services.record_term(
        actor=alice,
        org=tree["branch_a"],
        form="committee",
        elected_on=rules_add_years(now + datetime.timedelta(days=30), -3),
    )
    overdue = services.record_term(
        actor=people["bob"],
        org=tree["branch_b"],
        form="committee",
        elected_on=rules_add_years(now - datetime.timedelta(days=10), -3),
    )
    services.record_term(  # the township: years ahead
        actor=oscar, org=tree["town"], form="committee", elected_on=D("2025-01-01")
    )
    rows = selectors.annotate_status(list(selectors.reelection_due(oscar, lead_days=90)), now, 90)
    assert [(t, t.status, t.days_left) for t in rows] == [
        (overdue, "overdue", -10),
        (due, "due", 30),
    ]
    assert list(selectors.reelection_due(alice, lead_days=90)) == [due]
    assert list(selectors.reelection_due(oscar, lead_days=20)) == [overdue]
    without = list(selectors.without_term(oscar))
    assert without == []  # township, A and B have terms; the group never needs one
    assert list(selectors.without_term(admin)) == [tree["county"], tree["other_town"]]


def rules_add_years(day, years):
    from dangjian.core.rules import add_years

    return add_years(day, years)
