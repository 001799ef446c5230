"""API of requests from the public (群众诉求): the staff's router and the public desk's router.

Staff (token): thin over feedback.selectors and services. A request is seen where its owning
organisation lies in the caller's scope for feedback.view; outside it answers 404. The services
check feedback.handle (feedback.contact to reveal, feedback.configure for desks and rules) and
answer 403 where the request is visible but the action is not allowed; they record the audit
events. Input the schema refuses answers 422; values the services refuse answer 400 (409 for an
action the request's status does not allow) with a stable code and the field.

Public (no account): desks, a CAPTCHA, submitting, and following up with the tracking number and
check code. Everything carrying a check code is a POST, so the code never lands in an access log;
a wrong number and a wrong code answer the same 404. No answer of the public router ever holds the
submitter's name, phone or e-mail.
"""

import datetime
from typing import Literal

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from dangjian.core import captcha
from dangjian.core import selectors as core_selectors
from dangjian.core.api import ERRORS, READ_ERRORS, Error, IdField, PathId
from dangjian.core.apitools import named as _named
from dangjian.core.apitools import organization as _org
from dangjian.core.errors import Forbidden, NotFound, ValidationFailed
from dangjian.core.middleware import client_ip
from dangjian.core.models import Organization, OrgStatus, User
from dangjian.core.ratelimit import hit as _hit
from dangjian.members.api import OrgRef
from dangjian.members.paging import CappedPageNumberPagination

from . import rules, selectors, services
from .models import Category, EntryKind, PublicRequest
from .models import Status as RequestStatus

router = Router(tags=["feedback"])
public_router = Router(tags=["feedback (public)"], auth=None)

# The public router has no token: no 401, no 403; look-ups and submissions are limited (429).
PUBLIC_READ_ERRORS = {422: Error, 429: Error}
PUBLIC_ERRORS = {400: Error, 404: Error, 409: Error, 422: Error, 429: Error}
SUBMIT_ERRORS = {400: Error, 409: Error, 422: Error, 429: Error}

StaffAction = Literal[
    "accept", "start", "assign", "note", "forward", "merge", "answer", "close", "reject", "feature"
]
DueState = Literal["done", "overdue", "soon", "ok"]
# Literals, not the model's enums: "Status" and "Category" are taken in the document by members.
CategoryCode = Literal[tuple(Category.values)]
StatusCode = Literal[tuple(RequestStatus.values)]
EntryKindCode = Literal[tuple(EntryKind.values)]


# Output: staff -----------------------------------------------------------------------------------


class FeedbackUserRef(Schema):
    id: int
    name: str


def _user_ref(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name or user.get_username()}


class FeedbackItem(Schema):
    id: int
    number: str = Field(description="tracking number, e.g. 20261207-048213")
    category: CategoryCode
    category_name: str
    status: StatusCode
    status_name: str
    summary: str = Field(description="the text's first 40 characters")
    organization: OrgRef = Field(description="the organisation that owns the request now")
    routed_by: str = Field(description="chosen, desk, rule or forwarded")
    assignee: FeedbackUserRef | None
    submitted_at: datetime.datetime
    ack_due_at: datetime.datetime = Field(description="to acknowledge (accept) by")
    answer_due_at: datetime.datetime = Field(description="to answer by")
    ack_state: DueState
    answer_state: DueState
    acknowledged_at: datetime.datetime | None
    answered_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    escalated_at: datetime.datetime | None = Field(
        description="when the committee above was told it is overdue"
    )
    escalated_to: OrgRef | None
    rating: int | None = Field(description="1 to 5 stars from the person")
    reopened: int = Field(description="times the person reopened it")

    @staticmethod
    def resolve_category_name(obj):
        return str(obj.get_category_display())

    @staticmethod
    def resolve_status_name(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_assignee(obj):
        return _user_ref(obj.assignee)

    @staticmethod
    def resolve_ack_state(obj):
        return rules.due_state(obj.ack_due_at, obj.acknowledged_at is not None, timezone.now())

    @staticmethod
    def resolve_answer_state(obj):
        return rules.due_state(obj.answer_due_at, not obj.is_open, timezone.now())


class FeedbackContactOut(Schema):
    name: str
    phone: str
    email: str
    masked: bool = Field(description="true: shown masked (张**, 138****5678)")
    may_reveal: bool = Field(description="the caller may ask for it in full (POST .../reveal)")


class FeedbackDeskRef(Schema):
    code: str
    place: str


class FeedbackRequestRef(Schema):
    id: int
    number: str


class FeedbackEntryOut(Schema):
    id: int
    kind: EntryKindCode
    kind_name: str
    public: bool = Field(description="shown to the person; false for internal notes")
    text: str
    author: FeedbackUserRef | None
    from_org: OrgRef | None
    to_org: OrgRef | None
    created_at: datetime.datetime

    @staticmethod
    def resolve_kind_name(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_author(obj):
        return _user_ref(obj.author)


class FeedbackDetailOut(FeedbackItem):
    text: str
    desk: FeedbackDeskRef | None = Field(description="the desk it came through")
    consent_contact: bool = Field(description="the person agreed to be contacted")
    allow_public: bool = Field(description="the person allowed it on the public page")
    featured: bool = Field(description="shown on the public page")
    contact: FeedbackContactOut = Field(description="the person, masked unless revealed")
    public_reply: str
    replied_by: str
    reject_reason: str
    merged_into: FeedbackRequestRef | None
    rating_comment: str
    rated_at: datetime.datetime | None
    photo_count: int = Field(description="photos the person attached (shown on the web page)")
    history: list[FeedbackEntryOut] = Field(description="every step, internal notes included")
    actions: list[StaffAction] = Field(description="what the caller may do now")


def _detail(request, req: PublicRequest) -> PublicRequest:
    """The request with what its detail shows for this caller (contact masked)."""
    user = request.user
    req.contact = selectors.contact(user, req)
    req.history = selectors.history(req)
    req.photo_count = req.photos.count()
    actions = []
    if core_selectors.can(user, "feedback.handle", req.organization):
        for action in StaffAction.__args__:
            if rules.next_status(action, req.status) is None:
                continue
            if action == "feature" and not req.allow_public:
                continue
            actions.append(action)
    req.actions = actions
    return req


def _request(request, request_id: int, field: str | None = None) -> PublicRequest:
    try:
        return selectors.get_request(request.user, request_id)
    except NotFound:
        raise NotFound(_("Request not found."), field=field) from None


def _may_handle(request, req: PublicRequest) -> None:
    """403 before the API's own look-ups of the input, as the services answer when it is valid."""
    if not core_selectors.can(request.user, "feedback.handle", req.organization):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": req.organization.name})


def _reread(request, req: PublicRequest) -> PublicRequest:
    """The request after a change, for the answer. Not through the scope: a request the caller
    has just forwarded elsewhere is answered once more, as it stands now."""
    fresh = PublicRequest.objects.select_related(
        "organization", "assignee", "escalated_to", "desk", "merged_into"
    ).get(pk=req.pk)
    return _detail(request, fresh)


class FeedbackMonthFigures(Schema):
    month: str = Field(description="YYYY-MM")
    total: int
    answered: int
    late: int = Field(description="answered late (or open past the deadline)")
    late_share: float | None = Field(None, description="per cent")
    avg_rating: float | None


class FeedbackCategoryFigures(Schema):
    category: CategoryCode
    category_name: str
    total: int
    avg_rating: float | None


class FeedbackChildFigures(Schema):
    organization: OrgRef
    own: bool = Field(description="true: the requests the organisation owns itself")
    total: int
    open: int
    late: int = Field(description="answered late, or open past the deadline")
    late_share: float | None = Field(description="per cent")
    avg_rating: float | None


class FeedbackFiguresOut(Schema):
    organization: OrgRef | None
    total: int = Field(description="requests, merged duplicates left out")
    open: int
    answered: int
    late: int = Field(description="answered late, or open past the deadline")
    overdue_open: int
    rated: int
    satisfied: int = Field(description="rated 4 or 5")
    avg_rating: float | None
    late_share: float | None = Field(description="per cent")
    satisfied_share: float | None = Field(description="per cent of the rated")
    ack_time_hours: float | None = Field(description="average time to acknowledge")
    answer_time_hours: float | None = Field(description="average time to answer")
    by_month: list[FeedbackMonthFigures]
    by_category: list[FeedbackCategoryFigures]
    by_child: list[FeedbackChildFigures] = Field(description="only with org: one row per child")


class RoutingRuleOut(Schema):
    id: int
    organization: OrgRef
    category: str = Field(description="empty: any category")
    keywords: str = Field(description="separated by spaces")
    weight: int
    active: bool
    note: str
    created_at: datetime.datetime


class RoutingRuleDeleted(Schema):
    id: int


class FeedbackDeskOut(Schema):
    id: int
    organization: OrgRef
    code: str = Field(description="printed on the QR poster of the desk")
    place: str
    intro: str
    active: bool
    created_at: datetime.datetime


# Input: staff ------------------------------------------------------------------------------------


# Bounds of the figures' dates: beyond them date arithmetic overflows, and nothing lies there.
FIRST_DAY, LAST_DAY = datetime.date(2000, 1, 1), datetime.date(2100, 12, 31)


class FeedbackInboxFilter(Schema):
    view: Literal[selectors.INBOX_VIEWS] = Field(
        "open",
        description="open (default), new, mine (given to me), soon (answer due within a day), "
        "overdue (past the answer deadline, or not acknowledged past that one), escalated, "
        "answered, all",
    )
    org: int | None = IdField(None, description="an organisation's subtree")
    exact: bool = Field(False, description="with org: only the requests it owns itself")
    category: CategoryCode | None = None
    status: StatusCode | None = None
    q: str | None = Field(None, description="text or tracking number contains")


class FeedbackAssignIn(Schema):
    assignee_id: int | None = IdField(
        None, description="a person who handles requests there; none: nobody"
    )


class FeedbackNoteIn(Schema):
    text: str = Field(description="internal: never shown to the person")


class FeedbackForwardIn(Schema):
    to_org_id: int = IdField(description="any active organisation (GET /feedback/forward-targets)")
    reason: str = Field(description="required")


class FeedbackMergeIn(Schema):
    into_id: int = IdField(description="the request this one repeats")
    note: str = ""


class FeedbackAnswerIn(Schema):
    reply: str = Field(description="the public reply the person reads")
    signed: str = Field("", description="default: the organisation's name")


class FeedbackRejectIn(Schema):
    reason: str = Field(description="required; the person reads it")


class FeedbackFeatureIn(Schema):
    shown: bool = Field(description="show on the public page (the person must have allowed it)")


class FeedbackFiguresFilter(Schema):
    org: int | None = IdField(None, description="an organisation's subtree; default: all in scope")
    since: datetime.date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="submitted on or after"
    )
    until: datetime.date | None = Field(
        None, ge=FIRST_DAY, le=LAST_DAY, description="submitted on or before"
    )


class RoutingRuleFilter(Schema):
    org: int | None = IdField(None, description="rules of an organisation's subtree")


class RoutingRuleIn(Schema):
    organization_id: int = IdField(description="requests matching go there")
    keywords: str = Field(description="separated by spaces, commas or 、")
    category: str = Field(
        "",
        description="empty: any category",
        json_schema_extra={"enum": ["", *Category.values]},
    )
    weight: int = Field(1, description="1 to 10")
    active: bool = True
    note: str = ""


class FeedbackDeskIn(Schema):
    organization_id: int = IdField(description="one desk per organisation: saving again updates")
    code: str = Field(description="2 to 32 lower-case letters, digits and hyphens")
    place: str = ""
    intro: str = ""
    active: bool = True


# Staff: requests ---------------------------------------------------------------------------------


@router.get(
    "/requests",
    response={200: list[FeedbackItem], **READ_ERRORS},
    summary="List requests from the public",
    description="Requests owned by organisations in your scope. `view` picks a tab of the "
    "inbox; open tabs are ordered by the answering deadline, the others newest first.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_requests(request, filters: Query[FeedbackInboxFilter]):
    org = _org(request, filters.org, "org") if filters.org is not None else None
    return selectors.inbox(
        request.user,
        view=filters.view,
        org=org,
        exact=filters.exact,
        category=filters.category or "",
        status=filters.status or "",
        text=filters.q or "",
    )


@router.get(
    "/forward-targets",
    response={200: list[OrgRef], **READ_ERRORS},
    summary="Organisations a request can be forwarded to",
    description="Active organisations of the whole platform by code or part of the name (at "
    "most 20): a request may belong elsewhere. Empty for an account that handles no requests.",
)
def forward_targets(request, q: str = Query(..., description="code, or part of the name")):
    return list(selectors.organizations_to_forward(request.user, q))


@router.get(
    "/requests/{request_id}",
    response={200: FeedbackDetailOut, **READ_ERRORS},
    summary="One request, with its history",
    description="The person's contact comes masked; the history includes internal notes.",
)
def get_request(request, request_id: PathId):
    return _detail(request, _request(request, request_id))


@router.post(
    "/requests/{request_id}/accept",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Accept a request",
    description="Acknowledges it (the person is told). From received only (409 wrong_status).",
)
def accept(request, request_id: PathId):
    req = services.accept(actor=request.user, req=_request(request, request_id))
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/start",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Start work on a request",
)
def start(request, request_id: PathId):
    req = services.start(actor=request.user, req=_request(request, request_id))
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/assign",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Give a request to a person",
    description="Someone who handles requests where it lies (400 not_a_handler otherwise); "
    "assignee_id null gives it to nobody.",
)
def assign(request, request_id: PathId, payload: FeedbackAssignIn):
    req = _request(request, request_id)
    _may_handle(request, req)
    user = None
    if payload.assignee_id is not None:
        user = User.objects.filter(pk=payload.assignee_id, is_active=True).first()
        if user is None:
            raise ValidationFailed(
                _("This person does not handle requests at “%(org)s”.")
                % {"org": req.organization.name},
                code="not_a_handler",
                field="assignee_id",
            )
    with _named(assignee="assignee_id"):
        req = services.assign(actor=request.user, req=req, user=user)
    return _reread(request, req)


@router.get(
    "/requests/{request_id}/handlers",
    response={200: list[FeedbackUserRef], **READ_ERRORS},
    summary="People a request can be given to",
    description="Active accounts that handle requests where it lies (for assign), within your "
    "scope.",
)
def handlers(request, request_id: PathId):
    req = _request(request, request_id)
    return [_user_ref(user) for user in selectors.handlers(request.user, req)]


@router.post(
    "/requests/{request_id}/note",
    response={201: FeedbackDetailOut, **ERRORS},
    summary="Add an internal note",
    description="Staff only: never shown to the person.",
)
def note(request, request_id: PathId, payload: FeedbackNoteIn):
    req = _request(request, request_id)
    services.add_note(actor=request.user, req=req, text=payload.text)
    return Status(201, _reread(request, req))


@router.post(
    "/requests/{request_id}/forward",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Forward a request",
    description="To the organisation it belongs to, with a reason; it arrives there as "
    "received, deadlines unchanged. It may leave your scope: the answer shows it as it stands.",
)
def forward(request, request_id: PathId, payload: FeedbackForwardIn):
    req = _request(request, request_id)
    _may_handle(request, req)
    to_org = Organization.objects.filter(pk=payload.to_org_id, status=OrgStatus.ACTIVE).first()
    if to_org is None:
        raise ValidationFailed(
            _("That organisation does not exist."), code="no_such_organization", field="to_org_id"
        )
    with _named(to_org="to_org_id"):
        req = services.forward(actor=request.user, req=req, to_org=to_org, reason=payload.reason)
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/merge",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Merge a duplicate into the request it repeats",
    description="This one closes as merged; its person follows the other one's answer.",
)
def merge(request, request_id: PathId, payload: FeedbackMergeIn):
    req = _request(request, request_id)
    into = _request(request, payload.into_id, "into_id")
    with _named(into="into_id"):
        req = services.merge(actor=request.user, req=req, into=into, note=payload.note)
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/answer",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Answer a request",
    description="The public reply; the person is told. Answering again replaces it, every "
    "reply stays in the history.",
)
def answer(request, request_id: PathId, payload: FeedbackAnswerIn):
    req = services.answer(
        actor=request.user,
        req=_request(request, request_id),
        reply=payload.reply,
        signed=payload.signed,
    )
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/close",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Close an answered request",
)
def close(request, request_id: PathId):
    req = services.close(actor=request.user, req=_request(request, request_id))
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/reject",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Reject a request",
    description="Not a matter for the platform, with the reason the person reads.",
)
def reject(request, request_id: PathId, payload: FeedbackRejectIn):
    req = services.reject(
        actor=request.user, req=_request(request, request_id), reason=payload.reason
    )
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/feature",
    response={200: FeedbackDetailOut, **ERRORS},
    summary="Show or hide an answered request on the public page",
    description="Only when the person allowed it (400 not_allowed_public).",
)
def feature(request, request_id: PathId, payload: FeedbackFeatureIn):
    req = services.feature(
        actor=request.user, req=_request(request, request_id), shown=payload.shown
    )
    return _reread(request, req)


@router.post(
    "/requests/{request_id}/reveal",
    response={200: FeedbackContactOut, **ERRORS},
    summary="The person's contact in full",
    description="Name, phone and e-mail unmasked, for holders of feedback.contact where the "
    "request lies (403 otherwise). Every call is recorded in the audit log.",
)
def reveal(request, request_id: PathId):
    return services.reveal_contact(actor=request.user, req=_request(request, request_id))


# Staff: figures, rules, desks --------------------------------------------------------------------


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _rounded(value):
    return round(value, 2) if value is not None else None


@router.get(
    "/figures",
    response={200: FeedbackFiguresOut, **READ_ERRORS},
    summary="Figures of requests",
    description="Volume, time to acknowledge and to answer, late share and satisfaction of the "
    "requests in your scope (or an organisation's subtree), by month, by category and, with "
    "org, by the organisations directly below it.",
)
def figures(request, filters: Query[FeedbackFiguresFilter]):
    user = request.user
    org = None
    qs = selectors.requests(user)
    if filters.org is not None:
        org = _org(request, filters.org, "org")
        qs = qs.filter(core_selectors.subtree_range("org_path", org.path))
    if filters.since is not None:
        qs = qs.filter(submitted_at__gte=_day_start(filters.since))
    if filters.until is not None:
        qs = qs.filter(submitted_at__lt=_day_start(filters.until + datetime.timedelta(days=1)))
    data = selectors.figures(qs)
    data["organization"] = org
    data["by_month"] = [
        row | {"avg_rating": _rounded(row["avg_rating"])} for row in selectors.figures_by_month(qs)
    ]
    data["by_category"] = [
        row
        | {
            "category_name": str(Category(row["category"]).label),
            "avg_rating": _rounded(row["avg_rating"]),
        }
        for row in selectors.figures_by_category(qs)
    ]
    data["by_child"] = []
    if org is not None:
        data["by_child"] = [
            row | {"organization": row["org"], "avg_rating": _rounded(row["avg_rating"])}
            for row in selectors.figures_by_child(user, org, qs)
        ]
    return data


@router.get(
    "/rules",
    response={200: list[RoutingRuleOut], **READ_ERRORS},
    summary="List routing rules",
    description="Rules of the organisations where you set up requests (feedback.configure): "
    "a request whose words include a rule's keywords goes to its organisation.",
)
@paginate(CappedPageNumberPagination, page_size=100)
def list_rules(request, filters: Query[RoutingRuleFilter]):
    qs = selectors.routing_rules(request.user)
    if filters.org is not None:
        org = _org(request, filters.org, "org")
        qs = qs.filter(core_selectors.subtree_range("organization__path", org.path))
    return qs


@router.post(
    "/rules",
    response={201: RoutingRuleOut, **ERRORS},
    summary="Add a routing rule",
    description="Needs feedback.configure at the organisation (403 otherwise). Bad values "
    "answer 400: required (keywords), invalid_category, invalid_weight.",
)
def create_rule(request, payload: RoutingRuleIn):
    org = _org(request, payload.organization_id, "organization_id")
    with _named(organization="organization_id"):
        rule = services.save_routing_rule(
            actor=request.user,
            organization=org,
            keywords=payload.keywords,
            category=payload.category,
            weight=payload.weight,
            active=payload.active,
            note=payload.note,
        )
    return Status(201, rule)


@router.delete(
    "/rules/{rule_id}",
    response={200: RoutingRuleDeleted, **ERRORS},
    summary="Delete a routing rule",
    description="Answers the id of the rule deleted.",
)
def delete_rule(request, rule_id: PathId):
    rule = selectors.routing_rules(request.user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound(_("Rule not found."))
    services.delete_routing_rule(actor=request.user, rule=rule)
    return {"id": rule_id}


@router.get(
    "/desks",
    response={200: list[FeedbackDeskOut], **READ_ERRORS},
    summary="List desks",
    description="The desks of the organisations where you set up requests.",
)
@paginate(CappedPageNumberPagination, page_size=100)
def list_desks(request):
    return selectors.desks(request.user)


@router.post(
    "/desks",
    response={200: FeedbackDeskOut, 201: FeedbackDeskOut, **ERRORS},
    summary="Open or change an organisation's desk",
    description="One desk per organisation: 201 when it is opened, 200 when changed. Codes are "
    "unique (400 code_taken).",
)
def save_desk(request, payload: FeedbackDeskIn):
    org = _org(request, payload.organization_id, "organization_id")
    existed = selectors.desks(request.user).filter(organization=org).exists()
    with _named(organization="organization_id"):
        desk = services.save_desk(
            actor=request.user,
            organization=org,
            code=payload.code,
            place=payload.place,
            intro=payload.intro,
            active=payload.active,
        )
    return Status(200 if existed else 201, desk)


# The public desk ---------------------------------------------------------------------------------


class PublicDeskOut(Schema):
    code: str
    place: str
    intro: str
    organization_id: int = Field(description="may be given instead of the desk when submitting")
    organization: str = Field(description="the organisation's name")

    @staticmethod
    def resolve_organization(obj):
        return obj.organization.name


class PublicCaptchaOut(Schema):
    token: str = Field(description="send back as captcha_token")
    image_url: str = Field(description="the picture (PNG) whose characters are the answer")
    length: int = Field(description="characters in the picture")
    expires_in: int = Field(description="seconds the picture stays answerable")


class PublicSubmitIn(Schema):
    category: str = Field(json_schema_extra={"enum": Category.values})
    desk: str | None = Field(None, description="a desk's code (GET /public/desks)")
    organization_id: int | None = IdField(
        None, description="or an organisation; chosen over the desk's keyword routing"
    )
    text: str = Field(description="5 to 2000 characters")
    name: str = ""
    phone: str = Field("", description="mobile (11 digits) or landline with area code")
    email: str = ""
    consent_contact: bool = Field(False, description="may be contacted: needs phone or e-mail")
    allow_public: bool = Field(False, description="may be shown, without the person, publicly")
    captcha_token: str = Field(description="from GET /public/captcha")
    captcha_answer: str = Field(description="the characters in its picture; used up either way")


class PublicSubmittedOut(Schema):
    number: str = Field(description="tracking number")
    check_code: str = Field(description="shown once: with the number, the key to the request")
    ack_due_at: datetime.datetime
    answer_due_at: datetime.datetime


class PublicLookupIn(Schema):
    number: str = Field(description="tracking number")
    check_code: str


class PublicRateIn(PublicLookupIn):
    rating: int = Field(description="1 to 5 stars")
    comment: str = ""
    reopen: bool = Field(False, description="an unsatisfied rating (1 or 2) may reopen it, once")


class PublicAddIn(PublicLookupIn):
    text: str = Field(description="more details, up to 1000 characters")


class PublicEntryOut(Schema):
    kind: EntryKindCode
    kind_name: str
    at: datetime.datetime
    text: str = Field(description="the person's additions and rating, replies, reasons")


class PublicMergedOut(Schema):
    number: str
    status: StatusCode
    status_name: str
    public_reply: str
    answered_at: datetime.datetime | None


class PublicStatusOut(Schema):
    number: str
    category: CategoryCode
    category_name: str
    status: StatusCode
    status_name: str
    organization: str = Field(description="the organisation handling it")
    submitted_at: datetime.datetime
    ack_due_at: datetime.datetime
    answer_due_at: datetime.datetime
    acknowledged_at: datetime.datetime | None
    answered_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    public_reply: str
    replied_by: str
    reject_reason: str
    merged_into: PublicMergedOut | None = Field(description="the request this one joined")
    rating: int | None
    rating_comment: str
    may_add: bool
    may_rate: bool
    may_reopen: bool = Field(description="a rating of 1 or 2 may reopen it now")
    history: list[PublicEntryOut]


def _public_status(req: PublicRequest) -> dict:
    merged = None
    if req.status == RequestStatus.MERGED and req.merged_into_id:
        into = req.merged_into
        merged = {
            "number": into.number,
            "status": into.status,
            "status_name": str(into.get_status_display()),
            "public_reply": into.public_reply,
            "answered_at": into.answered_at,
        }
    may_rate = rules.may_rate(req.status, req.rated_at, req.answered_at)
    return {
        "number": req.number,
        "category": req.category,
        "category_name": str(req.get_category_display()),
        "status": req.status,
        "status_name": str(req.get_status_display()),
        "organization": req.organization.name,
        "submitted_at": req.submitted_at,
        "ack_due_at": req.ack_due_at,
        "answer_due_at": req.answer_due_at,
        "acknowledged_at": req.acknowledged_at,
        "answered_at": req.answered_at,
        "closed_at": req.closed_at,
        "public_reply": req.public_reply,
        "replied_by": req.replied_by,
        "reject_reason": req.reject_reason,
        "merged_into": merged,
        "rating": req.rating,
        "rating_comment": req.rating_comment,
        "may_add": rules.next_status("add", req.status) is not None,
        "may_rate": may_rate,
        "may_reopen": may_rate and req.reopened < rules.REOPENS_ALLOWED,
        "history": [
            {
                "kind": e.kind,
                "kind_name": str(e.get_kind_display()),
                "at": e.created_at,
                "text": e.text,
            }
            for e in selectors.history(req, public=True)
        ],
    }


def _found(request, payload: PublicLookupIn) -> PublicRequest:
    return services.find_for_public(payload.number, payload.check_code, ip=client_ip(request))


def _fresh(req: PublicRequest) -> dict:
    # Read again after a change, without counting a second look-up against the address.
    return _public_status(
        PublicRequest.objects.select_related("organization", "merged_into").get(pk=req.pk)
    )


@public_router.get(
    "/desks",
    response={200: list[PublicDeskOut], **PUBLIC_READ_ERRORS},
    summary="Desks that accept requests",
    description="No account needed.",
)
@paginate(CappedPageNumberPagination, page_size=100)
def public_desks(request, q: str | None = Query(None, description="place or organisation")):
    qs = selectors.public_desks()
    if q:
        from django.db.models import Q

        text = " ".join(q.split())[:50]
        qs = qs.filter(Q(place__icontains=text) | Q(organization__name__icontains=text))
    return qs


@public_router.get(
    "/captcha",
    response={200: PublicCaptchaOut, **PUBLIC_READ_ERRORS},
    summary="A new CAPTCHA picture",
    description="Every submission answers one; a picture is used up by its first answer, right "
    "or wrong. Limited per address (429 rate_limited with Retry-After).",
)
def new_captcha(request):
    _hit("captcha:new", client_ip(request) or "-", limit=captcha.NEW_PER_MINUTE, window=60)
    token = captcha.new_challenge()
    return {
        "token": token,
        "image_url": request.build_absolute_uri(reverse("core:captcha_image", args=[token])),
        "length": captcha.LENGTH,
        "expires_in": captcha.CHALLENGE_TTL,
    }


@public_router.post(
    "/requests",
    response={201: PublicSubmittedOut, **SUBMIT_ERRORS},
    summary="Submit a request",
    description="No account needed. Give the desk's code or an organisation. Photos can be "
    "attached only on the web page, not through this JSON API. A wrong or reused CAPTCHA "
    "answers 400 captcha (ask for a new picture); bad values answer 400 with the field "
    "(required, too_short, too_long, invalid_category, invalid_phone, invalid_email, "
    "contact_missing, no_such_desk, no_such_organization). Submissions are limited per address "
    "and per phone number (429 rate_limited with Retry-After). Keep the number and check code: "
    "the check code is never shown again.",
)
def submit(request, payload: PublicSubmitIn):
    if not captcha.verify(payload.captcha_token, payload.captcha_answer):
        raise ValidationFailed(
            _("The characters from the picture do not match: try the new picture."),
            code="captcha",
            field="captcha_answer",
        )
    desk = organization = None
    if payload.desk:
        desk = selectors.desk_by_code(payload.desk)
        if desk is None:
            raise ValidationFailed(
                _("There is no desk with this code."), code="no_such_desk", field="desk"
            )
    if payload.organization_id is not None:
        organization = Organization.objects.filter(
            pk=payload.organization_id, status=OrgStatus.ACTIVE
        ).first()
        if organization is None:
            raise ValidationFailed(
                _("That organisation does not exist."),
                code="no_such_organization",
                field="organization_id",
            )
    req, code = services.submit(
        category=payload.category,
        text=payload.text,
        desk=desk,
        organization=organization,
        name=payload.name,
        phone=payload.phone,
        email=payload.email,
        consent_contact=payload.consent_contact,
        allow_public=payload.allow_public,
        ip=client_ip(request),
    )
    return Status(
        201,
        {
            "number": req.number,
            "check_code": code,
            "ack_due_at": req.ack_due_at,
            "answer_due_at": req.answer_due_at,
        },
    )


@public_router.post(
    "/requests/status",
    response={200: PublicStatusOut, **PUBLIC_ERRORS},
    summary="Follow a request",
    description="With the tracking number and check code (a POST, so the code stays out of "
    "access logs). A wrong number and a wrong code answer the same 404; look-ups are limited "
    "per address (429). Shows the status, deadlines, the reply and the history, never who "
    "submitted it.",
)
def public_status(request, payload: PublicLookupIn):
    return _public_status(_found(request, payload))


@public_router.post(
    "/requests/rate",
    response={200: PublicStatusOut, **PUBLIC_ERRORS},
    summary="Rate the answer",
    description="1 to 5 stars, once per answer (409 already_rated; 409 wrong_status before it "
    "is answered). reopen with 1 or 2 stars sends it back to work, once (400 reopen_refused).",
)
def public_rate(request, payload: PublicRateIn):
    req = _found(request, payload)
    services.rate(req=req, rating=payload.rating, comment=payload.comment, reopen=payload.reopen)
    return _fresh(req)


@public_router.post(
    "/requests/add",
    response={200: PublicStatusOut, **PUBLIC_ERRORS},
    summary="Add to a request",
    description="More details while it is open or answered (409 wrong_status once closed). "
    "Photos only on the web page.",
)
def public_add(request, payload: PublicAddIn):
    req = _found(request, payload)
    services.add_information(req=req, text=payload.text, ip=client_ip(request))
    return _fresh(req)
