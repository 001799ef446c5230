"""Every committee page, tried by three people (STYLE.md): alice, secretary of branch A (inside);
oscar, org admin of the township above A and B (above); bob, secretary of B (a sibling: 404 for
everything of branch A, and nothing changes).

What each may do differs by design: alice records A's committee but neither approves her own
election nor moves her own re-election date (403, refused with a message); restructuring needs
`org.dissolve`, which a branch secretary does not hold (404, like core's dissolve page).

The guard at the end fails when a page is added to committees/urls.py without a row here.
"""

import datetime

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone

from dangjian.committees import services
from dangjian.committees.models import Candidate, Election, OfficeHolder, Term
from dangjian.core.models import AuditEvent, Organization
from dangjian.members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(people, tree, roster, admin, make_member):
    a = tree["branch_a"]
    day = timezone.localdate() - datetime.timedelta(days=20)
    term = services.record_term(actor=admin, org=a, form="secretary", elected_on=day)
    holder = services.appoint(
        actor=admin, org=a, member=roster["zhang"], position="secretary", started_on=day
    )
    election = services.record_election(
        actor=admin,
        org=a,
        data={
            "kind": "by_election",
            "form": "committee",
            "held_on": day,
            "seats": 1,
            "voters_expected": 2,
            "voters_present": 2,
            "candidates": [
                {"member": roster["wang"], "votes": 2, "position": "organisation"},
                {"member": roster["zhang"], "votes": 0, "position": "publicity"},
            ],
        },
    )
    return {"tree": tree, "people": people, "term": term, "holder": holder, "election": election}


# name -> (args, expected status for alice, oscar, bob) on GET; POST-only pages answer 405 to GET
# and the statuses are of a POST with an empty form.
def rows(w):
    a = w["tree"]["branch_a"].pk
    e = w["election"].pk
    return {
        "committees:overview": ([], (200, 200, 200)),  # each sees their own scope
        "committees:shape": ([], (200, 200, 200)),
        "committees:home_card": ([], (200, 200, 200)),
        "committees:org": ([a], (200, 200, 404)),
        "committees:member_options": ([a], (200, 200, 404)),
        "committees:record_term": ([a], (200, 200, 404)),
        "committees:appoint": ([a], (200, 200, 404)),
        "committees:end_office": ([w["holder"].pk], (200, 200, 404)),
        "committees:shift_due_date": ([w["term"].pk], (200, 200, 404)),
        "committees:election_new": ([a], (200, 200, 404)),
        "committees:election": ([e], (200, 200, 404)),
        "committees:decide": ([e], (200, 200, 404)),
        "committees:merge": ([a], (404, 200, 404)),
        "committees:split": ([a], (404, 200, 404)),
        "committees:dissolve": ([a], (404, 200, 404)),
    }


POST_ONLY = {
    "committees:record_term",
    "committees:appoint",
    "committees:end_office",
    "committees:shift_due_date",
    "committees:decide",
}
PEOPLE = ("alice", "oscar", "bob")


def committee_url_names():
    from dangjian.committees import urls

    return [f"committees:{p.name}" for p in urls.urlpatterns if isinstance(p, URLPattern)]


def state():
    return (
        Term.objects.count(),
        list(Term.objects.order_by("pk").values_list("due_on", "ended_on")),
        list(OfficeHolder.objects.order_by("pk").values_list("ended_on", flat=True)),
        list(Election.objects.order_by("pk").values_list("status", flat=True)),
        Candidate.objects.count(),
        Organization.objects.filter(status="active").count(),
        list(Member.objects.order_by("pk").values_list("organization_id", flat=True)),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("name", committee_url_names())
@pytest.mark.parametrize("person", PEOPLE)
def test_every_committee_page_by_person(world, client_for, name, person):
    args, expected = rows(world)[name]
    status = expected[PEOPLE.index(person)]
    client = client_for(world["people"][person])
    url = reverse(name, args=args)
    before = state()
    if name in POST_ONLY:
        assert client.get(url).status_code == 405
        response = client.post(url, {})
        # an empty form comes back with its errors (200) or is not found (404)
        assert response.status_code == status, (name, person, response.status_code)
    else:
        response = client.get(url)
        assert response.status_code == status, (name, person, response.status_code)
        if status == 404:
            assert client.post(url, {"confirm": "1"}).status_code in (404, 405)
    assert state() == before


@pytest.mark.parametrize(
    "name,data",
    [
        ("committees:shift_due_date", "shift"),
        ("committees:decide", "decide"),
    ],
)
def test_the_branch_itself_is_refused_what_belongs_above(world, client_for, name, data):
    """Complete forms, so only the rule of the committee above stops alice."""
    term, election = world["term"], world["election"]
    target = term.pk if data == "shift" else election.pk
    body = {
        "shift": {
            "due_on": (term.ends_on + datetime.timedelta(days=10)).isoformat(),
            "reason": "x",
        },
        "decide": {"decision": "approve", "decided_on": timezone.localdate().isoformat()},
    }[data]
    before = state()
    alice = client_for(world["people"]["alice"])
    assert alice.post(reverse(name, args=[target]), body).status_code == 403
    assert state() == before
    bob = client_for(world["people"]["bob"])
    assert bob.post(reverse(name, args=[target]), body).status_code == 404
    assert state() == before
    oscar = client_for(world["people"]["oscar"])
    assert oscar.post(reverse(name, args=[target]), body).status_code == 302
    assert state() != before


def test_bob_sees_nothing_of_branch_a_in_his_lists(world, client_for):
    bob = client_for(world["people"]["bob"])
    a = world["tree"]["branch_a"]
    overview = bob.get(reverse("committees:overview"))
    assert reverse("committees:org", args=[a.pk]) not in overview.content.decode()
    assert not list(overview.context["approvals"])
    shape = bob.get(reverse("committees:shape"))
    assert a.pk not in {s.org_id for s in shape.context["page"]}
    assert bob.get(reverse("committees:shape"), {"org": a.pk}).status_code == 404


def test_oscar_sees_the_election_awaiting_his_approval(world, client_for):
    oscar = client_for(world["people"]["oscar"])
    approvals = oscar.get(reverse("committees:overview")).context["approvals"]
    assert [e.pk for e in approvals] == [world["election"].pk]
    alice = client_for(world["people"]["alice"])
    assert not list(alice.get(reverse("committees:overview")).context["approvals"])


def test_the_matrix_covers_every_committee_page(world):
    table = rows(world)
    missing = [name for name in committee_url_names() if name not in table]
    assert not missing, f"pages without a scope row: {missing}"


@pytest.mark.parametrize("name", committee_url_names())
def test_anonymous_is_sent_to_login(client, world, name):
    args, _expected = rows(world)[name]
    response = client.get(reverse(name, args=args))
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert "/login/" in response.url
    before = state()
    response = client.post(reverse(name, args=args), {"confirm": "1"})
    assert response.status_code == 302 and "/login/" in response.url
    assert state() == before
