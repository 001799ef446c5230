"""Demo organisational life for `dangjian seed` (make run): the two demo branches' meetings of
this year through the services (held ones with attendance, minutes and a vote; next ones
planned with a notice; an appraisal), and for every other organisation month tallies written in
bulk, most periods done and some missed, so the county's heat map has something to show.
"""

import datetime
import random

from django.db import transaction
from django.utils import timezone

from dangjian.core.models import Organization, OrgStatus

from . import rules, selectors, services
from .models import ActivityType, Attendee, AttendeeState, MonthTally

DONE_SHARE = (0.7, 0.98)  # each organisation's share of past periods held


def _tallies(today: datetime.date, rng: random.Random, skip: set[int]) -> int:
    types = selectors.active_types()
    rows = []
    orgs = Organization.objects.filter(status=OrgStatus.ACTIVE).exclude(pk__in=skip)
    for org in orgs.only("pk", "path", "kind"):
        share = rng.uniform(*DONE_SHARE)
        for t in types:
            if org.kind not in t.kind_set or t.frequency == rules.NONE:
                continue
            for period in rules.periods(t.frequency, today.year):
                if period.start > today or rng.random() > share:
                    continue
                month = rng.choice([m for m in period.months if m <= today.month])
                rows.append(
                    MonthTally(
                        organization_id=org.pk,
                        org_path=org.path,
                        activity_type=t,
                        year=today.year,
                        month=month,
                        held=1,
                    )
                )
    MonthTally.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def _at(day: datetime.date, hour: int) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day, hour))


def seed_meetings(users: dict, a_id: int, b_id: int, today: datetime.date, *, seed: int) -> dict:
    rng = random.Random(seed + 11)
    sec_a, sec_b = users.get("secretary_a"), users.get("secretary_b")
    if not (sec_a and sec_b):
        return {}
    types = {t.code: t for t in ActivityType.objects.all()}
    held = planned = 0
    with transaction.atomic():
        for org_id, actor in ((a_id, sec_a), (b_id, sec_b)):
            org = Organization.objects.get(pk=org_id)
            # This year's months so far: a committee meeting and a theme day each month (one
            # month missed in branch B), a general meeting and a lecture each quarter.
            for month in range(1, today.month + 1):
                plan = [
                    ("committee_meeting", 5, "支委会：研究本月工作"),
                    ("theme_day", 20, "主题党日"),
                ]
                if month % 3 == 1:
                    plan += [("general_meeting", 12, "支部党员大会"), ("lecture", 25, "党课")]
                for code, day, topic in plan:
                    when = datetime.date(today.year, month, day)
                    if when >= today or (org_id == b_id and month == max(1, today.month - 2)):
                        continue
                    meeting = services.schedule(
                        actor=actor,
                        organization=org,
                        activity_type=types[code],
                        topic=topic,
                        starts_at=_at(when, 14),
                        place="党员活动室",
                        lecturer="支部书记" if code == "lecture" else "",
                        lecture_title="学习党章党规" if code == "lecture" else "",
                    )
                    states = {
                        a.pk: (
                            AttendeeState.PRESENT if rng.random() < 0.85 else AttendeeState.LEAVE
                        )
                        for a in Attendee.objects.filter(meeting=meeting)
                    }
                    services.set_attendance(actor=actor, meeting=meeting, states=states)
                    services.save_minutes(
                        actor=actor,
                        meeting=meeting,
                        html="<p>会议传达学习了上级精神，研究部署了本月工作。</p>",
                    )
                    if types[code].votes:
                        facts = services.summary(meeting)
                        services.add_resolution(
                            actor=actor,
                            meeting=meeting,
                            title="通过本季度工作安排",
                            yes=facts["voting_present"],
                            no=0,
                            abstain=0,
                        )
                    services.mark_held(actor=actor, meeting=meeting)
                    held += 1
            # The rest of the year planned in one step, and the next meeting announced.
            made = services.plan_year(actor=actor, organization=org, year=today.year)
            planned += len(made)
            if made:
                services.send_notice(actor=actor, meeting=made[0])
        tallies = _tallies(today, rng, skip={a_id, b_id})
    return {"meetings_held": held, "meetings_planned": planned, "month_tallies": tallies}
