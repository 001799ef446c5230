"""Reminders of organisational life (组织生活提醒): an organisation that has held nothing yet of a
required activity hears it within DANGJIAN_MEETING_LEAD_DAYS days of the end of the period, and
once more within as many days after the period ended without it (so a new installation does not
remind of periods long gone). The people told are those who may record meetings there (secretary,
committee members, organisation administrators of that very organisation); an organisation
without them gets nothing.

One pass: the role holders with their organisations, the local rules and the month tallies of the
periods concerned are read once each, whatever the number of branches; keys already sent are
looked up a thousand at a time. Sent once per person, organisation, activity, period and stage
(core.Notification.key), however often and on however many workers the sweep runs.
"""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import permissions
from dangjian.core.models import Notification, OrgStatus, RoleAssignment

from . import rules
from .display import period_label
from .models import FrequencyRule, MonthTally
from .selectors import active_types, frequency_for
from .services import MANAGE, type_name

KIND = "meeting_due"
CHUNK = 1000
FREQUENCIES = (rules.MONTH, rules.QUARTER, rules.HALF, rules.YEAR)


def targets(today: datetime.date, lead: int) -> list[tuple[str, rules.Period, str]]:
    """(frequency, period, stage) the sweep looks at today: the period that ends within `lead`
    days (stage due) and the one that ended at most `lead` days ago (stage overdue)."""
    found = []
    for frequency in FREQUENCIES:
        for year in (today.year - 1, today.year):
            for period in rules.periods(frequency, year):
                if period.start <= today <= period.end and (period.end - today).days <= lead:
                    found.append((frequency, period, rules.DUE))
                elif period.end < today and (today - period.end).days <= lead:
                    found.append((frequency, period, rules.OVERDUE))
    return found


def _key(stage: str, org_id: int, type_id: int, frequency: str, period: rules.Period) -> str:
    return f"meeting:{stage}:{org_id}:{type_id}:{frequency}:{period.start.isoformat()}"


def remind_due(today: datetime.date | None = None) -> int:
    """Send the reminders due today; returns how many people were told now."""
    today = today or timezone.localdate()
    lead = settings.MEETING_LEAD_DAYS
    wanted = targets(today, lead)
    if not wanted:
        return 0
    types = active_types()
    kinds = set().union(*(t.kind_set for t in types)) if types else set()
    roles = [r for r in permissions.ROLES if MANAGE in permissions.actions_of(r)]
    # The people of each organisation, and the organisations (one query).
    people: dict[int, set[int]] = defaultdict(set)
    orgs = {}
    for org_id, path, name, kind, since, user_id in RoleAssignment.objects.filter(
        role__in=roles,
        user__is_active=True,
        organization__status=OrgStatus.ACTIVE,
        organization__kind__in=kinds,
    ).values_list(
        "organization_id",
        "organization__path",
        "organization__name",
        "organization__kind",
        "organization__established_on",
        "user_id",
    ):
        people[org_id].add(user_id)
        orgs[org_id] = (path, name, kind, since)
    if not orgs:
        return 0
    local = {
        (path, type_id): freq
        for path, type_id, freq in FrequencyRule.objects.values_list(
            "organization__path", "activity_type_id", "frequency"
        )
    }
    # Which types each target can concern (their own frequency, or one a local rule sets).
    frequencies_of = defaultdict(set)
    for t in types:
        frequencies_of[t.pk].add(t.frequency)
    for (_path, type_id), freq in local.items():
        frequencies_of[type_id].add(freq)
    condition = Q()
    for frequency, period, _stage in wanted:
        type_ids = [t.pk for t in types if frequency in frequencies_of[t.pk]]
        if type_ids:
            condition |= Q(
                year=period.start.year,
                month__gte=period.start.month,
                month__lte=period.end.month,
                activity_type_id__in=type_ids,
            )
    held = set()
    if condition:
        held = set(
            MonthTally.objects.filter(condition, held__gt=0).values_list(
                "organization_id", "activity_type_id", "year", "month"
            )
        )

    by_frequency = defaultdict(list)
    for frequency, period, stage in wanted:
        by_frequency[frequency].append((period, stage))
    rows = []
    for org_id, (path, name, kind, since) in orgs.items():
        for t in types:
            if kind not in t.kind_set:
                continue
            frequency = frequency_for(path, t, local) if local else t.frequency
            for period, stage in by_frequency.get(frequency, ()):
                year = period.start.year
                count = sum((org_id, t.pk, year, m) in held for m in period.months)
                if rules.period_state(period, count, today, since) != stage:
                    continue
                rows += _notices(stage, org_id, name, t, frequency, period, people[org_id])
    return _send_new(rows)


def _notices(stage, org_id, name, activity_type, frequency, period, users) -> list:
    values = {
        "org": name,
        "activity": type_name(activity_type),
        "period": period_label(frequency, period),
        "day": period.end.isoformat(),
    }
    if stage == rules.OVERDUE:
        title = _("%(org)s: %(activity)s of %(period)s was not held (the period ended %(day)s)")
    else:
        title = _("%(org)s: %(activity)s of %(period)s not held yet (the period ends %(day)s)")
    title = (title % values)[:200]
    url = f"{reverse('meetings:compliance')}?org={org_id}&year={period.start.year}"
    key = _key(stage, org_id, activity_type.pk, frequency, period)
    return [
        Notification(user_id=user_id, kind=KIND, key=key, title=title, url=url)
        for user_id in sorted(users)
    ]


def _send_new(rows: list[Notification]) -> int:
    """Create the notifications not sent before; count only those (bulk_create with
    ignore_conflicts returns every row, inserted or not; the constraint settles a race)."""
    keys = sorted({n.key for n in rows})
    known = set()
    for at in range(0, len(keys), CHUNK):
        known |= set(
            Notification.objects.filter(key__in=keys[at : at + CHUNK]).values_list("user_id", "key")
        )
    rows = [n for n in rows if (n.user_id, n.key) not in known]
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
    return len(rows)
