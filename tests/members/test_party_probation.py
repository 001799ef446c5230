"""Party probation (留党察看): a state of the timeline; such a member keeps membership but does
not vote (DOMAIN §4) and cannot hold office."""

import datetime

import pytest
from django.urls import reverse

from dangjian.committees import services as committee_services
from dangjian.core import rules as core_rules
from dangjian.core.errors import ValidationFailed
from dangjian.members import rules, selectors, services

D = datetime.date


def ev(kind, on, org=None):
    return rules.Event(kind=kind, on=on, organization_id=org)


TIMELINE = [
    ev(rules.ADMITTED, D(2010, 7, 1), 1),
    ev(rules.BECAME_FULL, D(2011, 7, 1)),
    ev(rules.PARTY_PROBATION, D(2024, 3, 1)),
    ev(rules.PARTY_PROBATION_ENDED, D(2025, 3, 1)),
]


@pytest.mark.parametrize(
    ("on", "probation", "votes"),
    [
        (D(2010, 12, 31), False, False),  # probationary member: no vote
        (D(2023, 12, 31), False, True),
        (D(2024, 3, 1), True, False),
        (D(2025, 2, 28), True, False),
        (D(2025, 3, 1), False, True),
    ],
)
def test_state_on_a_day(on, probation, votes):
    state = rules.derive(TIMELINE, on)
    assert state.party_probation is probation
    assert state.votes is votes


@pytest.mark.parametrize(
    ("events", "code"),
    [
        (TIMELINE[:3] + [ev(rules.PARTY_PROBATION, D(2024, 6, 1))], "already_party_probation"),
        (TIMELINE[:2] + [ev(rules.PARTY_PROBATION_ENDED, D(2024, 6, 1))], "not_party_probation"),
    ],
    ids=["twice", "ended-without-start"],
)
def test_timeline_refuses_nonsense(events, code):
    with pytest.raises(rules.TimelineError) as exc:
        rules.validate(events)
    assert exc.value.code == code


@pytest.mark.django_db
def test_voting_members_and_the_domain_example(admin, tree, make_member):
    """36 full members, one under Party probation, 4 probationary -> 35 voting (DOMAIN §4)."""
    a = tree["branch_a"]
    full = [make_member(a, f"党员{i:02d}", birth="1980-01-01") for i in range(36)]
    for i in range(4):
        make_member(a, f"预备{i}", birth="1995-01-01", joined_on="2026-01-05", full_on=None)
    services.record_event(actor=admin, member=full[0], kind=rules.PARTY_PROBATION, on=D(2026, 2, 1))
    full[0].refresh_from_db()
    assert full[0].party_probation
    voting = selectors.voting_members(a).count()
    assert voting == 35
    assert core_rules.meeting_is_valid(voting, 18) and not core_rules.meeting_is_valid(voting, 17)
    assert core_rules.resolution_passes(voting, 20, 18)
    assert not core_rules.resolution_passes(voting, 20, 17)
    # The election form proposes the voting members as the voters expected.
    client_html = reverse("committees:election_new", args=[a.pk])
    from django.test import Client

    c = Client()
    c.force_login(admin)
    page = c.get(client_html).content.decode()
    assert 'name="voters_expected"' in page and 'value="35"' in page
    # And someone under Party probation cannot be appointed.
    with pytest.raises(ValidationFailed) as exc:
        committee_services.appoint(
            actor=admin, org=a, member=full[0], position="secretary", started_on=D(2026, 3, 1)
        )
    assert exc.value.code == "not_eligible"
