"""Every read of dues. Scoped by the collecting organisation's path (`dues.view`); a member sees
their own lines and payments through `own_*`.

Reports read `MonthTotal` (one row per organisation and month), never the millions of lines.
"""

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.utils import timezone

from dangjian.core import selectors
from dangjian.core.errors import NotFound
from dangjian.core.models import Organization
from dangjian.members.models import Member

from . import rules
from .models import (
    ArrearsDecision,
    DuesBase,
    LedgerLine,
    LineStatus,
    MonthTotal,
    Payment,
    PaymentKind,
    Relief,
    ReliefState,
    Statement,
)


def lines(user, action: str = "dues.view") -> QuerySet:
    return selectors.restrict(LedgerLine.objects.all(), user, action, "org_path")


def payments(user, action: str = "dues.view") -> QuerySet:
    return selectors.restrict(
        Payment.objects.select_related("member", "organization", "recorded_by"),
        user,
        action,
        "org_path",
    )


def get_payment(user, pk, action: str = "dues.view") -> Payment:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("payment not found") from None
    found = payments(user, action).filter(pk=pk).first()
    if found is None:
        # A member may always see their own receipt.
        own = selectors_own_member(user)
        if own is not None:
            found = Payment.objects.filter(pk=pk, member=own).first()
    if found is None:
        raise NotFound("payment not found")
    return found


def selectors_own_member(user) -> Member | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return Member.objects.filter(user=user).first()


def bases(user, action: str = "dues.view") -> QuerySet:
    return selectors.restrict(
        DuesBase.objects.select_related("member"), user, action, "member__org_path"
    )


def reliefs(user, action: str = "dues.view") -> QuerySet:
    return selectors.restrict(
        Relief.objects.select_related("member", "organization"),
        user,
        action,
        "organization__path",
    )


def get_relief(user, pk) -> Relief:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("relief not found") from None
    found = reliefs(user).filter(pk=pk).first()
    if found is None:
        raise NotFound("relief not found")
    return found


def reliefs_to_sign(user) -> QuerySet:
    """Pending relief in organisations strictly below where the user may sign off."""
    prefixes = selectors.scope_for(user, "dues.approve")
    if not prefixes:
        return Relief.objects.none()
    condition = Q()
    for prefix in prefixes:
        # Strictly below: the organisation's path is longer than the prefix.
        condition |= selectors.subtree_range("organization__path", prefix) & ~Q(
            organization__path=prefix
        )
    return (
        Relief.objects.filter(state=ReliefState.PENDING)
        .filter(condition)
        .select_related("member", "organization")
        .order_by("created_at", "id")
    )


def statements(user, action: str = "dues.view") -> QuerySet:
    return selectors.restrict(Statement.objects.all(), user, action, "org_path")


def own_lines(user, year: int) -> QuerySet:
    member = selectors_own_member(user)
    if member is None:
        return LedgerLine.objects.none()
    return LedgerLine.objects.filter(member=member, year=year).order_by("month")


def own_payments(user) -> QuerySet:
    member = selectors_own_member(user)
    if member is None:
        return Payment.objects.none()
    return Payment.objects.filter(member=member).order_by("-paid_on", "-id")


# The collection grid -------------------------------------------------------------------------


@dataclass
class GridRow:
    member_id: int
    name: str
    base: DuesBase | None = None
    cells: dict = field(default_factory=dict)  # month -> LedgerLine
    due: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    hosted: bool = False

    def cell(self, month: int):
        return self.cells.get(month)


def grid(org: Organization, year: int) -> list[GridRow]:
    """Members × months of the lines `org` collects in `year` (its own members and its mobile
    guests), with each member's base. Three queries whatever the size."""
    rows: dict[int, GridRow] = {}
    found = LedgerLine.objects.filter(organization=org, year=year).only(
        "id", "member_id", "month", "due", "paid", "status", "paid_on", "hosted"
    )
    for line in found:
        row = rows.get(line.member_id)
        if row is None:
            row = rows[line.member_id] = GridRow(line.member_id, "")
        row.cells[line.month] = line
        row.due += line.due or 0
        row.paid += line.paid
        row.hosted = row.hosted or line.hosted
    names = dict(Member.objects.filter(pk__in=list(rows)).values_list("pk", "name"))
    for base in DuesBase.objects.filter(member_id__in=list(rows), year=year):
        rows[base.member_id].base = base
    for pk, row in rows.items():
        row.name = names.get(pk, "")
    return sorted(rows.values(), key=lambda r: (r.hosted, r.name, r.member_id))


def members_without_lines(org: Organization, year: int) -> int:
    """Active members of `org` itself with no line this year (the ledger needs generating)."""
    return (
        Member.objects.filter(organization=org, status="active").exclude(ledger__year=year).count()
    )


def month_totals(org: Organization, year: int) -> dict[int, dict]:
    """The totals `org` itself collects, by month (12 keys, zeros where nothing)."""
    rows = {m: _empty(m) for m in range(1, 13)}
    for t in MonthTotal.objects.filter(organization=org, year=year):
        rows[t.month] = _as_dict(t.month, t)
    return rows


def _empty(month: int) -> dict:
    return {
        "month": month,
        "lines": 0,
        "due": Decimal(0),
        "paid": Decimal(0),
        "paid_lines": 0,
        "partial_lines": 0,
        "exempt_lines": 0,
        "no_base_lines": 0,
        "voluntary": Decimal(0),
        "large_one_off": Decimal(0),
        "rate": None,
    }


def _as_dict(month: int, t) -> dict:
    get = (lambda k: t[k]) if isinstance(t, dict) else (lambda k: getattr(t, k))
    row = {k: get(k) or 0 for k in _empty(month) if k not in ("month", "rate")}
    row["month"] = month
    row["rate"] = rate(row["paid"], row["due"])
    return row


def rate(paid, due) -> float | None:
    """Collection rate in percent, one decimal; None when nothing was due."""
    if not due:
        return None
    return round(float(paid) * 100 / float(due), 1)


# Reports -------------------------------------------------------------------------------------

_SUMS = {
    "lines": Sum("lines"),
    "due": Sum("due"),
    "paid": Sum("paid"),
    "paid_lines": Sum("paid_lines"),
    "partial_lines": Sum("partial_lines"),
    "exempt_lines": Sum("exempt_lines"),
    "no_base_lines": Sum("no_base_lines"),
    "voluntary": Sum("voluntary"),
    "large_one_off": Sum("large_one_off"),
}


def totals(user, year: int, org: Organization | None = None) -> QuerySet:
    qs = selectors.restrict(MonthTotal.objects.filter(year=year), user, "dues.view", "org_path")
    if org is not None:
        qs = qs.filter(selectors.subtree_range("org_path", org.path))
    return qs


def months_to_date(year: int, on: datetime.date | None = None) -> int:
    """How many months of `year` are owed by `on` (today): 12 for a past year, the months up
    to and including the current one for this year, 0 for a year to come."""
    on = on or timezone.localdate()
    if year < on.year:
        return 12
    if year > on.year:
        return 0
    return on.month


def to_date(months: list[dict], upto: int) -> dict:
    """The year-to-date figures of twelve month rows: due and paid of the months 1..`upto`,
    and their rate. A year's rate over all twelve months counts months not yet owed."""
    due = sum((m["due"] for m in months if m["month"] <= upto), Decimal(0))
    paid = sum((m["paid"] for m in months if m["month"] <= upto), Decimal(0))
    return {"months": upto, "due": due, "paid": paid, "rate": rate(paid, due)}


def collection_report(user, org: Organization, year: int, on: datetime.date | None = None) -> dict:
    """Collection by month for `org`'s subtree, and by each organisation directly below it
    (with `org`'s own lines apart). One grouped query over the totals rows.

    Returns {"months": [12 dicts], "total": dict, "to_date": dict, "children": [{"org",
    "months", "total", "to_date"}]}: `total` is the whole year's (its rate counts months not
    yet owed), `to_date` the months owed by `on` (today), see `to_date`."""
    step = Organization.steplen
    width = len(org.path) + step
    qs = totals(user, year, org)
    grouped = (
        qs.annotate(prefix=Substr("org_path", 1, width))
        .values("prefix", "month")
        .annotate(**_SUMS)
        .order_by()
    )
    by_prefix: dict[str, dict[int, dict]] = defaultdict(dict)
    for row in grouped:
        by_prefix[row["prefix"]][row["month"]] = _as_dict(row["month"], row)
    children = _children(org)
    whole = {m: _empty(m) for m in range(1, 13)}
    upto = months_to_date(year, on)

    def add(into: dict, row: dict) -> None:
        for k, v in row.items():
            if k not in ("month", "rate"):
                into[k] += v
        into["rate"] = rate(into["paid"], into["due"])

    result_children = []
    for child in [org, *children]:
        months = {m: _empty(m) for m in range(1, 13)}
        for month, row in by_prefix.get(child.path, {}).items():
            add(months[month], row)
            add(whole[month], row)
        total = _empty(0)
        for row in months.values():
            add(total, row)
        result_children.append(
            {
                "org": child,
                "own": child.pk == org.pk,
                "months": list(months.values()),
                "total": total,
                "to_date": to_date(list(months.values()), upto),
            }
        )
    # `org`'s own row holds only its own lines; drop it when empty.
    if not result_children[0]["total"]["lines"] and not result_children[0]["total"]["voluntary"]:
        result_children = result_children[1:]
    grand = _empty(0)
    for row in whole.values():
        add(grand, row)
    return {
        "months": list(whole.values()),
        "total": grand,
        "to_date": to_date(list(whole.values()), upto),
        "children": result_children,
    }


def _children(org: Organization) -> list[Organization]:
    return list(
        Organization.objects.filter(path__startswith=org.path, depth=org.depth + 1).order_by(
            "display_order", "path"
        )
    )


def remittance(user, org: Organization, year: int, month: int) -> list[dict]:
    """What each organisation below `org` received in a month, to remit to the committee above:
    the payments recorded with a day paid in that month and not reversed (whichever months
    they paid), dues and voluntary payments apart, and the large one-off ones among the latter
    (remitted on to the centre). Beside them, for reference, the dues owed for the month itself
    and how much of them is paid by now.

    Each row: {"org", "own", "payments", "dues", "voluntary", "large_one_off", "received",
    "lines", "due", "paid", "rate"}; `org`'s own row only when it has something."""
    first = datetime.date(year, month, 1)
    after = datetime.date(year + month // 12, month % 12 + 1, 1)
    width = len(org.path) + Organization.steplen
    received = (
        payments(user)
        .filter(selectors.subtree_range("org_path", org.path))
        .filter(paid_on__gte=first, paid_on__lt=after, reversed_at__isnull=True)
        .annotate(prefix=Substr("org_path", 1, width))
        .values("prefix", "kind", "large_one_off")
        .annotate(n=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    owed = (
        totals(user, year, org)
        .filter(month=month)
        .annotate(prefix=Substr("org_path", 1, width))
        .values("prefix")
        .annotate(lines=Sum("lines"), due=Sum("due"), paid=Sum("paid"))
        .order_by()
    )
    rows = {
        child.path: {
            "org": child,
            "own": child.pk == org.pk,
            "payments": 0,
            "dues": Decimal(0),
            "voluntary": Decimal(0),
            "large_one_off": Decimal(0),
            "lines": 0,
            "due": Decimal(0),
            "paid": Decimal(0),
        }
        for child in [org, *_children(org)]
    }
    for found in received:
        row = rows.get(found["prefix"])
        if row is None:
            continue
        amount = found["amount"] or Decimal(0)
        row["payments"] += found["n"]
        if found["kind"] == PaymentKind.VOLUNTARY:
            row["voluntary"] += amount
            if found["large_one_off"]:
                row["large_one_off"] += amount
        else:
            row["dues"] += amount
    for found in owed:
        row = rows.get(found["prefix"])
        if row is not None:
            row["lines"] += found["lines"] or 0
            row["due"] += found["due"] or 0
            row["paid"] += found["paid"] or 0
    result = []
    for row in rows.values():
        row["received"] = row["dues"] + row["voluntary"]
        row["rate"] = rate(row["paid"], row["due"])
        if row["own"] and not (row["payments"] or row["lines"]):
            continue
        result.append(row)
    return result


def exempt_members(user, org: Organization, year: int) -> QuerySet:
    return (
        reliefs(user)
        .filter(selectors.subtree_range("organization__path", org.path), year=year)
        .filter(state=ReliefState.APPROVED)
        .order_by("organization__path", "member__name")
    )


# Arrears -------------------------------------------------------------------------------------


def last_completed_month(on: datetime.date) -> tuple[int, int]:
    return rules.from_index(rules.month_index(on.year, on.month) - 1)


def _window(on: datetime.date, months: int) -> list[tuple[int, int]]:
    end = rules.month_index(*last_completed_month(on))
    return [rules.from_index(i) for i in range(end - months + 1, end + 1)]


def _month_q(months: list[tuple[int, int]]) -> Q:
    condition = Q()
    for year, month in months:
        condition |= Q(year=year, month=month)
    return condition


def unpaid_run_of(member: Member, on: datetime.date) -> tuple[tuple, tuple] | None:
    """(first month, last month) of the member's current run of unpaid months, when it is six
    months or longer and ends with the last completed month; None otherwise."""
    through = last_completed_month(on)
    found = LedgerLine.objects.filter(member=member, year__gte=through[0] - 3).values_list(
        "year", "month", "status"
    )
    statuses = [((y, m), s) for y, m, s in found]
    run = rules.unpaid_run(statuses, through)
    if not rules.arrears_flag(run):
        return None
    first = rules.from_index(rules.month_index(*through) - run + 1)
    return first, through


def _settles(decision: ArrearsDecision, first_index: int, through_index: int) -> bool:
    """Whether a decision keeps a member off the list: it was taken on the current run of
    unpaid months, and fewer than six further months have gone unpaid since the months it
    considered (six more flag the member again)."""
    decided_through = rules.month_index(decision.through_year, decision.through_month)
    return decided_through >= first_index and through_index - decided_through < rules.ARREARS_MONTHS


def arrears(user, org: Organization, on: datetime.date | None = None) -> list[dict]:
    """Members flagged for the branch meeting: the six months up to the last completed one all
    unpaid (DOMAIN §2). A decision already taken on the same run leaves the member off the list
    until they pay, or until six more months have gone unpaid since. Never removes anyone.

    A member is listed under the organisation they belong to now (whose meeting decides), with
    every month they owe wherever it is collected: a mobile member's months at the host, a
    transferred member's months at the branch they left.

    Each row: {"member", "first", "through", "months", "owed", "decisions"}."""
    on = on or timezone.localdate()
    window = _window(on, rules.ARREARS_MONTHS)
    members_here = selectors.restrict(
        Member.objects.filter(status="active"), user, "dues.view", "org_path"
    ).filter(selectors.subtree_range("org_path", org.path))
    flagged = (
        LedgerLine.objects.filter(member__in=members_here.values("pk"))
        .filter(_month_q(window), status=LineStatus.UNPAID)
        .values("member_id")
        .annotate(n=Count("id"))
        .filter(n=len(window))
        .values_list("member_id", flat=True)
    )
    ids = list(flagged[:5000])
    if not ids:
        return []
    through = window[-1]
    history: dict[int, list] = defaultdict(list)
    owed: dict[int, Decimal] = defaultdict(Decimal)
    for member_id, y, m, status, due, paid in LedgerLine.objects.filter(
        member_id__in=ids, year__gte=through[0] - 3
    ).values_list("member_id", "year", "month", "status", "due", "paid"):
        history[member_id].append(((y, m), status))
        # Everything owed up to the last completed month, the rest of months paid in part too.
        open_line = status in (LineStatus.UNPAID, LineStatus.PARTIAL)
        if open_line and rules.month_index(y, m) <= rules.month_index(*through):
            owed[member_id] += (due or 0) - paid
    decisions: dict[int, list] = defaultdict(list)
    for d in ArrearsDecision.objects.filter(member_id__in=ids).order_by("-meeting_on", "-id"):
        decisions[d.member_id].append(d)
    members = {
        m.pk: m
        for m in Member.objects.filter(pk__in=ids, status="active").select_related("organization")
    }
    rows = []
    for pk in ids:
        member = members.get(pk)
        if member is None:
            continue
        run = rules.unpaid_run(history[pk], through)
        through_index = rules.month_index(*through)
        first_index = through_index - run + 1
        first = rules.from_index(first_index)
        if any(_settles(d, first_index, through_index) for d in decisions[pk]):
            continue
        rows.append(
            {
                "member": member,
                "first": first,
                "through": through,
                "months": run,
                "owed": owed[pk],
                "decisions": decisions[pk],
            }
        )
    rows.sort(key=lambda r: (-r["months"], r["member"].org_path, r["member"].name))
    return rows


def arrears_decisions(user, org: Organization) -> QuerySet:
    return selectors.restrict(
        ArrearsDecision.objects.select_related("member", "organization", "decided_by"),
        user,
        "dues.view",
        "organization__path",
    ).filter(selectors.subtree_range("organization__path", org.path))


def voluntary_payments(user, org: Organization, year: int) -> QuerySet:
    return (
        payments(user)
        .filter(selectors.subtree_range("org_path", org.path))
        .filter(kind=PaymentKind.VOLUNTARY, paid_on__year=year, reversed_at__isnull=True)
        .order_by("-paid_on", "-id")
    )
