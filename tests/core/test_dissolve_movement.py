"""Dissolving an organisation (core.services.dissolve_organization, behind the core dissolve page
and POST /api/v1/orgs/{id}/dissolve) while people are on the move.

A transfer from or to its subtree under way would name an organisation that no longer exists,
and mobile members of elsewhere taking part in its life would be left at it: both are refused
(transfers_pending, guests_present), changing nothing. A dissolution ends the current term of
office, and members away as mobile members belong, while away, to where their branch moved.
"""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.committees import restructure
from dangjian.committees import services as committees
from dangjian.committees.models import OfficeHolder, Term
from dangjian.core import services
from dangjian.core.errors import ValidationFailed
from dangjian.core.models import AuditEvent, Organization, OrgStatus
from dangjian.members.models import Member, StandingEvent
from dangjian.transfers import services as transfers
from dangjian.transfers.models import MobileStay, Transfer

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


def today() -> datetime.date:
    return timezone.localdate()


def fresh(org) -> Organization:
    return Organization.objects.get(pk=org.pk)


def state() -> dict:
    return {
        "orgs": list(Organization.objects.order_by("pk").values_list("pk", "status", "path")),
        "members": list(
            Member.objects.order_by("pk").values_list("pk", "organization_id", "org_path")
        ),
        "events": StandingEvent.objects.count(),
        "terms": list(Term.objects.order_by("pk").values_list("pk", "ended_on")),
        "holders": list(OfficeHolder.objects.order_by("pk").values_list("pk", "ended_on")),
        "stays": list(
            MobileStay.objects.order_by("pk").values_list("pk", "state", "home_org", "host_org")
        ),
        "transfers": list(Transfer.objects.order_by("pk").values_list("pk", "state")),
        "audit": AuditEvent.objects.count(),
    }


def dissolve_a(people, tree, **extra):
    """oscar dissolves branch A (its group dissolved first), its members moving to B."""
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    return services.dissolve_organization(
        actor=people["oscar"],
        org=fresh(tree["branch_a"]),
        move_members_to=tree["branch_b"],
        **extra,
    )


def test_a_transfer_from_the_branch_under_way_is_refused(people, tree, roster):
    transfers.start_transfer(actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.dissolve_organization(
            actor=people["oscar"], org=fresh(tree["branch_a"]), move_members_to=tree["branch_b"]
        )
    assert exc.value.code == "transfers_pending"
    assert "1" in str(exc.value.message)
    assert state() == before


def test_a_transfer_to_the_branch_under_way_is_refused(people, tree, roster):
    transfers.start_transfer(actor=people["bob"], member=roster["zhao"], to_org=tree["branch_a"])
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.dissolve_organization(
            actor=people["oscar"],
            org=fresh(tree["branch_a"]),
            move_members_to=tree["branch_b"],
        )
    assert exc.value.code == "transfers_pending"
    assert state() == before


def test_a_letter_out_of_the_platform_under_way_is_refused(people, tree, roster):
    transfers.issue_letter(actor=people["alice"], member=roster["zhang"], counterpart="外省某县委")
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.dissolve_organization(
            actor=people["oscar"], org=fresh(tree["branch_a"]), move_members_to=tree["branch_b"]
        )
    assert exc.value.code == "transfers_pending"
    assert state() == before


def test_a_transfer_anywhere_in_the_subtree_counts(people, tree, roster, admin):
    """The town cannot go while a transfer from one of its (already dissolved) branches waits."""
    elsewhere = services.create_organization(
        actor=admin, parent=tree["other_town"], code="B31", name="河口村党支部", kind="branch"
    )
    transfers.start_transfer(actor=people["alice"], member=roster["zhang"], to_org=elsewhere)
    town = tree["town"]
    Organization.objects.filter(path__startswith=town.path).exclude(pk=town.pk).update(
        status=OrgStatus.DISSOLVED
    )  # as an old system might have left them; only the transfer stops the town now
    Member.objects.filter(org_path__startswith=town.path).update(status="left")
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.dissolve_organization(actor=admin, org=fresh(town))
    assert exc.value.code == "transfers_pending"
    assert state() == before


def test_mobile_guests_at_the_branch_are_refused(people, tree):
    transfers.register_mobile_in(
        actor=people["alice"],
        host_org=tree["branch_a"],
        person_name="周九",
        home_text="河北省保定市某村党支部",
    )
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    before = state()
    with pytest.raises(ValidationFailed) as exc:
        services.dissolve_organization(actor=people["oscar"], org=fresh(tree["branch_a"]))
    assert exc.value.code == "guests_present"
    assert state() == before


def test_a_decided_transfer_no_longer_stops_it(people, tree, roster):
    transfer = transfers.start_transfer(
        actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"]
    )
    transfers.return_transfer(actor=people["bob"], transfer=transfer, reason="不在本社区居住")
    dissolve_a(people, tree)
    assert fresh(tree["branch_a"]).status == OrgStatus.DISSOLVED
    assert Member.objects.get(pk=roster["zhang"].pk).organization_id == tree["branch_b"].pk


def test_the_current_term_ends_with_the_organisation(people, tree, roster):
    term = committees.record_term(
        actor=people["alice"], org=tree["branch_a"], form="secretary", elected_on=D("2024-03-01")
    )
    on = today() - datetime.timedelta(days=2)
    dissolve_a(people, tree, on=on)
    term.refresh_from_db()
    assert term.ended_on == on
    [event] = AuditEvent.objects.filter(action="term.end", object_id=str(term.pk))
    assert (event.before, event.after) == ({"ended_on": None}, {"ended_on": on.isoformat()})
    assert event.org_path == tree["branch_a"].path
    # The organisation is no longer due for re-election anywhere.
    assert not Term.objects.filter(organization=tree["branch_a"], ended_on__isnull=True).exists()


def test_a_term_begun_after_the_day_of_dissolution_ends_the_day_it_began(people, tree, roster):
    term = committees.record_term(
        actor=people["alice"], org=tree["branch_a"], form="secretary", elected_on=today()
    )
    dissolve_a(people, tree, on=today() - datetime.timedelta(days=1))
    term.refresh_from_db()
    assert term.ended_on == term.elected_on


def test_members_away_belong_to_where_their_branch_moved(people, tree, roster):
    stay = transfers.register_mobile_out(
        actor=people["alice"],
        member=roster["wang"],
        destination="深圳市",
        since=today() - datetime.timedelta(days=20),
    )
    dissolve_a(people, tree)
    stay.refresh_from_db()
    assert (stay.state, stay.home_org_id) == ("active", tree["branch_b"].pk)
    [event] = AuditEvent.objects.filter(action="mobile.move", object_id=str(stay.pk))
    assert (event.before, event.after) == (
        {"home_org": tree["branch_a"].pk},
        {"home_org": tree["branch_b"].pk},
    )
    # B sees the stay among its members away.
    from dangjian.transfers import selectors as transfer_selectors

    assert stay.pk in {s.pk for s in transfer_selectors.mobile_out(people["bob"])}


def test_restructuring_still_dissolves(people, tree, roster):
    """committees.restructure.dissolve moves the guests itself, then calls the core service."""
    transfers.register_mobile_in(
        actor=people["alice"], host_org=tree["branch_a"], person_name="周九", home_text="外省某支部"
    )
    committees.record_term(
        actor=people["alice"], org=tree["branch_a"], form="secretary", elected_on=D("2024-03-01")
    )
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    restructure.dissolve(
        actor=people["oscar"], org=fresh(tree["branch_a"]), move_members_to=tree["branch_b"]
    )
    assert fresh(tree["branch_a"]).status == OrgStatus.DISSOLVED
    assert MobileStay.objects.get(person_name="周九").host_org_id == tree["branch_b"].pk
    assert not Term.objects.filter(organization=tree["branch_a"], ended_on__isnull=True).exists()
    assert AuditEvent.objects.filter(action="term.end").count() == 1


# Through the page and the API ------------------------------------------------------------------


def test_the_page_shows_why(people, tree, roster, client_for):
    transfers.start_transfer(actor=people["alice"], member=roster["zhang"], to_org=tree["branch_b"])
    services.dissolve_organization(actor=people["oscar"], org=tree["group_a"])
    before = state()
    response = client_for(people["oscar"]).post(
        reverse("core:org_dissolve", args=[tree["branch_a"].pk]),
        {"on": today().isoformat(), "move_members_to": "B02"},
    )
    assert response.status_code == 200
    [message] = response.context["form"].non_field_errors()
    assert "1" in message
    assert state() == before


def test_the_api_answers_the_code(people, tree, roster):
    from tests.members.test_api import ApiClient, assert_error

    oscar = ApiClient(people["oscar"])
    transfers.register_mobile_in(
        actor=people["bob"], host_org=tree["branch_b"], person_name="周九", home_text="外省某支部"
    )
    before = state()
    assert_error(
        oscar.post(f"/api/v1/orgs/{tree['branch_b'].pk}/dissolve", {"move_members_to": 0}),
        422,
        "invalid",
        "move_members_to",
    )
    assert_error(
        oscar.post(
            f"/api/v1/orgs/{tree['branch_b'].pk}/dissolve",
            {"move_members_to": tree["branch_a"].pk},
        ),
        400,
        "guests_present",
    )
    assert state() == before
