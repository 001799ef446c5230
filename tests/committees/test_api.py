"""The committees API at /api/v1/committees: the committee of an organisation, terms, office-
holders, elections and their approval by the committee above, re-election, shape warnings and
restructuring; scope (alice inside, oscar above, bob beside); bad input answers a code naming
the field and writes nothing; every write is audited; lists do not query per row."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.committees import services
from dangjian.committees.models import Election, OfficeHolder, Term
from dangjian.core import rules
from dangjian.core import services as core_services
from dangjian.core.models import AuditEvent, Organization
from dangjian.members.models import Member
from dangjian.transfers import services as transfer_services
from tests.members.test_api import ApiClient, assert_error

pytestmark = pytest.mark.django_db

C = "/api/v1/committees"


@pytest.fixture
def alice(people):
    return ApiClient(people["alice"])


@pytest.fixture
def oscar(people):
    return ApiClient(people["oscar"])


@pytest.fixture
def bob(people):
    return ApiClient(people["bob"])


def today():
    return timezone.localdate()


def audited(action, obj) -> AuditEvent:
    return AuditEvent.objects.get(
        action=action, object_id=str(obj if isinstance(obj, int) else obj.pk)
    )


def secretary_election(roster):
    """A secretary-only election in branch A: 张三 elected by both voters present."""
    return {
        "kind": "general",
        "form": "secretary",
        "held_on": "2026-03-01",
        "seats": 1,
        "voters_expected": 2,
        "voters_present": 2,
        "candidates": [{"member_id": roster["zhang"].pk, "votes": 2, "position": "secretary"}],
    }


def committee_election(members, votes=(7, 6, 5, 2), held_on="2026-03-01"):
    positions = ["secretary", "organisation", "publicity", "member"]
    return {
        "held_on": held_on,
        "seats": 3,
        "voters_expected": 7,
        "voters_present": 7,
        "candidates": [
            {"member_id": m.pk, "votes": v, "position": p}
            for m, v, p in zip(members, votes, positions, strict=True)
        ],
    }


@pytest.fixture
def seven(tree, roster, make_member):
    """Branch A with seven full members (张三, 王五 and five more)."""
    more = [make_member(tree["branch_a"], f"党员{i}", birth=f"1981-02-0{i + 1}") for i in range(5)]
    return [roster["zhang"], roster["wang"], *more]


# The committee of an organisation --------------------------------------------------------------


def test_committee_shows_current_term_holders_history_and_terms(alice, people, tree, roster):
    a = tree["branch_a"]
    old = services.record_term(
        actor=people["alice"], org=a, form="secretary", elected_on=datetime.date(2020, 5, 1)
    )
    new = services.record_term(
        actor=people["alice"], org=a, form="secretary", elected_on=datetime.date(2024, 6, 10)
    )
    first = services.appoint(
        actor=people["alice"],
        org=a,
        member=roster["wang"],
        position="secretary",
        started_on=datetime.date(2020, 5, 1),
    )
    services.end_office(
        actor=people["alice"], holder=first, ended_on=datetime.date(2024, 6, 10), reason="换届"
    )
    services.appoint(
        actor=people["alice"],
        org=a,
        member=roster["zhang"],
        position="secretary",
        started_on=datetime.date(2024, 6, 10),
    )
    response = alice.get(f"{C}/orgs/{a.pk}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["organization"] == {"id": a.pk, "code": a.code, "name": a.name}
    assert body["current_term"]["id"] == new.pk
    assert body["current_term"]["due_on"] == "2027-06-10"
    assert body["reelection_status"] == "ok"
    assert body["days_left"] == (datetime.date(2027, 6, 10) - today()).days
    assert [(h["person_name"], h["position"]) for h in body["holders"]] == [("张三", "secretary")]
    assert [(h["person_name"], h["ended_on"]) for h in body["history"]] == [
        ("张三", None),
        ("王五", "2024-06-10"),
    ]
    assert [t["id"] for t in body["terms"]] == [new.pk, old.pk]
    assert body["terms"][1]["ended_on"] == "2024-06-10"


def test_committee_of_an_organisation_without_any(alice, tree, people):
    body = alice.get(f"{C}/orgs/{tree['branch_a'].pk}").json()
    assert body["current_term"] is None and body["reelection_status"] is None
    assert body["holders"] == body["history"] == body["terms"] == []


def test_anonymous_and_bad_token_answer_401(tree):
    from django.test import Client

    for client in (Client(), Client(headers={"Authorization": "Bearer djt_nothing"})):
        assert_error(client.get(f"{C}/orgs/{tree['branch_a'].pk}"), 401, "unauthorized")
        response = client.post(
            f"{C}/orgs/{tree['branch_a'].pk}/terms",
            {"form": "secretary", "elected_on": "2024-01-01"},
            content_type="application/json",
        )
        assert_error(response, 401, "unauthorized")
    assert not Term.objects.exists()


# Terms -----------------------------------------------------------------------------------------


def test_record_term_then_shift_by_the_committee_above(alice, oscar, people, tree):
    a = tree["branch_a"]
    response = alice.post(
        f"{C}/orgs/{a.pk}/terms", {"form": "committee", "elected_on": "2024-03-01"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["term_years"], body["ends_on"], body["due_on"]) == (3, "2027-03-01", "2027-03-01")
    assert body["rule_version"] and body["form_name"]
    term_id = body["id"]
    assert audited("term.create", term_id).user == people["alice"]

    shift = {"due_on": "2027-09-30", "reason": "与村委会换届同步", "reference": "城组〔2026〕3号"}
    # Nobody moves their own date: the committee above does.
    assert_error(alice.post(f"{C}/terms/{term_id}/shift", shift), 403, "forbidden")
    response = oscar.post(f"{C}/terms/{term_id}/shift", shift)
    assert response.status_code == 200, response.content
    assert (response.json()["due_on"], response.json()["shift_reason"]) == (
        "2027-09-30",
        "与村委会换届同步",
    )
    event = audited("term.shift", term_id)
    assert event.user == people["oscar"] and event.after["due_on"] == "2027-09-30"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"due_on": "2028-03-02", "reason": "x"}, 400, "shift_too_far", "due_on"),
        ({"due_on": "2027-06-01", "reason": "  "}, 400, "required", "reason"),
        ({"due_on": "2027-06-01", "reason": "x" * 256}, 400, "too_long", "reason"),
        ({"due_on": "2027-13-01", "reason": "x"}, 422, "invalid", "due_on"),
        ({"reason": "x"}, 422, "invalid", "due_on"),
    ],
)
def test_bad_shift_answers_the_field_and_changes_nothing(
    oscar, people, tree, body, status, code, field
):
    term = services.record_term(
        actor=people["alice"],
        org=tree["branch_a"],
        form="committee",
        elected_on=datetime.date(2024, 3, 1),
    )
    assert_error(oscar.post(f"{C}/terms/{term.pk}/shift", body), status, code, field)
    term.refresh_from_db()
    assert (term.due_on, term.shift_reason) == (datetime.date(2027, 3, 1), "")
    assert not AuditEvent.objects.filter(action="term.shift").exists()


@pytest.mark.parametrize(
    ("org", "body", "status", "code", "field"),
    [
        (
            "branch_a",
            {"form": "committee", "elected_on": "2099-01-01"},
            400,
            "future_date",
            "elected_on",
        ),
        ("branch_a", {"form": "board", "elected_on": "2024-01-01"}, 422, "invalid", "form"),
        (
            "branch_a",
            {"form": "committee", "elected_on": "01/03/2024"},
            422,
            "invalid",
            "elected_on",
        ),
        ("group_a", {"form": "committee", "elected_on": "2024-01-01"}, 400, "group", None),
    ],
)
def test_bad_term(alice, tree, org, body, status, code, field):
    assert_error(alice.post(f"{C}/orgs/{tree[org].pk}/terms", body), status, code, field)
    assert not Term.objects.exists()


def test_term_of_a_dissolved_organisation(oscar, admin, tree):
    other = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B09", name="旧党支部", kind="branch"
    )
    core_services.dissolve_organization(actor=admin, org=other)
    response = oscar.post(
        f"{C}/orgs/{other.pk}/terms", {"form": "secretary", "elected_on": "2024-01-01"}
    )
    assert_error(response, 400, "dissolved")


# Office-holders --------------------------------------------------------------------------------


def test_appoint_and_end_office(alice, people, tree, roster):
    a = tree["branch_a"]
    body = {"member_id": roster["zhang"].pk, "position": "secretary", "started_on": "2024-01-01"}
    response = alice.post(f"{C}/orgs/{a.pk}/holders", body)
    assert response.status_code == 201, response.content
    holder = response.json()
    assert (holder["person_name"], holder["position"], holder["ended_on"]) == (
        "张三",
        "secretary",
        None,
    )
    assert holder["position_name"] and holder["organization_id"] == a.pk
    assert audited("office.appoint", holder["id"]).user == people["alice"]

    # The single position is taken: 409 naming the field.
    taken = {"member_id": roster["wang"].pk, "position": "secretary", "started_on": "2024-01-01"}
    assert_error(alice.post(f"{C}/orgs/{a.pk}/holders", taken), 409, "position_taken", "position")

    end = {"ended_on": "2025-06-30", "reason": "工作调动"}
    response = alice.post(f"{C}/holders/{holder['id']}/end", end)
    assert response.status_code == 200, response.content
    assert (response.json()["ended_on"], response.json()["end_reason"]) == (
        "2025-06-30",
        "工作调动",
    )
    assert audited("office.end", holder["id"]).user == people["alice"]
    assert_error(alice.post(f"{C}/holders/{holder['id']}/end", end), 400, "ended")


@pytest.mark.parametrize(
    ("who", "position", "status", "code", "field"),
    [
        ("li", "organisation", 400, "not_eligible", "member_id"),  # probationary
        ("zhao", "organisation", 404, "not_found", "member_id"),  # bob's, out of alice's scope
        (None, "organisation", 404, "not_found", "member_id"),  # no such member
        ("zhang", "group_leader", 400, "position_not_here", "position"),
        ("zhang", "chairman", 422, "invalid", "position"),
    ],
)
def test_bad_appointment(alice, tree, roster, who, position, status, code, field):
    member_id = roster[who].pk if who else 999999
    body = {"member_id": member_id, "position": position, "started_on": "2024-01-01"}
    assert_error(alice.post(f"{C}/orgs/{tree['branch_a'].pk}/holders", body), status, code, field)
    assert not OfficeHolder.objects.exists()


def test_end_date_before_the_start(alice, people, tree, roster):
    holder = services.appoint(
        actor=people["alice"],
        org=tree["branch_a"],
        member=roster["zhang"],
        position="secretary",
        started_on=datetime.date(2024, 1, 1),
    )
    response = alice.post(f"{C}/holders/{holder.pk}/end", {"ended_on": "2023-12-31"})
    assert_error(response, 400, "too_early", "ended_on")
    holder.refresh_from_db()
    assert holder.ended_on is None


# Elections -------------------------------------------------------------------------------------


def test_record_and_approve_an_election(alice, oscar, people, tree, seven):
    a = tree["branch_a"]
    response = alice.post(f"{C}/orgs/{a.pk}/elections", committee_election(seven[:4]))
    assert response.status_code == 201, response.content
    election = response.json()
    assert (election["valid"], election["margin_ok"], election["status"]) == (
        True,
        True,
        "recorded",
    )
    assert election["organization"]["id"] == a.pk
    assert [(c["person_name"], c["votes"], c["elected"]) for c in election["candidates"]] == [
        ("张三", 7, True),
        ("王五", 6, True),
        ("党员0", 5, True),
        ("党员1", 2, False),
    ]
    event = audited("election.record", election["id"])
    assert event.user == people["alice"] and len(event.after["candidates"]) == 4

    # The organisation does not approve its own election; the committee above does, once.
    decision = {"approve": True, "decided_on": "2026-03-20", "reference": "城党〔2026〕5号"}
    url = f"{C}/elections/{election['id']}/decision"
    assert_error(alice.post(url, decision), 403, "forbidden")
    response = oscar.post(url, decision)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decided_on"]) == ("approved", "2026-03-20")
    assert audited("election.approve", election["id"]).user == people["oscar"]
    assert_error(oscar.post(url, decision), 409, "already_decided")
    assert_error(oscar.post(url, {"approve": False}), 409, "already_decided")

    body = alice.get(f"{C}/orgs/{a.pk}").json()
    assert body["current_term"]["election_id"] == election["id"]
    assert body["current_term"]["elected_on"] == "2026-03-01"
    assert sorted((h["person_name"], h["position"]) for h in body["holders"]) == [
        ("党员0", "publicity"),
        ("张三", "secretary"),
        ("王五", "organisation"),
    ]
    assert AuditEvent.objects.filter(action="office.appoint", org_path=a.path).count() == 3


def test_rejecting_an_election_puts_nobody_in_office(oscar, people, tree, roster):
    election = oscar.post(
        f"{C}/orgs/{tree['branch_a'].pk}/elections", secretary_election(roster)
    ).json()
    response = oscar.post(
        f"{C}/elections/{election['id']}/decision", {"approve": False, "note": "程序不符"}
    )
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["decision_note"]) == ("rejected", "程序不符")
    assert not OfficeHolder.objects.exists() and not Term.objects.exists()
    assert audited("election.reject", election["id"]).user == people["oscar"]


def test_a_failed_election_is_stored_and_cannot_be_approved(alice, oscar, tree, seven):
    body = committee_election(seven[:4], votes=(5, 4, 3, 2)) | {"voters_present": 5}
    response = alice.post(f"{C}/orgs/{tree['branch_a'].pk}/elections", body)
    assert response.status_code == 201, response.content
    election = response.json()
    assert election["valid"] is False and election["problems"] == ["quorum"]
    assert election["problem_messages"] and all(election["problem_messages"])
    response = oscar.post(f"{C}/elections/{election['id']}/decision", {"approve": True})
    assert_error(response, 400, "cannot_approve")
    assert Election.objects.get(pk=election["id"]).status == "recorded"


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"voters_present": 8}, 400, "too_many_present", "voters_present"),
        ({"votes": [8, 6, 5, 2]}, 400, "too_many_votes", "candidates.0"),
        ({"votes": [7, 7, 7, 2]}, 400, "votes_exceed_ballots", "candidates"),
        # Out of bounds: refused by the schema, naming the field, before any query.
        ({"seats": 0}, 422, "invalid", "seats"),
        ({"seats": -1}, 422, "invalid", "seats"),
        ({"seats": 100}, 422, "invalid", "seats"),
        ({"seats": 40000}, 422, "invalid", "seats"),
        ({"voters_expected": 2**31}, 422, "invalid", "voters_expected"),
        ({"voters_present": 10**20}, 422, "invalid", "voters_present"),
        ({"votes": [7, -1, 5, 2]}, 422, "invalid", "candidates.1.votes"),
        ({"votes": [7, 10**20, 5, 2]}, 422, "invalid", "candidates.1.votes"),
        ({"member": (0, 10**20)}, 422, "invalid", "candidates.0.member_id"),
        ({"member": (0, 0)}, 422, "invalid", "candidates.0.member_id"),
        ({"held_on": "1900-01-01"}, 400, "before_founding", "held_on"),
        (
            {"positions": ["secretary", "secretary", "publicity", "member"]},
            400,
            "position_twice",
            "candidates",
        ),
        ({"form": "secretary"}, 400, "one_seat", "seats"),
        ({"kind": "by_election"}, 400, "no_current_term", "kind"),
        ({"held_on": "2099-01-01"}, 400, "future_date", "held_on"),
        ({"held_on": "yesterday"}, 422, "invalid", "held_on"),
        ({"seats": "three"}, 422, "invalid", "seats"),
        ({"candidates": []}, 400, "no_candidates", "candidates"),
        ({"member": (1, "li")}, 400, "not_eligible", "candidates.1"),
        ({"member": (2, "zhao")}, 404, "not_found", "candidates.2.member_id"),
        ({"member": (3, None)}, 404, "not_found", "candidates.3.member_id"),
        ({"member": (3, "zhang")}, 400, "duplicate", "candidates.3"),
    ],
)
def test_election_numbers_that_do_not_add_up(
    alice, tree, roster, seven, change, status, code, field
):
    body = committee_election(seven[:4])
    change = dict(change)
    if "votes" in change:
        for row, votes in zip(body["candidates"], change.pop("votes"), strict=True):
            row["votes"] = votes
    if "positions" in change:
        for row, position in zip(body["candidates"], change.pop("positions"), strict=True):
            row["position"] = position
    if "member" in change:
        i, who = change.pop("member")
        if isinstance(who, int):
            body["candidates"][i]["member_id"] = who
        else:
            body["candidates"][i]["member_id"] = roster[who].pk if who else 999999
    body |= change
    before = (Election.objects.count(), AuditEvent.objects.count())
    assert_error(alice.post(f"{C}/orgs/{tree['branch_a'].pk}/elections", body), status, code, field)
    assert (Election.objects.count(), AuditEvent.objects.count()) == before


def test_oscar_sees_bob_s_member_but_it_is_not_a_member_of_a(oscar, tree, roster, seven):
    body = committee_election(seven[:4])
    body["candidates"][2]["member_id"] = roster["zhao"].pk
    response = oscar.post(f"{C}/orgs/{tree['branch_a'].pk}/elections", body)
    assert_error(response, 400, "not_a_member", "candidates.2")


def test_election_list_filters(alice, oscar, bob, people, tree, roster, make_member):
    a, b = tree["branch_a"], tree["branch_b"]
    in_a = alice.post(f"{C}/orgs/{a.pk}/elections", secretary_election(roster)).json()
    zhao = {"member_id": roster["zhao"].pk, "votes": 2, "position": "secretary"}
    in_b = bob.post(
        f"{C}/orgs/{b.pk}/elections", secretary_election(roster) | {"candidates": [zhao]}
    ).json()
    oscar.post(f"{C}/elections/{in_b['id']}/decision", {"approve": True})

    def ids(client, **query):
        response = client.get(f"{C}/elections", query)
        assert response.status_code == 200, response.content
        return [e["id"] for e in response.json()["items"]]

    assert ids(oscar) == [in_b["id"], in_a["id"]]  # latest first (same day: latest recorded)
    assert ids(alice) == [in_a["id"]]
    assert ids(bob) == [in_b["id"]]
    assert ids(oscar, org=a.pk) == [in_a["id"]]
    assert ids(oscar, status="approved") == [in_b["id"]]
    assert ids(oscar, to_decide=True) == [in_a["id"]]
    assert ids(alice, to_decide=True) == []  # nobody approves their own
    assert_error(bob.get(f"{C}/elections", {"org": a.pk}), 404, "not_found", "org")
    assert_error(oscar.get(f"{C}/elections", {"status": "maybe"}), 422, "invalid", "status")


# Re-election and shape -------------------------------------------------------------------------


def _term(org, actor, elected_on):
    return services.record_term(actor=actor, org=org, form="secretary", elected_on=elected_on)


def test_reelection_due_and_overdue(oscar, alice, bob, admin, tree):
    day = today()
    overdue = _term(
        tree["branch_a"], admin, day.replace(year=day.year - 3) - datetime.timedelta(days=5)
    )
    due = _term(
        tree["branch_b"], admin, day.replace(year=day.year - 3) + datetime.timedelta(days=40)
    )
    _term(tree["town"], admin, day.replace(year=day.year - 1))  # a committee: five years, not due

    def rows(client, **query):
        response = client.get(f"{C}/reelection", query)
        assert response.status_code == 200, response.content
        return [(r["id"], r["status"], r["days_left"]) for r in response.json()["items"]]

    overdue_row = (overdue.pk, "overdue", (overdue.due_on - day).days)
    due_row = (due.pk, "due", (due.due_on - day).days)
    assert overdue_row[2] < 0 < due_row[2] <= 40
    assert rows(oscar) == [overdue_row, due_row]
    assert rows(oscar, lead_days=10) == [overdue_row]
    assert rows(oscar, root=tree["branch_b"].pk) == [due_row]
    assert rows(alice) == [overdue_row]
    assert rows(bob) == [due_row]
    item = oscar.get(f"{C}/reelection").json()["items"][0]
    assert item["organization"]["id"] == tree["branch_a"].pk
    assert_error(oscar.get(f"{C}/reelection", {"lead_days": -1}), 422, "invalid", "lead_days")
    assert_error(
        bob.get(f"{C}/reelection", {"root": tree["branch_a"].pk}), 404, "not_found", "root"
    )


def test_shape_counts_and_filters(oscar, alice, people, tree, roster):
    services.appoint(
        actor=people["alice"],
        org=tree["branch_a"],
        member=roster["zhang"],
        position="secretary",
        started_on=datetime.date(2024, 1, 1),
    )
    response = oscar.get(f"{C}/shape")
    assert response.status_code == 200, response.content
    body = response.json()
    found = {item["id"]: item for item in body["items"]}
    a, b = tree["branch_a"].pk, tree["branch_b"].pk
    # A: 2 full members, a secretary; B: 2 full members, no secretary.
    assert found[a]["problems"] == ["too_few_full"]
    assert set(found[b]["problems"]) == {"too_few_full", "no_secretary"}
    assert (found[a]["members"], found[a]["full_members"], found[a]["has_secretary"]) == (
        3,
        2,
        True,
    )
    assert body["counts"] == {
        problem: sum(problem in item["problems"] for item in body["items"])
        for problem in rules.SHAPE_PROBLEMS
    }
    assert body["counts"]["too_few_full"] >= 2 and body["count"] == len(body["items"])

    only = oscar.get(f"{C}/shape", {"problem": "no_secretary"}).json()
    assert b in {i["id"] for i in only["items"]} and a not in {i["id"] for i in only["items"]}
    assert only["counts"] == body["counts"] and only["count"] == body["counts"]["no_secretary"]

    mine = alice.get(f"{C}/shape").json()
    assert [i["id"] for i in mine["items"]] == [a]
    assert mine["counts"]["no_secretary"] == 0
    assert_error(oscar.get(f"{C}/shape", {"problem": "ugly"}), 422, "invalid", "problem")


# Restructuring ---------------------------------------------------------------------------------


def _snapshot():
    return (
        tuple(Member.objects.order_by("pk").values_list("pk", "organization_id", "org_path")),
        tuple(Organization.objects.order_by("pk").values_list("pk", "status", "path")),
        tuple(OfficeHolder.objects.order_by("pk").values_list("pk", "ended_on")),
        AuditEvent.objects.count(),
    )


def test_merge_dry_run_then_apply(oscar, people, tree, roster):
    services.appoint(
        actor=people["bob"],
        org=tree["branch_b"],
        member=roster["zhao"],
        position="secretary",
        started_on=datetime.date(2024, 1, 1),
    )
    transfer_services.register_mobile_in(
        actor=people["bob"], host_org=tree["branch_b"], person_name="郑十一", home_text="外省"
    )
    url = f"{C}/orgs/{tree['branch_b'].pk}/merge"
    before = _snapshot()
    response = oscar.post(url, {"into_id": tree["branch_a"].pk, "dry_run": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["applied"] is False and body["organization"]["id"] == tree["branch_a"].pk
    preview = body["preview"]
    assert preview["ok"] is True and preview["problems"] == []
    assert (preview["members"], sorted(preview["member_names"])) == (2, ["赵六", "钱七"])
    assert preview["guests"] == 1
    assert [h["person_name"] for h in preview["holders"]] == ["赵六"]
    assert _snapshot() == before

    response = oscar.post(url, {"into_id": tree["branch_a"].pk})
    assert response.status_code == 200, response.content
    assert response.json()["applied"] is True
    roster["zhao"].refresh_from_db()
    assert roster["zhao"].organization_id == tree["branch_a"].pk
    assert Organization.objects.get(pk=tree["branch_b"].pk).status == "dissolved"
    assert audited("org.merge", tree["branch_b"]).user == people["oscar"]
    assert AuditEvent.objects.filter(action="member.move").count() == 2


def test_merge_that_cannot_be_done_answers_its_problems(oscar, tree, roster):
    url = f"{C}/orgs/{tree['branch_b'].pk}/merge"
    preview = oscar.post(url, {"into_id": tree["town"].pk, "dry_run": True}).json()["preview"]
    assert preview["ok"] is False and preview["problems"]
    before = _snapshot()
    assert_error(oscar.post(url, {"into_id": tree["town"].pk}), 400, "cannot_merge")
    assert_error(oscar.post(url, {"into_id": 999999}), 404, "not_found", "into_id")
    assert _snapshot() == before


def test_split_dry_run_then_apply(oscar, people, tree, roster):
    url = f"{C}/orgs/{tree['branch_a'].pk}/split"
    body = {"code": "B07", "name": "东街第二党支部", "member_ids": [roster["wang"].pk]}
    before = _snapshot()
    response = oscar.post(url, body | {"dry_run": True})
    assert response.status_code == 200, response.content
    assert response.json()["organization"] is None
    assert response.json()["preview"]["member_names"] == ["王五"]
    assert _snapshot() == before

    response = oscar.post(url, body)
    assert response.status_code == 200, response.content
    new = response.json()["organization"]
    assert new["code"] == "B07"
    roster["wang"].refresh_from_db()
    assert roster["wang"].organization_id == new["id"]
    assert audited("org.split", tree["branch_a"]).user == people["oscar"]

    bad = oscar.post(url, body | {"code": "B08", "member_ids": [roster["zhao"].pk]})
    assert_error(bad, 400, "cannot_split")


@pytest.mark.parametrize("bad", [10**20, 2**63, 0, -1])
def test_ids_out_of_range_are_refused_by_the_schema(oscar, tree, roster, bad):
    """Every id the API takes is a positive 64-bit number: anything else answers 422 naming
    it, before it reaches a query (SQLite overflows on a larger number in a list of ids)."""
    a = tree["branch_a"]
    before = _snapshot()
    split = {"code": "B07", "name": "东街第二党支部", "member_ids": [roster["wang"].pk, bad]}
    assert_error(oscar.post(f"{C}/orgs/{a.pk}/split", split), 422, "invalid", "member_ids.1")
    assert_error(oscar.post(f"{C}/orgs/{a.pk}/merge", {"into_id": bad}), 422, "invalid", "into_id")
    assert_error(
        oscar.post(f"{C}/orgs/{tree['branch_b'].pk}/dissolve", {"move_members_to": bad}),
        422,
        "invalid",
        "move_members_to",
    )
    appoint = {"member_id": bad, "position": "member", "started_on": "2025-01-01"}
    assert_error(oscar.post(f"{C}/orgs/{a.pk}/holders", appoint), 422, "invalid", "member_id")
    for query in ({"root": bad}, {"org": bad}):
        name = next(iter(query))
        path = "shape" if name == "root" else "elections"
        assert_error(oscar.get(f"{C}/{path}", query), 422, "invalid", name)
    assert_error(oscar.get(f"{C}/reelection", {"root": bad}), 422, "invalid", "root")
    for path in (f"orgs/{bad}", f"elections/{bad}"):
        assert oscar.get(f"{C}/{path}").status_code == 422, path
    assert _snapshot() == before


def test_dissolve_moving_members(oscar, people, tree, roster):
    url = f"{C}/orgs/{tree['branch_b'].pk}/dissolve"
    before = _snapshot()
    preview = oscar.post(url, {"dry_run": True}).json()["preview"]
    assert preview["ok"] is False  # its members need somewhere to go
    assert_error(oscar.post(url, {}), 400, "cannot_dissolve")
    assert _snapshot() == before
    response = oscar.post(url, {"move_members_to": tree["branch_a"].pk})
    assert response.status_code == 200, response.content
    assert response.json()["organization"]["id"] == tree["branch_b"].pk
    assert Organization.objects.get(pk=tree["branch_b"].pk).status == "dissolved"
    assert set(
        Member.objects.filter(organization=tree["branch_a"]).values_list("name", flat=True)
    ) == {
        "张三",
        "李四",
        "王五",
        "赵六",
        "钱七",
    }


# Scope: alice inside, oscar above, bob beside --------------------------------------------------


@pytest.fixture
def inside(people, tree, roster, admin):
    """Objects of branch A: a term, an office-holder, a recorded secretary election."""
    a = tree["branch_a"]
    term = services.record_term(
        actor=admin, org=a, form="secretary", elected_on=datetime.date(2024, 1, 10)
    )
    holder = services.appoint(
        actor=admin, org=a, member=roster["wang"], position="deputy", started_on=term.elected_on
    )
    election = services.record_election(
        actor=admin,
        org=a,
        data={
            "kind": "general",
            "form": "secretary",
            "held_on": datetime.date(2026, 3, 1),
            "seats": 1,
            "voters_expected": 2,
            "voters_present": 2,
            "candidates": [{"member": roster["zhang"], "votes": 2, "position": "secretary"}],
        },
    )
    return {"a": a, "term": term, "holder": holder, "election": election, **roster, **tree}


# name: (method, url, body, {person: status})
SCOPE = {
    "committee": ("get", lambda o: f"{C}/orgs/{o['a'].pk}", None, (200, 200, 404)),
    "term": (
        "post",
        lambda o: f"{C}/orgs/{o['a'].pk}/terms",
        {"form": "committee", "elected_on": "2025-01-01"},
        (201, 201, 404),
    ),
    "shift": (
        "post",
        lambda o: f"{C}/terms/{o['term'].pk}/shift",
        {"due_on": "2027-06-01", "reason": "同步换届"},
        (403, 200, 404),
    ),
    "appoint": (
        "post",
        lambda o: f"{C}/orgs/{o['a'].pk}/holders",
        lambda o: {"member_id": o["zhang"].pk, "position": "secretary", "started_on": "2024-02-01"},
        (201, 201, 404),
    ),
    "end": (
        "post",
        lambda o: f"{C}/holders/{o['holder'].pk}/end",
        {"ended_on": "2025-01-01"},
        (200, 200, 404),
    ),
    "elections": ("get", lambda o: f"{C}/elections?org={o['a'].pk}", None, (200, 200, 404)),
    "election": ("get", lambda o: f"{C}/elections/{o['election'].pk}", None, (200, 200, 404)),
    "record": (
        "post",
        lambda o: f"{C}/orgs/{o['a'].pk}/elections",
        lambda o: secretary_election(o),
        (201, 201, 404),
    ),
    "decision": (
        "post",
        lambda o: f"{C}/elections/{o['election'].pk}/decision",
        {"approve": True},
        (403, 200, 404),
    ),
    "reelection": ("get", lambda o: f"{C}/reelection?root={o['a'].pk}", None, (200, 200, 404)),
    "shape": ("get", lambda o: f"{C}/shape?root={o['a'].pk}", None, (200, 200, 404)),
    "merge": (
        "post",
        lambda o: f"{C}/orgs/{o['a'].pk}/merge",
        lambda o: {"into_id": o["branch_b"].pk, "dry_run": True},
        (403, 200, 404),
    ),
    "split": (
        "post",
        lambda o: f"{C}/orgs/{o['a'].pk}/split",
        lambda o: {"code": "B05", "name": "新", "member_ids": [o["li"].pk], "dry_run": True},
        (403, 200, 404),
    ),
    "dissolve": (
        "post",
        lambda o: f"{C}/orgs/{o['a'].pk}/dissolve",
        {"dry_run": True},
        (403, 200, 404),
    ),
}


def test_every_operation_has_a_scope_row():
    from dangjian.committees.api import router

    operations = {
        (method.lower(), path)
        for path, view in router.path_operations.items()
        for op in view.operations
        for method in op.methods
    }
    assert len(SCOPE) == len(operations), sorted(operations)


@pytest.mark.parametrize("person", ["alice", "oscar", "bob"])
@pytest.mark.parametrize("name", list(SCOPE))
def test_scope(people, inside, name, person):
    method, url, body, expected = SCOPE[name]
    status = dict(zip(["alice", "oscar", "bob"], expected, strict=True))[person]
    client = ApiClient(people[person])
    if callable(body):
        body = body(inside)
    before = _snapshot()
    response = client.get(url(inside)) if method == "get" else client.post(url(inside), body)
    assert response.status_code == status, (name, person, response.content)
    if status == 404:
        assert response.json()["code"] == "not_found"
    if status >= 400:
        assert _snapshot() == before, "a refused call changed something"


def test_lists_show_nothing_of_a_sibling(bob, inside):
    assert bob.get(f"{C}/elections").json()["count"] == 0
    assert inside["a"].pk not in {i["id"] for i in bob.get(f"{C}/shape").json()["items"]}
    rows = bob.get(f"{C}/reelection", {"lead_days": 3650}).json()["items"]
    assert inside["term"].pk not in {r["id"] for r in rows}


# Query counts ----------------------------------------------------------------------------------


def _queries(client, url, query=None):
    client.get(url, query)  # the token's last use is written at most once a minute
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, query)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries)


def test_lists_do_not_query_per_row(oscar, admin, people, tree, make_member):
    town = tree["town"]
    seq = iter(range(10, 99))

    def add(n):
        for _ in range(n):
            org = core_services.create_organization(
                actor=admin, parent=town, code=f"Q{next(seq)}", name="党支部", kind="branch"
            )
            members = [make_member(org, f"员{i}", birth=f"1980-03-0{i + 1}") for i in range(2)]
            _term(org, admin, today().replace(year=today().year - 3))
            services.appoint(
                actor=admin,
                org=org,
                member=members[0],
                position="secretary",
                started_on=datetime.date(2024, 1, 1),
            )
            services.record_election(
                actor=admin,
                org=org,
                data={
                    "form": "secretary",
                    "held_on": datetime.date(2026, 3, 1),
                    "seats": 1,
                    "voters_expected": 2,
                    "voters_present": 2,
                    "candidates": [{"member": m, "votes": 1} for m in members],
                },
            )

    urls = [
        (f"{C}/elections", {"page_size": 100}),
        (f"{C}/elections", {"to_decide": True, "org": town.pk}),
        (f"{C}/reelection", {"page_size": 100}),
        (f"{C}/shape", {"page_size": 100}),
    ]
    add(2)
    few = [_queries(oscar, url, query) for url, query in urls]
    counts_few = oscar.get(f"{C}/elections").json()["count"]
    add(6)
    many = [_queries(oscar, url, query) for url, query in urls]
    assert oscar.get(f"{C}/elections").json()["count"] == counts_few + 6
    assert oscar.get(f"{C}/reelection").json()["count"] >= 8
    assert many == few


def test_committee_does_not_query_per_holder(alice, admin, people, tree, make_member):
    a = tree["branch_a"]
    url = f"{C}/orgs/{a.pk}"

    def add(n, position):
        for i in range(n):
            m = make_member(a, f"委{position}{i}", birth=f"1979-04-0{i + 1}")
            services.appoint(
                actor=admin,
                org=a,
                member=m,
                position=position,
                started_on=datetime.date(2024, 1, 1),
            )

    add(1, "deputy")
    few = _queries(alice, url)
    add(4, "member")
    assert len(alice.get(url).json()["holders"]) == 5
    assert _queries(alice, url) == few
