"""API of Party dues (党费): /api/v1/dues. Bases, the monthly rule, ledgers, payments, relief,
arrears, collection reports, and a member's own dues.

Thin over dues.selectors and dues.services. Reads go through the selectors, scoped by
`dues.view` at the organisation that collects: an organisation, member, payment or relief
outside the scope answers 404 (naming the input field when it came from the body or the query).
Writes go through the services, which check `dues.manage` (`dues.approve` at the committee above
to sign off relief; 403 where the object is visible but the action is not allowed) and record
the audit events. Input the schema refuses answers 422 (code invalid, naming the field); values
the services refuse answer 400 (or 409) with a stable code and the field at fault. Amounts are
decimal strings in yuan with two decimals ("15.00").

Payments take an optional `Idempotency-Key` header: repeating a request with the same key
(for the same account) answers 200 with the payment already recorded and records nothing more.
"""

import datetime
import hashlib
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from django.db.models import Prefetch
from django.utils.translation import gettext as _
from ninja import Field, Header, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from dangjian.core import selectors as core_selectors
from dangjian.core.api import ERRORS, READ_ERRORS, Error, Id, PathId
from dangjian.core.apitools import named as _named
from dangjian.core.apitools import today as _today
from dangjian.core.errors import NotFound, ValidationFailed
from dangjian.core.models import Job, Organization
from dangjian.members import selectors as member_selectors
from dangjian.members.api import OrgRef
from dangjian.members.models import Member
from dangjian.members.paging import CappedPageNumberPagination

from . import reports, rules, selectors, services
from .models import (
    Allocation,
    ArrearsDecision,
    Category,
    LineStatus,
    Method,
    Payment,
    PaymentKind,
    Relief,
    ReliefKind,
    ReliefState,
)

# Choices as plain string enums in the document (the models' class names, such as Category,
# are taken by other apps' schemas).
DuesCategory = Literal[tuple(Category.values)]
LineState = Literal[tuple(LineStatus.values)]
PayMethod = Literal[tuple(Method.values)]
PayKind = Literal[tuple(PaymentKind.values)]
ReliefKindName = Literal[tuple(ReliefKind.values)]
ReliefStateName = Literal[tuple(ReliefState.values)]
Outcome = Literal[tuple(ArrearsDecision.Outcome.values)]

router = Router(tags=["dues"])

# Years the ledger can hold (the services narrow writes to the next year at most).
LATEST_YEAR = 2100
Year = Annotated[int, Field(ge=services.EARLIEST_YEAR, le=LATEST_YEAR)]
Month = Annotated[int, Field(ge=1, le=12)]
PathYear = Path[int, {"ge": services.EARLIEST_YEAR, "le": LATEST_YEAR}]
# Money in yuan: at most two decimals, within what a base or a payment can believably be.
Amount = Annotated[Decimal, Field(ge=0, le=rules.MAX_BASE, decimal_places=2)]
MAX_ROWS = 5_000  # rows of one bulk declaration (a branch's grid, an import)
MAX_MEMBERS = 5_000  # members of one month recorded at once
RULE_ERRORS = {400: Error, **READ_ERRORS}  # a read whose values the services check
IDEMPOTENCY = Header(
    None,
    alias="Idempotency-Key",
    min_length=1,
    max_length=255,
    description="any text unique to this request (a UUID): repeating the request with the same "
    "key answers the payment already recorded, and records nothing more",
)


# Output ----------------------------------------------------------------------------------------


def _money(value) -> Decimal:
    return Decimal(value or 0).quantize(rules.CENT)


class DuesMemberRef(Schema):
    id: int
    name: str


class MonthlyOut(Schema):
    category: DuesCategory
    base: Decimal = Field(description="as the base is stored (0.00 for a fixed amount)")
    amount: Decimal = Field(description="monthly dues, rounded to 0.01 yuan")
    rate: Decimal | None = Field(
        description="the share of the whole base (in service, retired); none for a fixed or "
        "chosen amount"
    )
    rule_version: str = Field(description="the rule applied (in force on 1 January of the year)")
    year: int
    unusual: bool = Field(description="above 1,000 yuan a month: unusual, not refused")


class BaseOut(Schema):
    id: int
    member: DuesMemberRef
    year: int
    category: DuesCategory
    category_name: str
    base: Decimal
    computed: Decimal = Field(description="the amount by the rules")
    override: Decimal | None = Field(description="the amount set by hand, when there is one")
    override_reason: str
    amount: Decimal = Field(description="the monthly amount owed: override, else computed")
    rule_version: str
    unusual: bool
    declared_at: datetime.datetime

    @staticmethod
    def resolve_category_name(obj):
        return str(obj.get_category_display())

    @staticmethod
    def resolve_amount(obj):
        return obj.amount


class BulkRowIn(Schema):
    member: Id
    category: DuesCategory
    base: Amount | None = Field(None, description="required except for a fixed amount")
    override: Amount | None = Field(None, description="an amount set by hand (with a reason)")
    override_reason: str = ""


class BulkIn(Schema):
    org: Id = Field(description="the organisation whose members these are (its subtree)")
    year: Year
    rows: list[BulkRowIn] = Field(min_length=1, max_length=MAX_ROWS)


class BulkOut(Schema):
    changed: int = Field(description="bases declared or changed (unchanged rows do not count)")


class BaseIn(Schema):
    category: DuesCategory
    base: Amount | None = Field(
        None, description="monthly income; a farmer's chosen amount; omit for a fixed amount"
    )
    override: Amount | None = Field(None, description="set the amount by hand (needs a reason)")
    override_reason: str = ""


class LineOut(Schema):
    id: int
    member: DuesMemberRef
    year: int
    month: int
    organization_id: int = Field(description="the organisation collecting this month")
    hosted: bool = Field(description="collected by the host of a mobile stay")
    due: Decimal | None = Field(description="none until a base is declared")
    paid: Decimal
    remaining: Decimal
    status: LineState
    status_name: str
    paid_on: datetime.date | None

    @staticmethod
    def resolve_status_name(obj):
        return str(obj.get_status_display())

    @staticmethod
    def resolve_remaining(obj):
        return _money(obj.remaining)


class MemberLedgerOut(Schema):
    member: DuesMemberRef
    year: int
    base: BaseOut | None
    lines: list[LineOut] = Field(description="the months owed, in the organisations you see")
    due: Decimal
    paid: Decimal


class GenerationJobOut(Schema):
    id: str
    kind: str
    title: str
    status: str = Field(description="queued, running, done or failed")
    done: int
    total: int
    percent: int
    message: str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None

    @staticmethod
    def resolve_id(obj):
        return str(obj.pk)


class AllocationOut(Schema):
    year: int
    month: int
    amount: Decimal


class PaymentOut(Schema):
    id: int
    receipt_no: str
    member: DuesMemberRef
    organization: OrgRef = Field(description="the organisation that collected it")
    kind: PayKind
    kind_name: str
    amount: Decimal
    paid_on: datetime.date
    method: PayMethod
    method_name: str
    reference: str
    approval: str
    proxy_name: str
    note: str
    large_one_off: bool = Field(description="voluntary, 1,000 yuan or more: remitted apart")
    months: list[AllocationOut] = Field(description="what it paid, month by month")
    recorded_by: str | None
    recorded_at: datetime.datetime
    reversed: bool
    reversed_at: datetime.datetime | None
    reverse_reason: str

    @staticmethod
    def resolve_kind_name(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_method_name(obj):
        return str(obj.get_method_display())

    @staticmethod
    def resolve_months(obj):
        return [
            {"year": a.line.year, "month": a.line.month, "amount": a.amount}
            for a in sorted(obj.allocations.all(), key=lambda a: (a.line.year, a.line.month))
        ]

    @staticmethod
    def resolve_recorded_by(obj):
        user = obj.recorded_by
        return (user.display_name or user.username) if user else None


class MonthRecordedOut(Schema):
    recorded: int = Field(description="members whose month was recorded now")
    skipped: int = Field(description="already paid, exempt, or recorded by this same request")


class ReliefOut(Schema):
    id: int
    member: DuesMemberRef
    organization: OrgRef
    year: int
    from_month: int
    to_month: int
    kind: ReliefKindName
    kind_name: str
    amount: Decimal | None = Field(description="the reduced monthly amount")
    reason: str
    branch_decided_on: datetime.date
    branch_reference: str
    state: ReliefStateName
    state_name: str
    signed_on: datetime.date | None
    sign_note: str
    created_at: datetime.datetime

    @staticmethod
    def resolve_kind_name(obj):
        return str(obj.get_kind_display())

    @staticmethod
    def resolve_state_name(obj):
        return str(obj.get_state_display())


class DecisionOut(Schema):
    id: int
    member: DuesMemberRef
    organization_id: int
    first: str = Field(description="first unpaid month considered, YYYY-MM")
    through: str = Field(description="last unpaid month considered, YYYY-MM")
    outcome: Outcome
    outcome_name: str
    meeting_on: datetime.date
    reference: str
    note: str
    created_at: datetime.datetime

    @staticmethod
    def resolve_first(obj):
        return f"{obj.first_year}-{obj.first_month:02d}"

    @staticmethod
    def resolve_through(obj):
        return f"{obj.through_year}-{obj.through_month:02d}"

    @staticmethod
    def resolve_outcome_name(obj):
        return str(obj.get_outcome_display())


class ArrearsOut(Schema):
    member: DuesMemberRef
    organization: OrgRef
    first: str = Field(description="first month of the unpaid run, YYYY-MM")
    through: str = Field(description="the last completed month, YYYY-MM")
    months: int = Field(description="consecutive unpaid months (six or more)")
    owed: Decimal
    decisions: list[DecisionOut] = Field(description="earlier decisions on this member")


class MonthFigures(Schema):
    month: int = Field(description="1 to 12; 0 for a whole year")
    lines: int = Field(description="member-months owed")
    due: Decimal
    paid: Decimal
    paid_lines: int
    partial_lines: int
    exempt_lines: int
    no_base_lines: int
    voluntary: Decimal = Field(description="voluntary payments received")
    large_one_off: Decimal = Field(description="of which one-off payments of 1,000 yuan or more")
    rate: float | None = Field(description="paid / due in percent; none when nothing was due")


class ToDate(Schema):
    months: int = Field(
        description="months of the year owed by today: 12 for a past year, up to and "
        "including the current month for this year, 0 for a year to come"
    )
    due: Decimal = Field(description="due for those months")
    paid: Decimal = Field(description="paid for those months")
    rate: float | None = Field(
        description="year-to-date collection rate, paid / due in percent; none when nothing was due"
    )


class CollectionRow(Schema):
    organization: OrgRef
    own: bool = Field(description="the organisation's own lines (not those of its subtree)")
    months: list[MonthFigures]
    total: MonthFigures = Field(description="the whole year: its rate counts months not yet owed")
    to_date: ToDate


class CollectionOut(Schema):
    organization: OrgRef
    year: int
    months: list[MonthFigures] = Field(description="the whole subtree, month by month")
    total: MonthFigures = Field(description="the whole year: its rate counts months not yet owed")
    to_date: ToDate = Field(description="the months owed by today (year to date)")
    children: list[CollectionRow] = Field(description="each organisation directly below")


class RemittanceFigures(Schema):
    payments: int = Field(description="payments received in the month (day paid), not reversed")
    dues: Decimal = Field(description="monthly dues received in the month, whichever months")
    voluntary: Decimal = Field(description="voluntary payments received in the month")
    large_one_off: Decimal = Field(
        description="of which one-off payments of 1,000 yuan or more (remitted to the centre)"
    )
    received: Decimal = Field(description="dues and voluntary payments together")
    lines: int = Field(description="member-months owed for the month itself")
    due: Decimal = Field(description="dues owed for the month itself")
    paid: Decimal = Field(description="of which paid by now (whenever)")
    rate: float | None = Field(description="paid / due of the month in percent")


class RemittanceRow(RemittanceFigures):
    organization: OrgRef
    own: bool = Field(description="the organisation's own members (not those of its subtree)")


class RemittanceOut(Schema):
    organization: OrgRef
    year: int
    month: int
    rows: list[RemittanceRow]
    total: RemittanceFigures


class MineOut(Schema):
    member: DuesMemberRef | None = Field(description="none: this account has no member record")
    year: int
    lines: list[LineOut]
    payments: list[PaymentOut] = Field(description="paid in the year, latest first")


class RemindedOut(Schema):
    sent: int = Field(description="members told now (each is told once per month)")


# Input -----------------------------------------------------------------------------------------


class MonthIn(Schema):
    year: Year
    month: Month


class PaymentIn(Schema):
    member: Id
    months: list[MonthIn] = Field(min_length=1, max_length=services.MAX_MONTHS_AT_ONCE)
    paid_on: datetime.date
    method: PayMethod
    amount: Amount | None = Field(
        None, description="default: the months in full; less pays one month in part"
    )
    reference: str = Field("", description="bank or online reference (required for online)")
    approval: str = Field(
        "", description="the branch's approval: needed to pay in advance or by proxy"
    )
    proxy_name: str = Field("", description="who paid on the member's behalf")
    confirm_late: bool = Field(False, description="record months more than six back")
    note: str = ""


class MonthPaymentIn(Schema):
    org: Id = Field(description="the organisation collecting the month")
    year: Year
    month: Month
    members: list[Id] = Field(min_length=1, max_length=MAX_MEMBERS)
    paid_on: datetime.date
    method: Literal["cash", "bank"] = Field(
        description="online payments carry their own references: record them one by one"
    )


class VoluntaryIn(Schema):
    member: Id
    amount: Amount
    paid_on: datetime.date
    method: PayMethod
    reference: str = ""
    note: str = ""


class ReverseIn(Schema):
    reason: str


class ReliefIn(Schema):
    member: Id
    year: Year
    from_month: Month
    to_month: Month
    kind: ReliefKindName
    amount: Amount | None = Field(None, description="the reduced monthly amount (reduction)")
    reason: str
    branch_decided_on: datetime.date
    branch_reference: str = Field("", description="the branch meeting's record")


class SignIn(Schema):
    approve: bool
    note: str = Field("", description="required when not approving")


class DecisionIn(Schema):
    outcome: Outcome
    meeting_on: datetime.date
    reference: str = Field("", description="the meeting's record (required for `left`)")
    note: str = ""


class GenerateIn(Schema):
    org: Id = Field(description="the organisation: its whole subtree")
    year: Year


class RemindIn(Schema):
    org: Id
    year: Year
    month: Month


class MonthlyQuery(Schema):
    category: DuesCategory
    base: Amount | None = Field(None, description="required except for a fixed amount")
    on: datetime.date | None = Field(None, description="default today: the rule of its year")


class BaseFilter(Schema):
    org: Id | None = Field(None, description="organisation id: its whole subtree")
    year: Year | None = None
    member: Id | None = None


class LineFilter(Schema):
    org: Id | None = Field(None, description="organisation collecting: its whole subtree")
    year: Year | None = None
    month: Month | None = None
    status: LineState | None = None
    member: Id | None = None


class PaymentFilter(Schema):
    org: Id | None = Field(None, description="organisation that collected: its whole subtree")
    year: Year | None = Field(None, description="year paid")
    kind: PayKind | None = None
    member: Id | None = None
    reversed: bool | None = Field(None, description="true: only reversed; false: none of them")


class ReliefFilter(Schema):
    org: Id | None = Field(None, description="organisation id: its whole subtree")
    year: Year | None = None
    state: ReliefStateName | None = None
    to_sign: bool = Field(
        False, description="true: pending relief below where this account signs off"
    )


class OrgQuery(Schema):
    org: Id = Field(description="organisation id: its whole subtree")


class CollectionQuery(Schema):
    org: Id = Field(description="organisation id: its whole subtree")
    year: Year


class RemittanceQuery(Schema):
    org: Id = Field(description="the committee: rows for each organisation directly below")
    year: Year
    month: Month


class YearQuery(Schema):
    year: Year | None = Field(None, description="default this year")


# Helpers ---------------------------------------------------------------------------------------


def _org(request, org_id: int, field: str | None = "org") -> Organization:
    """An organisation where the caller may read dues; 404 naming the field otherwise."""
    try:
        return core_selectors.get_organization(request.user, org_id, "dues.view")
    except NotFound:
        raise NotFound(_("Organisation not found."), field=field) from None


def _member(request, member_id: int, field: str | None = "member") -> Member:
    """A member of an organisation where the caller reads dues, or a mobile guest whose lines
    the caller's organisations collect; 404 naming the field otherwise."""
    user = request.user
    found = (
        member_selectors.members(user, "dues.view")
        .select_related("organization")
        .filter(pk=member_id)
        .first()
    )
    if found is None and selectors.lines(user).filter(member_id=member_id).exists():
        found = Member.objects.select_related("organization").filter(pk=member_id).first()
    if found is None:
        raise NotFound(_("Member not found."), field=field)
    return found


def _subtree(qs, request, org_id: int | None, path_field: str):
    if org_id is None:
        return qs
    org = _org(request, org_id)
    return qs.filter(core_selectors.subtree_range(path_field, org.path))


def _request_key(request, key: str | None) -> str | None:
    """The header's key, made the caller's own: two accounts' keys never meet, and the stored
    key has a fixed length whatever the header's."""
    if key is None:
        return None
    if not key.strip():
        raise ValidationFailed(
            _("The idempotency key is empty."), code="invalid", field="Idempotency-Key"
        )
    digest = hashlib.sha256(f"{request.user.pk}\x00{key}".encode()).hexdigest()
    return "api:" + digest[:40]


_PAYMENT_NAMES = {"request_key": "Idempotency-Key"}


def _with_months(qs):
    """Payments with the months they paid, in one more query for a whole page."""
    return qs.prefetch_related(
        Prefetch("allocations", queryset=Allocation.objects.select_related("line"))
    )


def _payment(request, pk: int) -> Payment:
    """A payment in the scope (or the caller's own), with what the answer shows."""
    found = selectors.get_payment(request.user, pk)
    return _with_months(
        Payment.objects.select_related("member", "organization", "recorded_by")
    ).get(pk=found.pk)


_COUNTS = ("lines", "paid_lines", "partial_lines", "exempt_lines", "no_base_lines")
_SUMS = ("due", "paid", "voluntary", "large_one_off")


def _figures(row: dict, month: int | None = None) -> dict:
    """A row of the selectors' totals as MonthFigures (amounts to the fen)."""
    out = {k: row[k] for k in _COUNTS} | {k: _money(row[k]) for k in _SUMS}
    out["month"] = row["month"] if month is None else month
    out["rate"] = row["rate"]
    return out


def _ref(org: Organization) -> dict:
    return {"id": org.pk, "code": org.code, "name": org.name}


# The rule --------------------------------------------------------------------------------------


@router.get(
    "/rules/monthly",
    response={200: MonthlyOut, **RULE_ERRORS},
    summary="Monthly dues by the rules",
    description="The amount for a category and base (中组发〔2008〕3号 as amended in 2017): the "
    "rate applies to the whole base. The rule is the one in force on 1 January of the year of `on` (2017: fixed for the "
    "year). A farmer's amount outside 0.20–1.00 answers 400 farmer_range; a missing base 400 "
    "required, both naming `base`.",
)
def monthly(request, query: Query[MonthlyQuery]):
    on = query.on or _today()
    if not services.EARLIEST_YEAR <= on.year <= _today().year + 1:
        raise ValidationFailed(
            _("No dues rule of the platform covers that year."), code="invalid_date", field="on"
        )
    year = on.year
    base, amount, version = services.compute(query.category, query.base, year)
    rate = rules.rate_of(base, query.category, rules.rule_day(year))
    return {
        "category": query.category,
        "base": base,
        "amount": amount,
        "rate": rate,
        "rule_version": version,
        "year": year,
        "unusual": rules.is_unusual(amount),
    }


# Bases -----------------------------------------------------------------------------------------


@router.get(
    "/bases",
    response={200: list[BaseOut], **READ_ERRORS},
    summary="List declared bases",
    description="Members' categories, bases and amounts, by organisation and name.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_bases(request, filters: Query[BaseFilter]):
    qs = _subtree(selectors.bases(request.user), request, filters.org, "member__org_path")
    if filters.year is not None:
        qs = qs.filter(year=filters.year)
    if filters.member is not None:
        qs = qs.filter(member_id=filters.member)
    return qs.order_by("-year", "member__org_path", "member__name", "member_id")


@router.put(
    "/bases/{member_id}/{year}",
    response={200: BaseOut, 201: BaseOut, **ERRORS},
    summary="Declare a member's base for a year",
    description="Creates (201) or corrects (200) the year's category and base; the amount is "
    "fixed for the year (2017 rule). An amount set by hand needs `override_reason` (400 "
    "override_reason_required). The year's ledger lines follow; money paid stays.",
)
def declare_base(request, member_id: PathId, year: PathYear, payload: BaseIn):
    member = _member(request, member_id, None)
    existed = selectors.bases(request.user).filter(member=member, year=year).exists()
    with _named(member="member_id"):
        row = services.declare_base(
            actor=request.user,
            member=member,
            year=year,
            category=payload.category,
            base=payload.base,
            override=payload.override,
            override_reason=payload.override_reason,
        )
    row = selectors.bases(request.user).get(pk=row.pk)
    return Status(200 if existed else 201, row)


@router.post(
    "/bases/bulk",
    response={200: BulkOut, **ERRORS},
    summary="Declare many bases at once",
    description="A branch's grid or a file: every row or none. Rows in error answer 400 "
    'rows_invalid with `errors`: one entry per problem, `loc` = ["rows", index, field].',
)
def declare_bases(request, payload: BulkIn):
    org = _org(request, payload.org)
    rows = [row.dict() for row in payload.rows]
    try:
        changed = services.declare_bases(actor=request.user, org=org, year=payload.year, rows=rows)
    except services.RowErrors as exc:
        errors = [
            {"loc": ["rows", index, field], "msg": str(message), "code": exc.code}
            for index, problems in sorted(exc.rows.items())
            for field, message in problems.items()
        ]
        first = errors[0]
        return Status(
            400,
            {
                "code": exc.code,
                "message": str(exc.message),
                "field": f"rows.{first['loc'][1]}.{first['loc'][2]}",
                "errors": errors,
            },
        )
    return {"changed": changed}


# Ledgers ---------------------------------------------------------------------------------------


@router.post(
    "/ledgers/generate",
    response={201: GenerationJobOut, **ERRORS},
    summary="Generate a year's ledgers (background job)",
    description="One line per member and month owed, for the organisation's whole subtree; "
    "lines already there are brought in step, money paid never moves. Poll GET "
    "/dues/jobs/{job_id}.",
)
def generate(request, payload: GenerateIn):
    org = _org(request, payload.org)
    job = services.start_generation(actor=request.user, org=org, year=payload.year)
    return Status(201, job)


@router.get(
    "/jobs/{job_id}",
    response={200: GenerationJobOut, **READ_ERRORS},
    summary="Progress of a ledger generation",
    description="Only the account that started it sees it.",
)
def job_status(request, job_id: uuid.UUID):
    job = Job.objects.filter(pk=job_id, user=request.user, kind="dues.generate").first()
    if job is None:
        raise NotFound(_("Job not found."))
    return job


@router.get(
    "/ledgers",
    response={200: list[LineOut], **READ_ERRORS},
    summary="List ledger lines",
    description="One line per member and month, by month, organisation and name.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_lines(request, filters: Query[LineFilter]):
    qs = _subtree(selectors.lines(request.user), request, filters.org, "org_path")
    for name in ("year", "month", "status"):
        value = getattr(filters, name)
        if value is not None:
            qs = qs.filter(**{name: value})
    if filters.member is not None:
        qs = qs.filter(member_id=filters.member)
    return qs.select_related("member").order_by(
        "year", "month", "org_path", "member__name", "member_id"
    )


@router.get(
    "/members/{member_id}/ledger",
    response={200: MemberLedgerOut, **READ_ERRORS},
    summary="A member's ledger for a year",
)
def member_ledger(request, member_id: PathId, query: Query[YearQuery]):
    member = _member(request, member_id, None)
    year = query.year or _today().year
    lines = list(
        selectors.lines(request.user)
        .filter(member=member, year=year)
        .select_related("member")
        .order_by("month")
    )
    base = selectors.bases(request.user).filter(member=member, year=year).first()
    return {
        "member": member,
        "year": year,
        "base": base,
        "lines": lines,
        "due": _money(sum((line.due or 0 for line in lines), Decimal(0))),
        "paid": _money(sum((line.paid for line in lines), Decimal(0))),
    }


# Payments --------------------------------------------------------------------------------------


def _replay_of(request, key: str | None, member: Member, method: str, reference: str) -> bool:
    """Whether the services will answer a payment recorded before (same key, or the same
    member's reference): the answer is then 200, not 201."""
    found = selectors.payments(request.user)
    if key and found.filter(request_key=key).exists():
        return True
    return bool(reference.strip()) and (
        found.filter(
            member=member, method=method, reference=reference.strip(), reversed_at__isnull=True
        ).exists()
    )


@router.post(
    "/payments",
    response={200: PaymentOut, 201: PaymentOut, **ERRORS},
    summary="Record dues paid",
    description="For one or more months of the member's ledger: in full, or one month in part "
    "(`amount`). In advance or by proxy needs `approval` (400 approval_required); months more "
    "than six back need `confirm_late` (400 late_payment); months already paid answer 409 "
    "already_paid. Recorded once: a repeated Idempotency-Key, or the same reference for the "
    "same member, answers 200 with the payment already recorded; a new one answers 201.",
)
def record_payment(request, payload: PaymentIn, idempotency_key: str | None = IDEMPOTENCY):
    member = _member(request, payload.member)
    key = _request_key(request, idempotency_key)
    replay = _replay_of(request, key, member, payload.method, payload.reference)
    with _named(**_PAYMENT_NAMES):
        payment = services.record_payment(
            actor=request.user,
            member=member,
            months=[(m.year, m.month) for m in payload.months],
            paid_on=payload.paid_on,
            method=payload.method,
            amount=payload.amount,
            reference=payload.reference,
            request_key=key,
            approval=payload.approval,
            proxy_name=payload.proxy_name,
            confirm_late=payload.confirm_late,
            note=payload.note,
        )
    return Status(200 if replay else 201, _payment(request, payment.pk))


@router.post(
    "/payments/month",
    response={200: MonthRecordedOut, **ERRORS},
    summary="Record a month for many members",
    description="Each chosen member's line of the month, collected by `org`, is paid in full "
    "(the collection grid); lines already paid are skipped. All or nothing: a member without "
    "a line there answers 400 no_ledger_line, without a base 400 no_base. With the same "
    "Idempotency-Key, a repeat records nothing more.",
)
def record_month(request, payload: MonthPaymentIn, idempotency_key: str | None = IDEMPOTENCY):
    org = _org(request, payload.org)
    key = _request_key(request, idempotency_key)
    with _named(**_PAYMENT_NAMES):
        return services.record_month(
            actor=request.user,
            org=org,
            year=payload.year,
            month=payload.month,
            member_ids=payload.members,
            paid_on=payload.paid_on,
            method=payload.method,
            request_key=key,
        )


@router.post(
    "/payments/voluntary",
    response={200: PaymentOut, 201: PaymentOut, **ERRORS},
    summary="Record a voluntary payment",
    description="Beyond the dues, recorded apart from the ledger; 1,000 yuan or more is "
    "marked large_one_off (remitted to the centre). Idempotency-Key as for POST /payments.",
)
def record_voluntary(request, payload: VoluntaryIn, idempotency_key: str | None = IDEMPOTENCY):
    member = _member(request, payload.member)
    key = _request_key(request, idempotency_key)
    replay = _replay_of(request, key, member, payload.method, payload.reference)
    with _named(**_PAYMENT_NAMES):
        payment = services.record_voluntary(
            actor=request.user,
            member=member,
            amount=payload.amount,
            paid_on=payload.paid_on,
            method=payload.method,
            reference=payload.reference,
            request_key=key,
            note=payload.note,
        )
    return Status(200 if replay else 201, _payment(request, payment.pk))


@router.get(
    "/payments",
    response={200: list[PaymentOut], **READ_ERRORS},
    summary="List payments",
    description="Latest first, with the months each paid.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_payments(request, filters: Query[PaymentFilter]):
    qs = _subtree(_with_months(selectors.payments(request.user)), request, filters.org, "org_path")
    if filters.year is not None:
        first = datetime.date(filters.year, 1, 1)
        qs = qs.filter(paid_on__gte=first, paid_on__lt=first.replace(year=filters.year + 1))
    if filters.kind is not None:
        qs = qs.filter(kind=filters.kind)
    if filters.member is not None:
        qs = qs.filter(member_id=filters.member)
    if filters.reversed is not None:
        qs = qs.filter(reversed_at__isnull=not filters.reversed)
    return qs.order_by("-paid_on", "-id")


@router.get(
    "/payments/{payment_id}",
    response={200: PaymentOut, **READ_ERRORS},
    summary="One payment (a receipt)",
    description="A member may read their own.",
)
def get_payment(request, payment_id: PathId):
    return _payment(request, payment_id)


@router.post(
    "/payments/{payment_id}/reverse",
    response={200: PaymentOut, **ERRORS},
    summary="Reverse a payment recorded in error",
    description="It stays on file, marked reversed with the reason; the months it paid are "
    "owed again. Twice answers 409 already_reversed.",
)
def reverse_payment(request, payment_id: PathId, payload: ReverseIn):
    payment = selectors.get_payment(request.user, payment_id)
    services.reverse_payment(actor=request.user, payment=payment, reason=payload.reason)
    return _payment(request, payment.pk)


# Relief ----------------------------------------------------------------------------------------


def _relief(request, pk: int) -> Relief:
    return selectors.get_relief(request.user, pk)


@router.post(
    "/reliefs",
    response={201: ReliefOut, **ERRORS},
    summary="Record the branch's approval of a reduction or exemption",
    description="Takes effect when the committee above signs it off (POST "
    "/dues/reliefs/{relief_id}/sign). Months overlapping pending or approved relief answer 409 "
    "relief_overlaps.",
)
def request_relief(request, payload: ReliefIn):
    member = _member(request, payload.member)
    relief = services.request_relief(
        actor=request.user,
        member=member,
        year=payload.year,
        from_month=payload.from_month,
        to_month=payload.to_month,
        kind=payload.kind,
        amount=payload.amount,
        reason=payload.reason,
        branch_decided_on=payload.branch_decided_on,
        branch_reference=payload.branch_reference,
    )
    return Status(201, _relief(request, relief.pk))


@router.get(
    "/reliefs",
    response={200: list[ReliefOut], **READ_ERRORS},
    summary="List relief",
    description="Latest first; with to_sign, pending relief this account signs off, oldest first.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def list_reliefs(request, filters: Query[ReliefFilter]):
    if filters.to_sign:
        qs = selectors.reliefs_to_sign(request.user)
    else:
        qs = selectors.reliefs(request.user).order_by("-created_at", "-id")
    qs = _subtree(qs, request, filters.org, "organization__path")
    if filters.year is not None:
        qs = qs.filter(year=filters.year)
    if filters.state is not None:
        qs = qs.filter(state=filters.state)
    return qs


@router.post(
    "/reliefs/{relief_id}/sign",
    response={200: ReliefOut, **ERRORS},
    summary="Sign off relief, or not",
    description="By the committee above the branch (403 for the branch itself); not approving "
    "needs a note. The ledger lines change on approval. Twice answers 409 already_decided.",
)
def sign_relief(request, relief_id: PathId, payload: SignIn):
    relief = _relief(request, relief_id)
    services.sign_relief(
        actor=request.user, relief=relief, approve=payload.approve, note=payload.note
    )
    return _relief(request, relief.pk)


# Arrears ---------------------------------------------------------------------------------------


def _arrears_row(row: dict) -> dict:
    first, through = row["first"], row["through"]
    return {
        "member": row["member"],
        "organization": _ref(row["member"].organization),
        "first": f"{first[0]}-{first[1]:02d}",
        "through": f"{through[0]}-{through[1]:02d}",
        "months": row["months"],
        "owed": _money(row["owed"]),
        "decisions": row["decisions"],
    }


@router.get(
    "/arrears",
    response={200: list[ArrearsOut], **READ_ERRORS},
    summary="Members six months behind",
    description="Six consecutive unpaid months up to the last completed one: "
    "flagged for the branch meeting, never removed automatically. A decision on the same run "
    "takes the member off the list until they pay.",
)
@paginate(CappedPageNumberPagination, page_size=50)
def arrears(request, query: Query[OrgQuery]):
    org = _org(request, query.org)
    return [_arrears_row(row) for row in selectors.arrears(request.user, org, _today())]


@router.get(
    "/arrears/decisions",
    response={200: list[DecisionOut], **READ_ERRORS},
    summary="Decisions of branch meetings on arrears",
)
@paginate(CappedPageNumberPagination, page_size=50)
def arrears_decisions(request, query: Query[OrgQuery]):
    org = _org(request, query.org)
    return selectors.arrears_decisions(request.user, org)


@router.post(
    "/arrears/{member_id}/decision",
    response={201: DecisionOut, **ERRORS},
    summary="Record the branch meeting's decision",
    description="On a member flagged for six unpaid months (409 not_in_arrears otherwise). "
    "`left` also records leaving the Party on the member's timeline, and needs the meeting's "
    "record (400 reference_required).",
)
def decide_arrears(request, member_id: PathId, payload: DecisionIn):
    member = _member(request, member_id, None)
    decision = services.decide_arrears(
        actor=request.user,
        member=member,
        outcome=payload.outcome,
        meeting_on=payload.meeting_on,
        reference=payload.reference,
        note=payload.note,
    )
    return Status(201, decision)


@router.post(
    "/reminders",
    response={200: RemindedOut, **ERRORS},
    summary="Remind members who have not paid a month",
    description="In the platform's notifications (and by e-mail where configured); each member "
    "is told once per month, however often this is called.",
)
def remind(request, payload: RemindIn):
    org = _org(request, payload.org)
    sent = services.remind_behind(
        actor=request.user, org=org, year=payload.year, month=payload.month
    )
    return {"sent": sent}


# Reports ---------------------------------------------------------------------------------------


@router.get(
    "/reports/collection",
    response={200: CollectionOut, **READ_ERRORS},
    summary="Collection by month for a subtree",
    description="Totals due and paid, lines paid, partly paid and exempt, voluntary payments "
    "and the collection rate, for the subtree and for each organisation directly below (the "
    "organisation's own lines apart, when it has any). `total` is the whole year; `to_date` "
    "counts only the months owed by today, the rate to quote during the year.",
)
def collection(request, query: Query[CollectionQuery]):
    org = _org(request, query.org)
    report = selectors.collection_report(request.user, org, query.year)
    return {
        "organization": _ref(org),
        "year": query.year,
        "months": [_figures(m) for m in report["months"]],
        "total": _figures(report["total"], 0),
        "to_date": _to_date(report["to_date"]),
        "children": [
            {
                "organization": _ref(child["org"]),
                "own": child["own"],
                "months": [_figures(m) for m in child["months"]],
                "total": _figures(child["total"], 0),
                "to_date": _to_date(child["to_date"]),
            }
            for child in report["children"]
        ],
    }


def _to_date(row: dict) -> dict:
    return {**row, "due": _money(row["due"]), "paid": _money(row["paid"])}


@router.get(
    "/reports/remittance",
    response={200: RemittanceOut, **READ_ERRORS},
    summary="Monthly remittance summary",
    description="What each organisation directly below received in the month (payments by "
    "the day paid, reversed ones left out), to remit to the committee: dues whichever months "
    "they paid, voluntary and large one-off payments apart; beside them the dues owed for the "
    "month itself, paid by now and their rate.",
)
def remittance(request, query: Query[RemittanceQuery]):
    org = _org(request, query.org)
    rows = reports.remittance_rows(selectors.remittance(request.user, org, query.year, query.month))
    return {
        "organization": _ref(org),
        "year": query.year,
        "month": query.month,
        "rows": [{**row, "organization": _ref(row["org"]), "own": row["own"]} for row in rows],
        "total": reports.remittance_total(rows),
    }


# A member's own dues ---------------------------------------------------------------------------


@router.get(
    "/mine",
    response={200: MineOut, **READ_ERRORS},
    summary="My dues",
    description="The signed-in member's own ledger lines and payments of a year (empty for an "
    "account without a member record).",
)
def mine(request, query: Query[YearQuery]):
    year = query.year or _today().year
    member = selectors.selectors_own_member(request.user)
    lines = list(selectors.own_lines(request.user, year).select_related("member"))
    first = datetime.date(year, 1, 1)
    payments = (
        selectors.own_payments(request.user)
        .filter(paid_on__gte=first, paid_on__lt=first.replace(year=year + 1))
        .select_related("member", "organization", "recorded_by")
    )
    payments = list(_with_months(payments))
    return {"member": member, "year": year, "lines": lines, "payments": payments}
