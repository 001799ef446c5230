"""API of committees, terms, office-holders, elections, re-election and shape warnings.

Thin over committees.selectors, services and restructure. Reads look organisations, terms,
holders and elections up through the scope (org.view): outside it, 404. Writes go through the
services, which check org.officers (at the organisation to record, at the committee above to
approve or move a re-election date; 403 where the object is visible but the action is not
allowed) and record the audit events. Input the schema refuses answers 422; values the services
refuse answer 400 (or 409) with a stable code and the field at fault.
"""

import datetime
from typing import Literal

from django.conf import settings
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from dangjian.core import rules
from dangjian.core import selectors as core_selectors
from dangjian.core.api import ERRORS, READ_ERRORS, Id, IdField, PathId
from dangjian.core.apitools import Finished as _Finished
from dangjian.core.apitools import named as _named
from dangjian.core.apitools import organization as _org
from dangjian.core.apitools import today as _today
from dangjian.core.errors import Forbidden, NotFound
from dangjian.core.models import Organization, OrgKind
from dangjian.members import selectors as member_selectors
from dangjian.members.api import OrgRef
from dangjian.members.paging import CappedPageNumberPagination

from . import restructure, selectors, services
from .models import Election, ElectionKind, ElectionStatus, Form, Position

router = Router(tags=["committees"])

ShapeProblem = Literal[rules.SHAPE_PROBLEMS]


# Output ----------------------------------------------------------------------------------------


class TermOut(Schema):
    id: int
    organization_id: int
    form: Form
    form_name: str
    elected_on: datetime.date
    term_years: int
    rule_version: str = Field(description="the rule of term lengths applied (by election date)")
    ends_on: datetime.date
    due_on: datetime.date = Field(description="re-election due (ends_on unless moved)")
    shift_reason: str
    shift_reference: str
    ended_on: datetime.date | None = Field(description="empty for the current term")
    election_id: int | None

    @staticmethod
    def resolve_form_name(obj):
        return str(obj.get_form_display())


class HolderOut(Schema):
    id: int
    organization_id: int
    term_id: int | None
    member_id: int
    person_name: str = Field(description="the name at the time")
    position: Position
    position_name: str
    started_on: datetime.date
    ended_on: datetime.date | None = Field(description="empty while in office")
    end_reason: str
    reference: str

    @staticmethod
    def resolve_position_name(obj):
        return str(obj.get_position_display())


class CommitteeOut(Schema):
    organization: OrgRef
    current_term: TermOut | None
    reelection_status: Literal["ok", "due", "overdue"] | None = Field(
        description="of the current term, with the configured lead time"
    )
    days_left: int | None = Field(description="days until re-election is due; negative: overdue")
    holders: list[HolderOut] = Field(description="in office now")
    history: list[HolderOut] = Field(description="every holder, latest first")
    terms: list[TermOut] = Field(description="latest first")


class CandidateOut(Schema):
    id: int
    member_id: int
    person_name: str
    votes: int
    elected: bool
    position: Position
    position_name: str

    @staticmethod
    def resolve_position_name(obj):
        return str(obj.get_position_display())


class ElectionItem(Schema):
    id: int
    organization: OrgRef
    kind: ElectionKind
    form: Form
    held_on: datetime.date
    seats: int
    voters_expected: int
    voters_present: int
    valid: bool = Field(description="more than four fifths of the voters expected were present")
    margin_ok: bool = Field(description="candidates exceed the seats by at least 20%")
    problems: list[str] = Field(description="quorum, margin, tie, unfilled")
    problem_messages: list[str]
    status: ElectionStatus
    status_name: str
    decided_on: datetime.date | None
    decision_reference: str

    @staticmethod
    def resolve_problem_messages(obj):
        return [services.election_problem_message(p) for p in obj.problems]

    @staticmethod
    def resolve_status_name(obj):
        return str(obj.get_status_display())


class ElectionOut(ElectionItem):
    rule_version: str
    decision_note: str
    created_at: datetime.datetime
    candidates: list[CandidateOut] = Field(description="most votes first")

    @staticmethod
    def resolve_candidates(obj):
        return list(obj.candidates.all())


class ReelectionItem(TermOut):
    organization: OrgRef
    status: Literal["due", "overdue"]
    days_left: int = Field(description="negative: overdue by that many days")


class ShapeItem(Schema):
    id: int
    code: str
    name: str
    kind: OrgKind
    members: int = Field(description="active members of its whole subtree")
    full_members: int
    committee_size: int = Field(description="0 without an elected committee")
    has_secretary: bool
    problems: list[ShapeProblem]

    @staticmethod
    def resolve_id(obj):
        return obj.org_id


class TransferRef(Schema):
    id: int
    person_name: str
    from_org_id: int | None
    to_org_id: int | None


class PreviewOut(Schema):
    ok: bool = Field(description="false: the change would be refused, for `problems`")
    members: int = Field(description="members who move")
    member_names: list[str] = Field(description=f"the first {restructure.PREVIEW_NAMES}")
    guests: int = Field(description="mobile members of elsewhere hosted here, who move too")
    children: list[OrgRef] = Field(description="sub-organisations that move")
    holders: list[HolderOut] = Field(description="offices that end")
    blocking: list[TransferRef] = Field(description="transfers under way to decide first")
    problems: list[str]


class RestructureOut(Schema):
    applied: bool = Field(description="false for a dry run")
    organization: OrgRef | None = Field(
        description="merge: the organisation merged into; split: the new organisation (none on "
        "a dry run); dissolve: the dissolved organisation"
    )
    preview: PreviewOut


# Input -----------------------------------------------------------------------------------------


class TermIn(Schema):
    form: Form = Field(description="an elected committee or a secretary only")
    elected_on: datetime.date


class ShiftIn(Schema):
    due_on: datetime.date = Field(description="at most a year from the end of the term")
    reason: str
    reference: str = Field("", description="the approval document")


class AppointIn(Schema):
    member_id: int = IdField(description="a full member in good standing of the organisation")
    position: Position
    started_on: datetime.date
    reference: str = Field("", description="document number")


class EndOfficeIn(Schema):
    ended_on: datetime.date
    reason: str = ""


class CandidateIn(Schema):
    member_id: Id
    votes: int = Field(ge=0, le=services.MAX_VOTERS, description="at most the voters present")
    position: Position = Field(
        Position.MEMBER, description="the post given after the vote, if elected"
    )


class ElectionIn(Schema):
    kind: ElectionKind = ElectionKind.GENERAL
    form: Form = Form.COMMITTEE
    held_on: datetime.date
    seats: int = Field(ge=1, le=services.MAX_SEATS)
    voters_expected: int = Field(
        ge=0,
        le=services.MAX_VOTERS,
        description="voting members (full, not under Party probation)",
    )
    voters_present: int = Field(ge=0, le=services.MAX_VOTERS)
    candidates: list[CandidateIn] = Field(max_length=services.MAX_CANDIDATES)


class ElectionDecisionIn(Schema):
    approve: bool
    decided_on: datetime.date | None = Field(None, description="default today")
    reference: str = Field("", description="the approval document")
    note: str = ""


class MergeIn(Schema):
    into_id: int = IdField(description="the organisation that takes members and sub-organisations")
    on: datetime.date | None = Field(None, description="default today")
    dry_run: bool = Field(False, description="true: answer the preview, change nothing")


class SplitIn(Schema):
    code: str
    name: str
    short_name: str = ""
    kind: OrgKind | None = Field(None, description="default: the kind of the organisation split")
    member_ids: list[Id] = Field(
        max_length=10_000, description="the members who move to the new organisation"
    )
    on: datetime.date | None = Field(None, description="default today")
    dry_run: bool = Field(False, description="true: answer the preview, change nothing")


class DissolveIn(Schema):
    move_members_to: int | None = IdField(None, description="the branch that takes the members")
    on: datetime.date | None = Field(None, description="default today")
    dry_run: bool = Field(False, description="true: answer the preview, change nothing")


class ElectionFilter(Schema):
    org: int | None = IdField(None, description="organisation id: its whole subtree")
    status: ElectionStatus | None = None
    to_decide: bool = Field(
        False, description="true: only elections awaiting a decision this account may take"
    )


class ReelectionFilter(Schema):
    root: int | None = IdField(None, description="organisation id: its whole subtree")
    lead_days: int | None = Field(
        None, ge=0, le=3650, description="default: the configured lead time"
    )


class ShapeFilter(Schema):
    root: int | None = IdField(None, description="organisation id: its whole subtree")
    problem: ShapeProblem | None = Field(None, description="only organisations with this problem")


# Helpers ---------------------------------------------------------------------------------------


def _subtree(qs, request, org_id: int | None, path_field: str, field: str):
    if org_id is None:
        return qs
    org = _org(request, org_id, field)
    return qs.filter(core_selectors.subtree_range(path_field, org.path))


def _election(request, election_id: int) -> Election:
    found = (
        selectors.elections(request.user)
        .filter(pk=election_id)
        .prefetch_related("candidates")
        .first()
    )
    if found is None:
        raise NotFound(_("Election not found."))
    return found


class ShapePagination(CappedPageNumberPagination):
    class Output(CappedPageNumberPagination.Output):
        counts: dict[str, int] = Field(
            description="organisations per problem, over the scope (or `root`), before `problem`"
        )

    def paginate_queryset(self, queryset, pagination, request, **params):
        page = super().paginate_queryset(queryset["rows"], pagination, request, **params)
        return page | {"counts": queryset["counts"]}


# Committees, terms and office-holders ----------------------------------------------------------


@router.get(
    "/orgs/{org_id}",
    response={200: CommitteeOut, **READ_ERRORS},
    summary="An organisation's committee",
    description="The current term and office-holders, the history of holders, and every term.",
)
def committee(request, org_id: PathId):
    org = _org(request, org_id)
    user = request.user
    terms = list(selectors.terms(user, org))
    current = next((t for t in terms if t.ended_on is None), None)
    status = days_left = None
    if current is not None:
        today = _today()
        status = rules.reelection_status(current.due_on, today, settings.REELECTION_LEAD_DAYS)
        days_left = (current.due_on - today).days
    return {
        "organization": org,
        "current_term": current,
        "reelection_status": status,
        "days_left": days_left,
        "holders": list(selectors.current_holders(user, org)),
        "history": list(selectors.holder_history(user, org)),
        "terms": terms,
    }


@router.post(
    "/orgs/{org_id}/terms",
    response={201: TermOut, **ERRORS},
    summary="Record a term from the paper record",
    description="For an election held before the platform: ends the current term (if any) on "
    "the new term's first day. Terms and due dates follow the rule in force on `elected_on`.",
)
def record_term(request, org_id: PathId, payload: TermIn):
    org = _org(request, org_id)
    term = services.record_term(
        actor=request.user, org=org, form=payload.form, elected_on=payload.elected_on
    )
    return Status(201, term)


@router.post(
    "/terms/{term_id}/shift",
    response={200: TermOut, **ERRORS},
    summary="Move a re-election date",
    description="By the committee above, at most one year either way, with the reason.",
)
def shift_due_date(request, term_id: PathId, payload: ShiftIn):
    term = selectors.get_term(request.user, term_id)
    return services.shift_due_date(
        actor=request.user,
        term=term,
        due_on=payload.due_on,
        reason=payload.reason,
        reference=payload.reference,
    )


def _member(request, member_id: int, field: str):
    try:
        return member_selectors.get_member(request.user, member_id)
    except NotFound:
        raise NotFound(_("Member not found."), field=field) from None


@router.post(
    "/orgs/{org_id}/holders",
    response={201: HolderOut, **ERRORS},
    summary="Appoint an office-holder",
    description="A single position (secretary, organisation, publicity, discipline, group "
    "leader) must be free first: 409 position_taken.",
)
def appoint(request, org_id: PathId, payload: AppointIn):
    org = _org(request, org_id)
    member = _member(request, payload.member_id, "member_id")
    with _named(member="member_id"):
        holder = services.appoint(
            actor=request.user,
            org=org,
            member=member,
            position=payload.position,
            started_on=payload.started_on,
            reference=payload.reference,
        )
    return Status(201, holder)


@router.post(
    "/holders/{holder_id}/end",
    response={200: HolderOut, **ERRORS},
    summary="End an office",
)
def end_office(request, holder_id: PathId, payload: EndOfficeIn):
    holder = selectors.get_holder(request.user, holder_id)
    return services.end_office(
        actor=request.user, holder=holder, ended_on=payload.ended_on, reason=payload.reason
    )


# Elections -------------------------------------------------------------------------------------


@router.get(
    "/elections",
    response={200: list[ElectionItem], **READ_ERRORS},
    summary="List elections",
    description="Latest first; with to_decide, those awaiting this account's approval, oldest "
    "first.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_elections(request, filters: Query[ElectionFilter]):
    if filters.to_decide:
        qs = selectors.pending_approvals(request.user)
    else:
        qs = selectors.elections(request.user)
    qs = _subtree(qs, request, filters.org, "organization__path", "org")
    if filters.status:
        qs = qs.filter(status=filters.status)
    return qs


@router.post(
    "/orgs/{org_id}/elections",
    response={201: ElectionOut, **ERRORS},
    summary="Record an election",
    description="Works out who is elected (DOMAIN §4). Numbers that do not add up answer 400 "
    "naming the field (candidates.N for a candidate); a member id outside the scope answers "
    "404 with field candidates.N.member_id. A valid election that failed (no quorum, too few "
    "candidates) is stored with its problems and cannot be approved.",
)
def record_election(request, org_id: PathId, payload: ElectionIn):
    org = _org(request, org_id)
    ids = [c.member_id for c in payload.candidates]
    found = member_selectors.members(request.user).in_bulk(ids)
    candidates = []
    for i, row in enumerate(payload.candidates):
        member = found.get(row.member_id)
        if member is None:
            raise NotFound(_("Member not found."), field=f"candidates.{i}.member_id")
        candidates.append({"member": member, "votes": row.votes, "position": row.position})
    data = payload.dict(exclude={"candidates"}) | {"candidates": candidates}
    election = services.record_election(actor=request.user, org=org, data=data)
    return Status(201, _election(request, election.pk))


@router.get(
    "/elections/{election_id}",
    response={200: ElectionOut, **READ_ERRORS},
    summary="One election, with its candidates",
)
def get_election(request, election_id: PathId):
    return _election(request, election_id)


@router.post(
    "/elections/{election_id}/decision",
    response={200: ElectionOut, **ERRORS},
    summary="Approve an election, or not",
    description="By the committee above (403 for the organisation itself). Approving a "
    "re-election ends the old term and its offices on the day of the election and puts the "
    "elected in office. Deciding twice answers 409 already_decided.",
)
def decide_election(request, election_id: PathId, payload: ElectionDecisionIn):
    election = selectors.get_election(request.user, election_id)
    services.decide_election(
        actor=request.user,
        election=election,
        approve=payload.approve,
        decided_on=payload.decided_on,
        reference=payload.reference,
        note=payload.note,
    )
    return _election(request, election.pk)


# Re-election and shape -------------------------------------------------------------------------


@router.get(
    "/reelection",
    response={200: list[ReelectionItem], **READ_ERRORS},
    summary="Terms due or overdue for re-election",
    description="Current terms whose re-election falls within the lead time, or has passed; "
    "soonest first.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def reelection(request, filters: Query[ReelectionFilter]):
    today = _today()
    lead = settings.REELECTION_LEAD_DAYS if filters.lead_days is None else filters.lead_days
    qs = selectors.reelection_due(request.user, today=today, lead_days=lead)
    qs = _subtree(qs, request, filters.root, "organization__path", "root")
    return _Finished(qs, lambda rows: selectors.annotate_status(rows, today, lead))


@router.get(
    "/shape",
    response={200: list[ShapeItem], **READ_ERRORS},
    summary="Organisations out of shape",
    description="Every active organisation (groups aside) with a problem by DOMAIN §5, in tree "
    "order, with the counts per problem. Computed once per scope and root and kept a few "
    "minutes, or until anything changes: turning pages reads that.",
)
@paginate(ShapePagination, page_size=50)
def shape(request, filters: Query[ShapeFilter]):
    root = _org(request, filters.root, "root") if filters.root is not None else None
    report = selectors.out_of_shape(request.user, root)
    counts = dict.fromkeys(rules.SHAPE_PROBLEMS, 0)
    for item in report:
        for problem in item.problems:
            counts[problem] += 1
    if filters.problem:
        report = [s for s in report if filters.problem in s.problems]
    return {"rows": report, "counts": counts}


# Restructuring ---------------------------------------------------------------------------------


def _may_restructure(request, org: Organization) -> None:
    # Before the other organisation is looked up: a secretary asking to merge her branch into
    # one she cannot see hears that she may not restructure hers (403), not "not found".
    if not core_selectors.can(request.user, "org.dissolve", org):
        raise Forbidden(_("You may not restructure “%(org)s”.") % {"org": org.name})


def _preview(preview: restructure.Preview) -> dict:
    return {
        "ok": preview.ok,
        "members": preview.members,
        "member_names": preview.member_names,
        "guests": preview.guests,
        "children": preview.children,
        "holders": preview.holders,
        "blocking": preview.blocking,
        "problems": [str(p) for p in preview.problems],
    }


@router.post(
    "/orgs/{org_id}/merge",
    response={200: RestructureOut, **ERRORS},
    summary="Merge into another organisation",
    description="Members and sub-organisations move to `into_id`, offices end, and the "
    "organisation is dissolved, in one transaction. dry_run answers the preview only.",
)
def merge(request, org_id: PathId, payload: MergeIn):
    source = _org(request, org_id)
    _may_restructure(request, source)
    target = _org(request, payload.into_id, "into_id")
    preview = restructure.preview_merge(actor=request.user, source=source, target=target)
    if not payload.dry_run:
        restructure.merge(actor=request.user, source=source, target=target, on=payload.on)
    return {"applied": not payload.dry_run, "organization": target, "preview": _preview(preview)}


@router.post(
    "/orgs/{org_id}/split",
    response={200: RestructureOut, **ERRORS},
    summary="Split a branch",
    description="A new organisation beside it (same parent) takes the chosen members. "
    "dry_run answers the preview only.",
)
def split(request, org_id: PathId, payload: SplitIn):
    source = _org(request, org_id)
    _may_restructure(request, source)
    preview = restructure.preview_split(
        actor=request.user, source=source, member_ids=payload.member_ids
    )
    new_org = None
    if not payload.dry_run:
        values = {"code": payload.code, "name": payload.name, "short_name": payload.short_name}
        if payload.kind:
            values["kind"] = payload.kind
        new_org = restructure.split(
            actor=request.user,
            source=source,
            values=values,
            member_ids=payload.member_ids,
            on=payload.on,
        )
    return {"applied": not payload.dry_run, "organization": new_org, "preview": _preview(preview)}


@router.post(
    "/orgs/{org_id}/dissolve",
    response={200: RestructureOut, **ERRORS},
    summary="Dissolve, moving members",
    description="Its members move to `move_members_to`, its offices end, and it is dissolved, "
    "in one transaction. dry_run answers the preview only.",
)
def dissolve(request, org_id: PathId, payload: DissolveIn):
    org = _org(request, org_id)
    _may_restructure(request, org)
    target = None
    if payload.move_members_to is not None:
        target = _org(request, payload.move_members_to, "move_members_to")
    preview = restructure.preview_dissolve(actor=request.user, org=org, move_members_to=target)
    if not payload.dry_run:
        org = restructure.dissolve(
            actor=request.user, org=org, on=payload.on, move_members_to=target
        )
    return {"applied": not payload.dry_run, "organization": org, "preview": _preview(preview)}
