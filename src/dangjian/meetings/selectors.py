"""Every read of organisational life, scoped to the user: meetings, the activities an
organisation must hold and at what frequency (local rules resolved), compliance per period, the
heat map of a committee's branches, and a member's own meetings and class hours.

Compliance reads `MonthTally` (meetings held per organisation, type and month), so a committee's
heat map costs one query over small rows whatever the number of meetings.
"""

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connections
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from dangjian.core import selectors
from dangjian.core.errors import NotFound
from dangjian.core.models import Organization, OrgStatus

from . import rules
from .models import ActivityType, Attendee, FrequencyRule, Meeting, MeetingStatus, MonthTally

VIEW = "meeting.view"


def meetings(user, action: str = VIEW) -> QuerySet:
    qs = Meeting.objects.select_related("organization", "activity_type")
    return selectors.restrict(qs, user, action, path_field="org_path")


def get_meeting(user, pk, action: str = VIEW) -> Meeting:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("meeting not found") from None
    if not 0 < pk < 2**63:
        raise NotFound("meeting not found")
    found = meetings(user, action).filter(pk=pk).first()
    if found is None:
        raise NotFound("meeting not found")
    return found


def meeting_list(
    user,
    *,
    org: Organization | None = None,
    activity_type: ActivityType | None = None,
    status: str = "",
    since: datetime.date | None = None,
    until: datetime.date | None = None,
    text: str = "",
) -> QuerySet:
    qs = meetings(user)
    if org is not None:
        qs = qs.filter(selectors.subtree_range("org_path", org.path))
    if activity_type is not None:
        qs = qs.filter(activity_type=activity_type)
    if status in MeetingStatus.values:
        qs = qs.filter(status=status)
    if since is not None:
        qs = qs.filter(starts_at__date__gte=since)
    if until is not None:
        qs = qs.filter(starts_at__date__lte=until)
    text = " ".join(str(text or "").split())[:100]
    if text:
        qs = qs.filter(Q(topic__icontains=text) | Q(lecture_title__icontains=text))
    return qs.order_by("-starts_at", "-id")


def month_meetings(org: Organization, year: int, month: int) -> QuerySet:
    """An organisation's meetings (its subtree's) in one month, for the calendar; the caller
    has checked the scope."""
    return (
        Meeting.objects.filter(selectors.subtree_range("org_path", org.path))
        .filter(starts_at__year=year, starts_at__month=month)
        .select_related("organization", "activity_type")
        .order_by("starts_at", "id")
    )


# What an organisation must hold ------------------------------------------------------------------


def active_types() -> list[ActivityType]:
    return list(ActivityType.objects.filter(active=True).order_by("order", "id"))


def _local_rules(paths: list[str]) -> dict[tuple[str, int], str]:
    """(organisation path, type id) -> frequency for the local rules at these organisations."""
    return {
        (path, type_id): freq
        for path, type_id, freq in FrequencyRule.objects.filter(
            organization__path__in=paths
        ).values_list("organization__path", "activity_type_id", "frequency")
    }


def rules_in_force(org: Organization) -> dict[int, FrequencyRule]:
    """Type id -> the local rule that decides the type's frequency at `org`: the deepest at or
    above it (one query; the pages that say where a frequency comes from read this)."""
    found = {}
    for rule in FrequencyRule.objects.filter(
        organization__path__in=org.ancestor_paths()
    ).select_related("organization"):
        held = found.get(rule.activity_type_id)
        if held is None or len(rule.organization.path) > len(held.organization.path):
            found[rule.activity_type_id] = rule
    return found


def frequency_for(org_path: str, activity_type: ActivityType, local: dict) -> str:
    """The deepest local rule at or above the organisation, else the type's own frequency."""
    step = Organization.steplen
    for end in range(len(org_path), 0, -step):
        found = local.get((org_path[:end], activity_type.pk))
        if found:
            return found
    return activity_type.frequency


def required_activities(org: Organization, types=None, local=None) -> list[tuple]:
    """(type, frequency) the organisation must hold, by its kind and the rules above it."""
    types = types if types is not None else active_types()
    if local is None:
        local = _local_rules(org.ancestor_paths())
    out = []
    for t in types:
        if org.kind not in t.kind_set:
            continue
        frequency = frequency_for(org.path, t, local)
        if frequency != rules.NONE:
            out.append((t, frequency))
    return out


# Compliance --------------------------------------------------------------------------------------


@dataclass
class Compliance:
    org: Organization
    activities: list[tuple]  # (type, frequency, [PeriodState])
    months: list[str] = field(default_factory=list)  # 12 cells: the worst state of the month
    overdue: int = 0
    done: int = 0
    required: int = 0


WORST = [rules.OVERDUE, rules.DUE, rules.UPCOMING, rules.DONE, rules.NOT_REQUIRED]


RANK = {state: i for i, state in enumerate(WORST)}
MONTHS = range(1, 13)


@dataclass(frozen=True)
class _Activity:
    """One activity's year, shared by every organisation with the same tallies: its periods'
    states, each month's rank (index in WORST) and the periods done and overdue."""

    states: list
    ranks: tuple
    done: int
    overdue: int


class _Year:
    """The periods of one year and what they come to, worked out once per call: a heat map asks
    the same questions of thousands of organisations, and most of them hold the same months, so
    each (frequency, meetings per month, dates that make periods not required) is decided by
    the rules once and shared (the results are never changed)."""

    def __init__(self, year: int, today: datetime.date):
        self.year, self.today = year, today
        self.first, self.last = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        self._periods: dict[str, list[tuple]] = {}
        self.decided: dict[tuple, _Activity] = {}
        self._states: dict[tuple, rules.PeriodState] = {}
        self.months: dict[tuple, list[str]] = {}

    def periods(self, frequency: str) -> list[tuple]:
        """(period, its months) of the year, in order."""
        found = self._periods.get(frequency)
        if found is None:
            found = [(p, p.months) for p in rules.periods(frequency, self.year)]
            self._periods[frequency] = found
        return found

    def bounds(self, org: Organization) -> tuple:
        """The organisation's dates that can make a period of this year not required (None for
        those that cannot): when it was established, and when it was dissolved."""
        since = getattr(org, "established_on", None)
        until = org.dissolved_on if org.status != OrgStatus.ACTIVE else None
        return (
            since if since is not None and since > self.first else None,
            until if until is not None and until < self.last else None,
        )

    def activity(self, frequency: str, held: tuple, bounds: tuple) -> _Activity:
        """`held`: meetings held in each month (None for none)."""
        key = (frequency, held, bounds)
        found = self.decided.get(key)
        if found is None:
            found = self.decided[key] = self._decide(frequency, held, *bounds)
        return found

    def _decide(self, frequency, held, since, until) -> _Activity:
        states = []
        ranks = [RANK[rules.NOT_REQUIRED]] * 12
        done = overdue = 0
        shared = self._states
        for i, (period, months) in enumerate(self.periods(frequency)):
            if len(months) == 1:
                count = held[months[0] - 1] or 0
            else:
                count = sum(held[m - 1] or 0 for m in months)
            # Periods that ended before the organisation existed, or had not ended when it
            # was dissolved, are not required of it (rules.period_state).
            gone = (since is not None and period.end < since) or (
                until is not None and period.end > until
            )
            key = (frequency, i, count, gone)
            found = shared.get(key)
            if found is None:
                state = rules.period_state(period, count, self.today, since, until)
                found = shared[key] = rules.PeriodState(period, state, count)
            states.append(found)
            rank = RANK[found.state]
            for m in months:
                ranks[m - 1] = rank
            done += found.state == rules.DONE
            overdue += found.state == rules.OVERDUE
        return _Activity(states, tuple(ranks), done, overdue)


NOTHING_HELD = (None,) * 12


class OrgRow:
    """What a heat map needs of an organisation. Tens of thousands of rows for a whole tree:
    building full model instances cost a quarter of the time (bench/meetings.py)."""

    __slots__ = (
        "pk",
        "id",
        "path",
        "kind",
        "name",
        "code",
        "status",
        "established_on",
        "dissolved_on",
    )

    def __init__(self, pk, path, kind, name, code, status, established_on, dissolved_on):
        self.pk = self.id = pk
        self.path, self.kind, self.name, self.code = path, kind, name, code
        self.status, self.established_on, self.dissolved_on = status, established_on, dissolved_on


def _compliance(org, year, today, types, local, held, calendar=None, required=None) -> Compliance:
    calendar = calendar or _Year(year, today)
    if required is None:
        required = required_activities(org, types, local)
    bounds = calendar.bounds(org)
    org_id = org.id
    activities = []
    result = Compliance(org, activities)
    ranks = []
    done = overdue = 0
    decided = calendar.decided
    for t, frequency in required:
        vector = held.get((org_id, t.id), NOTHING_HELD)
        found = decided.get((frequency, vector, bounds))
        if found is None:
            found = calendar.activity(frequency, vector, bounds)
        activities.append((t, frequency, found.states))
        ranks.append(found.ranks)
        done += found.done
        overdue += found.overdue
    result.done, result.overdue, result.required = done, overdue, done + overdue
    # Most organisations share their pattern of months: each is worked out once per call.
    key = tuple(ranks)
    months = calendar.months.get(key)
    if months is None:
        if len(ranks) > 1:
            months = [WORST[r] for r in map(min, *ranks)]
        elif ranks:
            months = [WORST[r] for r in ranks[0]]
        else:
            months = [rules.NOT_REQUIRED] * 12
        calendar.months[key] = months
    result.months = list(months)
    return result


def _held(org_ids: list[int] | None, year: int, path: str | None = None, type_ids=None) -> dict:
    """(organisation id, type id) -> meetings held in each month of the year (None for none):
    one row per organisation and type, summed by the database."""
    qs = MonthTally.objects.filter(year=year, held__gt=0)
    if path is not None:
        qs = qs.filter(selectors.subtree_range("org_path", path))
    else:
        qs = qs.filter(organization_id__in=org_ids)
    if type_ids is not None:
        qs = qs.filter(activity_type_id__in=type_ids)
    months = {f"m{m}": Sum("held", filter=Q(month=m)) for m in MONTHS}
    query = (
        qs.order_by()
        .values("organization_id", "activity_type_id")
        .annotate(**months)
        .values_list("organization_id", "activity_type_id", *months)
    )
    # Read through the cursor: the rows are plain integers, and Django's per-value converters
    # cost more than the query for a whole county (docs/performance.md).
    sql, params = query.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return {(row[0], row[1]): tuple(row[2:]) for row in cursor.fetchall()}


def compliance(org: Organization, year: int, today: datetime.date | None = None) -> Compliance:
    """One organisation's year: each required activity period by period, and the month cells.
    The caller has checked the scope."""
    today = today or timezone.localdate()
    types = active_types()
    local = _local_rules(org.ancestor_paths())
    return _compliance(org, year, today, types, local, _held([org.pk], year))


# The organisations a heat map lists: those that hold meetings of their own (Party groups are
# left to their branch's page).
MAP_KINDS = ("branch", "joint_branch", "general_branch")


def heatmap(
    user,
    root: Organization,
    year: int,
    today: datetime.date | None = None,
    *,
    kinds=MAP_KINDS,
    only_overdue: bool = False,
) -> list[Compliance]:
    """Every organisation of these kinds under `root` (in the user's scope) with its twelve
    month cells: three queries (organisations, local rules, tallies) whatever their number. A
    general branch at the root is left out: its page shows its own activities apart, above its
    branches; a branch at the root is the whole map."""
    today = today or timezone.localdate()
    # Organisations dissolved during the year still answer for the months they existed.
    orgs = [
        OrgRow(*values)
        for values in selectors.organizations(user, VIEW)
        .filter(selectors.subtree_range("path", root.path), kind__in=kinds)
        .exclude(pk=root.pk if root.kind not in rules.BRANCHES else None)
        .filter(Q(status=OrgStatus.ACTIVE) | Q(dissolved_on__year__gte=year))
        .order_by("path")
        .values_list(*OrgRow.__slots__[1:])
    ]
    types = active_types()
    # The local rules that can reach these organisations: at or above the root, or inside it.
    local = {
        (path, type_id): freq
        for path, type_id, freq in FrequencyRule.objects.filter(
            Q(organization__path__in=root.ancestor_paths())
            | selectors.subtree_range("organization__path", root.path)
        ).values_list("organization__path", "activity_type_id", "frequency")
    }
    relevant = [t.pk for t in types if t.kind_set & set(kinds)]
    held = _held(None, year, root.path, relevant)
    calendar = _Year(year, today)
    # What an organisation must hold depends on its kind and the local rules on its path only.
    ruled = {path for path, _type_id in local}
    required_for = {}
    step = Organization.steplen
    rows = []
    for o in orgs:
        key = (
            o.kind,
            tuple(
                o.path[:end] for end in range(step, len(o.path) + 1, step) if o.path[:end] in ruled
            ),
        )
        required = required_for.get(key)
        if required is None:
            required = required_for[key] = required_activities(o, types, local)
        rows.append(_compliance(o, year, today, types, local, held, calendar, required))
    if only_overdue:
        rows = [r for r in rows if r.overdue]
    return rows


def heat_summary(rows: list[Compliance]) -> dict:
    """Per month, how many organisations are done, due, overdue: the chart above the map."""
    counts = {state: [0] * 12 for state in WORST}
    for i, column in enumerate(zip(*(row.months for row in rows), strict=True)):
        for state, n in Counter(column).items():
            counts[state][i] = n
    return counts


# A member's own ----------------------------------------------------------------------------------


def my_attendance(user) -> QuerySet:
    """The meetings the user is expected at (as a member), newest first."""
    if not getattr(user, "pk", None):
        return Attendee.objects.none()
    return (
        Attendee.objects.filter(member__user=user)
        .select_related("meeting", "meeting__organization", "meeting__activity_type")
        .order_by("-meeting__starts_at")
    )


def my_upcoming(user, now: datetime.datetime | None = None) -> QuerySet:
    now = now or timezone.now()
    return (
        my_attendance(user)
        .filter(meeting__status=MeetingStatus.PLANNED, meeting__ends_at__gte=now)
        .order_by("meeting__starts_at")
    )


def my_class_hours(user, year: int) -> float:
    total = (
        my_attendance(user)
        .filter(meeting__status=MeetingStatus.HELD, meeting__starts_at__year=year)
        .aggregate(hours=Sum("class_hours"))["hours"]
    )
    return float(total or 0)


def my_meeting(user, pk) -> Meeting:
    """A meeting the user is expected at (404 otherwise): members see their own meetings
    without any role."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("meeting not found") from None
    found = (
        Meeting.objects.select_related("organization", "activity_type")
        .filter(pk=pk, attendees__member__user=user)
        .first()
        if getattr(user, "pk", None) and 0 < pk < 2**63
        else None
    )
    if found is None:
        raise NotFound("meeting not found")
    return found


def appraisal_tally(meeting: Meeting) -> list[dict]:
    """Per member of the organisation: the self-assessment, the peers' grades counted (who gave
    which stays unshown), the suggested grade and the branch's conclusion. Three queries."""
    from .models import Assessment, Conclusion

    members = [
        a.member
        for a in Attendee.objects.filter(meeting=meeting, guest=False).select_related("member")
    ]
    grades = defaultdict(list)
    selves = {}
    for member_id, rater_id, grade, text in Assessment.objects.filter(meeting=meeting).values_list(
        "member_id", "rater_id", "grade", "text"
    ):
        if rater_id is None:
            selves[member_id] = text
        else:
            grades[member_id].append(grade)
    conclusions = dict(Conclusion.objects.filter(meeting=meeting).values_list("member_id", "grade"))
    # The grades are counted and shown only once the appraisal is closed (the meeting recorded
    # as held): a tally watched while people rate would tell who gave which.
    revealed = meeting.status == MeetingStatus.HELD
    rows = []
    for member in members:
        counts = rules.tally(grades[member.pk])
        rows.append(
            {
                "member": member,
                "self": selves.get(member.pk, ""),
                "counts": counts if revealed else None,
                "rated": sum(counts.values()),
                "suggested": rules.suggested_grade(counts) if revealed else None,
                "conclusion": conclusions.get(member.pk),
            }
        )
    return rows
