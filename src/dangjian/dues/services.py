"""Every change to dues: bases, relief, ledgers, payments, arrears decisions.

Permissions: `dues.manage` at the organisation that collects (the member's branch, or the host
of a mobile stay) records bases and payments; relief is signed off by the committee above
(`dues.approve` at the parent). Every change is audited.

Payments are recorded once. A payment carries a `request_key` (one per form shown or API
request): replaying the request returns the payment already recorded. Keys live in namespaces
nobody can cross: a web form's key is hashed with its user (`form_key`: "web:…"), the API's
likewise ("api:…"), and keys the services make themselves have prefixes of their own ("grid:…",
"stmt…"). A bank or online `reference` is unique per collecting organisation and method, and is
looked up only there: another branch's bank may use the same serial, and its payments are none
of this one's business. A replay is the same payment only when it asks for the same thing
(member, kind, method, months, amount); a key or reference reused for something else is refused
(`request_reused`, `duplicate_reference`). Two requests racing for the same member-month
serialise on the ledger lines (locked in one order: member, year, month): the second finds
nothing left to pay and is refused with `already_paid`.
"""

import datetime
import hashlib
import uuid
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import audit, selectors
from dangjian.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dangjian.core.models import Organization
from dangjian.core.text import clean_text
from dangjian.members.models import Member

from . import ledger, rules
from .models import (
    Allocation,
    ArrearsDecision,
    DuesBase,
    LedgerLine,
    LineStatus,
    Method,
    Payment,
    PaymentKind,
    Relief,
    ReliefKind,
    ReliefState,
)

BASE_FIELDS = ["member", "year", "category", "base", "computed", "override", "override_reason"]
PAYMENT_FIELDS = [
    "member",
    "organization",
    "kind",
    "amount",
    "paid_on",
    "method",
    "reference",
    "receipt_no",
    "approval",
    "proxy_name",
    "large_one_off",
    "reversed_at",
    "reverse_reason",
    "reversed_reference",
]
RELIEF_FIELDS = [
    "member",
    "year",
    "from_month",
    "to_month",
    "kind",
    "amount",
    "reason",
    "branch_decided_on",
    "branch_reference",
    "state",
    "signed_on",
    "sign_note",
]
EARLIEST_YEAR = 2008
MAX_MONTHS_AT_ONCE = 24


def _user(actor):
    return actor if getattr(actor, "pk", None) else None


def subject_of(member: Member) -> str:
    return f"members.member:{member.pk}"


def _require(actor, org: Organization, action: str = "dues.manage") -> None:
    if selectors.can(actor, action, org):
        return
    if selectors.can(actor, "dues.view", org) or selectors.can(actor, "org.view", org):
        raise Forbidden(_("You may not do this at “%(org)s”.") % {"org": org.name})
    raise NotFound(_("Organisation not found."))


def _require_member(actor, member: Member, action: str = "dues.manage") -> None:
    if selectors.can(actor, action, member.organization):
        return
    if selectors.can(actor, "member.view", member.organization):
        raise Forbidden(_("You may not do this for this member."))
    raise NotFound(_("Member not found."))


def parent_of(org: Organization) -> Organization | None:
    if org.depth <= 1:
        return None
    return Organization.objects.filter(path=org.parent_path).first()


def _require_above(actor, org: Organization) -> None:
    """Sign-off belongs to the committee above: `dues.approve` at the parent organisation."""
    parent = parent_of(org)
    if parent is None:
        if selectors.scope_for(actor, "dues.approve") == [""]:
            return
    elif selectors.can(actor, "dues.approve", parent):
        return
    if selectors.can(actor, "dues.view", org):
        raise Forbidden(_("Only the committee above may sign this off."))
    raise NotFound(_("Not found."))


def today() -> datetime.date:
    return timezone.localdate()


def _as_date(value):
    """A date and time counts as its (local) date: forms and API clients may pass either, and
    a date and time compares with no date (TypeError, a 500)."""
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def check_year(year, field: str = "year") -> int:
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise ValidationFailed(_("Enter a year."), code="invalid_year", field=field) from None
    latest = today().year + 1
    if not EARLIEST_YEAR <= year <= latest:
        raise ValidationFailed(
            _("The year must lie between %(a)d and %(b)d.") % {"a": EARLIEST_YEAR, "b": latest},
            code="invalid_year",
            field=field,
        )
    return year


def check_month(month, field: str = "month") -> int:
    try:
        month = int(month)
    except (TypeError, ValueError):
        month = 0
    if not 1 <= month <= 12:
        raise ValidationFailed(_("The month must be 1 to 12."), code="invalid_month", field=field)
    return month


def _amount(value, field: str, *, positive: bool = True, required: bool = True):
    if value in (None, "") and not required:
        return None
    try:
        amount = rules.to_amount(value)
    except ValueError:
        raise ValidationFailed(
            _("Enter an amount in yuan."), code="invalid_amount", field=field
        ) from None
    if amount != amount.quantize(rules.CENT):
        raise ValidationFailed(
            _("Amounts are in yuan and fen: two decimals at most."),
            code="invalid_amount",
            field=field,
        )
    if amount < 0 or (positive and amount == 0):
        raise ValidationFailed(
            _("The amount must be more than zero.")
            if positive
            else _("The amount cannot be negative."),
            code="invalid_amount",
            field=field,
        )
    if amount > rules.MAX_BASE:
        raise ValidationFailed(_("The amount is too large."), code="invalid_amount", field=field)
    return amount.quantize(rules.CENT)


# Bases ---------------------------------------------------------------------------------------


def compute(category: str, base, year: int) -> tuple[Decimal, Decimal, str]:
    """(base as stored, amount by the rules, rule version) or ValidationFailed naming the field."""
    if category not in rules.CATEGORIES:
        raise ValidationFailed(
            _("Choose a dues category."), code="invalid_category", field="category"
        )
    # The first rules took effect on 1 February 2008: January 2008 is counted by them too.
    try:
        on = rules.rule_day(year)
    except ValueError:
        raise ValidationFailed(
            _("No dues rule of the platform covers that year."), code="invalid_year", field="year"
        ) from None
    rule = rules.rule_on(on)
    if category in rules.FIXED:
        base_value = Decimal("0.00")
    else:
        if base in (None, ""):
            message = (
                _("Enter the monthly amount the member chose (0.20 to 1.00 yuan).")
                if category == rules.FARMER
                else _("Enter the monthly base.")
            )
            raise ValidationFailed(message, code="required", field="base")
        base_value = _amount(base, "base", positive=False)
    try:
        amount = rules.monthly_dues(base_value, category, on)
    except ValueError:
        if category == rules.FARMER:
            low, high = rule.farmer_range
            raise ValidationFailed(
                _("A farmer pays between %(low)s and %(high)s yuan a month.")
                % {"low": low, "high": high},
                code="farmer_range",
                field="base",
            ) from None
        raise ValidationFailed(
            _("Enter a valid base."), code="invalid_amount", field="base"
        ) from None
    return base_value, amount, rule.version


def _lines_follow_base(member: Member, year: int) -> None:
    """The base of a year changed: the year's lines owe the new amount (paid money stays)."""
    if LedgerLine.objects.filter(member=member, year=year).exists():
        ledger.refresh_totals(ledger.sync_members([member.pk], [year]))


def _base_values(actor, member, year, category, base, override, override_reason):
    base_value, computed, version = compute(category, base, year)
    override_value = _amount(override, "override", positive=False, required=False)
    reason = clean_text(override_reason, "override_reason", 255)
    if override_value is not None and override_value != computed and not reason:
        raise ValidationFailed(
            _("Give the reason for setting the amount by hand."),
            code="override_reason_required",
            field="override_reason",
        )
    if override_value is not None and override_value == computed:
        override_value, reason = None, ""
    return {
        "category": category,
        "base": base_value,
        "computed": computed,
        "override": override_value,
        "override_reason": reason if override_value is not None else "",
        "rule_version": version,
        "declared_by": _user(actor),
    }


@transaction.atomic
def declare_base(
    *,
    actor,
    member: Member,
    year,
    category: str,
    base=None,
    override=None,
    override_reason: str = "",
) -> DuesBase:
    """Declare (or correct) a member's category and base for a year. An amount set by hand
    needs a reason; both are audited."""
    _require_member(actor, member)
    year = check_year(year)
    values = _base_values(actor, member, year, category, base, override, override_reason)
    row = DuesBase.objects.select_for_update().filter(member=member, year=year).first()
    before = audit.snapshot(row, BASE_FIELDS) if row else None
    if row is None:
        row = DuesBase.objects.create(member=member, year=year, **values)
        action = "dues.base.declare"
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
        action = "dues.base.change"
    b, a = audit.diff(before, audit.snapshot(row, BASE_FIELDS))
    if before is None or a:
        audit.record(
            actor,
            action,
            row,
            before=b,
            after=a,
            org_path=member.org_path,
            subject=subject_of(member),
            label=f"{member.name} {year}",
        )
    _lines_follow_base(member, year)
    return row


class RowErrors(ValidationFailed):
    """Several rows of a grid or a file were wrong: `errors` maps a row number to
    {field: message}. Nothing was saved."""

    def __init__(self, errors: dict[int, dict[str, str]]):
        super().__init__(
            _("%(n)d rows need correcting; nothing was saved.") % {"n": len(errors)},
            code="rows_invalid",
        )
        self.rows = errors


@transaction.atomic
def declare_bases(*, actor, org: Organization, year, rows: list[dict]) -> int:
    """Declare many bases at once (a branch's grid, an import): every row or none.

    rows: {"member": Member or id, "category", "base", "override", "override_reason"}; a
    member must be in `org`'s subtree. Returns how many bases changed."""
    _require(actor, org)
    year = check_year(year)
    errors: dict[int, dict[str, str]] = {}
    ids = []
    for row in rows:
        member = row.get("member")
        ids.append(getattr(member, "pk", member))
    members = {
        m.pk: m
        for m in Member.objects.filter(
            selectors.subtree_range("org_path", org.path), pk__in=[i for i in ids if i]
        ).select_related("organization")
    }
    existing = {
        b.member_id: b
        for b in DuesBase.objects.select_for_update().filter(member_id__in=list(members), year=year)
    }
    prepared = []
    seen = set()
    for index, row in enumerate(rows):
        member = members.get(ids[index])
        if member is None:
            errors[index] = {"member": str(_("This member is not in the organisation."))}
            continue
        if member.pk in seen:
            errors[index] = {"member": str(_("This member appears twice."))}
            continue
        seen.add(member.pk)
        try:
            values = _base_values(
                actor,
                member,
                year,
                row.get("category"),
                row.get("base"),
                row.get("override"),
                row.get("override_reason", ""),
            )
        except ValidationFailed as exc:
            errors[index] = {exc.field or "base": str(exc.message)}
            continue
        prepared.append((member, values))
    if errors:
        raise RowErrors(errors)
    changed = 0
    events = []
    touched = []
    for member, values in prepared:
        row = existing.get(member.pk)
        before = audit.snapshot(row, BASE_FIELDS) if row else None
        if row is None:
            row = DuesBase(member=member, year=year, **values)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        after = audit.snapshot(row, BASE_FIELDS)
        b, a = audit.diff(before, after)
        if before is not None and not a:
            continue
        row.save()
        changed += 1
        touched.append(member.pk)
        events.append((row, b, a if before else after, member.org_path, subject_of(member)))
    audit.record_many(actor, "dues.base.declare", events)
    if touched and LedgerLine.objects.filter(member_id__in=touched, year=year).exists():
        ledger.refresh_totals(ledger.sync_members(touched, [year]))
    return changed


# Relief --------------------------------------------------------------------------------------


@transaction.atomic
def request_relief(
    *,
    actor,
    member: Member,
    year,
    from_month,
    to_month,
    kind: str,
    amount=None,
    reason: str,
    branch_decided_on: datetime.date,
    branch_reference: str = "",
) -> Relief:
    """The branch records its approval of a reduction or exemption; it takes effect when the
    committee above signs it off."""
    _require_member(actor, member)
    year = check_year(year)
    first = check_month(from_month, "from_month")
    last = check_month(to_month, "to_month")
    if last < first:
        raise ValidationFailed(
            _("The last month is before the first."), code="invalid_range", field="to_month"
        )
    if kind not in ReliefKind.values:
        raise ValidationFailed(
            _("Choose reduction or exemption."), code="invalid_kind", field="kind"
        )
    value = None
    if kind == ReliefKind.REDUCE:
        value = _amount(amount, "amount", positive=False)
    reason = clean_text(reason, "reason", 255, required=True)
    reference = clean_text(branch_reference, "branch_reference", 64)
    branch_decided_on = _as_date(branch_decided_on)
    if not isinstance(branch_decided_on, datetime.date) or branch_decided_on > today():
        raise ValidationFailed(
            _("Enter the date of the branch's decision (not in the future)."),
            code="invalid_date",
            field="branch_decided_on",
        )
    overlapping = Relief.objects.filter(
        member=member,
        year=year,
        state__in=[ReliefState.PENDING, ReliefState.APPROVED],
        from_month__lte=last,
        to_month__gte=first,
    )
    if overlapping.exists():
        raise Conflict(
            _("Relief for these months is already recorded."),
            code="relief_overlaps",
            field="from_month",
        )
    relief = Relief.objects.create(
        member=member,
        organization=member.organization,
        year=year,
        from_month=first,
        to_month=last,
        kind=kind,
        amount=value,
        reason=reason,
        branch_decided_on=branch_decided_on,
        branch_reference=reference,
        requested_by=_user(actor),
    )
    audit.record(
        actor,
        "dues.relief.request",
        relief,
        after=audit.snapshot(relief, RELIEF_FIELDS),
        org_path=member.org_path,
        subject=subject_of(member),
        label=f"{member.name} {relief}",
    )
    return relief


@transaction.atomic
def sign_relief(*, actor, relief: Relief, approve: bool, note: str = "") -> Relief:
    relief = (
        Relief.objects.select_for_update()
        .select_related("organization", "member")
        .get(pk=relief.pk)
    )
    _require_above(actor, relief.organization)
    if relief.state != ReliefState.PENDING:
        raise Conflict(_("This relief has already been decided."), code="already_decided")
    note = clean_text(note, "note", 255, required=not approve)
    before = audit.snapshot(relief, RELIEF_FIELDS)
    relief.state = ReliefState.APPROVED if approve else ReliefState.REJECTED
    relief.signed_by = _user(actor)
    relief.signed_on = today()
    relief.sign_note = note
    relief.save()
    b, a = audit.diff(before, audit.snapshot(relief, RELIEF_FIELDS))
    audit.record(
        actor,
        "dues.relief.sign" if approve else "dues.relief.reject",
        relief,
        before=b,
        after=a,
        org_path=relief.member.org_path,
        subject=subject_of(relief.member),
        label=f"{relief.member.name} {relief}",
    )
    if approve and LedgerLine.objects.filter(member_id=relief.member_id, year=relief.year).exists():
        # Lines not generated yet take the relief when they are.
        ledger.refresh_totals(ledger.sync_members([relief.member_id], [relief.year]))
    return relief


# Ledger --------------------------------------------------------------------------------------


def start_generation(*, actor, org: Organization, year):
    """Generate (or bring in step) a year's ledger for a subtree, as a background job."""
    from dangjian.core.jobs import start_job

    _require(actor, org)
    year = check_year(year)
    job = start_job(
        actor=actor,
        kind="dues.generate",
        title=_("Dues ledger %(year)d: %(org)s") % {"year": year, "org": org.name},
        params={"org": org.pk, "year": year},
    )
    audit.record(
        actor,
        "dues.ledger.generate",
        org,
        after={"year": year, "job": str(job.pk)},
        org_path=org.path,
        label=f"{org.name} {year}",
    )
    return job


@transaction.atomic
def generate_now(*, actor, org: Organization, year) -> dict:
    """The same as the job, in the request (small subtrees, tests, the demo data)."""
    _require(actor, org)
    year = check_year(year)
    result = ledger.generate(year, org)
    audit.record(
        actor,
        "dues.ledger.generate",
        org,
        after={"year": year, **result},
        org_path=org.path,
        label=f"{org.name} {year}",
    )
    return result


# Payments ------------------------------------------------------------------------------------


def receipt_number(payment: Payment) -> str:
    return f"DF{payment.paid_on.year}{payment.pk:010d}"


def _check_paid_on(paid_on) -> datetime.date:
    paid_on = _as_date(paid_on)
    if not isinstance(paid_on, datetime.date):
        raise ValidationFailed(_("Enter the date paid."), code="required", field="paid_on")
    if paid_on > today():
        raise ValidationFailed(
            _("The date paid cannot be in the future."), code="future_date", field="paid_on"
        )
    if paid_on.year < EARLIEST_YEAR:
        raise ValidationFailed(
            _("The date paid is too early."), code="invalid_date", field="paid_on"
        )
    return paid_on


def _check_method(method: str, reference: str) -> tuple[str, str]:
    if method not in Method.values:
        raise ValidationFailed(_("Choose how it was paid."), code="invalid_method", field="method")
    reference = clean_text(reference, "reference", 64)
    if method == Method.ONLINE and not reference:
        raise ValidationFailed(
            _("Enter the reference of the online payment."),
            code="reference_required",
            field="reference",
        )
    return method, reference


def form_key(actor, key) -> str | None:
    """The request key of a web form (the hidden field), as the services store it: hashed with
    the user, under "web:". Two accounts' keys never meet, and nothing typed into a form can
    pose as a key of the API ("api:…") or one the services make ("grid:…", "stmt…"). None
    without a key (the service then records without replay protection)."""
    key = key.strip() if isinstance(key, str) else ""
    if not key:
        return None
    digest = hashlib.sha256(f"{getattr(actor, 'pk', None)}:{key}".encode()).hexdigest()
    return "web:" + digest[:40]


def _asked_amount(amount):
    """The amount a request names (None: the months in full), checked before anything is read."""
    return None if amount in (None, "") else _amount(amount, "amount")


def _months_of(payment: Payment) -> set[tuple[int, int]]:
    return set(payment.allocations.values_list("line__year", "line__month"))


def _same_payment(found: Payment, member: Member, kind: str, method: str, months, amount) -> bool:
    """Does this recorded payment answer the request: the same member, kind, method, months
    (dues) and amount (when the request names one)? A replay asks for exactly the same."""
    if (found.member_id, found.kind, found.method) != (member.pk, kind, method):
        return False
    if amount is not None and found.amount != amount:
        return False
    return months is None or _months_of(found) == set(months)


def _grid_replays(keys: list[str], method: str, year: int, month: int) -> set[int]:
    """The members a grid request with these keys recorded already (sent twice). A key that
    recorded anything but this month by this method is not this request's: request_reused."""
    found = {
        p.pk: p
        for p in Payment.objects.filter(request_key__in=keys).only("pk", "member_id", "method")
    }
    months = defaultdict(set)
    for pk, y, m in Allocation.objects.filter(payment_id__in=list(found)).values_list(
        "payment_id", "line__year", "line__month"
    ):
        months[pk].add((y, m))
    for pk, payment in found.items():
        if payment.method != method or months[pk] != {(year, month)}:
            raise Conflict(
                _(
                    "This form was already used to record another month; open it again to "
                    "record a new one."
                ),
                code="request_reused",
                field="month",
            )
    return {p.member_id for p in found.values()}


def _replayed_key(request_key, member: Member, kind: str, method: str, months, amount):
    """The payment a repeated request (same key) recorded; request_reused for a key that
    recorded something else (a form sent again after it was changed)."""
    if not request_key:
        return None
    found = Payment.objects.filter(request_key=request_key).first()
    if found is None:
        return None
    if not _same_payment(found, member, kind, method, months, amount):
        raise Conflict(
            _(
                "This form was already used to record another payment; open it again to "
                "record a new one."
            ),
            code="request_reused",
        )
    return found


def _replayed_reference(org: Organization, reference: str, member, kind, method, months, amount):
    """The payment recorded under this reference by the same collecting organisation (never
    another's: two branches' banks may use the same serial). The same payment again answers
    with it; anything else is refused, naming the receipt (the organisation's own)."""
    if not reference:
        return None
    found = Payment.objects.filter(organization=org, method=method, reference=reference).first()
    if found is None:
        return None
    if _same_payment(found, member, kind, method, months, amount):
        return found
    raise Conflict(
        _("A payment with this reference is already recorded (receipt %(no)s).")
        % {"no": found.receipt_no},
        code="duplicate_reference",
        field="reference",
    )


def _months(months) -> list[tuple[int, int]]:
    try:
        found = sorted({(int(y), int(m)) for y, m in months})
    except (TypeError, ValueError):
        raise ValidationFailed(
            _("Choose the months paid."), code="invalid_month", field="months"
        ) from None
    if not found:
        raise ValidationFailed(_("Choose the months paid."), code="required", field="months")
    for _y, m in found:
        check_month(m, "months")
    if len(found) > MAX_MONTHS_AT_ONCE:
        raise ValidationFailed(
            _("At most %(n)d months in one payment.") % {"n": MAX_MONTHS_AT_ONCE},
            code="too_many_months",
            field="months",
        )
    return found


def _require_collector(actor, member: Member) -> None:
    """May the actor record dues for this member: at the member's organisation, or where some
    of the member's months are collected (a host of a mobile stay, the branch a member left
    with months still owed)? Asked before anything is read, so that nobody outside learns what
    is recorded; which organisation collects the months asked for is checked after."""
    if selectors.can(actor, "dues.manage", member.organization):
        return
    prefixes = selectors.scope_for(actor, "dues.manage")
    if prefixes:
        condition = Q()
        for prefix in prefixes:
            condition |= selectors.subtree_range("org_path", prefix)
        if LedgerLine.objects.filter(member=member).filter(condition).exists():
            return
    _require_member(actor, member)


def _save_payment(payment: Payment) -> Payment:
    """Insert; a concurrent insert of the same request key or reference loses to the winner."""
    try:
        with transaction.atomic():
            payment.save()
    except IntegrityError:
        raise Conflict(_("This payment was recorded already."), code="already_recorded") from None
    payment.receipt_no = receipt_number(payment)
    Payment.objects.filter(pk=payment.pk).update(receipt_no=payment.receipt_no)
    return payment


def record_payment(
    *,
    actor,
    member: Member,
    months,
    paid_on: datetime.date,
    method: str,
    amount=None,
    reference: str = "",
    request_key: str | None = None,
    approval: str = "",
    proxy_name: str = "",
    confirm_late: bool = False,
    note: str = "",
) -> Payment:
    """Record dues paid by a member for one or more months of their ledger.

    Without `amount`, each month is paid in full. With it, one month may be paid in part;
    several months must be paid in full. Months after this one (in advance) and payments by
    someone else (proxy) need the branch's approval; months more than six back need
    `confirm_late`. Replaying a request (same `request_key`) returns the same payment."""
    for attempt in range(2):
        try:
            return _record_payment(
                actor=actor,
                member=member,
                months=months,
                paid_on=paid_on,
                method=method,
                amount=amount,
                reference=reference,
                request_key=request_key,
                approval=approval,
                proxy_name=proxy_name,
                confirm_late=confirm_late,
                note=note,
            )
        except Conflict as exc:
            # Lost a race to insert the same key or reference: once more, the winner is then
            # found (the same payment: its answer; another: refused as such).
            if exc.code != "already_recorded" or attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def _record_payment(
    *,
    actor,
    member,
    months,
    paid_on,
    method,
    amount,
    reference,
    request_key,
    approval,
    proxy_name,
    confirm_late,
    note,
) -> Payment:
    months = _months(months)
    paid_on = _check_paid_on(paid_on)
    method, reference = _check_method(method, reference)
    approval = clean_text(approval, "approval", 128)
    proxy_name = clean_text(proxy_name, "proxy_name", 64)
    note = clean_text(note, "note", 255)
    request_key = clean_text(request_key or "", "request_key", 80) or None
    asked = _asked_amount(amount)
    _require_collector(actor, member)
    replay = _replayed_key(request_key, member, PaymentKind.DUES, method, months, asked)
    if replay is not None:
        return replay
    years = {y for y, _m in months}
    collectors = LedgerLine.objects.filter(member=member, year__in=years)
    ledger.hold_keys(
        [member.pk], {member.organization_id, *collectors.values_list("organization_id", flat=True)}
    )
    # Lock the member's lines of these months, in one order, then read them.
    lines = list(
        LedgerLine.objects.select_for_update()
        .filter(member=member, year__in={y for y, _m in months})
        .order_by("year", "month")
    )
    # The same request racing this one may have committed while we waited for the lock: its
    # payment is the answer, not "already paid".
    replay = _replayed_key(request_key, member, PaymentKind.DUES, method, months, asked)
    if replay is not None:
        return replay
    lines = [line for line in lines if (line.year, line.month) in set(months)]
    if len(lines) != len(months):
        have = {(line.year, line.month) for line in lines}
        missing = [f"{y}-{m:02d}" for y, m in months if (y, m) not in have]
        raise ValidationFailed(
            _("Nothing is owed for %(months)s: the ledger has no line for it.")
            % {"months": ", ".join(missing)},
            code="no_ledger_line",
            field="months",
        )
    org = Organization.objects.get(pk=lines[0].organization_id)
    for line in lines:
        if line.organization_id != org.pk:
            raise ValidationFailed(
                _("These months are collected by different organisations: record them apart."),
                code="several_collectors",
                field="months",
            )
    if not selectors.can(actor, "dues.manage", org):
        _require_member(actor, member)
        _require(actor, org)
    # The same reference (at this collector), recorded before or by a request racing this one
    # for the same months (it held the lines until it committed).
    replay = _replayed_reference(org, reference, member, PaymentKind.DUES, method, months, asked)
    if replay is not None:
        return replay
    # A second request for the same months finds them paid here, after the lock.
    open_lines = [line for line in lines if line.status in (LineStatus.UNPAID, LineStatus.PARTIAL)]
    if not open_lines:
        if any(line.status == LineStatus.NO_BASE for line in lines):
            raise ValidationFailed(
                _("Declare the member's dues base for the year first."),
                code="no_base",
                field="months",
            )
        raise Conflict(_("These months are already paid."), code="already_paid", field="months")
    blocked = [line for line in lines if line not in open_lines]
    if blocked:
        raise Conflict(
            _("%(months)s is already paid or exempt.")
            % {"months": ", ".join(f"{line.year}-{line.month:02d}" for line in blocked)},
            code="already_paid",
            field="months",
        )
    remaining = sum((line.remaining for line in open_lines), Decimal(0))
    if asked is None:
        value = remaining
    else:
        value = asked
        if value > remaining:
            raise ValidationFailed(
                _(
                    "%(amount)s yuan is more than the %(due)s yuan owed; record the rest as a voluntary payment."
                )
                % {"amount": value, "due": remaining},
                code="overpaid",
                field="amount",
            )
        if value < remaining and len(open_lines) > 1:
            raise ValidationFailed(
                _("Several months are paid in full: %(due)s yuan.") % {"due": remaining},
                code="partial_months",
                field="amount",
            )
    timing = rules.payment_timing(months, paid_on)
    if (timing["advance"] or proxy_name) and not approval:
        raise ValidationFailed(
            _("Paying in advance or on someone's behalf needs the branch's approval: enter it."),
            code="approval_required",
            field="approval",
        )
    if timing["late"] and not confirm_late:
        raise ValidationFailed(
            _("Back-payment normally covers at most %(n)d months; confirm to record older months.")
            % {"n": rules.LATE_MONTHS},
            code="late_payment",
            field="months",
        )
    payment = _save_payment(
        Payment(
            member=member,
            organization=org,
            org_path=org.path,
            kind=PaymentKind.DUES,
            amount=value,
            paid_on=paid_on,
            method=method,
            reference=reference,
            request_key=request_key,
            approval=approval,
            proxy_name=proxy_name,
            note=note,
            recorded_by=_user(actor),
        )
    )
    left = value
    allocations = []
    for line in open_lines:
        part = min(line.remaining, left)
        if part <= 0:
            break
        left -= part
        line.paid += part
        line.paid_on = paid_on
        line.status = rules.line_status(line.due, line.paid)
        allocations.append(Allocation(payment=payment, line=line, amount=part))
    LedgerLine.objects.bulk_update([a.line for a in allocations], ["paid", "paid_on", "status"])
    Allocation.objects.bulk_create(allocations)
    audit.record(
        actor,
        "dues.payment.record",
        payment,
        after={
            **audit.snapshot(payment, PAYMENT_FIELDS),
            "months": [f"{line.year}-{line.month:02d}" for line in open_lines],
            "late": bool(timing["late"]),
        },
        org_path=org.path,
        subject=subject_of(member),
        label=f"{member.name} {payment.receipt_no}",
    )
    ledger.refresh_totals({(org.pk, line.year, line.month) for line in open_lines})
    return payment


@transaction.atomic
def record_month(
    *,
    actor,
    org: Organization,
    year,
    month,
    member_ids: list[int],
    paid_on: datetime.date,
    method: str = Method.CASH,
    request_key: str | None = None,
    confirm_late: bool = False,
) -> dict:
    """Record a whole month for many members of an organisation at once (the grid): each
    chosen member's line of that month is paid in full. Lines already paid are skipped and
    counted; a repeated request (same key) records nothing new. All or nothing. A month more
    than six months before the day paid needs `confirm_late` (ValidationFailed late_payment,
    field "month"), as for one payment."""
    _require(actor, org)
    year, month = check_year(year), check_month(month)
    paid_on = _check_paid_on(paid_on)
    method, _ref = _check_method(method, "") if method != Method.ONLINE else (method, "")
    if method == Method.ONLINE:
        raise ValidationFailed(
            _("Online payments carry their own references: record them one by one."),
            code="reference_required",
            field="method",
        )
    request_key = clean_text(request_key or "", "request_key", 60) or uuid.uuid4().hex
    try:
        ids = sorted({int(i) for i in member_ids})
    except (TypeError, ValueError):
        raise ValidationFailed(
            _("Choose members."), code="invalid_member", field="members"
        ) from None
    if not ids:
        raise ValidationFailed(_("Choose members."), code="required", field="members")
    ledger.hold_keys(ids, [org.pk])  # the payments refer to them: before locking any line
    lines = list(
        # of=self: lock the lines, not the members joined in (a transfer locks the member
        # first, then its lines: locking both here at once could deadlock with it).
        LedgerLine.objects.select_for_update(of=("self",))
        .filter(organization=org, year=year, month=month, member_id__in=ids)
        .select_related("member")
        .order_by("member_id")
    )
    found = {line.member_id for line in lines}
    if found != set(ids):
        raise ValidationFailed(
            _("%(n)d of the chosen members have no line this month here.")
            % {"n": len(set(ids) - found)},
            code="no_ledger_line",
            field="members",
        )
    no_base = [line.member.name for line in lines if line.status == LineStatus.NO_BASE]
    if no_base:
        raise ValidationFailed(
            _("Declare the base first for: %(names)s.") % {"names": "、".join(no_base[:10])},
            code="no_base",
            field="members",
        )
    # One payment per member, each with a key of its own, under a prefix no form or API key has.
    keys = {line.member_id: f"grid:{request_key}:{line.member_id}" for line in lines}
    replayed = _grid_replays(list(keys.values()), method, year, month)
    timing = rules.payment_timing([(year, month)], paid_on)
    if timing["advance"]:
        raise ValidationFailed(
            _(
                "This month has not begun: record payments in advance one by one, with the branch's approval."
            ),
            code="approval_required",
            field="month",
        )
    todo = [
        line
        for line in lines
        if line.member_id not in replayed and line.status in (LineStatus.UNPAID, LineStatus.PARTIAL)
    ]
    if todo and timing["late"] and not confirm_late:
        raise ValidationFailed(
            _(
                "%(year)d-%(month)02d is more than %(n)d months before the day paid: back-payment "
                "normally covers at most %(n)d months; confirm to record it."
            )
            % {"year": year, "month": month, "n": rules.LATE_MONTHS},
            code="late_payment",
            field="month",
        )
    recorded, skipped = 0, len(lines) - len(todo)
    allocations, payments, events = [], [], []
    for line in todo:
        value = line.remaining
        payment = Payment(
            member_id=line.member_id,
            organization=org,
            org_path=org.path,
            kind=PaymentKind.DUES,
            amount=value,
            paid_on=paid_on,
            method=method,
            request_key=keys[line.member_id],
            recorded_by=_user(actor),
        )
        payments.append(payment)
        line.paid += value
        line.paid_on = paid_on
        line.status = rules.line_status(line.due, line.paid)
        allocations.append((payment, line, value))
    if payments:
        try:
            with transaction.atomic():
                Payment.objects.bulk_create(payments)
        except IntegrityError:
            raise Conflict(
                _("This payment was recorded already."), code="already_recorded"
            ) from None
        if payments[0].pk is None:  # SQLite before 3.35 gives no ids back
            by_key = dict(
                Payment.objects.filter(
                    request_key__in=[p.request_key for p in payments]
                ).values_list("request_key", "pk")
            )
            for p in payments:
                p.pk = by_key[p.request_key]
        for p in payments:
            p.receipt_no = receipt_number(p)
        Payment.objects.bulk_update(payments, ["receipt_no"], batch_size=1000)
        LedgerLine.objects.bulk_update(
            [line for _p, line, _v in allocations], ["paid", "paid_on", "status"], batch_size=1000
        )
        Allocation.objects.bulk_create(
            [Allocation(payment=p, line=line, amount=v) for p, line, v in allocations],
            batch_size=1000,
        )
        for p, line, _v in allocations:
            events.append(
                (
                    p,
                    None,
                    {**audit.snapshot(p, PAYMENT_FIELDS), "months": [f"{year}-{month:02d}"]},
                    org.path,
                    subject_of(line.member),
                )
            )
        audit.record_many(actor, "dues.payment.record", events)
        recorded = len(payments)
        ledger.refresh_totals({(org.pk, year, month)})
    return {"recorded": recorded, "skipped": skipped}


def record_voluntary(
    *,
    actor,
    member: Member,
    amount,
    paid_on: datetime.date,
    method: str,
    reference: str = "",
    request_key: str | None = None,
    note: str = "",
) -> Payment:
    """A voluntary payment (beyond the dues), recorded apart from the ledger; one of 1,000 yuan
    or more is marked to be remitted to the centre. Recorded once, as dues are: the same key
    or reference (at the member's organisation) answers with the payment recorded."""
    for attempt in range(2):
        try:
            return _record_voluntary(
                actor=actor,
                member=member,
                amount=amount,
                paid_on=paid_on,
                method=method,
                reference=reference,
                request_key=request_key,
                note=note,
            )
        except Conflict as exc:
            # Lost a race to insert the same key or reference (a second click): once more,
            # the winner's payment is then found.
            if exc.code != "already_recorded" or attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@transaction.atomic
def _record_voluntary(
    *, actor, member, amount, paid_on, method, reference, request_key, note
) -> Payment:
    _require_member(actor, member)
    value = _amount(amount, "amount")
    paid_on = _check_paid_on(paid_on)
    method, reference = _check_method(method, reference)
    note = clean_text(note, "note", 255)
    request_key = clean_text(request_key or "", "request_key", 80) or None
    org = member.organization
    kind = PaymentKind.VOLUNTARY
    replay = _replayed_key(request_key, member, kind, method, None, value)
    if replay is None:
        replay = _replayed_reference(org, reference, member, kind, method, None, value)
    if replay is not None:
        return replay
    payment = _save_payment(
        Payment(
            member=member,
            organization=org,
            org_path=org.path,
            kind=PaymentKind.VOLUNTARY,
            amount=value,
            paid_on=paid_on,
            method=method,
            reference=reference,
            request_key=request_key,
            note=note,
            large_one_off=value >= rules.LARGE_ONE_OFF,
            recorded_by=_user(actor),
        )
    )
    audit.record(
        actor,
        "dues.payment.voluntary",
        payment,
        after=audit.snapshot(payment, PAYMENT_FIELDS),
        org_path=org.path,
        subject=subject_of(member),
        label=f"{member.name} {payment.receipt_no}",
    )
    ledger.refresh_totals({(org.pk, paid_on.year, paid_on.month)})
    return payment


@transaction.atomic
def reverse_payment(*, actor, payment: Payment, reason: str) -> Payment:
    """Undo a payment recorded in error (it stays on file, marked reversed, with the reason);
    the months it paid are owed again."""
    ledger.hold_keys(
        [],
        {
            payment.organization_id,
            *Allocation.objects.filter(payment=payment).values_list(
                "line__organization_id", flat=True
            ),
        },
    )
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("member", "organization")
        .get(pk=payment.pk)
    )
    _require(actor, payment.organization)
    if payment.reversed:
        raise Conflict(_("This payment is already reversed."), code="already_reversed")
    reason = clean_text(reason, "reason", 255, required=True)
    before = audit.snapshot(payment, PAYMENT_FIELDS)
    allocations = list(payment.allocations.select_related("line"))
    lines = list(
        LedgerLine.objects.select_for_update()
        .filter(pk__in=[a.line_id for a in allocations])
        .order_by("year", "month")
    )
    by_pk = {line.pk: line for line in lines}
    for allocation in allocations:
        line = by_pk[allocation.line_id]
        line.paid -= allocation.amount
        if line.paid <= 0:
            line.paid, line.paid_on = Decimal("0.00"), None
        line.status = rules.line_status(line.due, line.paid, line.status == LineStatus.EXEMPT)
    LedgerLine.objects.bulk_update(lines, ["paid", "paid_on", "status"])
    payment.reversed_at = timezone.now()
    payment.reversed_by = _user(actor)
    payment.reverse_reason = reason
    # The reference is freed (the money may be recorded again, rightly this time); it stays on
    # the payment as the reference it had.
    payment.reversed_reference, payment.reference = payment.reference, ""
    payment.save(
        update_fields=[
            "reversed_at",
            "reversed_by",
            "reverse_reason",
            "reference",
            "reversed_reference",
        ]
    )
    b, a = audit.diff(before, audit.snapshot(payment, PAYMENT_FIELDS))
    audit.record(
        actor,
        "dues.payment.reverse",
        payment,
        before=b,
        after=a,
        org_path=payment.org_path,
        subject=subject_of(payment.member),
        label=f"{payment.member.name} {payment.receipt_no}",
    )
    keys = {(line.organization_id, line.year, line.month) for line in lines}
    keys.add((payment.organization_id, payment.paid_on.year, payment.paid_on.month))
    ledger.refresh_totals(keys)
    return payment


# Arrears -------------------------------------------------------------------------------------


@transaction.atomic
def decide_arrears(
    *,
    actor,
    member: Member,
    outcome: str,
    meeting_on: datetime.date,
    reference: str = "",
    note: str = "",
    on: datetime.date | None = None,
) -> ArrearsDecision:
    """Record the branch meeting's decision on a member flagged for six unpaid months. Only a
    person records it; `left` also puts leaving the Party on the member's timeline."""
    from . import selectors as dues_selectors

    # The organisations before the member (the house order): leaving moves no line, but the
    # totals of the months no longer owed are written at them.
    ledger.hold_keys(
        [],
        {
            member.organization_id,
            *LedgerLine.objects.filter(member=member)
            .values_list("organization_id", flat=True)
            .distinct(),
        },
    )
    member = (
        Member.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=member.pk)
    )
    _require_member(actor, member)
    if outcome not in ArrearsDecision.Outcome.values:
        raise ValidationFailed(_("Choose the decision."), code="invalid_outcome", field="outcome")
    meeting_on = _as_date(meeting_on)
    if not isinstance(meeting_on, datetime.date) or meeting_on > today():
        raise ValidationFailed(
            _("Enter the date of the branch meeting (not in the future)."),
            code="invalid_date",
            field="meeting_on",
        )
    reference = clean_text(reference, "reference", 64)
    note = clean_text(note, "note", 255)
    if outcome == ArrearsDecision.Outcome.LEFT and not reference:
        raise ValidationFailed(
            _("Enter the record of the branch meeting."),
            code="reference_required",
            field="reference",
        )
    if outcome == ArrearsDecision.Outcome.LEFT:
        from dangjian.members import services as member_services

        # As when leaving is recorded on the member's page: a transfer under way is decided
        # first (accepting it later would move a member who left).
        try:
            member_services._no_pending_transfer(member)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, code=exc.code, field="outcome") from None
    run = dues_selectors.unpaid_run_of(member, on or today())
    if run is None:
        raise Conflict(_("This member is not behind with six months' dues."), code="not_in_arrears")
    first, through = run
    if _decided_already(member, first, through):
        raise Conflict(
            _(
                "The branch meeting has decided on these unpaid months already; a new decision "
                "is due after %(n)d more months unpaid."
            )
            % {"n": rules.ARREARS_MONTHS},
            code="already_decided",
        )
    decision = ArrearsDecision.objects.create(
        member=member,
        organization=member.organization,
        first_year=first[0],
        first_month=first[1],
        through_year=through[0],
        through_month=through[1],
        outcome=outcome,
        meeting_on=meeting_on,
        reference=reference,
        note=note,
        decided_by=_user(actor),
    )
    audit.record(
        actor,
        "dues.arrears.decide",
        decision,
        after={
            "outcome": outcome,
            "meeting_on": meeting_on.isoformat(),
            "reference": reference,
            "months": f"{first[0]}-{first[1]:02d}..{through[0]}-{through[1]:02d}",
        },
        org_path=member.org_path,
        subject=subject_of(member),
        label=f"{member.name}: {decision.get_outcome_display()}",
    )
    if outcome == ArrearsDecision.Outcome.LEFT:
        # A member away on a mobile stay is back home that day (the stay ends with them).
        try:
            member_services._end_mobile_stay(actor, member, "left", meeting_on)
        except ValidationFailed as exc:
            raise ValidationFailed(exc.message, code=exc.code, field="meeting_on") from None
        member_services.append_event(
            actor=actor,
            member=member,
            kind="left",
            on=meeting_on,
            detail=str(_("Six months without paying dues: the branch meeting decided")),
            reference=reference,
            error_field="outcome",
        )
    return decision


def _decided_already(member: Member, first: tuple, through: tuple) -> bool:
    """A decision on this run (it ends on or after the run's first month) is enough until the
    member has gone a further six months unpaid since it (the flagged list shows them again)."""
    first_index, through_index = rules.month_index(*first), rules.month_index(*through)
    for y, m in ArrearsDecision.objects.filter(member=member).values_list(
        "through_year", "through_month"
    ):
        decided = rules.month_index(y, m)
        if decided >= first_index and through_index - decided < rules.ARREARS_MONTHS:
            return True
    return False


# Reminders -----------------------------------------------------------------------------------


def remind_behind(*, actor, org: Organization, year, month) -> int:
    """Tell members of `org` who have not paid `month` (in the platform's notifications; by
    email too where configured). Idempotent per member and month."""
    from . import notices

    _require(actor, org)
    year, month = check_year(year), check_month(month)
    now = today()
    if rules.month_index(year, month) > rules.month_index(now.year, now.month):
        raise ValidationFailed(
            _("%(year)d-%(month)02d has not begun: nobody is behind with it yet.")
            % {"year": year, "month": month},
            code="month_not_begun",
            field="month",
        )
    sent = notices.remind_unpaid(org, year, month)
    audit.record(
        actor,
        "dues.remind",
        org,
        after={"year": year, "month": month, "sent": sent},
        org_path=org.path,
        label=f"{org.name} {year}-{month:02d}",
    )
    return sent
