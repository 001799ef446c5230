"""Re-election reminders (committees.reminders): the organisation's officers and the committee
above hear once per term and stage (due, then overdue), never a sibling branch."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from dangjian.committees import services
from dangjian.committees.reminders import send_reelection_reminders
from dangjian.core import services as core_services
from dangjian.core.models import Notification
from dangjian.core.rules import add_years

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def elected_for_due_in(days: int) -> datetime.date:
    """The election day of a branch term (3 years) whose re-election is due in `days`."""
    return add_years(TODAY() + datetime.timedelta(days=days), -3)


def recipients(**filters) -> list[str]:
    return sorted(
        Notification.objects.filter(kind="reelection", **filters).values_list(
            "user__username", flat=True
        )
    )


@pytest.fixture
def others(tree, make_user, admin):
    """carol: organisation administrator of the county (two levels above A); dave: a committee
    member of A without the right to record officers."""
    carol = make_user("carol")
    dave = make_user("dave")
    core_services.assign_role(actor=admin, user=carol, org=tree["county"], role="org_admin")
    core_services.assign_role(actor=admin, user=dave, org=tree["branch_a"], role="committee_member")
    return {"carol": carol, "dave": dave}


@pytest.fixture
def due_a(people, tree):
    return services.record_term(
        actor=people["alice"],
        org=tree["branch_a"],
        form="committee",
        elected_on=elected_for_due_in(30),
    )


def test_the_branch_officers_and_the_committee_above_are_reminded(people, tree, others, due_a):
    assert send_reelection_reminders() == 2
    assert recipients() == ["alice", "oscar"]  # not bob (sibling), carol, dave nor root
    n = Notification.objects.get(user=people["alice"])
    assert tree["branch_a"].name in n.title and due_a.due_on.isoformat() in n.title
    assert n.url == reverse("committees:org", args=[tree["branch_a"].pk])
    assert n.key == f"reelection:{due_a.pk}:{due_a.due_on.isoformat()}:due"


def test_once_per_term_and_stage(due_a):
    assert send_reelection_reminders() == 2
    assert send_reelection_reminders() == 0
    assert Notification.objects.count() == 2
    overdue_day = due_a.due_on + datetime.timedelta(days=1)
    assert send_reelection_reminders(overdue_day) == 2
    assert send_reelection_reminders(overdue_day + datetime.timedelta(days=7)) == 0
    stages = sorted(Notification.objects.values_list("key", flat=True))
    assert [k.rsplit(":", 1)[1] for k in stages] == ["due", "due", "overdue", "overdue"]


def test_a_moved_due_date_is_reminded_again(people, due_a):
    send_reelection_reminders()
    services.shift_due_date(
        actor=people["oscar"],
        term=due_a,
        due_on=due_a.due_on + datetime.timedelta(days=20),
        reason="与社区换届同步",
    )
    assert send_reelection_reminders() == 2
    assert Notification.objects.count() == 4


def test_a_term_beyond_the_lead_time_is_not_reminded_yet(people, tree, settings):
    settings.REELECTION_LEAD_DAYS = 20
    services.record_term(
        actor=people["bob"],
        org=tree["branch_b"],
        form="committee",
        elected_on=elected_for_due_in(30),
    )
    assert send_reelection_reminders() == 0
    settings.REELECTION_LEAD_DAYS = 40
    assert send_reelection_reminders() == 2
    assert recipients() == ["bob", "oscar"]


def test_an_ended_term_is_not_reminded(people, tree, due_a):
    services.record_term(
        actor=people["alice"], org=tree["branch_a"], form="committee", elected_on=TODAY()
    )
    assert send_reelection_reminders() == 0


def test_a_dissolved_organisation_is_not_reminded(people, tree, admin):
    c = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="南街社区党支部", kind="branch"
    )
    services.record_term(actor=admin, org=c, form="secretary", elected_on=elected_for_due_in(10))
    core_services.dissolve_organization(actor=admin, org=c)
    assert send_reelection_reminders() == 0


def test_inactive_accounts_are_not_reminded(people, due_a):
    people["alice"].is_active = False
    people["alice"].save()
    assert send_reelection_reminders() == 1
    assert recipients() == ["oscar"]


def test_every_batch_is_sent(people, tree, due_a):
    services.record_term(
        actor=people["bob"],
        org=tree["branch_b"],
        form="committee",
        elected_on=elected_for_due_in(5),
    )
    assert send_reelection_reminders(batch=1) == 4
    assert recipients() == ["alice", "bob", "oscar", "oscar"]
