"""Member records in the API: /api/v1/members. Thin over members.selectors and services.

Reads look the member up through the scope (`selectors.get_member`, action member.view): outside
it, 404. Writes go through the services, which check member.change (403 where the record is
visible but not editable) and record the audit events.

Input values are checked here only for what the services leave to the database (dates as text,
lengths, choice lists); wrong values answer 400 {code, message, field, errors: [{loc, msg,
code}]}, like the services' own field errors. A body of the wrong JSON shape answers 422.
"""

import datetime

from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import BaseModel, ConfigDict

from dangjian.core import codes
from dangjian.core import selectors as core_selectors
from dangjian.core.api import ERRORS, READ_ERRORS, Error
from dangjian.core.errors import Forbidden, NotFound, ServiceError
from dangjian.core.models import Organization

from . import rules, selectors, services
from .models import (
    Category,
    EventKind,
    FamilyMember,
    HistoryEntry,
    HistoryKind,
    Member,
    RecordKind,
    RewardDiscipline,
    Standing,
    StandingEvent,
)
from .models import Status as MemberStatus
from .paging import CappedPageNumberPagination
from .services import RecordInvalid

router = Router(tags=["members"])

LIST_ERRORS = {400: Error, 403: Error, **READ_ERRORS}
CONTACT_FIELDS = ("phone", "telephone", "home_address")
DATE = {"format": "date", "example": "2005-07-01"}


def _today() -> datetime.date:
    return timezone.localdate()


# Output ----------------------------------------------------------------------------------------


class OrgRef(Schema):
    id: int
    code: str
    name: str


class MemberItem(Schema):
    id: int
    name: str
    sex: str = Field(description="GB/T 2261.1 code")
    sex_name: str
    ethnicity: str = Field(description="GB 3304 code")
    ethnicity_name: str
    birth_date: datetime.date
    age: int
    id_number: str = Field(description="masked; POST /members/{id}/reveal gives the full value")
    phone: str = Field(description="mobile number, masked; empty when none is recorded")
    education: str = Field(description="GB/T 4658 code, or empty")
    education_name: str
    job_category: str = Field(description="code of the Party's statistics, or empty")
    job_category_name: str
    category: Category
    category_name: str
    standing: Standing
    status: MemberStatus
    joined_on: datetime.date
    full_on: datetime.date | None
    party_years: int | None = Field(description="党龄: whole years since becoming full")
    out_of_contact: bool
    mobile: bool
    organization: OrgRef

    @staticmethod
    def resolve_sex_name(obj):
        return codes.name_of("sex", obj.sex)

    @staticmethod
    def resolve_ethnicity_name(obj):
        return codes.name_of("ethnicity", obj.ethnicity)

    @staticmethod
    def resolve_education_name(obj):
        return codes.name_of("education", obj.education)

    @staticmethod
    def resolve_job_category_name(obj):
        return codes.name_of("job_category", obj.job_category)

    @staticmethod
    def resolve_category_name(obj):
        return str(obj.get_category_display())

    @staticmethod
    def resolve_age(obj):
        return rules.age_on(obj.birth_date, _today())

    @staticmethod
    def resolve_party_years(obj):
        return rules.party_years(obj.full_on, _today())

    @staticmethod
    def resolve_id_number(obj):
        return selectors.masked_id_number(obj)

    @staticmethod
    def resolve_phone(obj):
        return selectors.masked_phone(obj)


class MemberOut(MemberItem):
    degree: str
    school: str
    native_place: str
    work_started_on: datetime.date | None
    work_unit: str
    title: str
    party_post: str
    telephone: str
    home_address: str
    note: str
    out_of_contact_since: datetime.date | None
    mobile_destination: str
    created_at: datetime.datetime
    updated_at: datetime.datetime


class RevealOut(Schema):
    id_number: str
    phone: str


class EventOut(Schema):
    id: int
    kind: EventKind
    kind_name: str
    on: datetime.date
    organization: OrgRef | None
    detail: str
    reference: str
    created_by: str | None = Field(description="the account that recorded the event")
    created_at: datetime.datetime

    @staticmethod
    def resolve_kind_name(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_on(obj):
        return obj.occurred_on

    @staticmethod
    def resolve_created_by(obj):
        user = obj.created_by
        return (user.display_name or user.username) if user else None


class StateOut(Schema):
    on: datetime.date
    counts: bool = Field(description="a member of the Party on that day")
    status: str = Field(description="active, how the membership ended, or not_yet")
    category: str
    standing: str
    organization: OrgRef | None
    joined_on: datetime.date | None
    full_on: datetime.date | None
    out_of_contact: bool
    out_of_contact_since: datetime.date | None
    mobile: bool
    mobile_destination: str


class FamilyOut(Schema):
    id: int
    relation: str
    name: str
    birth_date: datetime.date | None
    political_status: str
    work_unit: str


class HistoryOut(Schema):
    id: int
    kind: HistoryKind
    started_on: datetime.date
    ended_on: datetime.date | None
    place: str
    role: str


class RewardOut(Schema):
    id: int
    kind: RecordKind
    decided_on: datetime.date
    title: str
    issuer: str
    reference: str
    note: str


# Input -----------------------------------------------------------------------------------------


class _Input(BaseModel):
    # A plain pydantic model: ninja's Schema reads declared fields only, and unknown fields must
    # reach the checks below (which name them) instead of being dropped silently.
    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)


def _date(description=""):
    """An optional date, given as text: a malformed one answers 400 naming the field."""
    return Field(None, description=(description + " (YYYY-MM-DD)").strip(), json_schema_extra=DATE)


def _choice(values, description=""):
    """An optional value of a list, given as text: another value answers 400."""
    return Field(None, description=description, json_schema_extra={"enum": [*values, None]})


_RECORD_DOC = {
    "sex": "1 male, 2 female (男/女 accepted); default: from the ID number",
    "ethnicity": "code or name (汉族, 汉, 01); default 01",
    "education": "code or name (本科, 21)",
    "job_category": "code or name",
}


class _RecordFields(_Input):
    sex: str | None = Field(None, description=_RECORD_DOC["sex"])
    ethnicity: str | None = Field(None, description=_RECORD_DOC["ethnicity"])
    birth_date: str | None = _date("default: from the ID number")
    education: str | None = Field(None, description=_RECORD_DOC["education"])
    degree: str | None = None
    school: str | None = None
    native_place: str | None = None
    work_started_on: str | None = _date()
    job_category: str | None = Field(None, description=_RECORD_DOC["job_category"])
    work_unit: str | None = None
    title: str | None = None
    party_post: str | None = None
    phone: str | None = Field(None, description="mainland mobile number, 11 digits")
    telephone: str | None = None
    home_address: str | None = None
    note: str | None = None
    full_on: str | None = _date("date of becoming full; empty for a probationary member")


class MemberCreate(_RecordFields):
    organization_id: int = Field(description="the branch the member belongs to")
    name: str
    id_number: str = Field(description="18 characters (15-digit numbers are converted)")
    joined_on: str = Field(description="date of joining (YYYY-MM-DD)", json_schema_extra=DATE)
    category: str | None = _choice(
        Category.values, "default: full when full_on is given, else probationary"
    )


class MemberUpdate(_RecordFields):
    """Fields left out stay as they are. Organisation and category change through events."""

    name: str | None = None
    id_number: str | None = None
    joined_on: str | None = _date("date of joining")


class ContactUpdate(_Input):
    """A member's own contact details; any other field is refused (403)."""

    phone: str | None = Field(None, description="mainland mobile number; empty to clear")
    telephone: str | None = None
    home_address: str | None = None


class EventIn(_Input):
    kind: str = Field(json_schema_extra={"enum": list(rules.EVENT_KINDS)})
    on: str = Field(description="the day of the event (YYYY-MM-DD)", json_schema_extra=DATE)
    organization_id: int | None = Field(
        None, description="where the member is after the event (admitted, transferred_in)"
    )
    detail: str = Field("", description="e.g. the destination of a mobile member")
    reference: str = Field("", description="document number")


class FamilyIn(_Input):
    relation: str = Field(description="e.g. 配偶, 儿子")
    name: str
    birth_date: str | None = _date()
    political_status: str | None = None
    work_unit: str | None = None


class FamilyPatch(_Input):
    relation: str | None = None
    name: str | None = None
    birth_date: str | None = _date()
    political_status: str | None = None
    work_unit: str | None = None


class HistoryIn(_Input):
    kind: str = Field(json_schema_extra={"enum": list(HistoryKind.values)})
    started_on: str = Field(description="YYYY-MM-DD", json_schema_extra=DATE)
    ended_on: str | None = _date("empty while it lasts")
    place: str = Field(description="school or work unit")
    role: str | None = Field(None, description="major or post")


class HistoryPatch(_Input):
    kind: str | None = _choice(HistoryKind.values)
    started_on: str | None = _date()
    ended_on: str | None = _date()
    place: str | None = None
    role: str | None = None


class RewardIn(_Input):
    kind: str = Field(json_schema_extra={"enum": list(RecordKind.values)})
    decided_on: str = Field(description="YYYY-MM-DD", json_schema_extra=DATE)
    title: str
    issuer: str | None = None
    reference: str | None = None
    note: str | None = None


class RewardPatch(_Input):
    kind: str | None = _choice(RecordKind.values)
    decided_on: str | None = _date()
    title: str | None = None
    issuer: str | None = None
    reference: str | None = None
    note: str | None = None


_FLAG = {"enum": ["true", "false", "1", "0", "yes", "no"]}
_WHOLE = {"pattern": r"^\d{1,3}$"}


class MemberQuery(Schema):
    """The filters of the member list (the same as the list page's). Bad values answer 400."""

    org: str | None = Field(
        None,
        description="organisation id: its whole subtree",
        json_schema_extra={"pattern": r"^\d+$"},
    )
    exact_org: str | None = Field(
        None, description="true: only the organisation itself", json_schema_extra=_FLAG
    )
    category: str | None = _choice(Category.values)
    standing: str | None = _choice(Standing.values)
    status: str | None = _choice(
        ["", *MemberStatus.values], "default active; empty for every status"
    )
    sex: str | None = _choice(codes.SEX)
    age_min: str | None = Field(None, json_schema_extra=_WHOLE)
    age_max: str | None = Field(None, json_schema_extra=_WHOLE)
    education: str | None = _choice(codes.EDUCATION)
    ethnicity: str | None = _choice(
        ["han", "minority", *codes.ETHNICITY], "han, minority or a code"
    )
    years_min: str | None = Field(None, description="党龄 at least", json_schema_extra=_WHOLE)
    years_max: str | None = Field(None, description="党龄 at most", json_schema_extra=_WHOLE)
    joined_from: str | None = _date()
    joined_to: str | None = _date()
    job_category: str | None = _choice(codes.JOB_CATEGORY)
    mobile: str | None = Field(None, description="mobile members", json_schema_extra=_FLAG)
    out_of_contact: str | None = Field(None, json_schema_extra=_FLAG)
    q: str | None = Field(
        None,
        description="name prefix, pinyin initials (zs), full ID number or mobile number",
    )
    sort: str | None = _choice(selectors.SORTS, "default: organization")


# Checking input --------------------------------------------------------------------------------

# Of a member record, the name and the codes (男, 汉族, 本科 ...): the services check them.
_CHECKED_BY_SERVICES = {"name", "sex", "ethnicity", "education", "job_category"}
_RECORD_DATES = {"birth_date", "work_started_on", "joined_on", "full_on"}
_REQUIRED_RECORD = {"name", "sex", "ethnicity", "birth_date", "id_number", "joined_on"}


def _fail(errors: dict[str, list[str]], error_codes: dict[str, str]):
    exc = RecordInvalid(errors, code=next(iter(error_codes.values())))
    exc.codes = error_codes
    return exc


def _check(
    data: dict,
    model,
    *,
    allowed,
    dates=(),
    choices=None,
    required=(),
    nullable_required=False,
) -> dict:
    """Parse dates, check lengths (from the model) and choice lists; strip text.

    Raises RecordInvalid naming every faulty field. `required` fields may not be null or empty;
    other null values become "" (text) or None (dates)."""
    errors: dict[str, list[str]] = {}
    error_codes: dict[str, str] = {}
    choices = choices or {}

    def fail(field, message, code):
        errors.setdefault(field, []).append(message)
        error_codes.setdefault(field, code)

    out = {}
    for field, value in data.items():
        if field not in allowed:
            fail(field, _("This field cannot be set here."), "unknown_field")
            continue
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if field in required:
                fail(field, _("This field is required."), "required")
                continue
            out[field] = None if field in dates else ("" if value is None else value)
            continue
        if field in dates:
            try:
                value = datetime.date.fromisoformat(str(value))
            except ValueError:
                fail(field, _("Enter a date as YYYY-MM-DD."), "invalid_date")
                continue
        elif field in choices and value not in choices[field]:
            fail(field, _("Unknown value %(value)s.") % {"value": value}, "unknown_code")
            continue
        elif isinstance(value, str) and not (model is Member and field in _CHECKED_BY_SERVICES):
            try:
                limit = model._meta.get_field(field).max_length
            except FieldDoesNotExist:  # id_number, phone: the services check them
                limit = None
            if limit and len(value) > limit:
                fail(field, _("At most %(n)s characters.") % {"n": limit}, "too_long")
                continue
        out[field] = value
    if errors:
        raise _fail(errors, error_codes)
    return out


def _renamed(exc: ServiceError, names: dict[str, str]) -> ServiceError:
    """A service error with its field renamed to the name of the API's input."""
    if exc.field in names:
        exc.field = names[exc.field]
    errors = getattr(exc, "errors", None)
    if isinstance(errors, dict):
        exc.errors = {names.get(k, k): v for k, v in errors.items()}
        exc.codes = {names.get(k, k): v for k, v in getattr(exc, "codes", {}).items()}
    return exc


def _filter_errors(f: selectors.MemberFilter) -> dict[str, str]:
    """Values of the choice filters that name nothing (from_params reads them as text)."""
    lists = {
        "category": Category.values,
        "standing": Standing.values,
        "status": ["", *MemberStatus.values],
        "sex": list(codes.SEX),
        "education": list(codes.EDUCATION),
        "job_category": list(codes.JOB_CATEGORY),
        "ethnicity": ["han", "minority", *codes.ETHNICITY],
    }
    found = {}
    for name, values in lists.items():
        value = getattr(f, name)
        if value and value not in values:
            found[name] = "unknown value"
    return found


def _member(request, member_id) -> Member:
    return selectors.get_member(request.user, member_id, "member.view")


def _reread(request, member: Member) -> Member:
    return selectors.get_member(request.user, member.pk, "member.view")


# Own record (before /{member_id}) --------------------------------------------------------------


@router.get(
    "/me",
    response={200: MemberOut, 401: Error, 404: Error},
    summary="My own member record",
    description="The record linked to the account of the token; 404 when there is none.",
)
def my_record(request):
    member = selectors.own_member(request.user)
    if member is None:
        raise NotFound(_("No member record is linked to your account."))
    return member


@router.patch(
    "/me/contact",
    response={200: MemberOut, **ERRORS},
    summary="Correct my own contact details",
    description="Phone, landline and home address only; any other field answers 403.",
)
def update_my_contact(request, payload: ContactUpdate):
    data = payload.model_dump(exclude_unset=True)
    known = {k: v for k, v in data.items() if k in CONTACT_FIELDS}
    clean = _check(known, Member, allowed=CONTACT_FIELDS)
    clean.update({k: v for k, v in data.items() if k not in CONTACT_FIELDS})  # the service refuses
    member = services.update_own_contact(actor=request.user, data=clean)
    return selectors.own_member(request.user) or member


# The list and the record -----------------------------------------------------------------------


@router.get(
    "",
    response={200: list[MemberItem], **LIST_ERRORS},
    summary="List and search members",
    description="Members in the token's scope. ID and phone numbers are masked.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_members(request, filters: Query[MemberQuery]):
    if not core_selectors.can(request.user, "member.view"):
        raise Forbidden(_("Your role does not show member records."))
    f, errors = selectors.MemberFilter.from_params(request.GET)
    errors |= {k: v for k, v in _filter_errors(f).items() if k not in errors}
    if errors:
        raise _fail({k: [v] for k, v in errors.items()}, dict.fromkeys(errors, "invalid"))
    f.today = _today()
    return selectors.member_list(request.user, f)


_RECORD_INPUT = set(services.RECORD_FIELDS) | {"id_number", "phone", "joined_on", "full_on"}


@router.post("", response={201: MemberOut, **ERRORS}, summary="Record a member")
def create_member(request, payload: MemberCreate):
    data = payload.model_dump(exclude_unset=True)
    org_id = data.pop("organization_id")
    data = {k: v for k, v in data.items() if v is not None}  # null: as if left out
    clean = _check(
        data,
        Member,
        allowed=_RECORD_INPUT | {"category"},
        dates=_RECORD_DATES,
        choices={"category": Category.values},
        required={"name", "id_number", "joined_on"},
    )
    org = core_selectors.get_organization(request.user, org_id)
    try:
        member = services.create_member(actor=request.user, organization=org, data=clean)
    except ServiceError as exc:
        raise _renamed(exc, {"organization": "organization_id"}) from None
    return Status(201, _reread(request, member))


@router.get("/{member_id}", response={200: MemberOut, **READ_ERRORS}, summary="One member")
def get_member(request, member_id: int):
    return _member(request, member_id)


@router.patch("/{member_id}", response={200: MemberOut, **ERRORS}, summary="Edit a member record")
def update_member(request, member_id: int, payload: MemberUpdate):
    member = _member(request, member_id)
    clean = _check(
        payload.model_dump(exclude_unset=True),
        Member,
        allowed=_RECORD_INPUT,
        dates=_RECORD_DATES,
        required=_REQUIRED_RECORD,
    )
    services.update_member(actor=request.user, member=member, data=clean)
    return _reread(request, member)


@router.post(
    "/{member_id}/reveal",
    response={200: RevealOut, **ERRORS},
    summary="Full ID and phone numbers",
    description="For roles that grant member.view_sensitive (403 otherwise); recorded in the "
    "audit log.",
)
def reveal(request, member_id: int):
    member = _member(request, member_id)
    return services.reveal(actor=request.user, member=member)


# The timeline ----------------------------------------------------------------------------------


@router.get(
    "/{member_id}/events",
    response={200: list[EventOut], **READ_ERRORS},
    summary="Party-standing timeline",
)
def list_events(request, member_id: int):
    return selectors.timeline(_member(request, member_id))


@router.post(
    "/{member_id}/events",
    response={201: EventOut, **ERRORS},
    summary="Add an event to the timeline",
    description="Checked against the member's state on its date; the record's category, "
    "standing, status, organisation, contact and mobility follow from the timeline.",
)
def record_event(request, member_id: int, payload: EventIn):
    member = _member(request, member_id)
    data = payload.model_dump(exclude_unset=True)
    clean = _check(
        {k: v for k, v in data.items() if k != "organization_id"},
        StandingEvent,
        allowed={"kind", "on", "detail", "reference"},
        dates={"on"},
        required={"kind", "on"},
    )
    org = None
    if payload.organization_id is not None:
        org = core_selectors.get_organization(request.user, payload.organization_id)
    try:
        event = services.record_event(
            actor=request.user,
            member=member,
            kind=clean["kind"],
            on=clean["on"],
            organization=org,
            detail=clean.get("detail") or "",
            reference=clean.get("reference") or "",
        )
    except ServiceError as exc:
        raise _renamed(exc, {"organization": "organization_id", "occurred_on": "on"}) from None
    event = StandingEvent.objects.select_related("organization", "created_by").get(pk=event.pk)
    return Status(201, event)


@router.get(
    "/{member_id}/state",
    response={200: StateOut, 400: Error, **READ_ERRORS},
    summary="The member's state on a day",
    description="Replays the timeline up to `on` (default today): annual statistics ask for "
    "31 December.",
)
def state_on(
    request,
    member_id: int,
    on: str | None = Query(None, description="YYYY-MM-DD", example="2024-12-31"),
):
    member = _member(request, member_id)
    day = _check({"on": on}, StandingEvent, allowed={"on"}, dates={"on"})["on"] if on else None
    day = day or _today()
    state = selectors.state_as_of(member, day)
    org = None
    if state.organization_id:
        org = Organization.objects.filter(pk=state.organization_id).first()
    return {
        "on": day,
        "counts": state.counts,
        "status": state.status,
        "category": state.category,
        "standing": state.standing,
        "organization": org,
        "joined_on": state.joined_on,
        "full_on": state.full_on,
        "out_of_contact": state.out_of_contact,
        "out_of_contact_since": state.out_of_contact_since,
        "mobile": state.mobile,
        "mobile_destination": state.mobile_destination,
    }


# Related tables: family, history (education and work), rewards and discipline ---------------

_RELATED = {
    # kind: (model, schema in, schema patch, schema out, required, dates, choices, label)
    "family": (
        FamilyMember,
        FamilyIn,
        FamilyPatch,
        FamilyOut,
        {"relation", "name"},
        {"birth_date"},
        {},
        "family members",
    ),
    "history": (
        HistoryEntry,
        HistoryIn,
        HistoryPatch,
        HistoryOut,
        {"kind", "started_on", "place"},
        {"started_on", "ended_on"},
        {"kind": HistoryKind.values},
        "education and work history",
    ),
    "rewards": (
        RewardDiscipline,
        RewardIn,
        RewardPatch,
        RewardOut,
        {"kind", "decided_on", "title"},
        {"decided_on"},
        {"kind": RecordKind.values},
        "rewards and discipline",
    ),
}


def _register_related(kind: str) -> None:
    model, schema_in, schema_patch, schema_out, required, dates, choices, label = _RELATED[kind]
    fields = services.RELATED[kind][1]

    def clean(payload):
        return _check(
            payload.model_dump(exclude_unset=True),
            model,
            allowed=fields,
            dates=dates,
            choices=choices,
            required=required,
        )

    def row_of(member, row_id):
        row = model.objects.filter(pk=row_id, member=member).first()
        if row is None:
            raise NotFound(_("Not found."))
        return row

    def rows(member):
        return list(model.objects.filter(member=member))

    @router.get(
        f"/{{member_id}}/{kind}",
        response={200: list[schema_out], **READ_ERRORS},
        summary=f"List the {label}",
        operation_id=f"dangjian_members_api_{kind}_list",
    )
    def list_rows(request, member_id: int):
        return rows(_member(request, member_id))

    @router.post(
        f"/{{member_id}}/{kind}",
        response={201: schema_out, **ERRORS},
        summary=f"Add to the {label}",
        operation_id=f"dangjian_members_api_{kind}_add",
    )
    def add_row(request, member_id: int, payload: schema_in):
        member = _member(request, member_id)
        row = services.save_related(
            actor=request.user, member=member, kind=kind, data=clean(payload)
        )
        return Status(201, row)

    @router.patch(
        f"/{{member_id}}/{kind}/{{row_id}}",
        response={200: schema_out, **ERRORS},
        summary=f"Edit a row of the {label}",
        operation_id=f"dangjian_members_api_{kind}_update",
    )
    def update_row(request, member_id: int, row_id: int, payload: schema_patch):
        member = _member(request, member_id)
        row = row_of(member, row_id)
        return services.save_related(
            actor=request.user, member=member, kind=kind, data=clean(payload), instance=row
        )

    @router.delete(
        f"/{{member_id}}/{kind}/{{row_id}}",
        response={200: list[schema_out], **ERRORS},
        summary=f"Delete a row of the {label}",
        description="Answers the rows that remain.",
        operation_id=f"dangjian_members_api_{kind}_delete",
    )
    def delete_row(request, member_id: int, row_id: int):
        member = _member(request, member_id)
        services.delete_related(actor=request.user, member=member, row=row_of(member, row_id))
        return rows(member)


for _kind in _RELATED:
    _register_related(_kind)
