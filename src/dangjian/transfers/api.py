"""API of transfers, introduction letters, mobile members and members out of contact.

Thin over transfers.selectors and services. A transfer is seen from both sides: the sending
organisation's scope and the receiving one's (transfer.view); outside both, 404. The receiving
side sees what the transfer row says of the person (name, sex, category, from where) and never
the member's record, which stays in the sender's scope until it accepts. Writes go through the
services, which check transfer.manage on the side that acts (403 where the transfer is visible but
the action belongs to the other side) and record the audit events. Input the schema refuses
answers 422; values the services refuse answer 400 (or 409) with a stable code and the field.
"""

import datetime
import uuid
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from dangjian.core import codes
from dangjian.core import selectors as core_selectors
from dangjian.core.api import ERRORS, READ_ERRORS, Error
from dangjian.core.apitools import Finished as _Finished
from dangjian.core.apitools import named as _named
from dangjian.core.apitools import organization as _org
from dangjian.core.apitools import today as _today
from dangjian.core.errors import Forbidden, NotFound, ValidationFailed
from dangjian.core.models import Organization, OrgKind
from dangjian.members import api as member_api
from dangjian.members import selectors as member_selectors
from dangjian.members.api import OrgRef
from dangjian.members.models import Category, Member
from dangjian.members.paging import CappedPageNumberPagination

from . import selectors, services
from .models import Direction, MobileState, MobileStay, State, Transfer

router = Router(tags=["transfers"])


# Output ----------------------------------------------------------------------------------------


class TransferOut(Schema):
    id: int
    direction: Direction
    direction_name: str
    state: State
    state_name: str
    member_id: int | None = Field(
        description="the record; the receiving side may read it only once it has accepted"
    )
    person_name: str
    sex: str = Field(description="GB/T 2261.1 code, as when the transfer started")
    sex_name: str
    category: str = Field(description="full or probationary, as when the transfer started")
    category_name: str
    from_org: OrgRef | None = Field(description="none for a letter from outside the platform")
    to_org: OrgRef | None = Field(description="none for a letter out of the platform")
    counterpart: str = Field(description="the organisation outside the platform")
    reason: str
    started_on: datetime.date
    decided_on: datetime.date | None
    decision_note: str = Field(description="the reason given for returning or cancelling")
    batch: uuid.UUID | None = Field(description="transfers started together share it")
    letter_number: str
    letter_issuer: OrgRef | None = Field(description="the committee whose letter it is")
    addressee: str
    valid_until: datetime.date | None
    receipt_on: datetime.date | None
    created_at: datetime.datetime

    @staticmethod
    def resolve_direction_name(obj):
        return str(obj.get_direction_display())

    @staticmethod
    def resolve_state_name(obj):
        return str(obj.get_state_display())

    @staticmethod
    def resolve_sex_name(obj):
        return codes.name_of("sex", obj.sex)

    @staticmethod
    def resolve_category_name(obj):
        return str(Category(obj.category).label) if obj.category in Category.values else ""


class TargetOut(Schema):
    id: int
    code: str
    name: str
    kind: OrgKind
    parent_name: str | None = Field(description="to tell apart branches of the same name")


class MobileOut(Schema):
    id: int
    member_id: int | None = Field(description="none for a member of an organisation elsewhere")
    person_name: str
    home_org: OrgRef | None
    home_text: str = Field(description="the home organisation outside the platform")
    host_org: OrgRef | None = Field(description="none when the host is outside the platform")
    destination: str
    card_number: str = Field(description="activity card number")
    since: datetime.date
    expected_return: datetime.date | None
    returned_on: datetime.date | None
    state: MobileState
    state_name: str
    transfer_id: int | None = Field(description="the transfer the stay turned into")
    note: str
    created_at: datetime.datetime

    @staticmethod
    def resolve_state_name(obj):
        return str(obj.get_state_display())


class ContactOut(Schema):
    id: int = Field(description="the member")
    name: str
    organization: OrgRef
    status: str
    standing: str
    out_of_contact_since: datetime.date | None
    suspended_on: datetime.date | None = Field(description="when the standing was suspended")
    flag: Literal["", "suspend", "remove"] = Field(
        description="the decision due (a person takes it: POST .../decision); empty: none yet"
    )
    flag_due: datetime.date | None = Field(description="since when (or when next) it is due")


# Input -----------------------------------------------------------------------------------------

_ON = Field(None, description="default today")


class TransferIn(Schema):
    member_id: int | None = Field(None, description="one member; or member_ids")
    member_ids: list[int] | None = Field(
        None, description="several members at once (all or none), as one batch"
    )
    to_org_id: int = Field(description="any active branch of the tree (GET /transfers/targets)")
    on: datetime.date | None = _ON
    reason: str = ""


class AcceptIn(Schema):
    on: datetime.date | None = _ON


class ReturnIn(Schema):
    reason: str = Field(description="required: refusing without a reason is not allowed")


class CancelIn(Schema):
    reason: str = ""


class LetterIn(Schema):
    member_id: int
    counterpart: str = Field(description="the organisation outside the platform")
    addressee: str = Field("", description="default: the counterpart")
    on: datetime.date | None = _ON
    valid_days: int | None = Field(
        None,
        ge=1,
        le=services.LETTER_MAX_DAYS,
        description="default: the configured validity (30 days), cut to 3 months; at most 3 months",
    )
    reason: str = ""


class ReceiptIn(Schema):
    on: datetime.date | None = Field(None, description="the day the receipt came back")


class IncomingIn(Schema):
    to_org_id: int = Field(description="the branch the letter is addressed to")
    letter_number: str = Field(description="as printed on the letter")
    counterpart: str = Field(description="the organisation that issued it")
    person_name: str
    birth_date: datetime.date | None = Field(
        None,
        description="the person's birth date, when the letter gives it: a record brought back "
        "by ID number must then have it",
    )
    on: datetime.date | None = _ON
    valid_until: datetime.date | None = None
    reason: str = ""


class MemberRecordIn(member_api._RecordFields):
    """The member's record, as for POST /members; the organisation is the letter's."""

    name: str
    id_number: str = Field(description="18 characters (15-digit numbers are converted)")
    joined_on: str = Field(
        description="date of joining (YYYY-MM-DD)", json_schema_extra=member_api.DATE
    )
    category: str | None = Field(
        None,
        description="default: full when full_on is given, else probationary",
        json_schema_extra={"enum": [*Category.values, None]},
    )


class ConfirmIn(Schema):
    """Exactly one of member_id, id_number and record."""

    on: datetime.date | None = _ON
    member_id: int | None = Field(
        None, description="a record in your scope that left the platform earlier"
    )
    id_number: str | None = Field(
        None,
        description="the ID number of a record anywhere that left the platform earlier: found "
        "only when its name (and birth date, if the letter gives one) is the letter's. Every "
        "look-up is audited; 20 per 10 minutes per account (then 429 throttled)",
    )
    record: MemberRecordIn | None = Field(None, description="a new record")


class MobileOutIn(Schema):
    member_id: int
    destination: str = Field("", description="where to; default: the host organisation's name")
    host_org_id: int | None = Field(None, description="the host branch, if on the platform")
    since: datetime.date | None = _ON
    expected_return: datetime.date | None = Field(None, description="less than six months away")
    card_number: str = ""
    note: str = ""


class MobileInIn(Schema):
    host_org_id: int
    person_name: str
    home_text: str = Field(description="the home organisation outside the platform")
    since: datetime.date | None = _ON
    expected_return: datetime.date | None = None
    card_number: str = ""
    note: str = ""


class MobileReturnIn(Schema):
    on: datetime.date | None = _ON


class ConvertIn(Schema):
    on: datetime.date | None = _ON
    to_org_id: int | None = Field(None, description="default: the host, if on the platform")
    counterpart: str = Field(
        "", description="outside the platform: a letter to it (default: the destination)"
    )
    reason: str = ""


class ContactDecisionIn(Schema):
    decision: Literal["suspend", "remove"]
    on: datetime.date | None = _ON
    reference: str = Field(description="the document of the decision (the branch meeting's)")


class TransferFilter(Schema):
    side: Literal["incoming", "outgoing", "stuck"] | None = Field(
        None,
        description="incoming: arriving at your organisations; outgoing: leaving them; stuck: "
        "pending too long or past the letter's validity",
    )
    direction: Direction | None = None
    state: State | None = None
    org: int | None = Field(None, description="organisation id: its whole subtree (either side)")
    batch: uuid.UUID | None = None


class MobileFilter(Schema):
    side: Literal["out", "in"] | None = Field(
        None, description="out: members away from your organisations; in: guests of them"
    )
    active: bool = Field(True, description="false: also stays that have ended")
    org: int | None = Field(None, description="organisation id: its whole subtree")


class ContactFilter(Schema):
    org: int | None = Field(None, description="organisation id: its whole subtree")
    flag: Literal["suspend", "remove", "none"] | None = Field(
        None, description="only members due for suspension, for removal, or for nothing yet"
    )


# Helpers ---------------------------------------------------------------------------------------


def _receiver(org_id: int, field: str) -> Organization:
    """An organisation anywhere in the tree, for a member to go to (names of organisations are
    not secret: GET /transfers/targets lists them). The services check it is an active branch."""
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        raise ValidationFailed(
            _("That organisation does not exist."), code="no_such_organization", field=field
        )
    return org


def _member(request, member_id: int, field: str) -> Member:
    try:
        return member_selectors.get_member(request.user, member_id)
    except NotFound:
        raise NotFound(_("Member not found."), field=field) from None


def _transfer(request, transfer_id: int) -> Transfer:
    return selectors.get_transfer(request.user, transfer_id)


def _stay(request, stay_id: int) -> MobileStay:
    return selectors.get_stay(request.user, stay_id)


def _side(request, org: Organization | None) -> None:
    """The transfer (or stay) is visible from either side; the action belongs to `org`'s side:
    403 for an account that may not act there (the services answer 404 when `org` itself is
    out of its sight, which would hide a transfer the account has just read)."""
    if org is not None and not core_selectors.can(request.user, "transfer.manage", org):
        raise Forbidden(_("This is for the other side of the transfer to do."))


# Transfers -------------------------------------------------------------------------------------


@router.get(
    "",
    response={200: list[TransferOut], **READ_ERRORS},
    summary="List transfers and letters",
    description="Both sides see a transfer: the sending organisations and the receiving ones.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_transfers(request, filters: Query[TransferFilter]):
    user = request.user
    org = _org(request, filters.org, "org") if filters.org is not None else None
    if filters.side == "incoming":
        qs = selectors.incoming(user, org)
    elif filters.side == "outgoing":
        qs = selectors.outgoing(user, org)
    else:
        qs = selectors.stuck(user) if filters.side == "stuck" else selectors.transfers(user)
        if org is not None:
            qs = qs.filter(
                core_selectors.subtree_range("from_org__path", org.path)
                | core_selectors.subtree_range("to_org__path", org.path)
            )
        if filters.side is None:
            qs = qs.order_by("-started_on", "-id")
    if filters.direction:
        qs = qs.filter(direction=filters.direction)
    if filters.state:
        qs = qs.filter(state=filters.state)
    if filters.batch:
        qs = qs.filter(batch=filters.batch)
    return qs


@router.get(
    "/targets",
    response={200: list[TargetOut], **READ_ERRORS},
    summary="Organisations a transfer can go to",
    description="Active branches and joint branches of the whole tree, by code or name "
    "(at most 20). Empty for an account that may not transfer members.",
)
def targets(request, q: str = Query(..., description="code, or part of the name")):
    found = list(selectors.transfer_targets(request.user, q))
    parents = {o.parent_path for o in found if o.depth > 1}
    names = dict(Organization.objects.filter(path__in=parents).values_list("path", "name"))
    return [
        {
            "id": o.pk,
            "code": o.code,
            "name": o.name,
            "kind": o.kind,
            "parent_name": names.get(o.parent_path),
        }
        for o in found
    ]


@router.post(
    "",
    response={201: list[TransferOut], **ERRORS},
    summary="Start a transfer within the platform",
    description="The sending side asks the receiving branch to take the member (member_id) or "
    "several members at once (member_ids, all or none). The member stays here until accepted. "
    "A dissolved or non-branch target answers 400 (organization_dissolved, not_a_branch).",
)
def start_transfer(request, payload: TransferIn):
    if (payload.member_id is None) == (payload.member_ids is None):
        raise ValidationFailed(
            _("Give member_id or member_ids, not both."), code="required", field="member_id"
        )
    to_org = _receiver(payload.to_org_id, "to_org_id")
    if payload.member_id is not None:
        member = _member(request, payload.member_id, "member_id")
        with _named(to_org="to_org_id", started_on="on", member="member_id"):
            made = [
                services.start_transfer(
                    actor=request.user,
                    member=member,
                    to_org=to_org,
                    on=payload.on,
                    reason=payload.reason,
                )
            ]
    else:
        members = [
            _member(request, pk, f"member_ids.{i}") for i, pk in enumerate(payload.member_ids)
        ]
        with _named(to_org="to_org_id", started_on="on", member="member_ids", members="member_ids"):
            made = services.start_group_transfer(
                actor=request.user,
                members=members,
                to_org=to_org,
                on=payload.on,
                reason=payload.reason,
            )
    ids = [t.pk for t in made]
    return Status(201, list(selectors.transfers(request.user).filter(pk__in=ids).order_by("id")))


@router.post(
    "/{transfer_id}/accept",
    response={200: TransferOut, **ERRORS},
    summary="Accept a transfer",
    description="By the receiving side: the member's timeline and organisation change now. "
    "Deciding twice answers 409 already_decided.",
)
def accept(request, transfer_id: int, payload: AcceptIn):
    transfer = _transfer(request, transfer_id)
    _side(request, transfer.to_org)
    with _named(decided_on="on"):
        services.accept_transfer(actor=request.user, transfer=transfer, on=payload.on)
    return _transfer(request, transfer.pk)


@router.post(
    "/{transfer_id}/return",
    response={200: TransferOut, **ERRORS},
    summary="Return a transfer",
    description="By the receiving side, with the reason; the member stays where they are.",
)
def return_transfer(request, transfer_id: int, payload: ReturnIn):
    transfer = _transfer(request, transfer_id)
    _side(request, transfer.to_org)
    services.return_transfer(actor=request.user, transfer=transfer, reason=payload.reason)
    return _transfer(request, transfer.pk)


@router.post(
    "/{transfer_id}/cancel",
    response={200: TransferOut, **ERRORS},
    summary="Cancel a transfer or letter",
    description="By the side that started it (for an incoming letter, the receiving branch).",
)
def cancel(request, transfer_id: int, payload: CancelIn):
    transfer = _transfer(request, transfer_id)
    incoming = transfer.direction == Direction.INCOMING
    _side(request, transfer.to_org if incoming else transfer.from_org)
    services.cancel_transfer(actor=request.user, transfer=transfer, reason=payload.reason)
    return _transfer(request, transfer.pk)


# Letters ---------------------------------------------------------------------------------------


@router.post(
    "/letters",
    response={201: TransferOut, **ERRORS},
    summary="Issue an introduction letter",
    description="To an organisation outside the platform; numbered per issuing committee and "
    "year. The member stays here until the receipt comes back.",
)
def issue_letter(request, payload: LetterIn):
    member = _member(request, payload.member_id, "member_id")
    with _named(started_on="on", member="member_id"):
        transfer = services.issue_letter(
            actor=request.user,
            member=member,
            counterpart=payload.counterpart,
            addressee=payload.addressee,
            on=payload.on,
            valid_days=payload.valid_days,
            reason=payload.reason,
        )
    return Status(201, _transfer(request, transfer.pk))


@router.post(
    "/{transfer_id}/receipt",
    response={200: TransferOut, **ERRORS},
    summary="Record the returned receipt",
    description="The member has left the platform.",
)
def receipt(request, transfer_id: int, payload: ReceiptIn):
    transfer = _transfer(request, transfer_id)
    _side(request, transfer.from_org)
    with _named(receipt_on="on", kind="on"):
        services.record_receipt(actor=request.user, transfer=transfer, on=payload.on)
    return _transfer(request, transfer.pk)


@router.post(
    "/incoming",
    response={201: TransferOut, **ERRORS},
    summary="Register an incoming letter",
    description="A letter from outside the platform; confirm it to create or link the record. "
    "A letter number registered before from the same organisation answers 409 "
    "duplicate_letter.",
)
def register_incoming(request, payload: IncomingIn):
    to_org = _org(request, payload.to_org_id, "to_org_id")
    with _named(to_org="to_org_id", started_on="on"):
        transfer = services.register_incoming(
            actor=request.user,
            to_org=to_org,
            letter_number=payload.letter_number,
            counterpart=payload.counterpart,
            person_name=payload.person_name,
            on=payload.on,
            valid_until=payload.valid_until,
            reason=payload.reason,
            birth_date=payload.birth_date,
        )
    return Status(201, _transfer(request, transfer.pk))


def _returning(request, payload: ConfirmIn, transfer: Transfer) -> Member | None:
    if payload.member_id is not None:
        return _member(request, payload.member_id, "member_id")
    if payload.id_number is not None:
        found = services.returning_member(
            actor=request.user, transfer=transfer, id_number=payload.id_number
        )
        if found is None:
            raise NotFound(
                _("No record that left the platform has this ID number and the letter's name."),
                field="id_number",
            )
        return found
    return None


@router.post(
    "/{transfer_id}/confirm",
    response={200: TransferOut, **ERRORS, 429: Error},
    summary="Confirm an incoming letter",
    description="Link the record of someone who left the platform before (member_id in your "
    "scope, or id_number anywhere), or create the record (record, as for POST /members; its "
    "errors name record.<field>). The member joins the letter's branch. A linked record must "
    "be of the person the letter names (400 not_the_person); look-ups by id_number are audited "
    "and limited (429 throttled).",
)
def confirm(request, transfer_id: int, payload: ConfirmIn):
    given = [payload.member_id, payload.id_number, payload.record]
    if sum(value is not None for value in given) != 1:
        raise ValidationFailed(
            _("Give one of member_id, id_number and record."), code="required", field="record"
        )
    transfer = _transfer(request, transfer_id)
    _side(request, transfer.to_org)
    member = _returning(request, payload, transfer)
    data = None
    if payload.record is not None:
        raw = payload.record.model_dump(exclude_unset=True)
        with _named("record."):
            data = member_api._check(
                {k: v for k, v in raw.items() if v is not None},
                Member,
                allowed=member_api._RECORD_INPUT | {"category"},
                dates=member_api._RECORD_DATES,
                choices={"category": Category.values},
                required={"name", "id_number", "joined_on"},
            )
    field = "member_id" if payload.member_id is not None else "id_number"
    prefix = "record." if data is not None else ""
    with _named(prefix, decided_on="on", member=field, to_org=None, kind="on"):
        services.confirm_incoming(
            actor=request.user, transfer=transfer, on=payload.on, data=data, member=member
        )
    return _transfer(request, transfer.pk)


# Mobile members --------------------------------------------------------------------------------


@router.get(
    "/mobile",
    response={200: list[MobileOut], **READ_ERRORS},
    summary="List mobile members",
    description="Members away from your organisations (out) and guests taking part in their "
    "life (in): guests never vote there.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_mobile(request, filters: Query[MobileFilter]):
    user = request.user
    org = _org(request, filters.org, "org") if filters.org is not None else None
    if filters.side == "out":
        return selectors.mobile_out(user, org, active=filters.active)
    if filters.side == "in":
        return selectors.mobile_in(user, org, active=filters.active)
    qs = selectors.mobile_stays(user)
    if org is not None:
        qs = qs.filter(
            core_selectors.subtree_range("home_org__path", org.path)
            | core_selectors.subtree_range("host_org__path", org.path)
        )
    if filters.active:
        qs = qs.filter(state=MobileState.ACTIVE)
    return qs.order_by("-since", "-id")


@router.post(
    "/mobile/out",
    response={201: MobileOut, **ERRORS},
    summary="A member leaves for a while",
    description="Less than six months at one place; longer: transfer the membership.",
)
def mobile_out(request, payload: MobileOutIn):
    member = _member(request, payload.member_id, "member_id")
    host = None
    if payload.host_org_id is not None:
        host = _receiver(payload.host_org_id, "host_org_id")
    with _named(host_org="host_org_id", member="member_id", kind="since"):
        stay = services.register_mobile_out(
            actor=request.user,
            member=member,
            destination=payload.destination,
            host_org=host,
            since=payload.since,
            expected_return=payload.expected_return,
            card_number=payload.card_number,
            note=payload.note,
        )
    return Status(201, _stay(request, stay.pk))


@router.post(
    "/mobile/in",
    response={201: MobileOut, **ERRORS},
    summary="A member of elsewhere joins here",
    description="They take part in meetings and may pay dues here, never vote here.",
)
def mobile_in(request, payload: MobileInIn):
    host = _org(request, payload.host_org_id, "host_org_id")
    with _named(host_org="host_org_id"):
        stay = services.register_mobile_in(
            actor=request.user,
            host_org=host,
            person_name=payload.person_name,
            home_text=payload.home_text,
            since=payload.since,
            expected_return=payload.expected_return,
            card_number=payload.card_number,
            note=payload.note,
        )
    return Status(201, _stay(request, stay.pk))


@router.post(
    "/mobile/{stay_id}/return",
    response={200: MobileOut, **ERRORS},
    summary="End a stay",
    description="The member is back (or a guest has left).",
)
def mobile_return(request, stay_id: int, payload: MobileReturnIn):
    stay = _stay(request, stay_id)
    _side(request, stay.home_org if stay.member_id else stay.host_org)
    with _named(returned_on="on", kind="on"):
        services.end_mobile(actor=request.user, stay=stay, on=payload.on)
    return _stay(request, stay.pk)


@router.post(
    "/mobile/{stay_id}/convert",
    response={201: TransferOut, **ERRORS},
    summary="Turn a stay into a transfer",
    description="To the host on the platform (or to_org_id), or with a letter to counterpart "
    "outside it.",
)
def mobile_convert(request, stay_id: int, payload: ConvertIn):
    stay = _stay(request, stay_id)
    _side(request, stay.home_org)
    to_org = None
    if payload.to_org_id is not None:
        to_org = _receiver(payload.to_org_id, "to_org_id")
    with _named(started_on="on", to_org="to_org_id", kind="on"):
        transfer = services.convert_mobile(
            actor=request.user,
            stay=stay,
            on=payload.on,
            to_org=to_org,
            counterpart=payload.counterpart,
            reason=payload.reason,
        )
    return Status(201, _transfer(request, transfer.pk))


# Out of contact --------------------------------------------------------------------------------


@router.get(
    "/contact",
    response={200: list[ContactOut], **READ_ERRORS},
    summary="Members out of contact",
    description="Flagged for suspension of standing six months after contact was lost, and "
    "for removal two more years on. Flags only: a person decides.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def out_of_contact(request, filters: Query[ContactFilter]):
    org = _org(request, filters.org, "org") if filters.org is not None else None
    today = _today()
    qs = selectors.out_of_contact(request.user, org)
    if filters.flag:
        qs = selectors.with_flag(qs, "" if filters.flag == "none" else filters.flag, today)
    return _Finished(qs, lambda rows: selectors.with_flags(rows, today))


@router.post(
    "/contact/{member_id}/decision",
    response={200: ContactOut, **ERRORS},
    summary="Decide on a member out of contact",
    description="Suspend the standing, or remove, when the flag says it is due (400 not_due "
    "otherwise); the decision names its document and goes on the timeline.",
)
def contact_decision(request, member_id: int, payload: ContactDecisionIn):
    member = member_selectors.get_member(request.user, member_id)
    with _named(kind="on"):
        member = services.decide_contact(
            actor=request.user,
            member=member,
            decision=payload.decision,
            on=payload.on,
            reference=payload.reference,
        )
    row = selectors.out_of_contact(request.user).filter(pk=member.pk).first()
    if row is not None:
        return selectors.with_flags([row])[0]
    # Removed: no longer an active member, nothing more is due.
    member.suspended_on, member.flag, member.flag_due = None, "", None
    return member


# Last: "/{transfer_id}" would otherwise take /letters, /incoming, /mobile and /contact.
@router.get(
    "/{transfer_id}", response={200: TransferOut, **READ_ERRORS}, summary="One transfer or letter"
)
def get_transfer(request, transfer_id: int):
    return _transfer(request, transfer_id)
