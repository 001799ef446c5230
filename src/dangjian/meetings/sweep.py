"""Reminders of organisational life (组织生活提醒): an organisation that has held nothing yet of a
required activity hears it within DANGJIAN_MEETING_LEAD_DAYS days of the end of the period, and
once more within as many days after the period ended without it (so a new installation does not
remind of periods long gone). The people told are those who may record meetings there (secretary,
committee members, organisation administrators of that very organisation); an organisation
without them gets nothing.

One pass: the role holders with their organisations, the local rules and the month tallies of the
periods concerned are read once each, whatever the number of branches; then, per period looked
at (at most eight), the keys already sent (one index range) and the new notifications in
batches. Sent once per person, organisation, activity, period and stage (core.Notification.key),
however often and on however many workers the sweep runs.
"""

import datetime
from collections import defaultdict

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import permissions
from dangjian.core.models import Notification, Organization, OrgStatus, RoleAssignment

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


def key_prefix(stage: str, frequency: str, period: rules.Period) -> str:
    """What the keys of one period's reminders begin with. Keys use only 0-9 and A-Z, so the
    reminders already sent for a period are one index range on any collation (as organisation
    paths are, core.selectors.subtree_range)."""
    return f"MEETING{stage.upper()}{frequency.upper()}{period.start:%Y%m%d}"


def key(stage: str, org_id: int, type_id: int, frequency: str, period: rules.Period) -> str:
    return f"{key_prefix(stage, frequency, period)}O{org_id}T{type_id}"


def remind_due(today: datetime.date | None = None) -> int:
    """Send the reminders due today; returns how many people were told now."""
    today = today or timezone.localdate()
    lead = settings.MEETING_LEAD_DAYS
    wanted = targets(today, lead)
    if not wanted:
        return 0
    types = active_types()
    kinds = {t.pk: t.kind_set for t in types}
    roles = [r for r in permissions.ROLES if MANAGE in permissions.actions_of(r)]
    # The people of each organisation, and the organisations (one query).
    people: dict[int, set[int]] = defaultdict(set)
    orgs = {}
    for org_id, path, name, kind, since, user_id in RoleAssignment.objects.filter(
        role__in=roles,
        user__is_active=True,
        organization__status=OrgStatus.ACTIVE,
        organization__kind__in=set().union(*kinds.values()) if kinds else [],
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
    held = _held_in(wanted, types, local)

    # What is owed: for each period looked at, the organisations and types that held nothing.
    by_frequency = defaultdict(list)
    for i, (frequency, period, stage) in enumerate(wanted):
        by_frequency[frequency].append((i, period, stage))
    owed = defaultdict(list)
    # A frequency depends on the type and the local rules on the organisation's path only.
    ruled = {path for path, _type_id in local}
    step = Organization.steplen
    frequencies = {}
    for org_id, (path, _name, kind, since) in orgs.items():
        rules_above = tuple(
            path[:end] for end in range(step, len(path) + 1, step) if path[:end] in ruled
        )
        for t in types:
            if kind not in kinds[t.id]:
                continue
            frequency = frequencies.get((rules_above, t.id))
            if frequency is None:
                frequency = frequencies[(rules_above, t.id)] = frequency_for(path, t, local)
            for i, period, stage in by_frequency.get(frequency, ()):
                count = (org_id, t.id) in held[i]
                if rules.period_state(period, count, today, since) == stage:
                    owed[i].append((org_id, t))

    url = reverse("meetings:compliance")
    names = {t.pk: type_name(t) for t in types}
    sent = 0
    for i, pairs in owed.items():
        frequency, period, stage = wanted[i]
        prefix = key_prefix(stage, frequency, period)
        known = {
            (user_id, k)
            for user_id, k in Notification.objects.filter(
                key__gte=prefix, key__lte=prefix + "Z" * (128 - len(prefix))
            ).values_list("user_id", "key")
            if k.startswith(prefix)
        }
        values = {"period": period_label(frequency, period), "day": period.end.isoformat()}
        if stage == rules.OVERDUE:
            title = _("%(org)s: %(activity)s of %(period)s was not held (the period ended %(day)s)")
        else:
            title = _("%(org)s: %(activity)s of %(period)s not held yet (the period ends %(day)s)")
        rows = []
        for org_id, t in pairs:
            k = f"{prefix}O{org_id}T{t.pk}"  # key(stage, org_id, t.pk, frequency, period)
            users = sorted(u for u in people[org_id] if (u, k) not in known)
            if not users:
                continue
            text = title % {**values, "org": orgs[org_id][1], "activity": names[t.pk]}
            link = f"{url}?org={org_id}&year={period.start.year}"
            rows += [
                Notification(user_id=u, kind=KIND, key=k, title=text[:200], url=link) for u in users
            ]
        # The constraint (user, key) settles a race between two workers.
        Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
        sent += len(rows)
    return sent


def _held_in(wanted, types, local) -> list[set]:
    """For each period looked at, the (organisation, type) pairs that held something in it:
    one query over the month tallies of those periods (the types that can be due at that
    frequency only)."""
    frequencies_of = defaultdict(set)
    for t in types:
        frequencies_of[t.pk].add(t.frequency)
    for (_path, type_id), freq in local.items():
        frequencies_of[type_id].add(freq)
    condition = Q()
    in_month = defaultdict(list)  # (year, month) -> the periods looked at that it falls in
    for i, (frequency, period, _stage) in enumerate(wanted):
        type_ids = [t.pk for t in types if frequency in frequencies_of[t.pk]]
        if type_ids:
            condition |= Q(
                year=period.start.year,
                month__gte=period.start.month,
                month__lte=period.end.month,
                activity_type_id__in=type_ids,
            )
        for month in period.months:
            in_month[(period.start.year, month)].append(i)
    held = [set() for _ in wanted]
    if condition:
        for org_id, type_id, year, month in MonthTally.objects.filter(
            condition, held__gt=0
        ).values_list("organization_id", "activity_type_id", "year", "month"):
            for i in in_month.get((year, month), ()):
                held[i].add((org_id, type_id))
    return held
