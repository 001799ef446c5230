"""A member admitted outside the platform who arrives with an introduction letter: the timeline
starts with an admission elsewhere and a transfer in, so past dates do not place them here."""

import datetime

import pytest

from dangjian.core.errors import ValidationFailed
from dangjian.members import selectors, services
from dangjian.members.models import StandingEvent
from tests.idnumbers import make_id

pytestmark = pytest.mark.django_db

ARRIVED = datetime.date(2024, 3, 1)


def arrive(admin, org, **extra):
    data = {
        "name": "孙八",
        "id_number": make_id("1988-02-02", 1, seq=77),
        "joined_on": datetime.date(2012, 7, 1),
        "full_on": datetime.date(2013, 7, 1),
        "category": "full",
    }
    return services.create_member(
        actor=admin,
        organization=org,
        data=data,
        arrived_on=extra.pop("arrived_on", ARRIVED),
        arrived_from="外县委组织部",
        reference="2024-0042",
    )


def test_timeline_says_admitted_elsewhere_then_transferred_in(admin, tree):
    member = arrive(admin, tree["branch_a"])
    kinds = list(StandingEvent.objects.filter(member=member).values_list("kind", "organization_id"))
    assert kinds == [
        ("admitted", None),
        ("became_full", None),
        ("transferred_in", tree["branch_a"].pk),
    ]
    assert member.organization_id == tree["branch_a"].pk
    assert member.category == "full" and member.status == "active"


def test_not_counted_here_before_arrival(admin, tree):
    member = arrive(admin, tree["branch_a"])
    before = selectors.members_as_of(admin, datetime.date(2023, 12, 31))
    after = selectors.members_as_of(admin, datetime.date(2024, 12, 31))
    assert member.pk not in set(before.values_list("pk", flat=True))
    assert member.pk in set(after.values_list("pk", flat=True))


def test_later_events_keep_the_organisation(admin, tree):
    member = arrive(admin, tree["branch_a"])
    services.record_event(
        actor=admin, member=member, kind="lost_contact", on=datetime.date(2025, 1, 5)
    )
    member.refresh_from_db()
    assert member.organization_id == tree["branch_a"].pk
    assert member.full_on == datetime.date(2013, 7, 1)
    assert member.out_of_contact


def test_arrival_before_joining_is_refused(admin, tree):
    with pytest.raises(ValidationFailed) as exc:
        arrive(admin, tree["branch_a"], arrived_on=datetime.date(2010, 1, 1))
    assert exc.value.code == "arrival_date"
