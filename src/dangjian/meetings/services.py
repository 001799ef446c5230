"""Every change to organisational life: local frequency rules, planning the year, scheduling,
notices, leave, sign-in, attendance, minutes, files, votes and appraisal. Each checks its input
and permission, writes in one transaction, records an audit event and keeps the month tallies in
step (compliance reads those)."""

import datetime
import decimal
import time

import nh3
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from dangjian.core import audit, notify, selectors
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import Organization, OrgStatus
from dangjian.core.rules import meeting_is_valid, resolution_passes
from dangjian.core.text import clean_text
from dangjian.members.models import Member
from dangjian.members.selectors import voting_members

from . import rules
from .models import (
    ActivityType,
    Assessment,
    Attendee,
    AttendeeState,
    Conclusion,
    FrequencyRule,
    Grade,
    LeaveState,
    Meeting,
    MeetingFile,
    MeetingStatus,
    MonthTally,
    Resolution,
)

MANAGE = "meeting.manage"
VIEW = "meeting.view"
CONFIGURE = "meeting.configure"

MEETING_FIELDS = [
    "activity_type",
    "topic",
    "agenda",
    "starts_at",
    "ends_at",
    "place",
    "online_link",
    "host",
    "recorder",
    "lecturer",
    "lecture_title",
    "status",
    "class_hours",
]

# Builtin activity types' names, translated where shown (a custom type shows its stored name).
BUILTIN_NAMES = {
    "general_meeting": _lazy("Branch general meeting"),
    "committee_meeting": _lazy("Branch committee meeting"),
    "group_meeting": _lazy("Party group meeting"),
    "lecture": _lazy("Party lecture"),
    "theme_day": _lazy("Theme Party day"),
    "life_meeting": _lazy("Organisational-life meeting"),
    "appraisal": _lazy("Democratic appraisal of members"),
    "talks": _lazy("Heart-to-heart talks"),
}


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def _require(actor, org: Organization, action: str = MANAGE) -> None:
    if selectors.can(actor, action, org):
        return
    if selectors.can(actor, VIEW, org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})
    raise NotFound(_("Not found."))


def _record(actor, action, meeting: Meeting, before=None, after=None) -> None:
    after = after if after is not None else audit.snapshot(meeting, MEETING_FIELDS)
    before, after = audit.diff(before, after)
    audit.record(actor, action, meeting, before=before, after=after, org_path=meeting.org_path)


def _lock(meeting: Meeting) -> Meeting:
    return (
        Meeting.objects.select_for_update(of=("self",))
        .select_related("organization", "activity_type")
        .get(pk=meeting.pk)
    )


# Activity types and local rules -------------------------------------------------------------------


@transaction.atomic
def set_frequency_rule(*, actor, organization: Organization, activity_type, frequency, note=""):
    """A local rule for the subtree (None frequency: remove it, back to the rule above)."""
    _require(actor, organization, CONFIGURE)
    note = clean_text(note, "note", 200)
    existing = FrequencyRule.objects.filter(
        organization=organization, activity_type=activity_type
    ).first()
    if frequency in (None, ""):
        if existing is not None:
            audit.record(
                actor,
                "meeting.frequency_remove",
                existing,
                before={"frequency": existing.frequency},
                org_path=organization.path,
            )
            existing.delete()
        return None
    if frequency not in rules.FREQUENCIES:
        raise ValidationFailed(
            _("Choose a frequency."), code="invalid_frequency", field="frequency"
        )
    before = {"frequency": existing.frequency, "note": existing.note} if existing else None
    rule = existing or FrequencyRule(organization=organization, activity_type=activity_type)
    rule.frequency, rule.note = frequency, note
    rule.save()
    audit.record(
        actor,
        "meeting.frequency",
        rule,
        before=before,
        after={"frequency": frequency, "note": note},
        org_path=organization.path,
    )
    return rule


# Scheduling -------------------------------------------------------------------------------------


def _aware(value, field: str) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    raise ValidationFailed(_("Enter a date and time."), code="required", field=field)


def _clean(values: dict, org: Organization, *, kept_recorder=None) -> dict:
    activity_type = values.get("activity_type")
    if not isinstance(activity_type, ActivityType) or not activity_type.active:
        raise ValidationFailed(
            _("Choose the kind of meeting."), code="required", field="activity_type"
        )
    if org.kind not in activity_type.kind_set and activity_type.builtin:
        raise ValidationFailed(
            _("“%(org)s” does not hold this kind of meeting.") % {"org": org.name},
            code="wrong_kind",
            field="activity_type",
        )
    starts_at = _aware(values.get("starts_at"), "starts_at")
    if not 1921 <= starts_at.year <= 2100:
        raise ValidationFailed(
            _("Enter a date between 1921 and 2100."), code="out_of_range", field="starts_at"
        )
    ends_at = values.get("ends_at") or starts_at + datetime.timedelta(hours=2)
    ends_at = _aware(ends_at, "ends_at")
    if not 1921 <= ends_at.year <= 2100:
        raise ValidationFailed(
            _("Enter a date between 1921 and 2100."), code="out_of_range", field="ends_at"
        )
    recorder = values.get("recorder")
    # A recorder kept as it was is not checked again: one who has since lost the role must
    # not block every other change to the meeting.
    kept = recorder is not None and getattr(recorder, "pk", None) == kept_recorder
    if recorder is not None and not kept and not selectors.can(recorder, MANAGE, org):
        raise ValidationFailed(
            _("The recorder must be someone who records meetings at “%(org)s”.")
            % {"org": org.name},
            code="not_a_recorder",
            field="recorder",
        )
    if ends_at < starts_at:
        raise ValidationFailed(
            _("The meeting cannot end before it starts."), code="ends_before", field="ends_at"
        )
    if ends_at - starts_at > datetime.timedelta(days=3):
        raise ValidationFailed(
            _("A meeting lasts three days at most."), code="too_long", field="ends_at"
        )
    link = clean_text(values.get("online_link", ""), "online_link", 500)
    if link and not link.startswith(("https://", "http://")):
        raise ValidationFailed(
            _("An online link starts with https://."), code="invalid_link", field="online_link"
        )
    try:
        hours = decimal.Decimal(str(values.get("class_hours", activity_type.class_hours)))
    except decimal.InvalidOperation:
        hours = decimal.Decimal(-1)
    if not (0 <= hours <= 24) or hours != hours.quantize(decimal.Decimal("0.1")):
        raise ValidationFailed(
            _("Class hours from 0 to 24, in tenths."), code="invalid_hours", field="class_hours"
        )
    return {
        "activity_type": activity_type,
        "topic": clean_text(values.get("topic"), "topic", 200, required=True),
        "agenda": clean_text(values.get("agenda", ""), "agenda", 4000, lines=True),
        "starts_at": starts_at,
        "ends_at": ends_at,
        "place": clean_text(values.get("place", ""), "place", 200),
        "online_link": link,
        "host": clean_text(values.get("host", ""), "host", 64),
        "recorder": recorder,
        "lecturer": clean_text(values.get("lecturer", ""), "lecturer", 64),
        "lecture_title": clean_text(values.get("lecture_title", ""), "lecture_title", 200),
        "class_hours": hours,
    }


# Meetings of the organisation's committee (支委会) are for its members, not the whole branch.
COMMITTEE_ONLY = frozenset({"committee_meeting"})
COMMITTEE_ROLES = ("secretary", "committee_member")


def _committee(org: Organization, on: datetime.date) -> set[int]:
    """Members of the organisation's committee on a day: its office-holders, and members whose
    accounts hold a secretary's or committee member's role there."""
    from dangjian.committees.models import OfficeHolder
    from dangjian.core.models import RoleAssignment

    holders = OfficeHolder.objects.filter(organization=org, started_on__lte=on).filter(
        Q(ended_on__isnull=True) | Q(ended_on__gt=on)
    )
    users = RoleAssignment.objects.filter(organization=org, role__in=COMMITTEE_ROLES)
    return set(holders.values_list("member_id", flat=True)) | set(
        Member.objects.filter(user__in=users.values("user")).values_list("pk", flat=True)
    )


def expected_people(
    org: Organization, on: datetime.date, activity_type: ActivityType | None = None
) -> list[tuple[Member, bool, bool]]:
    """(member, guest, may_vote) for a meeting of `org` on a day: the members of its subtree
    (a branch's meeting includes its Party groups), then incoming mobile members with a record,
    who never vote here (DOMAIN §7). A committee meeting expects the committee only."""
    from dangjian.transfers.selectors import guests_of

    voters = set(voting_members(org).values_list("pk", flat=True))
    members = Member.objects.filter(
        selectors.subtree_range("org_path", org.path), status="active"
    ).order_by("name", "id")
    if activity_type is not None and activity_type.code in COMMITTEE_ONLY:
        return [(m, False, m.pk in voters) for m in members.filter(pk__in=_committee(org, on))]
    people = [(m, False, m.pk in voters) for m in members]
    seen = {m.pk for m, _g, _v in people}
    guest_ids = [s.member_id for s in guests_of(org, on) if s.member_id and s.member_id not in seen]
    people += [(m, True, False) for m in Member.objects.filter(pk__in=guest_ids).order_by("name")]
    return people


@transaction.atomic
def schedule(*, actor, organization: Organization, **values) -> Meeting:
    """A meeting planned (or recorded afterwards), with its expected attendees."""
    _require(actor, organization)
    if organization.status != OrgStatus.ACTIVE:
        raise ValidationFailed(
            _("The organisation is dissolved."), code="dissolved", field="organization"
        )
    data = _clean(values, organization)
    meeting = Meeting.objects.create(
        organization=organization,
        org_path=organization.path,
        created_by=_user(actor),
        **data,
    )
    _fill_attendees(meeting)
    _record(actor, "meeting.schedule", meeting)
    return meeting


def _fill_attendees(meeting: Meeting) -> int:
    day = timezone.localtime(meeting.starts_at).date()
    rows = [
        Attendee(meeting=meeting, member=m, guest=guest, may_vote=vote, name=m.name)
        for m, guest, vote in expected_people(meeting.organization, day, meeting.activity_type)
    ]
    Attendee.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _refresh_attendees(meeting: Meeting) -> None:
    """While a meeting is planned, who is expected follows the membership: members who came are
    added, those who left and were not yet marked are dropped, and who votes is decided again
    (admitted as full, put under Party probation). Quorum and votes then count the right
    people. A meeting held or cancelled keeps its list as it was."""
    if meeting.status != MeetingStatus.PLANNED:
        return
    day = timezone.localtime(meeting.starts_at).date()
    wanted = {
        m.pk: (m, g, v)
        for m, g, v in expected_people(meeting.organization, day, meeting.activity_type)
    }
    current = {a.member_id: a for a in Attendee.objects.filter(meeting=meeting)}
    gone = [
        a.pk
        for member_id, a in current.items()
        if member_id not in wanted and a.state == AttendeeState.EXPECTED and not a.leave_state
    ]
    Attendee.objects.filter(pk__in=gone).delete()
    changed = []
    for member_id, a in current.items():
        if member_id in wanted:
            _m, guest, vote = wanted[member_id]
            if (a.guest, a.may_vote) != (guest, vote):
                a.guest, a.may_vote = guest, vote
                changed.append(a)
    Attendee.objects.bulk_update(changed, ["guest", "may_vote"])
    Attendee.objects.bulk_create(
        [
            Attendee(meeting=meeting, member=m, guest=g, may_vote=v, name=m.name)
            for member_id, (m, g, v) in wanted.items()
            if member_id not in current
        ],
        ignore_conflicts=True,
    )


@transaction.atomic
def update(*, actor, meeting: Meeting, **values) -> Meeting:
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    before = audit.snapshot(meeting, MEETING_FIELDS)
    merged = {f: getattr(meeting, f) for f in MEETING_FIELDS if f != "status"} | values
    data = _clean(merged, meeting.organization, kept_recorder=meeting.recorder_id)
    was_held = meeting.is_held
    if was_held:
        _check_not_future(data["starts_at"])
        _tally(meeting, -1)
    for key, value in data.items():
        setattr(meeting, key, value)
    meeting.updated_at = timezone.now()
    meeting.save()
    if was_held:
        _tally(meeting, +1)
    _refresh_attendees(meeting)  # another day or kind may expect other people
    _record(actor, "meeting.update", meeting, before=before)
    return meeting


@transaction.atomic
def cancel(*, actor, meeting: Meeting, reason="") -> Meeting:
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    reason = clean_text(reason, "reason", 200)
    before = audit.snapshot(meeting, MEETING_FIELDS)
    if meeting.is_held:
        _tally(meeting, -1)
    meeting.status = MeetingStatus.CANCELLED
    meeting.updated_at = timezone.now()
    meeting.save()
    after = audit.snapshot(meeting, MEETING_FIELDS) | {"reason": reason}
    _record(actor, "meeting.cancel", meeting, before=before, after=after)
    return meeting


def _check_not_future(starts_at: datetime.datetime) -> None:
    if starts_at > timezone.now():
        raise ValidationFailed(
            _("A meeting that has not started yet cannot be recorded as held."),
            code="future_meeting",
            field="starts_at",
        )


def _tally(meeting: Meeting, delta: int) -> None:
    local = timezone.localtime(meeting.starts_at)
    key = {
        "organization_id": meeting.organization_id,
        "activity_type_id": meeting.activity_type_id,
        "year": local.year,
        "month": local.month,
    }
    tally, _created = MonthTally.objects.get_or_create(
        **key, defaults={"org_path": meeting.org_path}
    )
    MonthTally.objects.filter(pk=tally.pk).update(held=F("held") + delta)


@transaction.atomic
def mark_held(*, actor, meeting: Meeting) -> Meeting:
    """The meeting took place: it counts for compliance; class hours go to those present."""
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if meeting.status != MeetingStatus.PLANNED:
        raise Conflict(_("Only a planned meeting can be recorded as held."), code="wrong_status")
    _check_not_future(meeting.starts_at)
    _refresh_attendees(meeting)  # the last time the list follows the membership
    before = audit.snapshot(meeting, MEETING_FIELDS)
    meeting.status = MeetingStatus.HELD
    meeting.held_at = meeting.updated_at = timezone.now()
    meeting.save()
    _tally(meeting, +1)
    _credit_hours(meeting)
    _record(actor, "meeting.held", meeting, before=before)
    return meeting


def _credit_hours(meeting: Meeting) -> None:
    """Class hours to those present (the study module counts them), none to the others."""
    Attendee.objects.filter(meeting=meeting, state=AttendeeState.PRESENT).update(
        class_hours=meeting.class_hours
    )
    Attendee.objects.filter(meeting=meeting).exclude(state=AttendeeState.PRESENT).update(
        class_hours=None
    )


@transaction.atomic
def send_notice(*, actor, meeting: Meeting) -> int:
    """Tell the expected attendees who have an account (the bell on their phone)."""
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if meeting.status != MeetingStatus.PLANNED:
        raise Conflict(_("Only a planned meeting can be announced."), code="wrong_status")
    _refresh_attendees(meeting)
    users = set(
        Attendee.objects.filter(meeting=meeting, member__user__isnull=False).values_list(
            "member__user_id", flat=True
        )
    )
    local = timezone.localtime(meeting.starts_at)
    told = notify.send_once(
        users,
        kind="meeting",
        key=f"meeting:{meeting.pk}:notice:{meeting.starts_at.timestamp():.0f}",
        title=_("%(type)s on %(when)s: %(topic)s")
        % {
            "type": type_name(meeting.activity_type),
            "when": local.strftime("%Y-%m-%d %H:%M"),
            "topic": meeting.topic,
        },
        url=reverse("meetings:mine_detail", args=[meeting.pk]),
        body=meeting.place or meeting.online_link,
    )
    meeting.notice_sent_at = timezone.now()
    meeting.save(update_fields=["notice_sent_at"])
    audit.record(actor, "meeting.notice", meeting, after={"told": told}, org_path=meeting.org_path)
    return told


def type_name(activity_type: ActivityType) -> str:
    name = BUILTIN_NAMES.get(activity_type.code) if activity_type.builtin else None
    return str(name) if name else activity_type.name


@transaction.atomic
def plan_year(
    *, actor, organization: Organization, year: int, day: int = 15, hour: int = 14
) -> list[Meeting]:
    """Plan every required activity of the year in one step: one meeting in each period that
    has none yet (planned or held), on `day` of the period's first month at `hour`. Periods
    already past are left for the secretary to record."""
    _require(actor, organization)
    if organization.status != OrgStatus.ACTIVE:
        raise ValidationFailed(
            _("The organisation is dissolved."), code="dissolved", field="organization"
        )
    day = _whole(day, "day", 1, 28, _("A day from 1 to 28."))
    hour = _whole(hour, "hour", 0, 23, _("An hour from 0 to 23."))
    this_year = timezone.localdate().year
    year = _whole(year, "year", this_year - 1, this_year + 1, _("Plan this year or the next."))
    from .selectors import required_activities

    # Two clicks of "plan the year" queue here, and the second finds the first's meetings.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    today = timezone.localdate()
    made = []
    existing = set()
    for m in Meeting.objects.filter(organization=organization, starts_at__year=year).exclude(
        status=MeetingStatus.CANCELLED
    ):
        local = timezone.localtime(m.starts_at)
        existing.add((m.activity_type_id, local.month))
    for activity_type, frequency in required_activities(organization):
        for period in rules.periods(frequency, year):
            if period.end < today:
                continue
            if any((activity_type.pk, mo) in existing for mo in period.months):
                continue
            first = max(period.start, today + datetime.timedelta(days=1))
            when = datetime.datetime(first.year, first.month, max(first.day, int(day)), int(hour))
            if when.date() > period.end:
                when = datetime.datetime(period.end.year, period.end.month, period.end.day, hour)
            starts = timezone.make_aware(when)
            meeting = Meeting.objects.create(
                organization=organization,
                org_path=organization.path,
                activity_type=activity_type,
                topic=type_name(activity_type),
                starts_at=starts,
                ends_at=starts + datetime.timedelta(hours=2),
                class_hours=activity_type.class_hours,
                created_by=_user(actor),
            )
            _fill_attendees(meeting)
            made.append(meeting)
    # One event per meeting, under the request's id (DESIGN: bulk changes).
    audit.record_many(
        actor,
        "meeting.schedule",
        [(m, None, audit.snapshot(m, MEETING_FIELDS), m.org_path) for m in made],
    )
    return made


def _whole(value, field: str, low: int, high: int, message) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise ValidationFailed(message, code=f"invalid_{field}", field=field)
    return number


# Leave, sign-in, attendance ------------------------------------------------------------------------


def attendee_of(user, meeting: Meeting) -> Attendee:
    """The user's own place at a meeting (404 when they are not expected there)."""
    found = (
        Attendee.objects.select_related("meeting", "member")
        .filter(meeting=meeting, member__user=user)
        .first()
        if getattr(user, "pk", None)
        else None
    )
    if found is None:
        raise NotFound(_("You are not expected at this meeting."))
    return found


@transaction.atomic
def ask_leave(*, user, meeting: Meeting, reason) -> Attendee:
    attendee = attendee_of(user, meeting)  # first: a stranger learns nothing more
    reason = clean_text(reason, "leave_reason", 200, required=True)
    meeting = _lock(meeting)
    attendee = Attendee.objects.select_for_update().get(pk=attendee.pk)
    if meeting.status != MeetingStatus.PLANNED or meeting.starts_at < timezone.now():
        raise Conflict(_("Leave is asked before the meeting starts."), code="too_late")
    if attendee.leave_state in (LeaveState.APPROVED, LeaveState.REFUSED):
        # Asking again would undo the decision (and leave an approved absence "asked").
        raise Conflict(
            _("Your leave was decided already: ask your branch secretary."), code="leave_decided"
        )
    attendee.leave_state, attendee.leave_reason = LeaveState.ASKED, reason
    attendee.save(update_fields=["leave_state", "leave_reason"])
    audit.record(
        user, "meeting.leave_ask", meeting, after={"reason": reason}, org_path=meeting.org_path
    )
    notify.send_once(
        notify.people_with(MANAGE, [meeting.org_path]),
        kind="meeting",
        key=f"meeting:{meeting.pk}:leave:{attendee.pk}",
        title=_("%(name)s asks for leave from “%(topic)s”")
        % {"name": attendee.name, "topic": meeting.topic},
        url=reverse("meetings:detail", args=[meeting.pk]),
    )
    return attendee


@transaction.atomic
def decide_leave(*, actor, attendee: Attendee, approve: bool) -> Attendee:
    meeting = attendee.meeting
    _require(actor, meeting.organization)
    attendee = Attendee.objects.select_for_update().get(pk=attendee.pk)
    if attendee.leave_state != LeaveState.ASKED:
        raise Conflict(_("No leave is waiting for a decision."), code="no_leave")
    attendee.leave_state = LeaveState.APPROVED if approve else LeaveState.REFUSED
    attendee.leave_decided_by = _user(actor)
    if approve and attendee.state == AttendeeState.EXPECTED:
        attendee.state = AttendeeState.LEAVE
    attendee.save()
    audit.record(
        actor,
        "meeting.leave_decide",
        meeting,
        after={"attendee": attendee.pk, "leave": attendee.leave_state},
        org_path=meeting.org_path,
    )
    return attendee


def current_code(meeting: Meeting, moment: float | None = None) -> str:
    """The code the sign-in screen shows now (it changes every 30 seconds)."""
    moment = time.time() if moment is None else moment
    return rules.signin_code(meeting.signin_secret.encode(), meeting.pk, rules.code_window(moment))


def signin_window(meeting: Meeting) -> tuple[float, float]:
    opens = (meeting.starts_at - rules.SIGNIN_BEFORE).timestamp()
    closes = (meeting.ends_at + rules.SIGNIN_AFTER).timestamp()
    return opens, closes


CODE_ERRORS = {
    "malformed": _lazy("This is not a sign-in code of the platform."),
    "other_meeting": _lazy("This code belongs to another meeting."),
    "forged": _lazy("This is not a sign-in code of the platform."),
    "expired": _lazy("The code has expired: scan the code on the screen again."),
    "closed": _lazy("Sign-in for this meeting is closed."),
}


def code_is_valid(meeting: Meeting, code, moment: float | None = None) -> bool:
    moment = time.time() if moment is None else moment
    opens, closes = signin_window(meeting)
    return (
        rules.check_signin_code(
            meeting.signin_secret.encode(), meeting.pk, str(code or "")[:100], moment, opens, closes
        )
        == "ok"
    )


@transaction.atomic
def sign_in(
    *, user, meeting: Meeting, code, moment: float | None = None, seen_at: float | None = None
) -> Attendee:
    """A member signs in by scanning the meeting's code. Twice is harmless. `seen_at`: when this
    browser opened the sign-in page with this code (kept in its session); within
    rules.SEEN_SECONDS the code is judged as of then, so logging in after scanning works."""
    moment = time.time() if moment is None else moment
    if seen_at is not None and 0 <= moment - seen_at <= rules.SEEN_SECONDS:
        moment = seen_at
    attendee = attendee_of(user, meeting)  # first: a stranger learns nothing more
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    opens, closes = signin_window(meeting)
    verdict = rules.check_signin_code(
        meeting.signin_secret.encode(), meeting.pk, str(code or "")[:100], moment, opens, closes
    )
    if verdict != "ok":
        raise ValidationFailed(CODE_ERRORS[verdict], code=f"code_{verdict}", field="code")
    attendee = Attendee.objects.select_for_update().get(pk=attendee.pk)
    if attendee.state == AttendeeState.PRESENT:
        return attendee
    attendee.state = AttendeeState.PRESENT
    attendee.signed_at = timezone.now()
    attendee.signed_how = "qr"
    attendee.save(update_fields=["state", "signed_at", "signed_how"])
    audit.record(
        user, "meeting.sign_in", meeting, after={"attendee": attendee.pk}, org_path=meeting.org_path
    )
    if meeting.is_held:
        _credit_hours(meeting)
    return attendee


@transaction.atomic
def set_attendance(
    *, actor, meeting: Meeting, states: dict[int, str], shown: dict[int, str] | None = None
) -> int:
    """The recorder marks attendance (those without a phone signed in by hand); attendee id ->
    state. Ids not of this meeting are refused, nothing is written then. `shown`: the states
    the recorder's page showed; a row that changed since (a member signed in by QR, another
    recorder marked it) is left as it is now, not overwritten by the stale page."""
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    attendees = {a.pk: a for a in Attendee.objects.select_for_update().filter(meeting=meeting)}
    for pk, state in states.items():
        if pk not in attendees:
            raise ValidationFailed(
                _("Attendance of someone not expected at this meeting."),
                code="not_expected",
                field="attendance",
            )
        if state not in AttendeeState.values:
            raise ValidationFailed(
                _("Choose present, on leave or absent."), code="invalid_state", field="attendance"
            )
    changed = []
    now = timezone.now()
    for pk, state in states.items():
        attendee = attendees[pk]
        if attendee.state == state:
            continue
        if shown is not None and pk in shown and shown[pk] != attendee.state:
            continue  # changed by someone else since the page was drawn
        attendee.state = state
        if state == AttendeeState.PRESENT and not attendee.signed_at:
            attendee.signed_at, attendee.signed_how = now, "manual"
        changed.append(attendee)
    Attendee.objects.bulk_update(changed, ["state", "signed_at", "signed_how"])
    if meeting.is_held:
        _credit_hours(meeting)
    audit.record(
        actor,
        "meeting.attendance",
        meeting,
        after={str(a.pk): a.state for a in changed},
        org_path=meeting.org_path,
    )
    return len(changed)


def summary(meeting: Meeting) -> dict:
    """Expected, present, on leave, absent; for meetings that vote, whether it was valid."""
    counts = {s: 0 for s in AttendeeState.values}
    voters_present = voters = 0
    for state, may_vote in Attendee.objects.filter(meeting=meeting).values_list(
        "state", "may_vote"
    ):
        counts[state] += 1
        if may_vote:
            voters += 1
            voters_present += state == AttendeeState.PRESENT
    data = {
        "expected": sum(counts.values()),
        "present": counts[AttendeeState.PRESENT],
        "leave": counts[AttendeeState.LEAVE],
        "absent": counts[AttendeeState.ABSENT],
        "unmarked": counts[AttendeeState.EXPECTED],
        "voting_members": voters,
        "voting_present": voters_present,
        "valid": None,
    }
    if meeting.activity_type.votes:
        data["valid"] = meeting_is_valid(voters, voters_present)
    return data


# Minutes, files, votes ---------------------------------------------------------------------------

MINUTES_TAGS = {
    "p",
    "br",
    "strong",
    "b",
    "em",
    "i",
    "u",
    "s",
    "ol",
    "ul",
    "li",
    "h3",
    "h4",
    "blockquote",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}


def sanitise(html: str) -> str:
    """Minutes as rich text, with only harmless tags kept (no scripts, styles or links)."""
    return nh3.clean(html or "", tags=MINUTES_TAGS, attributes={}, link_rel=None)


@transaction.atomic
def save_minutes(*, actor, meeting: Meeting, html) -> Meeting:
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if len(str(html or "")) > 100_000:
        raise ValidationFailed(_("The minutes are too long."), code="too_long", field="minutes")
    before = {"minutes": meeting.minutes}
    meeting.minutes = sanitise(str(html or ""))
    meeting.updated_at = timezone.now()
    meeting.save(update_fields=["minutes", "updated_at"])
    audit.record(
        actor,
        "meeting.minutes",
        meeting,
        before=before,
        after={"minutes": meeting.minutes},
        org_path=meeting.org_path,
    )
    return meeting


PHOTO_TYPES = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
DOCUMENT_TYPES = {".pdf": b"%PDF", ".docx": b"PK\x03\x04", ".xlsx": b"PK\x03\x04"}
MAX_FILE = 20 * 1024 * 1024


@transaction.atomic
def add_file(*, actor, meeting: Meeting, upload) -> MeetingFile:
    """A photo (re-encoded, as the public desk does) or a PDF/Word/Excel document (checked by
    its first bytes, not by its name)."""
    from dangjian.feedback.photos import clean_photo

    _require(actor, meeting.organization)
    name = clean_text(getattr(upload, "name", ""), "file", 200) or "file"
    size = getattr(upload, "size", 0) or 0
    if size > MAX_FILE:
        raise ValidationFailed(
            _("A file may be at most %(mb)d MB.") % {"mb": MAX_FILE // (1024 * 1024)},
            code="file_too_large",
            field="file",
        )
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix in DOCUMENT_TYPES:
        head = upload.read(4)
        upload.seek(0)
        if head != DOCUMENT_TYPES[suffix]:
            raise ValidationFailed(
                _("“%(name)s” is not what its name says.") % {"name": name},
                code="wrong_type",
                field="file",
            )
        import secrets as _secrets

        from django.core.files.base import ContentFile

        content = ContentFile(upload.read(), name=f"{_secrets.token_hex(12)}{suffix}")
        kind = "document"
    else:
        try:
            photo = clean_photo(upload, field="file")
        except ValidationFailed as exc:
            if exc.code in ("file_too_large", "image_too_large"):
                raise  # a photo, but too large: say so, not "wrong type"
            raise ValidationFailed(
                _("Send photos (JPEG, PNG, WebP) or PDF, Word and Excel documents."),
                code="wrong_type",
                field="file",
            ) from None
        content, kind = photo.content, "photo"
    stored = MeetingFile.objects.create(
        meeting=meeting,
        file=content,
        name=name,
        kind=kind,
        size=content.size,
        uploaded_by=_user(actor),
    )
    audit.record(
        actor,
        "meeting.file",
        meeting,
        after={"file": stored.pk, "name": name, "kind": kind},
        org_path=meeting.org_path,
    )
    return stored


def _count(value, field: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if not 0 <= number <= 100_000:
        raise ValidationFailed(_("Enter a whole number."), code="invalid_number", field=field)
    return number


@transaction.atomic
def add_resolution(
    *, actor, meeting: Meeting, title, yes, no, abstain, written=0, secret_ballot=False
) -> Resolution:
    """A resolution and its vote; valid and passed by DOMAIN §4 (more than half of the voting
    members present; yes votes, written opinions included, more than half of those expected)."""
    _require(actor, meeting.organization)
    meeting = _lock(meeting)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    if not meeting.activity_type.votes:
        raise ValidationFailed(
            _("This kind of meeting does not vote."), code="no_votes", field="title"
        )
    _refresh_attendees(meeting)
    title = clean_text(title, "title", 200, required=True)
    yes, no, abstain = _count(yes, "yes"), _count(no, "no"), _count(abstain, "abstain")
    written = _count(written, "written")
    facts = summary(meeting)
    expected, present = facts["voting_members"], facts["voting_present"]
    if yes + no + abstain > present:
        raise ValidationFailed(
            _("%(n)d votes, but only %(p)d voting members are present.")
            % {"n": yes + no + abstain, "p": present},
            code="too_many_votes",
            field="yes",
        )
    if written > expected - present:
        raise ValidationFailed(
            _("More written opinions than voting members absent."),
            code="too_many_written",
            field="written",
        )
    valid = meeting_is_valid(expected, present)
    resolution = Resolution.objects.create(
        meeting=meeting,
        title=title,
        voting_members=expected,
        present=present,
        yes=yes,
        no=no,
        abstain=abstain,
        written=written,
        valid=valid,
        # The rule counts the written opinions among the yes votes (DOMAIN §4).
        passed=valid and resolution_passes(expected, present, yes + written, written),
        secret_ballot=bool(secret_ballot),
    )
    audit.record(
        actor,
        "meeting.resolution",
        resolution,
        after=audit.snapshot(
            resolution,
            [
                "title",
                "voting_members",
                "present",
                "yes",
                "no",
                "abstain",
                "written",
                "valid",
                "passed",
            ],
        ),
        org_path=meeting.org_path,
    )
    return resolution


# Appraisal ---------------------------------------------------------------------------------------


def _appraisal(meeting: Meeting, field: str = "grade") -> None:
    if not meeting.activity_type.appraisal:
        raise ValidationFailed(
            _("Members are not appraised at this kind of meeting."),
            code="no_appraisal",
            field=field,
        )
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")


def _rating_open(meeting: Meeting) -> None:
    # Once the meeting is recorded as held the grades are counted and shown: no more changes.
    if meeting.status != MeetingStatus.PLANNED:
        raise Conflict(_("The appraisal is closed."), code="appraisal_closed")


def _not_a_guest(me: Attendee) -> None:
    # A guest (an incoming mobile member) takes part but is appraised where they belong, and
    # must not weigh on the tally of the branch's members.
    if me.guest:
        raise ValidationFailed(
            _("Guests neither appraise nor are appraised here."), code="guest", field="member"
        )


@transaction.atomic
def self_assess(*, user, meeting: Meeting, text) -> Assessment:
    me = attendee_of(user, meeting)
    meeting = _lock(meeting)
    _appraisal(meeting, "text")
    _rating_open(meeting)
    _not_a_guest(me)
    text = clean_text(text, "text", 2000, required=True, lines=True)
    found, _c = Assessment.objects.update_or_create(
        meeting=meeting, member=me.member, rater=None, defaults={"text": text}
    )
    audit.record(user, "meeting.self_assess", meeting, org_path=meeting.org_path)
    return found


@transaction.atomic
def rate_peer(*, user, meeting: Meeting, member: Member, grade) -> Assessment:
    me = attendee_of(user, meeting)
    meeting = _lock(meeting)
    _appraisal(meeting)
    _rating_open(meeting)
    _not_a_guest(me)
    if grade not in Grade.values:
        raise ValidationFailed(_("Choose a grade."), code="invalid_grade", field="grade")
    if member.pk == me.member_id:
        raise ValidationFailed(
            _("Your own grade is the self-assessment."), code="self_rating", field="member"
        )
    if not Attendee.objects.filter(meeting=meeting, member=member, guest=False).exists():
        raise ValidationFailed(
            _("Only members of the organisation are appraised."),
            code="not_a_member",
            field="member",
        )
    found, _c = Assessment.objects.update_or_create(
        meeting=meeting, member=member, rater=me.member, defaults={"grade": grade}
    )
    # Whom one rated how is kept from the audit's readers: a secret appraisal.
    audit.record(user, "meeting.peer_rate", meeting, org_path=meeting.org_path)
    return found


@transaction.atomic
def conclude(*, actor, meeting: Meeting, member: Member, grade, note="") -> Conclusion:
    _require(actor, meeting.organization)
    _appraisal(meeting)
    if grade not in Grade.values:
        raise ValidationFailed(_("Choose a grade."), code="invalid_grade", field="grade")
    if not Attendee.objects.filter(meeting=meeting, member=member, guest=False).exists():
        raise ValidationFailed(
            _("Only members of the organisation are appraised."),
            code="not_a_member",
            field="member",
        )
    note = clean_text(note, "note", 500)
    found, _c = Conclusion.objects.update_or_create(
        meeting=meeting,
        member=member,
        defaults={"grade": grade, "note": note, "decided_by": _user(actor)},
    )
    audit.record(
        actor,
        "meeting.conclude",
        found,
        after={"member": member.pk, "grade": grade, "note": note},
        org_path=meeting.org_path,
    )
    return found
