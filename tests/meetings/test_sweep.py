"""Reminders of organisational life (meetings.sweep.remind_due): within the lead time before a
required period ends, the people who record meetings at a branch that has held nothing yet are
told once; once more when the period ended without; never where something was held, nor where
nobody could act on it. The days are in last year, so every meeting recorded is in the past."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.core import services as core_services
from dangjian.core.models import Notification
from dangjian.meetings import services, sweep

YEAR = timezone.localdate().year - 1
FEB_25 = datetime.date(YEAR, 2, 25)  # February ends within 7 days; no quarter, half or year does
MAR_03 = datetime.date(YEAR, 3, 3)  # February ended 3 days ago


def told(user) -> list[str]:
    return sorted(
        Notification.objects.filter(user=user, kind=sweep.KIND).values_list("key", flat=True)
    )


def hold(people, org, activity_type, day: datetime.date):
    meeting = services.schedule(
        actor=people["alice"] if org.code == "B01" else people["bob"],
        organization=org,
        activity_type=activity_type,
        topic="按时召开",
        starts_at=timezone.make_aware(datetime.datetime(day.year, day.month, day.day, 9)),
    )
    return services.mark_held(actor=people["oscar"], meeting=meeting)


def keys(stage, org, types, *codes, frequency="month", start=datetime.date(YEAR, 2, 1)):
    """MEETING, the stage, the frequency, the period's first day, O + organisation, T + type."""
    return sorted(
        f"MEETING{stage.upper()}{frequency.upper()}{start:%Y%m%d}O{org.pk}T{types[c].pk}"
        for c in codes
    )


@pytest.mark.django_db
def test_a_branch_that_held_nothing_is_reminded_once(people, tree, types):
    assert sweep.remind_due(FEB_25) == 4  # alice and bob, committee meeting and theme day each
    assert told(people["alice"]) == keys(
        "due", tree["branch_a"], types, "committee_meeting", "theme_day"
    )
    assert told(people["bob"]) == keys(
        "due", tree["branch_b"], types, "committee_meeting", "theme_day"
    )
    assert told(people["oscar"]) == []  # the township's administrator is not the branch's
    note = Notification.objects.filter(user=people["alice"]).order_by("key").first()
    assert tree["branch_a"].name in note.title
    assert str(YEAR) in note.title and f"{YEAR}-02-28" in note.title
    assert note.url == f"/meetings/compliance/?org={tree['branch_a'].pk}&year={YEAR}"
    # not again, that day or the next
    assert sweep.remind_due(FEB_25) == 0
    assert sweep.remind_due(FEB_25 + datetime.timedelta(days=1)) == 0
    assert Notification.objects.filter(kind=sweep.KIND).count() == 4


@pytest.mark.django_db
def test_not_before_the_lead_time(people, tree, types, settings):
    assert sweep.remind_due(datetime.date(YEAR, 2, 20)) == 0  # 8 days before the end
    settings.MEETING_LEAD_DAYS = 2
    assert sweep.remind_due(FEB_25) == 0  # 3 days before
    settings.MEETING_LEAD_DAYS = 3
    assert sweep.remind_due(FEB_25) == 4


@pytest.mark.django_db
def test_not_for_what_was_held(people, tree, types):
    hold(people, tree["branch_a"], types["committee_meeting"], datetime.date(YEAR, 2, 10))
    sweep.remind_due(FEB_25)
    assert told(people["alice"]) == keys("due", tree["branch_a"], types, "theme_day")
    # once the theme day is held too, the overdue reminder says nothing of either
    hold(people, tree["branch_a"], types["theme_day"], datetime.date(YEAR, 2, 26))
    sweep.remind_due(MAR_03)
    assert told(people["alice"]) == keys("due", tree["branch_a"], types, "theme_day")
    assert told(people["bob"]) == sorted(
        keys("due", tree["branch_b"], types, "committee_meeting", "theme_day")
        + keys("overdue", tree["branch_b"], types, "committee_meeting", "theme_day")
    )


@pytest.mark.django_db
def test_an_overdue_period_is_told_once_more(people, tree, types):
    sweep.remind_due(FEB_25)
    assert sweep.remind_due(MAR_03) == 4
    assert told(people["alice"]) == sorted(
        keys("due", tree["branch_a"], types, "committee_meeting", "theme_day")
        + keys("overdue", tree["branch_a"], types, "committee_meeting", "theme_day")
    )
    overdue = Notification.objects.filter(
        user=people["alice"], key__startswith="MEETINGOVERDUE"
    ).first()
    assert f"{YEAR}-02-28" in overdue.title
    assert sweep.remind_due(MAR_03) == 0
    assert sweep.remind_due(datetime.date(YEAR, 3, 5)) == 0
    # and no more once the lead time after the end has passed
    assert sweep.remind_due(datetime.date(YEAR, 3, 15)) == 0


@pytest.mark.django_db
def test_a_quarter_and_the_year_at_the_end_of_december(people, tree, types):
    sent = sweep.remind_due(datetime.date(YEAR, 12, 28))
    codes = {key.rsplit("T", 1)[1] for key in told(people["alice"])}
    assert codes == {
        str(types[c].pk)
        for c in (
            "committee_meeting",
            "theme_day",
            "general_meeting",
            "lecture",
            "life_meeting",
            "appraisal",
            "talks",
        )
    }
    assert sent == 2 * 7


@pytest.mark.django_db
def test_nobody_to_tell_nothing_sent(people, tree, types, admin):
    """Party group A has nobody who records meetings; bob's account is switched off; a branch
    set up after the period ended owes nothing for it."""
    people["bob"].is_active = False
    people["bob"].save(update_fields=["is_active"])
    late = core_services.create_organization(
        actor=admin, parent=tree["town"], code="B03", name="新建支部", kind="branch"
    )
    late.established_on = datetime.date(YEAR, 3, 1)
    late.save(update_fields=["established_on"])
    core_services.assign_role(actor=admin, user=people["oscar"], org=late, role="secretary")
    assert sweep.remind_due(MAR_03) == 2  # branch A's two overdue activities only
    assert {n.user_id for n in Notification.objects.filter(kind=sweep.KIND)} == {people["alice"].pk}
    assert not Notification.objects.filter(key__contains=f"O{tree['group_a'].pk}T").exists()


@pytest.mark.django_db
def test_a_local_rule_changes_what_is_due(people, tree, types):
    services.set_frequency_rule(
        actor=people["oscar"],
        organization=tree["town"],
        activity_type=types["lecture"],
        frequency="month",
        note="每月一次党课",
    )
    sweep.remind_due(FEB_25)
    assert told(people["alice"]) == keys(
        "due", tree["branch_a"], types, "committee_meeting", "theme_day", "lecture"
    )


@pytest.mark.django_db
def test_the_number_of_queries_does_not_grow_with_the_branches(
    people, tree, types, admin, make_user
):
    def queries(day):
        with CaptureQueriesContext(connection) as captured:
            sweep.remind_due(day)
        return len(captured)

    few = queries(FEB_25), queries(MAR_03)
    for n in range(3, 9):
        branch = core_services.create_organization(
            actor=admin, parent=tree["town"], code=f"B0{n}", name=f"第{n}支部", kind="branch"
        )
        core_services.assign_role(
            actor=admin, user=make_user(f"secretary{n}"), org=branch, role="secretary"
        )
    Notification.objects.filter(kind=sweep.KIND).delete()
    many = queries(FEB_25), queries(MAR_03)
    assert Notification.objects.filter(kind=sweep.KIND).count() == 8 * 2 * 2
    assert many == few
