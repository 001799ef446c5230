"""API of organisational life (组织生活): /api/v1/meetings. Meetings, attendance, leave, minutes,
votes, the sign-in code, compliance and the heat map for the staff; a member's own meetings,
sign-in, leave and appraisal for members.

Staff: thin over meetings.selectors and services. A meeting is seen where its organisation lies
in the caller's scope for meeting.view; outside it answers 404. Changes need meeting.manage there
(403 where the meeting is seen but the action is not allowed); the services record the audit
events. Input the schema refuses answers 422 (code invalid, naming the field); values the
services refuse answer 400 with a stable code and the field; an action the meeting's status does
not allow answers 409.

Members (any account with a member record, no role needed): the meetings they are expected at.
Any other meeting answers 404 to them, whether it exists or not.

Datetimes are ISO 8601 with a time zone, both ways (input without one is refused).
"""

import datetime
import time
from decimal import Decimal
from typing import Annotated, Literal

from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Body, Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import AfterValidator, AwareDatetime

from dangjian.core import selectors as core_selectors
from dangjian.core.api import ERRORS, READ_ERRORS, Error, Id, IdField, PathId
from dangjian.core.apitools import named as _named
from dangjian.core.apitools import organization as _organization
from dangjian.core.apitools import today as _today
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import Organization, User
from dangjian.members.api import OrgRef
from dangjian.members.models import Member
from dangjian.members.paging import CappedPageNumberPagination

from . import rules, selectors, services
from .models import (
    ActivityType,
    Assessment,
    Attendee,
    AttendeeState,
    Grade,
    LeaveState,
    Meeting,
    MeetingStatus,
)

router = Router(tags=["meetings"])
MINE = ["meetings (members)"]

VIEW, MANAGE = selectors.VIEW, services.MANAGE

# Choices as plain string enums in the document (model class names such as Status and Grade
# are taken, or may be, by other apps' schemas).
MeetingStatusCode = Literal[tuple(MeetingStatus.values)]
AttendeeStateCode = Literal[tuple(AttendeeState.values)]
LeaveStateCode = Literal[tuple(LeaveState.values)]
GradeCode = Literal[tuple(Grade.values)]
FrequencyCode = Literal[rules.FREQUENCIES]
ComplianceState = Literal[rules.DONE, rules.DUE, rules.OVERDUE, rules.UPCOMING, rules.NOT_REQUIRED]

# Years a meeting can lie in: from the Party's founding to where date arithmetic is still safe.
FIRST_YEAR, LAST_YEAR = 1921, 2100
FIRST_DAY, LAST_DAY = datetime.date(FIRST_YEAR, 1, 1), datetime.date(LAST_YEAR, 12, 31)
Year = Annotated[int, Field(ge=FIRST_YEAR, le=LAST_YEAR)]
MAX_VOTES = 100_000
Votes = Annotated[int, Field(ge=0, le=MAX_VOTES)]
MAX_ATTENDANCE = 5_000  # attendees marked in one call


def _in_range(value: datetime.datetime) -> datetime.datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"a moment from {FIRST_YEAR} to {LAST_YEAR}")
    return value


When = Annotated[AwareDatetime, AfterValidator(_in_range)]


# Output ----------------------------------------------------------------------------------------


class MeetingUserRef(Schema):
    id: int
    name: str


class MeetingTypeOut(Schema):
    id: int
    code: str = Field(description="give it as `type` when scheduling or filtering")
    name: str
    frequency: FrequencyCode = Field(description="required frequency (local rules may differ)")
    kinds: list[str] = Field(description="organisation kinds that hold it")
    class_hours: float = Field(description="credited to each attendee present, by default")
    votes: bool = Field(description="resolutions are voted at it")
    appraisal: bool = Field(description="members assess themselves and rate each other")
    builtin: bool

    @staticmethod
    def resolve_name(obj):
        return services.type_name(obj)

    @staticmethod
    def resolve_kinds(obj):
        return sorted(obj.kind_set)


class MeetingItem(Schema):
    id: int
    organization: OrgRef
    type: str = Field(description="activity type code (GET /meetings/types)")
    type_name: str
    topic: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    place: str
    online_link: str
    lecturer: str
    lecture_title: str
    status: MeetingStatusCode
    class_hours: float = Field(description="credited to each attendee present")
    notice_sent_at: datetime.datetime | None = Field(description="when the attendees were told")
    held_at: datetime.datetime | None = Field(description="when it was recorded as held")

    @staticmethod
    def resolve_type(obj):
        return obj.activity_type.code

    @staticmethod
    def resolve_type_name(obj):
        return services.type_name(obj.activity_type)


class MeetingAttendeeOut(Schema):
    id: int = Field(description="the attendee (for attendance and leave decisions)")
    member_id: int
    name: str
    guest: bool = Field(description="an incoming mobile member: takes part, never votes here")
    may_vote: bool
    state: AttendeeStateCode
    signed_at: datetime.datetime | None
    signed_how: str = Field(description="qr, manual, or empty")
    leave_state: LeaveStateCode = Field(description="empty: no leave asked")
    leave_reason: str
    class_hours: float | None = Field(description="credited once the meeting is held")


class MeetingSummaryOut(Schema):
    expected: int
    present: int
    leave: int
    absent: int
    unmarked: int
    voting_members: int
    voting_present: int
    valid: bool | None = Field(
        description="meetings that vote: more than half of the voting members present"
    )


class MeetingResolutionOut(Schema):
    id: int
    title: str
    voting_members: int = Field(description="voting members expected")
    present: int = Field(description="voting members present")
    yes: int
    no: int
    abstain: int
    written: int = Field(description="written opinions in favour from voting members absent")
    valid: bool
    passed: bool
    secret_ballot: bool
    created_at: datetime.datetime


class MeetingFileOut(Schema):
    id: int
    name: str
    kind: Literal["photo", "document"]
    size: int = Field(description="bytes")
    created_at: datetime.datetime


class MeetingDetail(MeetingItem):
    agenda: str
    host: str
    recorder: MeetingUserRef | None
    minutes: str = Field(description="sanitised HTML")
    created_at: datetime.datetime
    updated_at: datetime.datetime
    attendees: list[MeetingAttendeeOut]
    summary: MeetingSummaryOut
    resolutions: list[MeetingResolutionOut]
    files: list[MeetingFileOut] = Field(description="photos and documents (uploaded on the page)")
    may_manage: bool = Field(description="the caller may change it")

    @staticmethod
    def resolve_recorder(obj):
        user = obj.recorder
        if user is None:
            return None
        return {"id": user.pk, "name": user.display_name or user.get_username()}

    @staticmethod
    def resolve_attendees(obj):
        return obj.attendee_list

    @staticmethod
    def resolve_resolutions(obj):
        return obj.resolution_list

    @staticmethod
    def resolve_files(obj):
        return obj.file_list


class MeetingNoticeOut(Schema):
    told: int = Field(description="attendees told now (those already told are not told twice)")
    notice_sent_at: datetime.datetime


class MeetingSigninCodeOut(Schema):
    code: str = Field(description="what the QR code on the screen holds")
    expires_at: datetime.datetime = Field(
        description="ask again then: a new code every 30 seconds (the one before still counts "
        "for 30 seconds more)"
    )
    opens_at: datetime.datetime = Field(description="sign-in opens (30 minutes before the start)")
    closes_at: datetime.datetime = Field(description="and closes (30 minutes after the end)")
    open: bool = Field(description="sign-in is open now")


class MeetingPeriodOut(Schema):
    index: int = Field(description="within the year: month 1-12, quarter 1-4, half 1-2, year 1")
    start: datetime.date
    end: datetime.date
    state: ComplianceState
    held: int = Field(description="meetings held in the period")


class MeetingActivityCompliance(Schema):
    type: str
    type_name: str
    frequency: FrequencyCode = Field(description="after local rules")
    periods: list[MeetingPeriodOut]


class MeetingComplianceOut(Schema):
    organization: OrgRef
    year: int
    months: list[ComplianceState] = Field(description="12 cells: the worst state of each month")
    required: int = Field(description="periods that have ended or are done")
    done: int
    overdue: int
    activities: list[MeetingActivityCompliance]


class MeetingHeatmapRow(Schema):
    organization: OrgRef
    months: list[ComplianceState] = Field(description="12 cells: the worst state of each month")
    required: int
    done: int
    overdue: int = Field(description="periods that ended without the activity")

    @staticmethod
    def resolve_organization(obj):
        return obj.org


class MeetingPlanOut(Schema):
    planned: int
    meetings: list[MeetingItem]


class MeetingMineItem(Schema):
    id: int = Field(description="the meeting")
    organization: OrgRef
    type: str
    type_name: str
    topic: str
    agenda: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    place: str
    online_link: str
    lecturer: str
    lecture_title: str
    status: MeetingStatusCode
    attendee_id: int = Field(description="my place at it")
    state: AttendeeStateCode = Field(description="my attendance")
    signed_at: datetime.datetime | None
    leave_state: LeaveStateCode
    leave_reason: str
    class_hours: float | None = Field(description="credited to me (once it is held)")
    guest: bool
    may_vote: bool
    may_ask_leave: bool = Field(description="planned and not started yet")


class MeetingsMineOut(Schema):
    year: int
    class_hours: float = Field(description="my class hours of the year from meetings held")
    upcoming: list[MeetingMineItem] = Field(description="not ended yet, soonest first")
    past: list[MeetingMineItem] = Field(description="ended during the year, newest first")


class MeetingPeer(Schema):
    member_id: int = Field(description="give it as `member` to rate")
    name: str
    my_grade: GradeCode | None = Field(description="the grade I gave")


class MeetingMineDetail(MeetingMineItem):
    appraisal: bool = Field(description="members assess themselves and rate each other")
    self_assessment: str = Field(description="at an appraisal: what I wrote")
    peers: list[MeetingPeer] = Field(description="at an appraisal: the members I may rate")


class MeetingSelfAssessmentOut(Schema):
    meeting_id: int
    text: str


class MeetingPeerRatingOut(Schema):
    meeting_id: int
    member: int
    grade: GradeCode


# Input -----------------------------------------------------------------------------------------


class MeetingsFilter(Schema):
    org: int | None = IdField(None, description="an organisation's subtree")
    type: str | None = Field(None, max_length=32, description="activity type code")
    status: MeetingStatusCode | None = None
    since: datetime.date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="starting on or after"
    )
    until: datetime.date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="starting on or before"
    )
    q: str | None = Field(None, max_length=200, description="topic or lecture title contains")


class MeetingIn(Schema):
    org: int = IdField(description="the organisation holding it")
    type: str = Field(max_length=32, description="activity type code (GET /meetings/types)")
    topic: str
    agenda: str = ""
    starts_at: When
    ends_at: When | None = Field(None, description="default: two hours after the start")
    place: str = ""
    online_link: str = Field("", description="https://…")
    host: str = ""
    recorder: int | None = IdField(
        None, description="an account that records meetings at the organisation"
    )
    lecturer: str = ""
    lecture_title: str = ""
    class_hours: Decimal | None = Field(
        None, ge=0, le=24, description="in tenths; default: the activity type's"
    )


class MeetingUpdate(Schema):
    type: str | None = Field(None, max_length=32)
    topic: str | None = None
    agenda: str | None = None
    starts_at: When | None = Field(None, description="without ends_at the meeting keeps its length")
    ends_at: When | None = None
    place: str | None = None
    online_link: str | None = None
    host: str | None = None
    recorder: int | None = IdField(None, description="null: nobody")
    lecturer: str | None = None
    lecture_title: str | None = None
    class_hours: Decimal | None = Field(None, ge=0, le=24)


class MeetingCancelIn(Schema):
    reason: str = ""


Attendance = Annotated[
    dict[Id, AttendeeStateCode],
    Field(
        max_length=MAX_ATTENDANCE,
        description="attendee id (from the meeting's attendees) -> present, leave, absent or "
        "expected",
    ),
]


class MeetingLeaveDecisionIn(Schema):
    decision: Literal["approve", "refuse"]


class MeetingMinutesIn(Schema):
    minutes: str = Field(description="HTML; only harmless tags are kept (100,000 characters)")


class MeetingResolutionIn(Schema):
    title: str
    yes: Votes
    no: Votes
    abstain: Votes
    written: Votes = Field(0, description="written opinions in favour from voters absent")
    secret_ballot: bool = False


class MeetingOrgYearQuery(Schema):
    org: int | None = IdField(None, description="default: the top of your scope")
    year: Year | None = Field(None, description="default: this year")


class MeetingHeatmapQuery(MeetingOrgYearQuery):
    only_overdue: bool = Field(False, description="only organisations with a period overdue")


class MeetingPlanIn(Schema):
    org: int = IdField(description="the organisation whose year is planned")
    year: Year
    day: int = Field(15, ge=1, le=28, description="day of the period's first month")
    hour: int = Field(14, ge=0, le=23)


class MeetingsMineQuery(Schema):
    year: Year | None = Field(None, description="of the past meetings; default: this year")


class MeetingSignInIn(Schema):
    code: str = Field(max_length=100, description="the code of the QR on the screen")


class MeetingLeaveIn(Schema):
    reason: str


class MeetingSelfAssessmentIn(Schema):
    text: str


class MeetingPeerRatingIn(Schema):
    member: int = IdField(description="a member expected at the meeting (not a guest)")
    grade: GradeCode


# Helpers ---------------------------------------------------------------------------------------


def _meeting(request, meeting_id: int) -> Meeting:
    try:
        return selectors.get_meeting(request.user, meeting_id)
    except NotFound:
        raise NotFound(_("Meeting not found.")) from None


def _mine(request, meeting_id: int) -> Meeting:
    try:
        return selectors.my_meeting(request.user, meeting_id)
    except NotFound:
        raise NotFound(_("Meeting not found.")) from None


def _org(request, org_id: int | None, field: str = "org") -> Organization:
    """An organisation where the caller sees meetings (default: the top of the scope)."""
    if org_id is not None:
        return _organization(request, org_id, field, action=VIEW)
    found = core_selectors.top_organization(request.user, VIEW)
    if found is None:
        raise NotFound(_("Organisation not found."), field=field)
    return found


def _may_manage(request, org: Organization) -> None:
    """403 before the API's own look-ups of the input, as the services answer when it is valid."""
    if not core_selectors.can(request.user, MANAGE, org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})


def _type(code: str, field: str = "type") -> ActivityType:
    found = ActivityType.objects.filter(code=code).first()
    if found is None:
        raise ValidationFailed(
            _("There is no activity type with this code."), code="no_such_type", field=field
        )
    return found


def _recorder(user_id: int | None, org: Organization) -> User | None:
    """An active account that records meetings at the organisation (none: nobody)."""
    if user_id is None:
        return None
    found = User.objects.filter(pk=user_id, is_active=True).first()
    if found is None or not core_selectors.can(found, MANAGE, org):
        raise ValidationFailed(
            _("The recorder must be someone who records meetings at “%(org)s”.")
            % {"org": org.name},
            code="not_a_recorder",
            field="recorder",
        )
    return found


# Service fields -> the API's names.
NAMES = {"organization": "org", "activity_type": "type"}


def _detail(request, meeting_id: int) -> Meeting:
    """The meeting as it stands now, with what its detail shows. Read again after a change:
    the services answer with a locked copy."""
    meeting = Meeting.objects.select_related("organization", "activity_type", "recorder").get(
        pk=meeting_id
    )
    meeting.attendee_list = list(Attendee.objects.filter(meeting=meeting))
    meeting.summary = services.summary(meeting)
    meeting.resolution_list = list(meeting.resolutions.all())
    meeting.file_list = list(meeting.files.all())
    meeting.may_manage = core_selectors.can(request.user, MANAGE, meeting.organization)
    return meeting


def _attendee(attendee: Attendee) -> Attendee:
    return Attendee.objects.get(pk=attendee.pk)


def _periods(states) -> list[dict]:
    return [
        {
            "index": s.period.index,
            "start": s.period.start,
            "end": s.period.end,
            "state": s.state,
            "held": s.held,
        }
        for s in states
    ]


def _mine_item(attendee: Attendee, now: datetime.datetime) -> dict:
    m = attendee.meeting
    return {
        "id": m.pk,
        "organization": m.organization,
        "type": m.activity_type.code,
        "type_name": services.type_name(m.activity_type),
        "topic": m.topic,
        "agenda": m.agenda,
        "starts_at": m.starts_at,
        "ends_at": m.ends_at,
        "place": m.place,
        "online_link": m.online_link,
        "lecturer": m.lecturer,
        "lecture_title": m.lecture_title,
        "status": m.status,
        "attendee_id": attendee.pk,
        "state": attendee.state,
        "signed_at": attendee.signed_at,
        "leave_state": attendee.leave_state,
        "leave_reason": attendee.leave_reason,
        "class_hours": attendee.class_hours,
        "guest": attendee.guest,
        "may_vote": attendee.may_vote,
        "may_ask_leave": m.status == MeetingStatus.PLANNED and m.starts_at >= now,
    }


# Staff: activity types, compliance, the heat map, planning --------------------------------------


@router.get(
    "/types",
    response={200: list[MeetingTypeOut], 401: Error},
    summary="Kinds of organisational life",
    description="The active activity types (三会一课, 主题党日, …) with their required frequency.",
)
def list_types(request):
    return selectors.active_types()


@router.get(
    "/compliance",
    response={200: MeetingComplianceOut, **READ_ERRORS},
    summary="Compliance of an organisation's year",
    description="Each activity the organisation must hold (its kind, local rules applied), "
    "period by period: done, due (runs now), overdue, upcoming or not_required (before the "
    "organisation existed); and the twelve month cells.",
)
def compliance(request, query: Query[MeetingOrgYearQuery]):
    org = _org(request, query.org)
    year = query.year or _today().year
    found = selectors.compliance(org, year)
    return {
        "organization": org,
        "year": year,
        "months": found.months,
        "required": found.required,
        "done": found.done,
        "overdue": found.overdue,
        "activities": [
            {
                "type": t.code,
                "type_name": services.type_name(t),
                "frequency": frequency,
                "periods": _periods(states),
            }
            for t, frequency, states in found.activities
        ],
    }


@router.get(
    "/heatmap",
    response={200: list[MeetingHeatmapRow], **READ_ERRORS},
    summary="Heat map of the branches below an organisation",
    description="Every branch under `org` in your scope (dissolved during the year included) "
    "with its twelve month cells and the periods overdue, in the order of the tree.",
)
@paginate(CappedPageNumberPagination, page_size=100)
def heatmap(request, query: Query[MeetingHeatmapQuery]):
    org = _org(request, query.org)
    year = query.year or _today().year
    return selectors.heatmap(request.user, org, year, only_overdue=query.only_overdue)


@router.post(
    "/plan",
    response={201: MeetingPlanOut, **ERRORS},
    summary="Plan an organisation's year",
    description="One meeting of every required activity in each period of the year that has "
    "none yet (planned or held), on `day` of the period's first month at `hour`; periods "
    "already over are left to record by hand. Planning again adds nothing twice.",
)
def plan(request, payload: MeetingPlanIn):
    org = _org(request, payload.org)
    with _named(**NAMES):
        made = services.plan_year(
            actor=request.user,
            organization=org,
            year=payload.year,
            day=payload.day,
            hour=payload.hour,
        )
    return Status(201, {"planned": len(made), "meetings": made})


# Members: my meetings --------------------------------------------------------------------------


@router.get(
    "/mine",
    response={200: MeetingsMineOut, **READ_ERRORS},
    tags=MINE,
    summary="My meetings",
    description="The meetings I am expected at as a member (no role needed): those not ended "
    "yet, and those of the year that have, each with my attendance, leave and class hours.",
)
def mine(request, query: Query[MeetingsMineQuery]):
    year = query.year or _today().year
    now = timezone.now()
    mine_all = selectors.my_attendance(request.user)
    upcoming = mine_all.filter(meeting__ends_at__gte=now).order_by("meeting__starts_at", "pk")
    past = mine_all.filter(meeting__ends_at__lt=now, meeting__starts_at__year=year).order_by(
        "-meeting__starts_at", "-pk"
    )
    return {
        "year": year,
        "class_hours": selectors.my_class_hours(request.user, year),
        "upcoming": [_mine_item(a, now) for a in upcoming[:200]],
        "past": [_mine_item(a, now) for a in past[:500]],
    }


@router.get(
    "/mine/{meeting_id}",
    response={200: MeetingMineDetail, **READ_ERRORS},
    tags=MINE,
    summary="One of my meetings",
    description="With, at an appraisal, my self-assessment and the members I may rate.",
)
def mine_detail(request, meeting_id: PathId):
    meeting = _mine(request, meeting_id)
    me = services.attendee_of(request.user, meeting)
    me.meeting = meeting
    data = _mine_item(me, timezone.now())
    data |= {"appraisal": meeting.activity_type.appraisal, "self_assessment": "", "peers": []}
    if meeting.activity_type.appraisal:
        given = dict(
            Assessment.objects.filter(meeting=meeting, rater=me.member).values_list(
                "member_id", "grade"
            )
        )
        own = Assessment.objects.filter(meeting=meeting, member=me.member, rater=None).first()
        data["self_assessment"] = own.text if own else ""
        data["peers"] = [
            {"member_id": member_id, "name": name, "my_grade": given.get(member_id) or None}
            for member_id, name in Attendee.objects.filter(meeting=meeting, guest=False)
            .exclude(member=me.member)
            .values_list("member_id", "name")
        ]
    return data


# Staff: meetings -------------------------------------------------------------------------------


@router.get(
    "",
    response={200: list[MeetingItem], 400: Error, **READ_ERRORS},
    summary="List meetings",
    description="Meetings of the organisations in your scope, newest first. An unknown `type` "
    "answers 400 no_such_type.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_meetings(request, filters: Query[MeetingsFilter]):
    org = _org(request, filters.org) if filters.org is not None else None
    activity_type = _type(filters.type) if filters.type else None
    return selectors.meeting_list(
        request.user,
        org=org,
        activity_type=activity_type,
        status=filters.status or "",
        since=filters.since,
        until=filters.until,
        text=filters.q or "",
    )


@router.post(
    "",
    response={201: MeetingDetail, **ERRORS},
    summary="Schedule a meeting",
    description="Planned (or recorded afterwards: then mark it held), with the members of the "
    "organisation's subtree expected and incoming mobile members as guests. Bad values answer "
    "400: required, too_long, ends_before, too_long (ends_at: three days at most), "
    "invalid_link, invalid_hours, wrong_kind (type), no_such_type, not_a_recorder, dissolved "
    "(org).",
)
def schedule(request, payload: MeetingIn):
    org = _org(request, payload.org)
    _may_manage(request, org)
    values = payload.dict(exclude={"org", "type", "recorder"}, exclude_none=True)
    values["activity_type"] = _type(payload.type)
    values["recorder"] = _recorder(payload.recorder, org)
    with _named(**NAMES):
        meeting = services.schedule(actor=request.user, organization=org, **values)
    return Status(201, _detail(request, meeting.pk))


@router.get(
    "/{meeting_id}",
    response={200: MeetingDetail, **READ_ERRORS},
    summary="One meeting",
    description="With its attendees, the attendance summary, resolutions and files.",
)
def get_meeting(request, meeting_id: PathId):
    return _detail(request, _meeting(request, meeting_id).pk)


# Null on these leaves them as they are; on the other texts it clears them.
KEEP_ON_NULL = ("type", "topic", "starts_at", "ends_at", "class_hours")


@router.patch(
    "/{meeting_id}",
    response={200: MeetingDetail, **ERRORS},
    summary="Change a meeting",
    description="Only the fields given. A new start without an end keeps the meeting's length. "
    "A held meeting cannot move into the future (400 future_meeting); a cancelled one cannot "
    "change (409 cancelled).",
)
def update(request, meeting_id: PathId, payload: MeetingUpdate):
    meeting = _meeting(request, meeting_id)
    _may_manage(request, meeting.organization)
    values = payload.dict(exclude_unset=True)
    for key in KEEP_ON_NULL:
        if key in values and values[key] is None:
            values.pop(key)
    for key in ("agenda", "place", "online_link", "host", "lecturer", "lecture_title"):
        if key in values and values[key] is None:
            values[key] = ""
    if "type" in values:
        values["activity_type"] = _type(values.pop("type"))
    if "recorder" in values:
        values["recorder"] = _recorder(values["recorder"], meeting.organization)
    if "starts_at" in values and "ends_at" not in values:
        values["ends_at"] = values["starts_at"] + (meeting.ends_at - meeting.starts_at)
    with _named(**NAMES):
        services.update(actor=request.user, meeting=meeting, **values)
    return _detail(request, meeting.pk)


@router.post(
    "/{meeting_id}/cancel",
    response={200: MeetingDetail, **ERRORS},
    summary="Cancel a meeting",
    description="A held meeting cancelled no longer counts for compliance. Already cancelled: "
    "409 wrong_status.",
)
def cancel(request, meeting_id: PathId, payload: MeetingCancelIn):
    meeting = _meeting(request, meeting_id)
    services.cancel(actor=request.user, meeting=meeting, reason=payload.reason)
    return _detail(request, meeting.pk)


@router.post(
    "/{meeting_id}/notice",
    response={200: MeetingNoticeOut, **ERRORS},
    summary="Tell the attendees",
    description="A notice to every attendee with an account; each is told once per start "
    "time (moving the meeting tells them again). Planned meetings only (409 wrong_status).",
)
def notice(request, meeting_id: PathId):
    meeting = _meeting(request, meeting_id)
    told = services.send_notice(actor=request.user, meeting=meeting)
    sent = Meeting.objects.values_list("notice_sent_at", flat=True).get(pk=meeting.pk)
    return {"told": told, "notice_sent_at": sent}


@router.post(
    "/{meeting_id}/held",
    response={200: MeetingDetail, **ERRORS},
    summary="Record a meeting as held",
    description="It counts for compliance; class hours go to those present (and to those "
    "marked present later). Planned meetings only (409 wrong_status); not before it starts "
    "(400 future_meeting).",
)
def held(request, meeting_id: PathId):
    meeting = _meeting(request, meeting_id)
    services.mark_held(actor=request.user, meeting=meeting)
    return _detail(request, meeting.pk)


@router.post(
    "/{meeting_id}/attendance",
    response={200: MeetingDetail, **ERRORS},
    summary="Mark attendance",
    description="The body maps attendee ids to states, for those without a phone and those "
    "absent. An id not of this meeting refuses the whole call (400 not_expected). Cancelled "
    "meetings: 409 cancelled.",
)
def attendance(request, meeting_id: PathId, payload: Body[Attendance]):
    meeting = _meeting(request, meeting_id)
    services.set_attendance(actor=request.user, meeting=meeting, states=dict(payload))
    return _detail(request, meeting.pk)


@router.post(
    "/{meeting_id}/leave/{attendee_id}",
    response={200: MeetingAttendeeOut, **ERRORS},
    summary="Approve or refuse leave",
    description="For leave an attendee asked (409 no_leave otherwise); approved leave marks "
    "the attendee on leave.",
)
def decide_leave(request, meeting_id: PathId, attendee_id: PathId, payload: MeetingLeaveDecisionIn):
    meeting = _meeting(request, meeting_id)
    _may_manage(request, meeting.organization)
    attendee = Attendee.objects.filter(pk=attendee_id, meeting=meeting).first()
    if attendee is None:
        raise NotFound(_("Not found."))
    attendee.meeting = meeting
    decided = services.decide_leave(
        actor=request.user, attendee=attendee, approve=payload.decision == "approve"
    )
    return _attendee(decided)


@router.put(
    "/{meeting_id}/minutes",
    response={200: MeetingDetail, **ERRORS},
    summary="Save the minutes",
    description="Rich text: scripts, styles, links and attributes are removed.",
)
def minutes(request, meeting_id: PathId, payload: MeetingMinutesIn):
    meeting = _meeting(request, meeting_id)
    services.save_minutes(actor=request.user, meeting=meeting, html=payload.minutes)
    return _detail(request, meeting.pk)


@router.post(
    "/{meeting_id}/resolutions",
    response={201: MeetingResolutionOut, **ERRORS},
    summary="Record a resolution and its vote",
    description="At meetings that vote (400 no_votes otherwise). The counts of voting members "
    "expected and present come from the attendance: more votes than voters present answers "
    "400 too_many_votes, more written opinions than voters absent 400 too_many_written. "
    "Valid and passed by the rules: more than half of the voting members present, and yes "
    "votes (written opinions included) from more than half of those expected.",
)
def add_resolution(request, meeting_id: PathId, payload: MeetingResolutionIn):
    meeting = _meeting(request, meeting_id)
    _may_manage(request, meeting.organization)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    resolution = services.add_resolution(actor=request.user, meeting=meeting, **payload.dict())
    return Status(201, resolution)


@router.get(
    "/{meeting_id}/signin-code",
    response={200: MeetingSigninCodeOut, 403: Error, 409: Error, **READ_ERRORS},
    summary="The current sign-in code",
    description="For the recorder's screen: show it as a QR code and ask again when it "
    "expires. Needs meeting.manage (403 otherwise); cancelled meetings 409 cancelled.",
)
def signin_code(request, meeting_id: PathId):
    meeting = _meeting(request, meeting_id)
    _may_manage(request, meeting.organization)
    if meeting.status == MeetingStatus.CANCELLED:
        raise Conflict(_("The meeting is cancelled."), code="cancelled")
    now = time.time()
    window = rules.code_window(now)
    opens, closes = services.signin_window(meeting)
    return {
        "code": services.current_code(meeting, now),
        "expires_at": datetime.datetime.fromtimestamp(
            (window + 1) * rules.CODE_SECONDS, tz=datetime.UTC
        ),
        "opens_at": meeting.starts_at - rules.SIGNIN_BEFORE,
        "closes_at": meeting.ends_at + rules.SIGNIN_AFTER,
        "open": opens <= now <= closes,
    }


# Members: sign-in, leave, appraisal ------------------------------------------------------------


@router.post(
    "/{meeting_id}/sign-in",
    response={200: MeetingAttendeeOut, **ERRORS},
    tags=MINE,
    summary="Sign in with the code on the screen",
    description="From 30 minutes before the start to 30 minutes after the end. Refused codes "
    "answer 400 (field code): code_malformed, code_forged, code_other_meeting, code_expired "
    "(scan again), code_closed. Signing in twice is harmless. Cancelled: 409 cancelled.",
)
def sign_in(request, meeting_id: PathId, payload: MeetingSignInIn):
    meeting = _mine(request, meeting_id)
    return _attendee(services.sign_in(user=request.user, meeting=meeting, code=payload.code))


@router.post(
    "/{meeting_id}/leave",
    response={200: MeetingAttendeeOut, **ERRORS},
    tags=MINE,
    summary="Ask for leave",
    description="Before the meeting starts (409 too_late); the secretary decides.",
)
def ask_leave(request, meeting_id: PathId, payload: MeetingLeaveIn):
    meeting = _mine(request, meeting_id)
    with _named(leave_reason="reason"):
        attendee = services.ask_leave(user=request.user, meeting=meeting, reason=payload.reason)
    return _attendee(attendee)


@router.post(
    "/{meeting_id}/self-assessment",
    response={200: MeetingSelfAssessmentOut, **ERRORS},
    tags=MINE,
    summary="Write my self-assessment",
    description="At an appraisal (400 no_appraisal otherwise); writing again replaces it.",
)
def self_assessment(request, meeting_id: PathId, payload: MeetingSelfAssessmentIn):
    meeting = _mine(request, meeting_id)
    found = services.self_assess(user=request.user, meeting=meeting, text=payload.text)
    return {"meeting_id": meeting.pk, "text": found.text}


@router.post(
    "/{meeting_id}/peer-ratings",
    response={200: MeetingPeerRatingOut, **ERRORS},
    tags=MINE,
    summary="Rate a member",
    description="At an appraisal, one grade per member (rating again replaces it); who gave "
    "which grade is never shown. Not oneself (400 self_rating), only members expected who "
    "are not guests (400 not_a_member).",
)
def peer_rating(request, meeting_id: PathId, payload: MeetingPeerRatingIn):
    meeting = _mine(request, meeting_id)
    member = Member.objects.filter(pk=payload.member).first()
    if member is None:
        raise ValidationFailed(
            _("Only members of the organisation are appraised."),
            code="not_a_member",
            field="member",
        )
    found = services.rate_peer(
        user=request.user, meeting=meeting, member=member, grade=payload.grade
    )
    return {"meeting_id": meeting.pk, "member": member.pk, "grade": found.grade}
